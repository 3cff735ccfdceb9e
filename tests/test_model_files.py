"""Model files from anyone: damaged, tampered, hostile. Each is refused with ModelFileError before
anything large is built, and nothing in a file ever runs."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
import torch

from synthgan import ModelFileError, SynthGAN
from synthgan import persistence
from tests.conftest import make_mixed

@pytest.fixture(scope="module")
def saved(tiny_model_file):
    with zipfile.ZipFile(tiny_model_file) as archive:
        return json.loads(archive.read("metadata.json")), archive.read("weights.pt")


def write(path, metadata, weights: bytes, compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        archive.writestr("metadata.json", metadata if isinstance(metadata, (str, bytes)) else json.dumps(metadata))
        archive.writestr("weights.pt", weights)
    return path


def weights_bytes(state: dict) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def test_the_untouched_file_loads(saved, tmp_path):
    metadata, weights = saved
    assert len(SynthGAN.load(write(tmp_path / "ok.synthgan", metadata, weights)).sample(5)) == 5


def test_pickled_payload_is_refused_in_plain_words(saved, tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = write(tmp_path / "evil.synthgan", saved[0], weights_bytes({"generator.x": Evil()}))
    with pytest.raises(ModelFileError, match="is not a safe synthgan model file.*was not loaded") as caught:
        SynthGAN.load(path)
    assert "weights_only" not in str(caught.value) and "safe_globals" not in str(caught.value)


def test_zip_bombs_are_refused_before_decompressing(saved, tmp_path, monkeypatch):
    metadata, _ = saved
    bomb = write(tmp_path / "bomb.synthgan", metadata, b"\0" * (64 * 2**20))  # 64 MiB of zeros, ~64 KiB zipped
    with pytest.raises(ModelFileError, match="weights.pt expands .* times"):
        SynthGAN.load(bomb)
    spaces = write(tmp_path / "spaces.synthgan", " " * (8 * 2**20) + json.dumps(metadata), b"")
    with pytest.raises(ModelFileError, match="metadata.json expands"):
        SynthGAN.load(spaces)
    monkeypatch.setattr(persistence, "MAX_METADATA_BYTES", 1000)
    with pytest.raises(ModelFileError, match="metadata.json would expand to .* bytes"):
        SynthGAN.load(write(tmp_path / "big.synthgan", metadata, saved[1], zipfile.ZIP_STORED))


@pytest.mark.parametrize("change,message", [
    (lambda m: m["params"].update(embedding_dim=8_000_000), "weights do not fit the stored parameters"),
    (lambda m: m["params"].update(embedding_dim=8e6), "embedding_dim must be an integer"),
    (lambda m: m.pop("transformer"), "lacks 'transformer'"),
    (lambda m: m.update(params=list(m["params"])), "'params' in metadata.json must be a dict"),
    (lambda m: m["params"].update(surprise=1), "unexpected keyword argument 'surprise'"),
    (lambda m: m.update(condition_counts=m["condition_counts"][:-1]), "condition_counts has"),
    (lambda m: m["transformer"]["columns"][0]["spec"].update(dtype="bogus64"), "bogus64"),
    (lambda m: m.update(format_version="1"), "format_version must be a positive integer"),
    (lambda m: m.update(format_version=99), "written by a newer synthgan"),
    (lambda m: m["transformer"]["columns"][0]["spec"].update(kind="weird"), "unknown kind 'weird'"),
    (lambda m: m.update(random_state=-3), "'random_state' must be a non-negative integer"),
])
def test_tampered_metadata_is_refused(saved, tmp_path, change, message):
    metadata = json.loads(json.dumps(saved[0]))
    change(metadata)
    path = write(tmp_path / "bad.synthgan", metadata, saved[1])
    with pytest.raises(ModelFileError, match=message):
        SynthGAN.load(path)


def test_nan_weights_and_wrong_shapes_are_refused(saved, tmp_path):
    state = torch.load(io.BytesIO(saved[1]), weights_only=True)
    name = next(k for k, v in state.items() if v.is_floating_point())
    poisoned = {**state, name: torch.full_like(state[name], float("nan"))}
    with pytest.raises(ModelFileError, match="NaN or infinite"):
        SynthGAN.load(write(tmp_path / "nan.synthgan", saved[0], weights_bytes(poisoned)))
    reshaped = {**state, name: torch.zeros(3, 3)}
    with pytest.raises(ModelFileError, match="weights do not fit"):
        SynthGAN.load(write(tmp_path / "shape.synthgan", saved[0], weights_bytes(reshaped)))


def test_corrupt_and_unsupported_zip_entries(saved, tmp_path):
    path = write(tmp_path / "c.synthgan", saved[0], saved[1])
    data = bytearray(path.read_bytes())
    start = data.index(b"weights.pt") + 200  # inside the compressed weights
    data[start:start + 64] = bytes(64)
    broken = tmp_path / "broken.synthgan"
    broken.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="not a synthgan model file, or a damaged one|not a safe"):
        SynthGAN.load(broken)
    good = write(tmp_path / "plain.synthgan", saved[0], saved[1]).read_bytes()
    central = good.index(b"PK\x01\x02")  # the first central-directory entry (metadata.json)
    for offset, value, message in [(10, 99, "NotImplementedError"), (8, 1, "encrypted")]:
        raw = bytearray(good)
        raw[central + offset] = value  # an unknown compression method / the "encrypted" flag
        odd = tmp_path / f"odd{offset}.synthgan"
        odd.write_bytes(bytes(raw))
        with pytest.raises(ModelFileError, match=message):
            SynthGAN.load(odd)


def test_bad_dtype_is_found_at_load_not_at_sampling(saved, tmp_path):
    metadata = json.loads(json.dumps(saved[0]))
    metadata["transformer"]["columns"][0]["spec"]["dtype"] = "float128x"
    with pytest.raises(ModelFileError, match="float128x"):
        SynthGAN.load(write(tmp_path / "d.synthgan", metadata, saved[1]))
    assert np.isfinite(SynthGAN.load(write(tmp_path / "ok.synthgan", *saved)).sample(3)["amount"].fillna(0)).all()


def test_a_file_written_before_the_training_seam_still_loads():
    """tests/data/written_by_465c424.synthgan was saved by commit 465c424 (make_mixed(), 1 epoch)."""
    from pathlib import Path

    old = SynthGAN.load(Path(__file__).parent / "data" / "written_by_465c424.synthgan")
    out = old.sample(50)
    frame = make_mixed()
    assert out.dtypes.to_dict() == frame.dtypes.to_dict() and len(out) == 50
    assert old.saved_with_ == {"synthgan_version": "0.1.0"}
    # that file predates discriminator_dropout: it reports the dropout its critic trained with
    assert old.get_params()["discriminator_dropout"] == 0.5 and old.get_params()["condition_on_modes"] is False

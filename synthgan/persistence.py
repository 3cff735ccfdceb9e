"""Model files: a zip holding ``metadata.json`` and ``weights.pt`` (tensors only).

Reading is defensive, because a model file may come from anyone:

- sizes are checked before anything is decompressed: ``metadata.json`` at most 256 MiB,
  ``weights.pt`` at most 8 GiB, and neither may expand more than 200 times (zip bombs);
- weights are read with ``torch.load(weights_only=True)`` onto the CPU, so a file can never run
  code on load, must be a dict of finite tensors, and a model trained on a GPU loads on a machine
  without one;
- ``metadata.json`` must have the expected keys and types (:func:`check_metadata`); the estimator
  then checks the parameters, the column states and the weight shapes against each other before
  it builds any network (see ``SynthGAN.load``).
"""

from __future__ import annotations

import io
import json
import zipfile
import zlib
from numbers import Integral
from pathlib import Path

import torch

from synthgan._version import __version__
from synthgan.errors import ModelFileError
from synthgan.io import atomic_path

FORMAT = "synthgan-model"
FORMAT_VERSION = 1
MAX_METADATA_BYTES = 256 * 2**20
MAX_WEIGHTS_BYTES = 8 * 2**30
MAX_EXPANSION = 200
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, RuntimeError, NotImplementedError, EOFError, ValueError, OSError)


def write_model(path: Path, metadata: dict, weights: dict[str, torch.Tensor], overwrite: bool = False) -> None:
    """Write ``metadata`` and ``weights`` to ``path`` atomically."""
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "synthgan_version": __version__,
              "torch_version": torch.__version__}
    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu().contiguous() for k, v in weights.items()}, buffer)
    with atomic_path(path, overwrite=overwrite) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("metadata.json", json.dumps({**header, **metadata}, allow_nan=True))
            archive.writestr("weights.pt", buffer.getvalue())


def _member(archive: zipfile.ZipFile, name: str, limit: int, where: str) -> bytes:
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise ModelFileError(f"{where} is not a synthgan model file (no {name})") from None
    if info.file_size > limit:
        raise ModelFileError(f"{where}: {name} would expand to {info.file_size:,} bytes, more than the "
                             f"{limit:,} a synthgan model file may hold; it was not read")
    if info.file_size > 2**20 and info.file_size > MAX_EXPANSION * max(info.compress_size, 1):
        raise ModelFileError(f"{where}: {name} expands {info.file_size / max(info.compress_size, 1):.0f} times "
                             "(a zip bomb?); it was not read")
    return archive.read(name)


def read_model(path: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """Return ``(metadata, weights)`` from a model file, with clear errors for bad files."""
    where = repr(str(path))
    if not path.is_file():
        raise ModelFileError(f"model file {where} does not exist")
    try:
        with zipfile.ZipFile(path) as archive:
            raw_metadata = _member(archive, "metadata.json", MAX_METADATA_BYTES, where)
            try:
                metadata = json.loads(raw_metadata)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise ModelFileError(f"{where}: metadata.json is not valid JSON ({exc})") from None
            check_metadata(metadata, where)
            raw = _member(archive, "weights.pt", MAX_WEIGHTS_BYTES, where)
    except ModelFileError:
        raise
    except _ZIP_ERRORS as exc:
        raise ModelFileError(f"{where} is not a synthgan model file, or a damaged one ({type(exc).__name__}: "
                             f"{exc})") from None
    try:
        weights = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001  (torch raises many types; its text invites unsafe loading)
        raise ModelFileError(f"{where} is not a safe synthgan model file: its weights.pt is not plain tensor "
                             "data (it may hold Python objects that would run code), so it was not loaded") from None
    if not isinstance(weights, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                for k, v in weights.items()):
        raise ModelFileError(f"{where}: weights.pt must hold a dict of named tensors")
    bad = [k for k, v in weights.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise ModelFileError(f"{where}: weights {bad[:3]} hold NaN or infinite values; the file is damaged")
    return metadata, weights


def _is_int(value: object) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


_TYPES = {"params": dict, "transformer": dict, "condition_counts": list, "history": dict, "feature_names": list}


def check_metadata(metadata: object, where: str) -> None:
    """Check the header and the types of the top-level entries of ``metadata.json``."""
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ModelFileError(f"{where} is not a synthgan model file")
    version = metadata.get("format_version")
    if not _is_int(version) or version < 1:
        raise ModelFileError(f"{where}: format_version must be a positive integer, got {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(f"{where} was written by a newer synthgan ({metadata.get('synthgan_version')}); "
                             "upgrade synthgan to load it")
    for key, kind in _TYPES.items():
        if key not in metadata:
            raise ModelFileError(f"{where}: metadata.json lacks {key!r}; the file is damaged or not a model file")
        if not isinstance(metadata[key], kind):
            raise ModelFileError(f"{where}: {key!r} in metadata.json must be a {kind.__name__}, "
                                 f"got {type(metadata[key]).__name__}")
    for key in ("random_state", "entropy"):
        value = metadata.get(key)
        if value is not None and (not _is_int(value) or value < 0):
            raise ModelFileError(f"{where}: {key!r} must be a non-negative integer or null, got {value!r}")
    counts = metadata["condition_counts"]
    if not all(isinstance(c, list) and all(_is_int(n) and n >= 0 for n in c) for c in counts):
        raise ModelFileError(f"{where}: condition_counts must be lists of non-negative integers")
    constraints = metadata.get("constraints")
    if constraints is not None and not (isinstance(constraints, dict) and isinstance(constraints.get("items"), list)):
        raise ModelFileError(f"{where}: constraints must be a dict with a list of items, or null")
    pairs = metadata.get("condition_pairs")
    if pairs is not None and not (isinstance(pairs, dict) and all(isinstance(v, list) for v in pairs.values())):
        raise ModelFileError(f"{where}: condition_pairs must be a dict of lists or null")
    history = metadata["history"]
    if not all(isinstance(v, list) for v in history.values()) or len({len(v) for v in history.values()}) > 1:
        raise ModelFileError(f"{where}: history must be a dict of equally long lists")

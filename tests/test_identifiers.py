"""Identifier and personal-data columns are never learned: fresh values, nothing real in the model file."""

from __future__ import annotations

import zipfile

import numpy as np
import pandas as pd
import pytest

from synthgan import ConditionError, SynthGAN
from synthgan.transform.identifiers import detect, format_ids, id_number

FAST = dict(epochs=2, batch_size=60, pac=4, embedding_dim=8, generator_dim=(8,), discriminator_dim=(8,),
            verbose=False, random_state=0)


def customers(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    first = rng.choice(["ann", "bob", "cy", "dee", "eve", "finn"], n)
    return pd.DataFrame({
        "customer_id": rng.permutation(np.arange(1000, 1000 + n)).astype(np.int64),
        "account_id": [f"AC-{k:05d}" for k in rng.permutation(n)],
        "email": [f"{a}.{k}@realmail.com" for k, a in enumerate(first)],
        "phone": [f"+1 555 {k:04d}" for k in rng.permutation(n)],
        "full_name": [f"{a.title()} Smith{k}" for k, a in enumerate(first)],
        "note": [f"called about order {k} and asked for a refund" for k in range(n)],
        "plan": rng.choice(["basic", "pro"], n),
        "spend": rng.gamma(2, 50, n),
    })


def test_detection_rules():
    frame = customers()
    found = {c: detect(frame[c]) for c in frame.columns}
    assert found == {"customer_id": "id-integer", "account_id": "id-text", "email": "email", "phone": "phone",
                     "full_name": "name", "note": "text", "plan": None, "spend": None}
    zips = pd.Series([f"{k:05d}" for k in range(200)], name="zip")
    assert detect(zips) is None  # codes without spaces stay a categorical column
    assert detect(pd.Series(np.arange(50), name="count")) is None  # unique integers without an id name


def test_no_real_value_leaves_the_model_and_ids_are_unique(tmp_path):
    real = customers()
    with pytest.warns(UserWarning, match="never learned and generated fresh: 'customer_id' \\(id-integer\\)"):
        est = SynthGAN(**FAST).fit(real)
    chunks = list(est.iter_samples(1000, chunk_rows=150))
    out = pd.concat(chunks, ignore_index=True)
    assert out.dtypes.to_dict() == real.dtypes.to_dict()
    for column in ("customer_id", "account_id", "email", "phone", "full_name", "note"):
        assert not set(out[column]) & set(real[column]), column  # never a training value
    assert out["customer_id"].is_unique and out["account_id"].is_unique  # unique across chunks
    assert out["customer_id"].min() > real["customer_id"].max()
    assert out["account_id"].str.match(r"^AC-\d{5}$").all()
    assert out["email"].str.contains("@").all() and out["email"].str.contains(r"example\.(com|org|net)$").all()
    assert set(out["plan"]) <= {"basic", "pro"}
    path = tmp_path / "m.synthgan"
    est.save(path)
    with zipfile.ZipFile(path) as archive:
        stored = archive.read("metadata.json").decode()
    for column in ("account_id", "email", "phone", "full_name", "note"):
        assert not any(value in stored for value in real[column]), column
    loaded = SynthGAN.load(path)
    assert loaded.sample(20)["customer_id"].is_unique
    again = SynthGAN(**FAST).fit(real)
    pd.testing.assert_frame_equal(again.sample(40, random_state=2), est.sample(40, random_state=2))  # reproducible


def test_detection_can_be_overridden_and_ids_cannot_be_conditions():
    real = customers()
    est = SynthGAN(**FAST).fit(real, discrete_columns=["plan", "phone"])
    assert "phone" in [s.name for s in est.transformer_.specs_]  # modelled, as asked
    with pytest.raises(ConditionError, match="'email' is generated fresh"):
        est.sample(5, conditions={"email": "ann.0@realmail.com"})


def test_text_ids_count_past_their_format():
    ids = format_ids("A9", np.arange(265))
    assert ids[:3] == ["A0", "A1", "A2"] and len(set(ids)) == 265 and ids[-1] == "1A4"
    assert [id_number("A9", t) for t in ids[:260]] == list(range(260)) and id_number("A9", "9A") is None


def test_ids_stay_unique_across_part_files(tmp_path):
    import pyarrow.parquet as pq

    from synthgan.sampling import sample_parts

    path = tmp_path / "m.synthgan"
    SynthGAN(**FAST).fit(customers()).save(path)
    sample_parts(path, 900, tmp_path / "parts", 3, seed=1)
    table = pq.read_table(tmp_path / "parts").to_pandas()
    assert table["customer_id"].is_unique and table["account_id"].is_unique


def test_evaluation_leaves_generated_columns_out_and_says_so():
    from synthgan.evaluation import evaluate

    real = customers(400)
    est = SynthGAN(**FAST).fit(real)
    result = evaluate(real, est.sample(400), sdmetrics=False, detection=False)
    assert set(result.column_shapes["column"]) == {"plan", "spend"}
    assert any("identifiers or personal data" in s and "'email'" in s for s in result.skipped)

"""CUDA checks; skipped where torch sees no GPU (CI has none; run them on a GPU machine)."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from synthgan import SynthGAN
from tests.conftest import make_mixed

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

FAST = dict(epochs=2, batch_size=60, pac=4, embedding_dim=16, generator_dim=(32,), discriminator_dim=(32,),
            verbose=False, random_state=0)


@pytest.mark.parametrize("model", ["ctgan", "wgan-gp"])
def test_fit_on_gpu_is_reproducible_and_loads_on_cpu(model, tmp_path):
    frame = make_mixed(240)
    est = SynthGAN(model=model, device="cuda", **FAST).fit(frame)
    assert est.device_.type == "cuda"
    assert next(est.model_.generator.parameters()).is_cuda
    first = est.sample(300)
    pd.testing.assert_frame_equal(first, SynthGAN(model=model, device="cuda", **FAST).fit(frame).sample(300))
    assert first.dtypes.to_dict() == frame.dtypes.to_dict()
    path = tmp_path / "gpu.synthgan"
    est.save(path)
    on_cpu = SynthGAN.load(path, device="cpu")
    assert on_cpu.device_.type == "cpu"
    out = on_cpu.sample(200, conditions={"group": "b"})
    assert len(out) == 200 and (out["group"] == "b").all()

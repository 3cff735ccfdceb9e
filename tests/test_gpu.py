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


def test_checkpoint_resume_on_gpu_is_exact(tmp_path):
    import torch as _torch

    from synthgan.training import Checkpoint

    frame = make_mixed(240)
    params = {**FAST, "device": "cuda"}
    full = SynthGAN(**{**params, "epochs": 4}).fit(frame)
    SynthGAN(**{**params, "epochs": 2}, callbacks=[Checkpoint(tmp_path)]).fit(frame)
    resumed = SynthGAN(**{**params, "epochs": 4}).fit(frame, resume_from=tmp_path)
    assert all(_torch.equal(v, resumed.model_.weights()[k]) for k, v in full.model_.weights().items())


def test_same_initial_weights_on_cpu_and_gpu():
    frame = make_mixed(240)
    on_gpu = SynthGAN(**{**FAST, "epochs": 1, "generator_lr": 1e-12, "discriminator_lr": 1e-12,
                         "device": "cuda"}).fit(frame)
    on_cpu = SynthGAN(**{**FAST, "epochs": 1, "generator_lr": 1e-12, "discriminator_lr": 1e-12,
                         "device": "cpu"}).fit(frame)
    for key, value in on_cpu.model_.weights().items():
        if value.is_floating_point() and "running" not in key:
            assert torch.allclose(value, on_gpu.model_.weights()[key], atol=1e-5), key


def test_copula_on_gpu():
    frame = make_mixed(240)
    out = SynthGAN(model="copula", device="cuda", random_state=0, verbose=False).fit(frame).sample(100)
    assert out.dtypes.to_dict() == frame.dtypes.to_dict()

"""bfloat16 autocast in the training seam (issue #10): ``SynthGAN(precision="bfloat16")``."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from synthgan import SynthGAN, SynthGANError
from synthgan.cli import main
from tests.conftest import make_mixed

FAST = dict(epochs=2, batch_size=60, embedding_dim=16, generator_dim=(32,), discriminator_dim=(32,), verbose=False,
            random_state=0, device="cpu")


def _linear_output_dtypes(precision: str) -> tuple[set, SynthGAN]:
    """The dtypes of every linear layer's output during a fit (training steps only)."""
    seen: set = set()
    original = torch.nn.Linear.forward

    def recording(self, x):
        out = original(self, x)
        if torch.is_grad_enabled():  # training steps; sampling runs under no_grad
            seen.add(out.dtype)
        return out

    torch.nn.Linear.forward = recording
    try:
        est = SynthGAN(precision=precision, **FAST).fit(make_mixed(240))
    finally:
        torch.nn.Linear.forward = original
    return seen, est


def test_bfloat16_runs_the_training_matmuls_in_bfloat16_and_keeps_float32_weights():
    seen, est = _linear_output_dtypes("bfloat16")
    assert seen == {torch.bfloat16}
    assert all(w.dtype == torch.float32 for w in est.model_.weights().values() if w.is_floating_point())
    frame = make_mixed(240)
    out = est.sample(300)
    assert out.dtypes.to_dict() == frame.dtypes.to_dict()
    assert est.history_["critic_loss"].notna().all() and est.history_["generator_loss"].notna().all()
    # reproducible for a seed, and a different fit from float32's
    pd.testing.assert_frame_equal(out, SynthGAN(precision="bfloat16", **FAST).fit(frame).sample(300))
    assert not out.equals(SynthGAN(**FAST).fit(frame).sample(300))


def test_float32_is_the_default_and_runs_in_float32():
    seen, est = _linear_output_dtypes("float32")
    assert seen == {torch.float32}
    assert est.get_params()["precision"] == "float32"


def test_bfloat16_with_the_gradient_penalty_and_the_wgan_gp_model():
    est = SynthGAN(model="wgan-gp", precision="bfloat16", **FAST).fit(make_mixed(240))
    assert est.history_["critic_loss"].notna().all()


def test_precision_is_checked_and_refused_with_epsilon():
    with pytest.raises(SynthGANError, match=r"precision.*one of \['float32', 'bfloat16'\]"):
        SynthGAN(precision="float16", **FAST).fit(make_mixed(120))
    with pytest.raises(SynthGANError, match="precision='bfloat16' cannot be used with epsilon"):
        SynthGAN(precision="bfloat16", epsilon=1.0, **FAST).fit(make_mixed(120))


def test_the_cli_fits_in_bfloat16_and_the_model_file_says_so(tmp_path):
    data = tmp_path / "data.parquet"
    make_mixed(240).to_parquet(data)
    model = tmp_path / "m.synthgan"
    result = CliRunner().invoke(main, ["fit", str(data), "-o", str(model), "--epochs", "1", "--seed", "0", "--quiet",
                                       "--precision", "bfloat16", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert SynthGAN.load(model).get_params()["precision"] == "bfloat16"

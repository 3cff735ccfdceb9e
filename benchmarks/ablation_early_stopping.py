"""Ablations for issue #13: does early stopping on validation fidelity (with the best generator
restored), a moving average of the generator's weights, encoding numbers by their normal scores,
calibrating the generated marginals, naming the target column (auxiliary target loss), a higher
learning rate, a larger batch, a single-row critic, conditioning on numeric modes or a decaying
learning rate beat training to the time budget with the defaults?

    python -m benchmarks.ablation_early_stopping --datasets adult --budget 120 --seeds 0 1 2
    python -m benchmarks.ablation_early_stopping --variants baseline ema --out benchmarks/results/ablation_ema
    python -m benchmarks.ablation_early_stopping --variants baseline quantile gaussian-copula \
        --datasets king_county_houses --out benchmarks/results/ablation_quantile
    python -m benchmarks.ablation_early_stopping --variants baseline calibrated gaussian-copula \
        --datasets king_county_houses bank_marketing adult abalone --out benchmarks/results/ablation_calibration

For each dataset and seed, on the same 80/20 split as ``benchmarks.run``, with
``SynthGAN(max_time=BUDGET)`` and its defaults otherwise:

- ``baseline``: the defaults;
- ``val-es``: ``validation_size=0.1`` and ``EarlyStopping(monitor="val_fidelity", patience=10)``
  (best generator restored);
- ``ema``: ``WeightAverage(decay=0.999)`` (the default since c899ef7, so later it equals ``baseline``);
- ``quantile``: ``numeric_encoding="quantile"``;
- ``calibrated`` / ``no-calibration``: ``marginal_calibration=True`` / ``False`` (True is the
  default after 2b0d207, so later ``calibrated`` equals ``baseline`` and ``no-calibration`` is the
  ablation's other arm);
- ``discrete-calibration`` / ``no-discrete-calibration``: ``discrete_calibration=True`` / ``False``
  (per-slot logit offsets fitted after training so the drawn categories and missing rates match
  the training ones; True is the default since the paired ablation of
  ``benchmarks.ablation_discrete_calibration``, so later ``no-discrete-calibration`` is the other arm);
- ``target``: ``target=`` the dataset's target column (the auxiliary target loss);
- ``lr-1e-3``: both learning rates 1e-3 (5x the default), for faster progress at a fixed time;
- ``batch-2000``: ``batch_size=2000`` (4x) with both learning rates 4e-4 (the square-root
  scaling), for more rows per second;
- ``critic-3``: ``critic_steps=3``, three critic updates per generator update (the WGAN-GP
  papers train the critic closer to optimum; fewer generator updates at a fixed time);
- ``single-row-critic``: ``pac=1, discriminator_dropout=0.0``, a critic that scores one row at a
  time without dropout (PacGAN's packing and the 0.5 dropout both blur what one row looks like);
- ``modes``: ``condition_on_modes=True``, training-by-sampling on numeric modes too (CTAB-GAN);
  ``single-row-critic-modes``: both; ``packed-critic``: ``pac=10, discriminator_dropout=0.5``
  (the defaults before the single-row critic became the default, for the other arm afterwards);
- ``epochs-N``: at most N epochs (``epochs=N``) within the same budget, for how fidelity and
  membership inference move with the number of passes over a small table;
- ``critic-dropout-X``: ``discriminator_dropout=X`` on the default single-row critic;
- ``max-modes-N``: ``max_modes=N``, at most N modes per number (1: one scalar per number, the
  marginal then left to the calibration);
- ``separated-modes`` / ``all-modes``: ``mode_separation=2.0`` / ``None``, neighbouring mixture
  components merged into one mode unless Ashman's D between them is above 2 / every component kept
  (the other arm once one of them is the default);
- ``lr-cosine``: ``LearningRateSchedule("cosine", final=0.1)``, both learning rates lowered along
  a cosine to a tenth by the end of the time budget; ``lr-5e-4-cosine``: the same from 2.5x the
  default rates (a higher start that the decay brings down);
- ``critic-whitening`` / ``no-critic-whitening``: ``critic_whitening=True`` / ``False``, the critic
  reads the encoded numbers whitened by the training rows' covariance and its gradient penalty
  bounds the slope in that view (True is the default after its ablation, so later
  ``no-critic-whitening`` is the other arm);
- ``gaussian-copula``: ``benchmarks.baselines.GaussianCopula``, no training (a reference fitted on
  the same rows).

All sample as many rows as the training table and are scored by ``synthgan.evaluation.evaluate``
against the holdout. One row per run is appended to ``OUT/ablation.csv`` as it finishes. Run it
alone on the machine (2 cores: a parallel job slows every system).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from benchmarks.baselines import GaussianCopula
from benchmarks.run import TARGETS, ResultRows, ablation_cases, ablation_parser, headline
from synthgan import SynthGAN
from synthgan.evaluation import evaluate
from synthgan.training import EarlyStopping, LearningRateSchedule, WeightAverage

# each variant: the dataset's target column -> the SynthGAN parameters that differ from the defaults
VARIANTS = {
    "baseline": lambda target: {},
    "val-es": lambda target: dict(validation_size=0.1,
                                  callbacks=[EarlyStopping(monitor="val_fidelity", patience=10)]),
    "ema": lambda target: dict(callbacks=[WeightAverage(decay=0.999)]),
    "quantile": lambda target: dict(numeric_encoding="quantile"),
    "calibrated": lambda target: dict(marginal_calibration=True),
    "no-calibration": lambda target: dict(marginal_calibration=False),
    "discrete-calibration": lambda target: dict(discrete_calibration=True),
    "no-discrete-calibration": lambda target: dict(discrete_calibration=False),
    "target": lambda target: dict(target=target),
    "lr-1e-3": lambda target: dict(generator_lr=1e-3, discriminator_lr=1e-3),
    "batch-2000": lambda target: dict(batch_size=2000, generator_lr=4e-4, discriminator_lr=4e-4),
    "critic-3": lambda target: dict(critic_steps=3),
    "single-row-critic": lambda target: dict(pac=1, discriminator_dropout=0.0),
    "single-row-critic-modes": lambda target: dict(pac=1, discriminator_dropout=0.0, condition_on_modes=True),
    "modes": lambda target: dict(condition_on_modes=True),
    "packed-critic": lambda target: dict(pac=10, discriminator_dropout=0.5),
    "lr-cosine": lambda target: dict(callbacks=[LearningRateSchedule("cosine", final=0.1)]),
    "lr-5e-4-cosine": lambda target: dict(generator_lr=5e-4, discriminator_lr=5e-4,
                                          callbacks=[LearningRateSchedule("cosine", final=0.1)]),
    "separated-modes": lambda target: dict(mode_separation=2.0),
    "all-modes": lambda target: dict(mode_separation=None),
    "critic-whitening": lambda target: dict(critic_whitening=True),
    "no-critic-whitening": lambda target: dict(critic_whitening=False),
    "gaussian-copula": lambda target: {},
}


# variants with a number in their name: prefix -> parameter
NUMBERED = {"epochs-": ("epochs", int), "critic-dropout-": ("discriminator_dropout", float),
            "max-modes-": ("max_modes", int)}


def variant_params(variant: str, target: str) -> dict:
    """The SynthGAN parameters that ``variant`` changes from the defaults."""
    for prefix, (name, kind) in NUMBERED.items():
        if variant.startswith(prefix):
            return {name: kind(variant[len(prefix):])}
    return VARIANTS[variant](target)


def _variant(text: str) -> str:
    try:
        variant_params(text, "")
    except (KeyError, ValueError):
        raise argparse.ArgumentTypeError(f"unknown variant {text!r}: one of {', '.join(VARIANTS)}, "
                                         f"or {', '.join(p + 'N' for p in NUMBERED)}") from None
    return text


def fit(variant: str, train, budget: float, seed: int, target: str):
    if variant == "gaussian-copula":
        return GaussianCopula(random_state=seed).fit(train)
    params = {"epochs": 100_000, "max_time": budget, "random_state": seed, "verbose": False,
              **variant_params(variant, target)}
    return SynthGAN(**params).fit(train)


SUMMARY_COLUMNS = {"quality": "sdmetrics quality", "detection_auc": "detection AUC", "tstr": "TSTR",
                   "dcr_median": "DCR median", "exact_copy_rate": "exact copies", "mia_auc": "MIA AUC",
                   "epochs": "epochs"}


def summarize(out: Path) -> str:
    """``OUT/summary.md``: mean ± sd over seeds of every dataset and variant in ``OUT/ablation.csv``,
    with the holdout's own DCR and the real-data TSTR (TRTR) for reference."""
    import pandas as pd

    rows = pd.read_csv(out / "ablation.csv")
    lines = ["| dataset | variant | seeds | " + " | ".join(SUMMARY_COLUMNS.values()) + " |",
             "|---" * (len(SUMMARY_COLUMNS) + 3) + "|"]
    for (name, variant), part in rows.groupby(["dataset", "variant"], sort=False):
        cells = []
        for column in SUMMARY_COLUMNS:
            values = part[column].dropna()
            cells.append("" if values.empty else f"{values.mean():.1f}" if column == "epochs"
                         else f"{values.mean():.3f} ± {values.std():.3f}")
        label = (f"{name} (TRTR {part['trtr'].mean():.3f}, holdout DCR {part['dcr_holdout_median'].mean():.3f}, "
                 f"{part['tstr_metric'].iloc[0]})")
        lines.append(f"| {label} | {variant} | {len(part)} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    (out / "summary.md").write_text(text)
    return text


def main() -> None:
    parser = ablation_parser(__doc__, Path("benchmarks/results/ablation_es"))
    parser.add_argument("--variants", nargs="+", type=_variant, default=["baseline", "val-es"])
    args = parser.parse_args()
    if args.summary:
        print(summarize(args.out))
        return
    results = ResultRows(args.out / "ablation.csv")
    for name, seed, train, holdout in ablation_cases(args):
        for variant in args.variants:
            started = time.perf_counter()
            model = fit(variant, train, args.budget, seed, TARGETS[name])
            fit_s = time.perf_counter() - started
            synthetic = model.sample(len(train))
            scores = headline(evaluate(train, synthetic, target=TARGETS[name], holdout=holdout,
                                       random_state=seed), TARGETS[name])
            history = getattr(model, "history_", None)
            if history is None:
                epochs = best = None
            else:
                epochs = len(history)
                best = (int(history.loc[history["val_fidelity"].idxmax(), "epoch"])
                        if "val_fidelity" in history else len(history))
            results.append({"dataset": name, "variant": variant, "seed": seed, "budget_s": args.budget,
                            "fit_s": round(fit_s, 1), "epochs": epochs, "kept_epoch": best, **scores})
    summarize(args.out)


if __name__ == "__main__":
    main()

"""Ablations for issue #13: does early stopping on validation fidelity (with the best generator
restored), a moving average of the generator's weights, or encoding numbers by their normal scores
beat training to the time budget with the defaults?

    python -m benchmarks.ablation_early_stopping --datasets adult --budget 120 --seeds 0 1 2
    python -m benchmarks.ablation_early_stopping --variants baseline ema --out benchmarks/results/ablation_ema
    python -m benchmarks.ablation_early_stopping --variants baseline quantile gaussian-copula \
        --datasets king_county_houses --out benchmarks/results/ablation_quantile
    python -m benchmarks.ablation_early_stopping --variants baseline calibrated gaussian-copula \
        --datasets king_county_houses bank_marketing adult abalone --out benchmarks/results/ablation_calibration

For each dataset and seed, on the same 80/20 split as ``benchmarks.run``: ``baseline`` is
``SynthGAN(max_time=BUDGET)``; ``val-es`` is the same with ``validation_size=0.1`` and
``EarlyStopping(monitor="val_fidelity", patience=10)`` (best generator restored); ``ema`` is the
baseline with ``WeightAverage(decay=0.999)`` (the generator's moving average kept; the default
since commit c899ef7, so at later commits it equals ``baseline``); ``quantile`` is the baseline
with ``numeric_encoding="quantile"``; ``calibrated`` the baseline with
``marginal_calibration=True``; ``gaussian-copula`` is ``benchmarks.baselines.GaussianCopula``
(no training; a reference fitted on the same rows). All sample as
many rows as the training table and are scored by ``synthgan.evaluation.evaluate`` against the
holdout. One row per run is appended to ``OUT/ablation.csv`` as it finishes. Run it alone on the
machine (2 cores: a parallel job slows every system).
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

from benchmarks.baselines import GaussianCopula
from benchmarks.run import DATASETS_DIR, TARGETS, ResultRows, headline, load_split
from synthgan import SynthGAN
from synthgan.evaluation import evaluate
from synthgan.training import EarlyStopping, WeightAverage

VARIANTS = {
    "baseline": dict,
    "val-es": lambda: dict(validation_size=0.1, callbacks=[EarlyStopping(monitor="val_fidelity", patience=10)]),
    "ema": lambda: dict(callbacks=[WeightAverage(decay=0.999)]),
    "quantile": lambda: dict(numeric_encoding="quantile"),
    "calibrated": lambda: dict(marginal_calibration=True),
    "gaussian-copula": dict,
}


def fit(variant: str, train, budget: float, seed: int):
    if variant == "gaussian-copula":
        return GaussianCopula(random_state=seed).fit(train)
    params = dict(epochs=100_000, max_time=budget, random_state=seed, verbose=False, **VARIANTS[variant]())
    return SynthGAN(**params).fit(train)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["adult"])
    parser.add_argument("--budget", type=float, default=120.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=["baseline", "val-es"])
    parser.add_argument("--datasets-dir", type=Path, default=DATASETS_DIR)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/ablation_es"))
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    results = ResultRows(args.out / "ablation.csv")
    for name in args.datasets:
        for seed in args.seeds:
            train, holdout, _ = load_split(name, args.datasets_dir, 50_000, seed)
            for variant in args.variants:
                started = time.perf_counter()
                model = fit(variant, train, args.budget, seed)
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


if __name__ == "__main__":
    main()

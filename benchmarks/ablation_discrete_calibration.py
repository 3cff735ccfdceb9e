"""Paired ablation of discrete calibration (issue #13): the same trained generator sampled without
and with it.

    python -m benchmarks.ablation_discrete_calibration --datasets diabetes130 adult bank_marketing \
        --budget 120 --seeds 0 1 2 --out benchmarks/results/ablation_discrete_calibration

For each dataset and seed, on the same 80/20 split as ``benchmarks.run``: one
``SynthGAN(max_time=BUDGET, random_state=seed)`` fit with its defaults and
``discrete_calibration=False``; then

- ``uncalibrated``: as many rows as the training table, sampled with ``random_state=seed``;
- ``discrete-calibration``: the same model after the steps ``fit`` runs when
  ``discrete_calibration=True`` (the per-slot logit offsets, then the numbers' marginal calibration
  refitted on rows drawn with them, ``SynthGAN._calibrate``), sampled with the same
  ``random_state``.

Calibration is a step after training, so the pair shares the generator: the difference is the
calibration's alone, not two training runs' (at a wall-clock budget two fits differ by their epochs).
Both are scored by ``synthgan.evaluation.evaluate`` against the holdout. One row per arm is appended
to ``OUT/ablation.csv``; ``OUT/summary.md`` holds mean ± sd over seeds and the mean paired
difference. Run it alone on the machine (2 cores: a parallel job slows every system).
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np

from benchmarks.run import TARGETS, ResultRows, ablation_parser, headline, load_split
from synthgan import SynthGAN
from synthgan.evaluation import evaluate

METRICS = {"quality": "sdmetrics quality", "detection_auc": "detection AUC", "tstr": "TSTR",
           "dcr_median": "DCR median", "exact_copy_rate": "exact copies", "mia_auc": "MIA AUC"}


def summarize(out: Path) -> str:
    import pandas as pd

    rows = pd.read_csv(out / "ablation.csv")
    lines = ["| dataset | variant | seeds | " + " | ".join(METRICS.values()) + " |", "|---" * (len(METRICS) + 3) + "|"]
    for name, part in rows.groupby("dataset", sort=False):
        for variant, arm in part.groupby("variant", sort=False):
            cells = [f"{arm[m].mean():.3f} ± {arm[m].std():.3f}" for m in METRICS]
            lines.append(f"| {name} ({arm['tstr_metric'].iloc[0]}, TRTR {arm['trtr'].mean():.3f}) | {variant} | "
                         f"{len(arm)} | " + " | ".join(cells) + " |")
        wide = part.pivot(index="seed", columns="variant", values=list(METRICS))
        if {"uncalibrated", "discrete-calibration"} <= set(part["variant"]):
            cells = []
            for m in METRICS:
                delta = wide[(m, "discrete-calibration")] - wide[(m, "uncalibrated")]
                cells.append(f"{delta.mean():+.3f} ({', '.join(f'{d:+.3f}' for d in delta)})")
            lines.append(f"| {name} | paired difference (per seed) | {len(wide)} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    (out / "summary.md").write_text(text)
    return text


def main() -> None:
    args = ablation_parser(__doc__, Path("benchmarks/results/ablation_discrete_calibration")).parse_args()
    if args.summary:
        print(summarize(args.out))
        return
    warnings.simplefilter("ignore")
    results = ResultRows(args.out / "ablation.csv")
    for name in args.datasets:
        for seed in args.seeds:
            train, holdout, _ = load_split(name, args.datasets_dir, 50_000, seed)
            started = time.perf_counter()
            model = SynthGAN(epochs=100_000, max_time=args.budget, discrete_calibration=False, random_state=seed,
                             verbose=False).fit(train)
            fit_s = time.perf_counter() - started
            for variant in ("uncalibrated", "discrete-calibration"):
                started = time.perf_counter()
                if variant == "discrete-calibration":
                    model.set_params(discrete_calibration=True)
                    model._calibrate(model._generation, len(train), np.random.default_rng(seed))
                    offsets = model.model_.activation.logit_offsets
                calibrate_s = time.perf_counter() - started
                synthetic = model.sample(len(train), random_state=seed)
                scores = headline(evaluate(train, synthetic, target=TARGETS[name], holdout=holdout,
                                           random_state=seed), TARGETS[name])
                extra = {}
                if variant == "discrete-calibration":
                    extra = {"calibrate_s": round(calibrate_s, 2),
                             "largest_offset": None if offsets is None else round(float(offsets.abs().max()), 3)}
                results.append({"dataset": name, "variant": variant, "seed": seed, "budget_s": args.budget,
                                "fit_s": round(fit_s, 1), "epochs": len(model.history_), **scores, **extra})
    print(summarize(args.out))


if __name__ == "__main__":
    main()

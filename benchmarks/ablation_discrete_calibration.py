"""Paired ablations of the steps after training (issue #13): the same trained generator sampled
without and with one step.

    python -m benchmarks.ablation_discrete_calibration --datasets diabetes130 adult bank_marketing \
        --budget 120 --seeds 0 1 2 --out benchmarks/results/ablation_discrete_calibration
    python -m benchmarks.ablation_discrete_calibration --step dependence --datasets abalone adult \
        --budget 120 --seeds 0 1 2 --out benchmarks/results/ablation_dependence_calibration

For each dataset and seed, on the same 80/20 split as ``benchmarks.run``, one
``SynthGAN(max_time=BUDGET, random_state=seed)`` fit with its defaults, except:

- ``--step discrete`` (default): fitted with ``discrete_calibration=False``; arm ``uncalibrated``
  samples it as it is; arm ``discrete-calibration`` after the steps ``fit`` runs when
  ``discrete_calibration=True`` (the per-slot logit offsets, then the numbers' marginal
  calibration refitted on rows drawn with them, ``SynthGAN._calibrate``).
- ``--epsilon E``: with ``--step discrete``, the fit is private (``SynthGAN(epsilon=E)`` with its
  private defaults, no time budget); the offsets then aim at the release's noisy counts.
- ``--step dependence``: fitted with ``dependence_calibration=True``; arm ``marginal-only``
  samples it with the dependence map set aside (the marginal calibration alone, as
  ``dependence_calibration=False`` decodes); arm ``dependence-calibration`` as fitted.

Each arm samples as many rows as the training table with ``random_state=seed``. A step after
training leaves the generator alone, so the pair shares it: the difference is the step's alone, not
two training runs' (at a wall-clock budget two fits differ by their epochs). Both are scored by
``synthgan.evaluation.evaluate`` against the holdout. One row per arm is appended to
``OUT/ablation.csv``; ``OUT/summary.md`` holds mean ± sd over seeds and the mean paired difference.
Run it alone on the machine (2 cores: a parallel job slows every system).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from benchmarks.run import TARGETS, ResultRows, ablation_cases, ablation_parser, headline
from synthgan import SynthGAN
from synthgan.evaluation import evaluate

ARMS = {"discrete": ("uncalibrated", "discrete-calibration"), "dependence": ("marginal-only", "dependence-calibration")}
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
        pair = next((arms for arms in ARMS.values() if set(arms) <= set(part["variant"])), None)
        if pair is not None:
            cells = []
            for m in METRICS:
                delta = wide[(m, pair[1])] - wide[(m, pair[0])]
                cells.append(f"{delta.mean():+.3f} ({', '.join(f'{d:+.3f}' for d in delta)})")
            lines.append(f"| {name} | paired difference (per seed) | {len(wide)} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    (out / "summary.md").write_text(text)
    return text


def main() -> None:
    parser = ablation_parser(__doc__, Path("benchmarks/results/ablation_discrete_calibration"))
    parser.add_argument("--step", choices=sorted(ARMS), default="discrete")
    parser.add_argument("--epsilon", type=float, default=None,
                        help="fit privately at this epsilon with the private defaults (no --budget)")
    args = parser.parse_args()
    if args.summary:
        print(summarize(args.out))
        return
    results = ResultRows(args.out / "ablation.csv")
    for name, seed, train, holdout in ablation_cases(args):
        started = time.perf_counter()
        step = {"discrete_calibration": False} if args.step == "discrete" else {"dependence_calibration": True}
        fitting = ({"epochs": 100_000, "max_time": args.budget} if args.epsilon is None
                   else {"epsilon": args.epsilon})
        model = SynthGAN(random_state=seed, verbose=False, **fitting, **step).fit(train)
        fit_s = time.perf_counter() - started
        transformer = model._generation.transformer
        fitted = transformer.dependence_
        for variant in ARMS[args.step]:
            started, extra = time.perf_counter(), {}
            if variant == "discrete-calibration":
                model.set_params(discrete_calibration=True)
                model._calibrate(model._generation, len(train), np.random.default_rng(seed))
                offsets = model.model_.activation.logit_offsets
                extra = {"largest_offset": None if offsets is None else round(float(offsets.abs().max()), 3)}
            elif args.step == "dependence":
                transformer.dependence_ = fitted if variant == "dependence-calibration" or fitted is None else \
                    dataclasses.replace(fitted, matrix=None)
                if variant == "dependence-calibration" and fitted is not None:
                    moved = np.asarray(fitted.matrix) - np.eye(len(fitted.columns))
                    extra = {"map_distance": round(float(np.abs(moved).max()), 3)}
            calibrate_s = time.perf_counter() - started
            synthetic = model.sample(len(train), random_state=seed)
            scores = headline(evaluate(train, synthetic, target=TARGETS[name], holdout=holdout,
                                       random_state=seed), TARGETS[name])
            if variant == "discrete-calibration":
                extra["calibrate_s"] = round(calibrate_s, 2)
            results.append({"dataset": name, "variant": variant, "seed": seed,
                            "budget_s": args.budget if args.epsilon is None else None, "epsilon": args.epsilon,
                            "fit_s": round(fit_s, 1), "epochs": len(model.history_), **scores, **extra})
    print(summarize(args.out))


if __name__ == "__main__":
    main()

"""Constraints (issue #12): adult with and without the education <-> education-num combination.

    python -m benchmarks.constraints --seeds 0 1 2 --budget 120 --out benchmarks/results/constraints

``education`` and ``education-num`` in adult are a one-to-one map. For each seed, on the same
80/20 split as ``benchmarks.run`` (split seed = run seed), ``SynthGAN(max_time=BUDGET)`` is fitted
without constraints (``synthgan``) and with ``FixedCombinations(["education", "education-num"])``
(``synthgan-fixed``); each samples as many rows as the training table and is scored by
``synthgan.evaluation.evaluate`` against the holdout. ``broken`` is the share of synthetic rows
whose (education, education-num) pair never occurs in the training rows. One row per run is
appended to ``OUT/constraints.csv``; a rerun skips rows already there; ``--replot`` rebuilds
``OUT/summary.md``. Run it alone on the machine.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import pandas as pd

from benchmarks.run import (DATASETS_DIR, TARGETS, ResultRows, headline, load_split, machine_description,
                            recorded_command)
from synthgan import SynthGAN
from synthgan.constraints import FixedCombinations
from synthgan.evaluation import evaluate

PAIR = ["education", "education-num"]
METRICS = ("quality", "pair_trends", "tstr", "detection_auc", "broken", "epochs")


def run(args: argparse.Namespace) -> None:
    results = ResultRows(args.out / "constraints.csv")
    done = results.recorded("system", "seed")
    for seed in args.seeds:
        train, holdout, _ = load_split("adult", args.datasets_dir, 50_000, seed)
        seen = set(map(tuple, train[PAIR].drop_duplicates().to_numpy().tolist()))
        for system, constraints in (("synthgan", None), ("synthgan-fixed", [FixedCombinations(PAIR)])):
            if (system, str(seed)) in done:
                continue
            model = SynthGAN(epochs=100_000, max_time=args.budget, constraints=constraints, random_state=seed,
                             verbose=False).fit(train)
            synthetic = model.sample(len(train))
            scores = headline(evaluate(train, synthetic, target=TARGETS["adult"], holdout=holdout,
                                       random_state=seed), TARGETS["adult"])
            pairs = list(map(tuple, synthetic[PAIR].to_numpy().tolist()))
            results.append({"system": system, "seed": seed, "epochs": len(model.history_),
                            "train_s": round(model.timings_["training_s"], 1),
                            "broken": sum(p not in seen for p in pairs) / len(pairs),
                            **{k: scores[k] for k in ("quality", "column_shapes", "pair_trends", "detection_auc",
                                                      "tstr_metric", "tstr", "trtr", "mia_auc")}})


def report(out: Path, command: str) -> None:
    rows = pd.read_csv(out / "constraints.csv")
    grouped = rows.groupby("system", sort=False)
    lines = [f"Command: `{command}`", "", f"Machine: {machine_description()}", "",
             "| system | seeds | " + " | ".join(METRICS) + " |", "|---|---|" + "---|" * len(METRICS)]
    for system, part in grouped:
        cells = [f"{part[m].mean():.4f} ± {part[m].std(ddof=1) if len(part) > 1 else 0.0:.4f}" for m in METRICS]
        lines.append(f"| {system} | {len(part)} | " + " | ".join(cells) + " |")
    (out / "summary.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--budget", type=float, default=120.0, help="training seconds per fit")
    parser.add_argument("--datasets-dir", type=Path, default=DATASETS_DIR)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/constraints"))
    parser.add_argument("--replot", action="store_true", help="only rebuild summary.md")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if not args.replot:
        run(args)
    report(args.out, recorded_command("benchmarks.constraints"))


if __name__ == "__main__":
    main()

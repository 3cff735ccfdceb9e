"""Speed of ``synthgan.evaluation.evaluate`` on a large real table (issue target: 100k x 50 in < 60 s).

    python -m benchmarks.evaluate_speed            # diabetes130: 101,766 rows x 48 columns

The "synthetic" table is the real one with every column shuffled independently (same size and
types, broken dependencies), so every evaluator has real work to do; the holdout is a 20% split.
Prints one JSON line with the seconds of each section and in total.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from synthgan.evaluation import evaluate

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="diabetes130")
    parser.add_argument("--target", default="readmitted")
    parser.add_argument("--datasets", type=Path, default=DATASETS)
    args = parser.parse_args()
    real = pd.read_parquet(args.datasets / f"{args.dataset}.parquet")
    rng = np.random.default_rng(0)
    synthetic = pd.DataFrame({c: real[c].to_numpy()[rng.permutation(len(real))] for c in real.columns})
    holdout = real.sample(frac=0.2, random_state=0)
    timings = {}
    started = time.perf_counter()
    for name, kwargs in [("fidelity_without_detection_and_sdmetrics", dict(detection=False, sdmetrics=False)),
                         ("full", {})]:
        t = time.perf_counter()
        result = evaluate(real, synthetic, target=args.target if name == "full" else None,
                          holdout=holdout if name == "full" else None, **kwargs)
        timings[name + "_s"] = round(time.perf_counter() - t, 2)
    print(json.dumps({"dataset": args.dataset, "rows": len(real), "columns": real.shape[1], **timings,
                      "overall_fidelity": round(result.scores["fidelity"]["overall"], 4),
                      "total_s": round(time.perf_counter() - started, 2)}))


if __name__ == "__main__":
    main()

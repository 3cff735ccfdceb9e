"""Quality sanity check: ctgan-model sdmetrics QualityReport on adult within a CPU time budget.

    python -m benchmarks.quality_adult --budget 600

Trains on all of adult for at most ``--budget`` seconds, samples as many rows as the real table,
and prints the sdmetrics QualityReport overall score as one JSON line.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from synthgan import SynthGAN
from synthgan.evaluation.fidelity import sdmetrics_quality

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=600.0, help="training seconds")
    parser.add_argument("--model", default="ctgan")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--datasets", type=Path, default=DATASETS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    real = pd.read_parquet(args.datasets / "adult.parquet")
    start = time.perf_counter()
    model = SynthGAN(model=args.model, epochs=100_000, max_time=args.budget, random_state=args.seed,
                     verbose=False).fit(real)
    fit_seconds = time.perf_counter() - start
    synthetic = model.sample(len(real))
    quality = sdmetrics_quality(real, synthetic, np.random.default_rng(args.seed), max_rows=len(real))
    print(json.dumps({"model": args.model, "budget_s": args.budget, "fit_s": round(fit_seconds, 1),
                      "epochs": int(len(model.history_)), "quality": round(quality, 4)}))


if __name__ == "__main__":
    main()

"""Seconds per training epoch of ``SynthGAN()`` on adult, 3 seeds, one process, nothing else running.

    python -m benchmarks.epoch_time --epochs 6 --label after --out benchmarks/results/epoch_time

Fits ``SynthGAN(epochs=N)`` (defaults otherwise) on all of adult once per seed and records each
epoch's ``seconds`` from ``history_``; the first epoch is reported apart (warm-up). Appends one row
per seed to ``OUT/epoch_time.csv`` with the label, the commit and the machine, so two code versions
can be timed one after the other on the same machine and compared.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import subprocess
import time
from pathlib import Path

import pandas as pd
import torch

from synthgan import SynthGAN

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True, cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--label", required=True, help="name of the code version being timed")
    parser.add_argument("--datasets", type=Path, default=DATASETS)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/epoch_time"))
    args = parser.parse_args()
    real = pd.read_parquet(args.datasets / "adult.parquet")
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / "epoch_time.csv"
    fresh = not target.exists()
    with target.open("a", newline="") as handle:
        writer = csv.writer(handle)
        if fresh:
            writer.writerow(["label", "commit", "seed", "epochs", "first_epoch_s", "epoch_s_mean_after_first",
                             "fit_s", "torch", "threads", "cpu", "date"])
        for seed in args.seeds:
            started = time.perf_counter()
            est = SynthGAN(epochs=args.epochs, random_state=seed, verbose=False).fit(real)
            fit_s = time.perf_counter() - started
            seconds = est.history_["seconds"].to_numpy()
            row = [args.label, _commit(), seed, len(seconds), round(float(seconds[0]), 4),
                   round(float(seconds[1:].mean()), 4), round(fit_s, 2), torch.__version__,
                   torch.get_num_threads(), platform.processor() or os.uname().machine,
                   time.strftime("%Y-%m-%d %H:%M")]
            writer.writerow(row)
            handle.flush()
            print(",".join(map(str, row)))


if __name__ == "__main__":
    main()

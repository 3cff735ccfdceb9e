"""Seconds per training epoch of ``SynthGAN()`` on adult, 3 seeds, one process, nothing else running.

    python -m benchmarks.epoch_time --epochs 6 --label after --out benchmarks/results/epoch_time

Fits ``SynthGAN(epochs=N)`` (defaults otherwise) on all of adult once per seed and records each
epoch's ``seconds`` from ``history_``; the first epoch is reported apart (warm-up). Appends one row
per seed to ``OUT/epoch_time.csv`` with the label, the commit and the machine, so two code versions
can be timed one after the other on the same machine and compared. ``--no-freeze`` times the
current code with the critic's parameters left trainable during the generator phase (an ablation).

``--paired`` measures that one change within each fit instead: a callback switches the freezing
on and off on alternate epochs, so both settings share the process, the data and the machine's
state of the moment, and the per-seed difference of the two means is reported.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import torch

from benchmarks.run import commit
from synthgan import SynthGAN

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--label", required=True, help="name of the code version being timed")
    parser.add_argument("--datasets", type=Path, default=DATASETS)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/epoch_time"))
    parser.add_argument("--no-freeze", action="store_true",
                        help="ablation: let the generator phase compute critic gradients (as before the "
                             "training seam) by disabling the strategy's freezing")
    parser.add_argument("--paired", action="store_true",
                        help="alternate freezing on/off per epoch within each fit; writes paired.csv")
    args = parser.parse_args()
    if args.paired:
        return paired(args)
    if args.no_freeze:
        from synthgan.training.strategy import Strategy

        Strategy._freeze_others = lambda self, name, frozen: None
    real = pd.read_parquet(args.datasets / "adult.parquet")

    def rows() -> Iterator[list]:
        for seed in args.seeds:
            started = time.perf_counter()
            est = SynthGAN(epochs=args.epochs, random_state=seed, verbose=False).fit(real)
            fit_s = time.perf_counter() - started
            seconds = est.history_["seconds"].to_numpy()
            yield [args.label, commit(), seed, len(seconds), round(float(seconds[0]), 4),
                   round(float(seconds[1:].mean()), 4), round(fit_s, 2), torch.__version__,
                   torch.get_num_threads(), platform.processor() or os.uname().machine,
                   time.strftime("%Y-%m-%d %H:%M")]

    _append(args.out / "epoch_time.csv", ["label", "commit", "seed", "epochs", "first_epoch_s",
                                          "epoch_s_mean_after_first", "fit_s", "torch", "threads", "cpu", "date"],
            rows())


def _append(target: Path, header: list[str], rows: Iterator[list]) -> None:
    """Append each row to the CSV ``target`` as soon as it is measured (header for a new file)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fresh = not target.exists()
    with target.open("a", newline="") as handle:
        writer = csv.writer(handle)
        if fresh:
            writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            handle.flush()
            print(",".join(map(str, row)))


def paired(args: argparse.Namespace) -> None:
    from synthgan.training import Callback
    from synthgan.training.strategy import Strategy

    class AlternateFreezing(Callback):
        """Odd epochs freeze the other networks (the default), even epochs do not."""

        def on_epoch_start(self, state) -> None:
            strategy = state.trainer.strategy
            freeze = state.epoch % 2 == 1
            strategy._freeze_others = (Strategy._freeze_others.__get__(strategy) if freeze
                                       else (lambda name, frozen: None))
            state.logs["freeze"] = freeze

    real = pd.read_parquet(args.datasets / "adult.parquet")

    def rows() -> Iterator[list]:
        for seed in args.seeds:
            est = SynthGAN(epochs=args.epochs, random_state=seed, verbose=False,
                           callbacks=[AlternateFreezing()]).fit(real)
            history = est.history_.iloc[2:]  # the first two epochs warm up
            frozen = float(history.loc[history["freeze"].astype(bool), "seconds"].mean())
            unfrozen = float(history.loc[~history["freeze"].astype(bool), "seconds"].mean())
            yield [commit(), seed, len(history) // 2, round(frozen, 4), round(unfrozen, 4),
                   round(100 * (unfrozen - frozen) / unfrozen, 2), torch.__version__, torch.get_num_threads(),
                   time.strftime("%Y-%m-%d %H:%M")]

    _append(args.out / "paired.csv", ["commit", "seed", "epochs_each", "frozen_epoch_s", "unfrozen_epoch_s",
                                      "saving_pct", "torch", "threads", "date"], rows())


if __name__ == "__main__":
    main()

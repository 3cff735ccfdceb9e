"""TSTR along training, and its spread over sample draws of one generator (exploratory).

    python -m benchmarks.tstr_along_training --dataset german_credit --seed 0 --epochs 6000 --every 300 \
        --out benchmarks/results/tstr_along_training/german_credit_seed0.jsonl

Fits ``SynthGAN(epochs=EPOCHS)`` with its defaults on split 0 of ``benchmarks.run`` (the split of
issue #13's runs) and keeps the generator's weight average every ``--every`` epochs. After the fit,
each kept generator samples as many rows as train ``--draws`` times (sample seeds 1000, 1001, ...)
and every draw is scored by the TSTR of ``synthgan.evaluation`` against the holdout. One JSON line
per kept epoch: the epoch, the training seconds it was reached at, the draws' TSTR, their mean and
standard deviation, and the TRTR. The default weight average (decay 0.999) is passed as a callback
of its own so that its running average can be read; the fit is otherwise the default one.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np

from benchmarks.run import DATASETS_DIR, TARGETS, load_split
from synthgan import SynthGAN
from synthgan.evaluation.utility import train_synthetic_test_real
from synthgan.training.callbacks import Callback, WeightAverage


class KeepAverage(Callback):
    """Every ``every`` epochs, a copy of ``average``'s running weights and the seconds since fit start."""

    order = 6  # after the weight average's step

    def __init__(self, average: WeightAverage, every: int):
        self.average = average
        self.every = every
        self.kept: dict[int, tuple[dict, float]] = {}

    def on_fit_start(self, state) -> None:
        self._started = time.perf_counter()

    def on_epoch_end(self, state) -> None:
        if state.epoch % self.every == 0:
            weights = {k: v.clone() for k, v in self.average.state_dict()["shadow"].items()}
            self.kept[state.epoch] = (weights, time.perf_counter() - self._started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="german_credit")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=6000)
    parser.add_argument("--every", type=int, default=300)
    parser.add_argument("--draws", type=int, default=4)
    parser.add_argument("--datasets-dir", type=Path, default=DATASETS_DIR)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    train, holdout, _ = load_split(args.dataset, args.datasets_dir, 50_000, 0)
    target = TARGETS[args.dataset]
    average = WeightAverage(0.999)
    keep = KeepAverage(average, args.every)
    model = SynthGAN(epochs=args.epochs, weight_average=None, callbacks=[average, keep],
                     random_state=args.seed, verbose=False).fit(train)
    generator = model.model_.networks()["generator"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for epoch, (weights, seconds) in sorted(keep.kept.items()):
        generator.load_state_dict(weights)
        scores, real = [], None
        for draw in range(args.draws):
            synthetic = model.sample(len(train), random_state=1000 + draw)
            result = train_synthetic_test_real(train, synthetic, holdout, target, seed=args.seed)
            metric = "r2" if result["task"] == "regression" else (
                "roc_auc" if "roc_auc" in result["synthetic"] else "macro_f1")
            scores.append(result["synthetic"][metric])
            real = result["real"][metric]
        line = {"epoch": epoch, "t": seconds, "tstr_mean": float(np.mean(scores)),
                "tstr_sd": float(np.std(scores, ddof=1)) if len(scores) > 1 else None,
                "draws": scores, "trtr": real}
        print(json.dumps(line), flush=True)
        lines.append(json.dumps(line))
    args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

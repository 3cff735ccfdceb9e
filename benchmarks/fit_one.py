"""Fit one system on one training table and sample from it, in a process of its own.

Run by ``benchmarks.run`` (one child process per system, so peak RSS belongs to that system alone):

    python -m benchmarks.fit_one --system synthgan-ctgan --train train.parquet --budget 600 --out DIR

Writes ``DIR/synthetic.parquet`` and ``DIR/metrics.json`` (fit seconds, transformer seconds, epochs,
seconds per epoch, sampling rows/s, peak RSS).
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import time
from pathlib import Path

import pandas as pd

BASELINE_SYSTEMS = ("gaussian-copula", "independent", "identity")  # fitted without training epochs
SYSTEMS = ("synthgan-ctgan", "synthgan-wgan-gp", "ctgan-0.12", "ctgan-0.12-300ep", "tvae-0.12", *BASELINE_SYSTEMS)
MAX_EPOCHS = 100_000

logger = logging.getLogger("benchmarks.fit_one")


def _discrete(frame: pd.DataFrame) -> list:
    return [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c].dtype)
            and not pd.api.types.is_datetime64_any_dtype(frame[c].dtype) or pd.api.types.is_bool_dtype(frame[c].dtype)]


def run_synthgan(train: pd.DataFrame, model: str, budget: float, n: int, seed: int) -> tuple[pd.DataFrame, dict]:
    from synthgan import SynthGAN

    started = time.perf_counter()
    est = SynthGAN(model=model, epochs=MAX_EPOCHS, max_time=budget, random_state=seed, verbose=False).fit(train)
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    synthetic = est.sample(n)
    sample_s = time.perf_counter() - started
    return synthetic, {"fit_s": fit_s, "transformer_fit_s": est.timings_["transformer_fit_s"],
                       "epochs": len(est.history_), "epoch_s": float(est.history_["seconds"].mean()),
                       "train_s": float(est.history_["seconds"].sum()), "sample_s": sample_s}


class _BudgetedEpochs:
    """Stands in for the ``tqdm`` that ``ctgan`` wraps its epoch range in.

    It records when each epoch ends and stops the loop after the first epoch that ends past the
    budget, the same rule as synthgan's ``max_time``; ctgan itself is not modified.
    """

    def __init__(self, budget: float):
        self.budget = budget
        self.epoch_ends: list[float] = []
        self.start: float | None = None

    def __call__(self, iterable, **_ignored):
        self._iterable = iterable
        return self

    def set_description(self, *_args, **_kwargs) -> None:
        return None

    def __iter__(self):
        self.start = time.perf_counter()
        for epoch in self._iterable:
            yield epoch
            self.epoch_ends.append(time.perf_counter())
            if self.epoch_ends[-1] - self.start > self.budget:
                return


PACKAGE_SYSTEMS = {"ctgan-0.12": ("ctgan", "CTGAN", None), "ctgan-0.12-300ep": ("ctgan", "CTGAN", 300),
                   "tvae-0.12": ("tvae", "TVAE", None)}


def run_package(system: str, train: pd.DataFrame, budget: float, n: int, seed: int, epochs: int | None = None,
                enable_gpu: bool = False, batch_size: int | None = None) -> tuple[pd.DataFrame, dict]:
    """A synthesizer of the ``ctgan`` package (its ``CTGAN`` or its ``TVAE``), trained until the
    budget is spent (as synthgan's ``max_time``), or for a fixed number of epochs regardless of the
    budget (``ctgan-0.12-300ep``: the package's default 300 epochs, the reference of issue #13's
    time-to-quality target).

    The budget covers training epochs, not the transformer fit, whose time is reported on its own.
    Two names inside the synthesizer's module are swapped for timing wrappers: its progress bar
    (epoch clock and stop rule) and its ``DataTransformer`` (fit clock); the package itself is not
    modified. ``epochs`` fixes the number of epochs (as ``ctgan-0.12-300ep`` does), ``enable_gpu``
    and ``batch_size`` are passed to the synthesizer (``benchmarks.gpu``).
    """
    import importlib

    module_name, class_name, fixed_epochs = PACKAGE_SYSTEMS[system]
    fixed_epochs = epochs or fixed_epochs
    module = importlib.import_module(f"ctgan.synthesizers.{module_name}")
    timings: dict = {}

    class TimedTransformer(module.DataTransformer):
        def fit(self, *args, **kwargs):
            started = time.perf_counter()
            result = super().fit(*args, **kwargs)
            timings["transformer_fit_s"] = time.perf_counter() - started
            return result

    epochs_clock = _BudgetedEpochs(float("inf") if fixed_epochs else budget)
    module.tqdm = epochs_clock
    module.DataTransformer = TimedTransformer
    datetimes = [c for c in train.columns if pd.api.types.is_datetime64_any_dtype(train[c].dtype)]
    frame = train.copy()
    for column in datetimes:  # the package has no datetime support: model them as int64 nanoseconds
        frame[column] = frame[column].astype("int64")
    started = time.perf_counter()
    options = {} if batch_size is None else {"batch_size": batch_size}
    model = getattr(module, class_name)(epochs=fixed_epochs or MAX_EPOCHS, enable_gpu=enable_gpu, **options)
    model.set_random_state(seed)
    model.fit(frame, _discrete(frame))
    fit_s = time.perf_counter() - started
    ends = [epochs_clock.start, *epochs_clock.epoch_ends]
    epoch_s = [b - a for a, b in zip(ends, ends[1:])]
    logger.info("%s: transformer %.1fs, %d epochs of %.2fs", system, timings["transformer_fit_s"], len(epoch_s),
                sum(epoch_s) / len(epoch_s))
    started = time.perf_counter()
    synthetic = model.sample(n)
    sample_s = time.perf_counter() - started
    for column in datetimes:
        synthetic[column] = pd.to_datetime(synthetic[column].astype("int64")).astype(train[column].dtype)
    return synthetic, {"fit_s": fit_s, "transformer_fit_s": timings["transformer_fit_s"], "epochs": len(epoch_s),
                       "epoch_s": sum(epoch_s) / len(epoch_s), "train_s": ends[-1] - ends[0], "sample_s": sample_s,
                       "epoch_seconds": epoch_s}


def run_baseline(train: pd.DataFrame, system: str, n: int, seed: int) -> tuple[pd.DataFrame, dict]:
    from benchmarks.baselines import GaussianCopula, Identity, IndependentColumns

    cls = {"gaussian-copula": GaussianCopula, "independent": IndependentColumns, "identity": Identity}[system]
    started = time.perf_counter()
    model = cls(random_state=seed).fit(train)
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    synthetic = model.sample(n)
    return synthetic, {"fit_s": fit_s, "sample_s": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--system", choices=SYSTEMS, required=True)
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--budget", type=float, default=600.0)
    parser.add_argument("--rows", type=int, default=None, help="rows to sample (default: as many as train)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    train = pd.read_parquet(args.train)
    n = args.rows or len(train)
    if args.system.startswith("synthgan-"):
        synthetic, metrics = run_synthgan(train, args.system.removeprefix("synthgan-"), args.budget, n, args.seed)
    elif args.system in PACKAGE_SYSTEMS:
        synthetic, metrics = run_package(args.system, train, args.budget, n, args.seed)
    else:
        synthetic, metrics = run_baseline(train, args.system, n, args.seed)
    metrics.pop("epoch_seconds", None)  # per-epoch detail for benchmarks.gpu, not a results column
    metrics["sample_rows_per_s"] = n / max(metrics["sample_s"], 1e-9)
    metrics["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    args.out.mkdir(parents=True, exist_ok=True)
    synthetic.to_parquet(args.out / "synthetic.parquet", index=False)
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()

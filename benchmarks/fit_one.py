"""Fit one system on one training table and sample from it, in a process of its own.

Run by ``benchmarks.run`` (one child process per system, so peak RSS belongs to that system alone):

    python -m benchmarks.fit_one --system synthgan-ctgan --train train.parquet --budget 600 --out DIR

Writes ``DIR/synthetic.parquet`` and ``DIR/metrics.json`` (fit seconds, transformer seconds, epochs,
seconds per epoch, sampling rows/s, peak RSS).

With ``--snapshots 15,30,60`` (budgets below ``--budget``) a system trained to a budget also
samples, from the same run, the model it had at the first epoch that ended past each of those
budgets (the epoch at which a run with that budget stops), into ``DIR/snapshot-15/...`` and so on;
see :func:`run_synthgan` and :func:`run_package` for how each system's state is taken.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

BASELINE_SYSTEMS = ("gaussian-copula", "independent", "identity")  # fitted without training epochs
SYSTEMS = ("synthgan-ctgan", "synthgan-wgan-gp", "ctgan-0.12", "ctgan-0.12-300ep", "tvae-0.12", *BASELINE_SYSTEMS)
MAX_EPOCHS = 100_000

# called with (budget, synthetic rows, metrics) for each snapshot of a run (``--snapshots``)
SnapshotSink = Callable[[float, pd.DataFrame, dict], None]

logger = logging.getLogger("benchmarks.fit_one")


def _discrete(frame: pd.DataFrame) -> list:
    return [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c].dtype)
            and not pd.api.types.is_datetime64_any_dtype(frame[c].dtype) or pd.api.types.is_bool_dtype(frame[c].dtype)]


def _snapshot_checkpoints(directory: Path, budgets: Sequence[float]):
    """A synthgan callback that writes the whole training state (a :class:`Checkpoint` file) at
    the first epoch ending more than each of ``budgets`` seconds after the fit started: the epoch
    at which ``max_time=budget`` stops a run (:class:`synthgan.training.TimeBudget`'s rule).
    ``taken`` maps each budget reached to its epoch."""
    from synthgan.training import Callback, Checkpoint
    from synthgan.training.checkpoint import write_checkpoint

    class SnapshotCheckpoints(Callback):
        order = Checkpoint.order  # as a checkpoint: after the weight average has seen the epoch's steps

        def __init__(self) -> None:
            self.directory = directory
            self.budgets = sorted(budgets)
            self.taken: dict[float, int] = {}
            self.write_s = 0.0

        def on_fit_start(self, state) -> None:
            self._start = time.perf_counter()

        def on_epoch_end(self, state) -> None:
            now = time.perf_counter()
            due = [b for b in self.budgets if b not in self.taken and now - self._start > b]
            if due:
                write_checkpoint(self.directory, state.trainer.state_dict())
                self.taken.update({b: state.epoch for b in due})
                self.write_s += time.perf_counter() - now

    return SnapshotCheckpoints()


def _synthgan_metrics(est, fit_s: float, sample_s: float) -> dict:
    return {"fit_s": fit_s, "transformer_fit_s": est.timings_["transformer_fit_s"],
            "epochs": len(est.history_), "epoch_s": float(est.history_["seconds"].mean()),
            "train_s": float(est.history_["seconds"].sum()), "sample_s": sample_s}


def run_synthgan(train: pd.DataFrame, model: str, budget: float, n: int, seed: int,
                 snapshots: Sequence[float] = (), on_snapshot: SnapshotSink | None = None) -> tuple[pd.DataFrame, dict]:
    """``SynthGAN(model=model, max_time=budget)`` with its defaults: fit, then sample ``n`` rows.

    With ``snapshots``, the run writes a checkpoint at the epoch where each of those budgets would
    have stopped it; after the fit, each checkpoint is finished as a run stopped there is (a fit
    resumed from it with ``epochs`` set to its epoch, so no further step: the weight average is
    applied and the calibrations fitted) and sampled, and ``on_snapshot`` gets its rows and
    metrics. A resumed fit equals the uninterrupted one (synthgan's checkpoint contract, tested),
    so each snapshot is the model a fit with that budget ends with, up to where the clock stops.
    Writing the checkpoints counts toward the run's own training time (``snapshot_write_s``).
    """
    from synthgan import SynthGAN
    from synthgan.training.checkpoint import checkpoint_name

    with tempfile.TemporaryDirectory(prefix="synthgan-snapshots-") as directory:
        saver = _snapshot_checkpoints(Path(directory), snapshots) if snapshots else None
        started = time.perf_counter()
        est = SynthGAN(model=model, epochs=MAX_EPOCHS, max_time=budget, random_state=seed, verbose=False,
                       callbacks=[saver] if saver else None).fit(train)
        fit_s = time.perf_counter() - started
        started = time.perf_counter()
        synthetic = est.sample(n)
        metrics = _synthgan_metrics(est, fit_s, time.perf_counter() - started)
        if saver is not None:
            metrics["snapshot_write_s"] = saver.write_s
        for snapshot, epoch in sorted(saver.taken.items()) if saver else ():
            started = time.perf_counter()
            resumed = SynthGAN(model=model, epochs=epoch, random_state=seed, verbose=False).fit(
                train, resume_from=Path(directory) / checkpoint_name(epoch))
            resume_s = time.perf_counter() - started
            started = time.perf_counter()
            rows = resumed.sample(n)
            found = _synthgan_metrics(resumed, 0.0, time.perf_counter() - started)
            found["fit_s"] = found["transformer_fit_s"] + found["train_s"]  # as a run stopped there
            on_snapshot(snapshot, rows, {**found, "resume_s": resume_s})
    return synthetic, metrics


class _BudgetedEpochs:
    """Stands in for the ``tqdm`` that ``ctgan`` wraps its epoch range in.

    It records when each epoch ends and stops the loop after the first epoch that ends past the
    budget, the same rule as synthgan's ``max_time``; ctgan itself is not modified. At the first
    epoch that ends past each of ``snapshots``, it calls ``on_snapshot(budgets)`` (the budgets
    reached there) between two epochs; the time that takes is left out of the clock.
    """

    def __init__(self, budget: float, snapshots: Sequence[float] = ()):
        self.budget = budget
        self.epoch_ends: list[float] = []  # training seconds at each epoch's end, pauses left out
        self.start: float | None = None
        self.snapshots = sorted(snapshots)
        self.on_snapshot: Callable[[list[float]], None] | None = None
        self.paused = 0.0

    def __call__(self, iterable, **_ignored):
        self._iterable = iterable
        return self

    def set_description(self, *_args, **_kwargs) -> None:
        return None

    def __iter__(self):
        self.start = time.perf_counter()
        for epoch in self._iterable:
            yield epoch
            now = time.perf_counter()
            self.epoch_ends.append(now - self.paused)
            trained = now - self.paused - self.start
            due = [b for b in self.snapshots if trained > b]
            if due and self.on_snapshot is not None:
                self.snapshots = self.snapshots[len(due):]
                self.on_snapshot(due)
                self.paused += time.perf_counter() - now
            if trained > self.budget:
                return


PACKAGE_SYSTEMS = {"ctgan-0.12": ("ctgan", "CTGAN", None), "ctgan-0.12-300ep": ("ctgan", "CTGAN", 300),
                   "tvae-0.12": ("tvae", "TVAE", None)}


def run_package(system: str, train: pd.DataFrame, budget: float, n: int, seed: int, epochs: int | None = None,
                enable_gpu: bool = False, batch_size: int | None = None, snapshots: Sequence[float] = (),
                on_snapshot: SnapshotSink | None = None) -> tuple[pd.DataFrame, dict]:
    """A synthesizer of the ``ctgan`` package (its ``CTGAN`` or its ``TVAE``), trained until the
    budget is spent (as synthgan's ``max_time``), or for a fixed number of epochs regardless of the
    budget (``ctgan-0.12-300ep``: the package's default 300 epochs, the reference of issue #13's
    time-to-quality target).

    The budget covers training epochs, not the transformer fit, whose time is reported on its own.
    Two names inside the synthesizer's module are swapped for timing wrappers: its progress bar
    (epoch clock and stop rule) and its ``DataTransformer`` (fit clock); the package itself is not
    modified. ``epochs`` fixes the number of epochs (as ``ctgan-0.12-300ep`` does), ``enable_gpu``
    and ``batch_size`` are passed to the synthesizer (``benchmarks.gpu``).

    With ``snapshots`` (budgets below ``budget``), the synthesizer samples ``n`` rows between two
    epochs at the first epoch ending past each of them, and ``on_snapshot`` gets them. The
    package's ``sample`` runs under its own random-state guard, which restores the global numpy
    and torch generators afterwards, so training continues on the same random stream as without
    the snapshot; the pause is left out of the training clock. Each snapshot samples from a stream
    of its own (:func:`snapshot_seed`), as a stopped run samples from where its training left the
    stream, not from the run's starting state, which the guard would otherwise hand it.
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

    epochs_clock = _BudgetedEpochs(float("inf") if fixed_epochs else budget, () if fixed_epochs else snapshots)
    module.tqdm = epochs_clock
    module.DataTransformer = TimedTransformer
    datetimes = [c for c in train.columns if pd.api.types.is_datetime64_any_dtype(train[c].dtype)]
    frame = train.copy()
    for column in datetimes:  # the package has no datetime support: model them as int64 nanoseconds
        frame[column] = _nanoseconds(frame[column])
    started = time.perf_counter()
    options = {} if batch_size is None else {"batch_size": batch_size}
    model = getattr(module, class_name)(epochs=fixed_epochs or MAX_EPOCHS, enable_gpu=enable_gpu, **options)
    model.set_random_state(seed)

    def timings_so_far(sample_s: float) -> dict:
        ends = [epochs_clock.start, *epochs_clock.epoch_ends]
        epoch_s = [b - a for a, b in zip(ends, ends[1:])]
        return {"transformer_fit_s": timings["transformer_fit_s"], "epochs": len(epoch_s),
                "epoch_s": sum(epoch_s) / len(epoch_s), "train_s": ends[-1] - ends[0], "sample_s": sample_s,
                "epoch_seconds": epoch_s}

    def snapshot(budgets: list[float]) -> None:
        started = time.perf_counter()
        # a stream of its own: until fit returns, the synthesizer's stored state is the one it was
        # seeded with, whose numbers also initialized the weights and drove the first epochs
        training_states = model.random_states
        model.set_random_state(snapshot_seed(seed, len(epochs_clock.epoch_ends)))
        rows = _package_rows(model, n, train, datetimes)
        model.random_states = training_states
        found = timings_so_far(time.perf_counter() - started)
        found.pop("epoch_seconds")
        found["fit_s"] = found["transformer_fit_s"] + found["train_s"]  # as a run stopped there
        for budget_reached in budgets:
            on_snapshot(budget_reached, rows, dict(found))

    epochs_clock.on_snapshot = snapshot if on_snapshot is not None else None
    model.fit(frame, _discrete(frame))
    fit_s = time.perf_counter() - started - epochs_clock.paused
    found = timings_so_far(0.0)
    logger.info("%s: transformer %.1fs, %d epochs of %.2fs", system, found["transformer_fit_s"], found["epochs"],
                found["epoch_s"])
    started = time.perf_counter()
    synthetic = _package_rows(model, n, train, datetimes)
    found["sample_s"] = time.perf_counter() - started
    return synthetic, {"fit_s": fit_s, **found}


def snapshot_seed(seed: int, epoch: int) -> int:
    """The seed of the sampling stream of a package synthesizer's snapshot after ``epoch`` epochs."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


def _package_rows(model, n: int, train: pd.DataFrame, datetimes: list) -> pd.DataFrame:
    """``n`` rows sampled from a ``ctgan`` package synthesizer, datetimes back to ``train``'s dtypes."""
    synthetic = model.sample(n)
    for column in datetimes:
        synthetic[column] = pd.to_datetime(synthetic[column].astype("int64"), unit="ns").astype(train[column].dtype)
    return synthetic


def _nanoseconds(series: pd.Series) -> pd.Series:
    """Nanoseconds since the epoch of a datetime column, whatever its unit (a parquet
    ``timestamp[ms]`` column reads as ``datetime64[ms]``, whose ``astype("int64")`` counts
    milliseconds, which read back as nanoseconds would put every date in January 1970)."""
    return series.dt.as_unit("ns").astype("int64")


def run_baseline(train: pd.DataFrame, system: str, n: int, seed: int) -> tuple[pd.DataFrame, dict]:
    from benchmarks.baselines import GaussianCopula, Identity, IndependentColumns

    cls = {"gaussian-copula": GaussianCopula, "independent": IndependentColumns, "identity": Identity}[system]
    started = time.perf_counter()
    model = cls(random_state=seed).fit(train)
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    synthetic = model.sample(n)
    return synthetic, {"fit_s": fit_s, "sample_s": time.perf_counter() - started}


def snapshot_dir(out: Path, budget: float) -> Path:
    """Where ``--snapshots`` writes the rows and metrics of the snapshot at ``budget`` seconds."""
    return out / f"snapshot-{budget:g}"


def _finish(out: Path, synthetic: pd.DataFrame, metrics: dict, n: int) -> None:
    metrics.pop("epoch_seconds", None)  # per-epoch detail for benchmarks.gpu, not a results column
    metrics["sample_rows_per_s"] = n / max(metrics["sample_s"], 1e-9)
    metrics["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out.mkdir(parents=True, exist_ok=True)
    synthetic.to_parquet(out / "synthetic.parquet", index=False)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))


def _snapshot_list(text: str) -> list[float]:
    return sorted({float(part) for part in text.split(",") if part.strip()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--system", choices=SYSTEMS, required=True)
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--budget", type=float, default=600.0)
    parser.add_argument("--snapshots", type=_snapshot_list, default=[],
                        help="comma-separated budgets below --budget to also sample at, from the same run")
    parser.add_argument("--rows", type=int, default=None, help="rows to sample (default: as many as train)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if any(b >= args.budget for b in args.snapshots):
        parser.error(f"--snapshots must be below --budget ({args.budget:g}); got {args.snapshots}")
    train = pd.read_parquet(args.train)
    n = args.rows or len(train)

    def keep(budget: float, rows: pd.DataFrame, metrics: dict) -> None:
        _finish(snapshot_dir(args.out, budget), rows, metrics, n)

    taken = {"snapshots": args.snapshots, "on_snapshot": keep}
    if args.system.startswith("synthgan-"):
        synthetic, metrics = run_synthgan(train, args.system.removeprefix("synthgan-"), args.budget, n, args.seed,
                                          **taken)
    elif args.system in PACKAGE_SYSTEMS:
        synthetic, metrics = run_package(args.system, train, args.budget, n, args.seed, **taken)
    else:
        synthetic, metrics = run_baseline(train, args.system, n, args.seed)
    _finish(args.out, synthetic, metrics, n)


if __name__ == "__main__":
    main()

"""The GPU check of issue #10, as one prepared script for a session that is lent a GPU.

    python -m benchmarks.gpu --datasets-dir .gpu_data --out $OUT      # on the GPU machine

What it measures, all in one run on one GPU:

1. **Epoch time against batch size and precision.** For each dataset (all of its rows: adult
   32,561, kddcup99_intrusion 494,021), each batch size (``--batch-sizes``, default 500 2000 8000
   16000) and each precision (float32, and bfloat16 autocast: ``SynthGAN(precision="bfloat16")``),
   ``SynthGAN(epochs=--epochs, batch_size=b)`` with the defaults otherwise; the epoch time is the
   median of the epochs after the first (which holds CUDA's start-up and autotuning), and training
   rows per second are rows / epoch time.
2. **ctgan 0.12 on the same GPU**, ``CTGAN(enable_gpu=True)`` at its default batch of 500 for the
   same epochs, timed by the same epoch clock as ``benchmarks.run`` (``benchmarks.fit_one``).
3. **Quality at a large batch.** On adult, ``SynthGAN(max_time=--quality-seconds)`` at batch 500
   and at the largest batch (learning rates scaled by the square root of the batch ratio), in both
   precisions; sdmetrics quality, detection AUC and TSTR against the real holdout (80/20 split).
4. **Sampling to parquet**: ``--sample-rows`` rows from the adult model, written by
   ``synthgan.io.write_table`` (writing overlapped with generation), rows per second.

Results: ``OUT/gpu.csv`` (one row per measurement) and ``OUT/summary.md``. The issue's targets on
one H100: an epoch at least 10x faster than ctgan's at the default batch, at least 1 million
training rows per second at a large batch with quality checked there, and at least 5 million
sampled rows per second to parquet.

Preparing a device run (the GPU machine has torch, pandas, pyarrow, scikit-learn, scipy, click, tqdm
and matplotlib, but not sdmetrics, ctgan, rdt, copulas, opacus or Faker, and cannot reach the
package index; ``../shared`` does not travel): copy ``adult.parquet`` and
``kddcup99_intrusion.parquet`` into ``.gpu_data/``, download the missing wheels for Python 3.12
into ``.whl/`` as the device tool's README says, ignore both in ``.git/info/exclude``, carry both,
and begin the command with the wheel install it gives. Size the run with ``--epochs`` and
``--quality-seconds`` to end well inside one 10-minute command; ``--smoke`` runs everything on a
few rows of adult on the CPU (to check the script here first).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd

from benchmarks.fit_one import run_package
from benchmarks.run import (DATASETS_DIR, TARGETS, ResultRows, headline, load_split, machine_description,
                            read_dataset)
from synthgan.training.strategy import Strategy

logger = logging.getLogger("benchmarks.gpu")
PRECISIONS = tuple(Strategy.PRECISIONS)
DEFAULT_BATCH = 500
COLUMNS = ("measure", "dataset", "system", "batch_size", "precision", "rows", "epochs", "epoch_s", "train_rows_per_s",
           "train_s", "quality", "detection_auc", "tstr_metric", "tstr", "trtr", "sample_chunk", "seconds",
           "sample_rows_per_s")


def _record(results: ResultRows, **row) -> None:
    """One row with every column of ``gpu.csv`` (blank where a measure has no such value)."""
    results.append({column: row.get(column, "") for column in COLUMNS})


def _steady_epoch_s(seconds: list[float]) -> float:
    """Median epoch time without the first epoch (CUDA start-up, autotuning), if there are others."""
    return float(statistics.median(seconds[1:] if len(seconds) > 1 else seconds))


def _lr(batch: int) -> float:
    return 2e-4 * (batch / DEFAULT_BATCH) ** 0.5


def epoch_times(frame: pd.DataFrame, name: str, args: argparse.Namespace, results: ResultRows) -> None:
    from synthgan import SynthGAN

    for batch in args.batch_sizes:
        for precision in args.precisions:
            est = SynthGAN(epochs=args.epochs, batch_size=batch, precision=precision, device=args.device,
                           marginal_calibration=False, verbose=False, random_state=0).fit(frame)
            epoch_s = _steady_epoch_s(est.history_["seconds"].tolist())
            _record(results, measure="epoch", dataset=name, system="synthgan", batch_size=batch, precision=precision,
                    rows=len(frame), epochs=args.epochs, epoch_s=epoch_s, train_rows_per_s=len(frame) / epoch_s)
    if args.no_ctgan:
        return
    _, metrics = run_package("ctgan-0.12", frame, float("inf"), 10, 0, epochs=args.epochs,
                             enable_gpu=args.device.startswith("cuda"), batch_size=DEFAULT_BATCH)
    epoch_s = _steady_epoch_s(metrics["epoch_seconds"])
    _record(results, measure="epoch", dataset=name, system="ctgan-0.12", batch_size=DEFAULT_BATCH, precision="float32",
            rows=len(frame), epochs=args.epochs, epoch_s=epoch_s, train_rows_per_s=len(frame) / epoch_s)


def quality_and_sampling(args: argparse.Namespace, results: ResultRows) -> None:
    from synthgan import SynthGAN
    from synthgan.evaluation import evaluate
    from synthgan.io import write_table

    train, holdout, _ = load_split("adult", args.datasets_dir, args.max_rows or 50_000, 0)
    if args.smoke:
        holdout = holdout.iloc[:200]
    last = None
    for batch in sorted({DEFAULT_BATCH, max(args.batch_sizes)}):
        for precision in args.precisions:
            est = SynthGAN(epochs=100_000, max_time=args.quality_seconds, batch_size=batch, generator_lr=_lr(batch),
                           discriminator_lr=_lr(batch), precision=precision, device=args.device, verbose=False,
                           random_state=0).fit(train)
            scores = headline(evaluate(train, est.sample(len(train)), target=TARGETS["adult"], holdout=holdout,
                                       random_state=0), TARGETS["adult"])
            _record(results, measure="quality", dataset="adult", system="synthgan", batch_size=batch,
                    precision=precision, rows=len(train), epochs=len(est.history_),
                    train_s=float(est.history_["seconds"].sum()), **scores)
            last = est
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "rows.parquet"
        write_table(last.iter_samples(min(args.sample_rows, 200_000), 200_000, random_state=1), target)  # warm-up
        started = time.perf_counter()
        written = write_table(last.iter_samples(args.sample_rows, args.sample_chunk, random_state=0), target,
                              overwrite=True, overlap=True)
        seconds = time.perf_counter() - started
    _record(results, measure="sampling", dataset="adult", system="synthgan", rows=written,
            sample_chunk=args.sample_chunk, seconds=seconds, sample_rows_per_s=written / seconds)


def summarize(out: Path) -> str:
    rows = pd.read_csv(out / "gpu.csv")
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    lines = [f"Machine: {machine_description()}; {gpu}", ""]
    epochs = rows[rows["measure"] == "epoch"]
    if len(epochs):
        lines += ["| dataset | system | batch | precision | epoch s | training rows/s | ctgan epoch / this epoch |",
                  "|---|---|---|---|---|---|---|"]
        for name, part in epochs.groupby("dataset", sort=False):
            ctgan = part.loc[part["system"] == "ctgan-0.12", "epoch_s"]
            for _, r in part.iterrows():
                ratio = f"{ctgan.iloc[0] / r['epoch_s']:.1f}x" if len(ctgan) else ""
                lines.append(f"| {name} | {r['system']} | {int(r['batch_size'])} | {r['precision']} | "
                             f"{r['epoch_s']:.3f} | {r['train_rows_per_s']:,.0f} | {ratio} |")
    quality = rows[rows["measure"] == "quality"]
    if len(quality):
        lines += ["", "| batch | precision | epochs | sdmetrics quality | detection AUC | TSTR |",
                  "|---|---|---|---|---|---|"]
        for _, r in quality.iterrows():
            lines.append(f"| {int(r['batch_size'])} | {r['precision']} | {int(r['epochs'])} | {r['quality']:.4f} | "
                         f"{r['detection_auc']:.3f} | {r['tstr']:.4f} |")
    sampling = rows[rows["measure"] == "sampling"]
    for _, r in sampling.iterrows():
        lines += ["", f"Sampling to parquet: {int(r['rows']):,} rows in {r['seconds']:.1f} s, "
                      f"{r['sample_rows_per_s']:,.0f} rows/s (chunks of {int(r['sample_chunk']):,})."]
    text = "\n".join(lines) + "\n"
    (out / "summary.md").write_text(text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["adult", "kddcup99_intrusion"])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[500, 2000, 8000, 16000])
    parser.add_argument("--precisions", nargs="+", choices=PRECISIONS, default=list(PRECISIONS))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--quality-seconds", type=float, default=60.0)
    parser.add_argument("--sample-rows", type=int, default=10_000_000)
    parser.add_argument("--sample-chunk", type=int, default=1_000_000)
    parser.add_argument("--max-rows", type=int, default=None, help="use at most this many rows of each dataset")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--no-ctgan", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="a few rows of adult on the CPU, to check the script")
    parser.add_argument("--datasets-dir", type=Path, default=DATASETS_DIR)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if args.smoke:
        args.datasets, args.batch_sizes, args.epochs, args.quality_seconds = ["adult"], [500, 1000], 2, 2.0
        args.sample_rows, args.sample_chunk, args.max_rows, args.device = 20_000, 5_000, 2_000, "cpu"
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    warnings.simplefilter("ignore")
    results = ResultRows(args.out / "gpu.csv")
    for name in args.datasets:
        frame, _ = read_dataset(name, args.datasets_dir)
        if args.max_rows:
            frame = frame.iloc[:args.max_rows]
        epoch_times(frame, name, args, results)
    quality_and_sampling(args, results)
    print(summarize(args.out))


if __name__ == "__main__":
    main()

"""Where sampling and a large fit spend their time and memory (issue #10), on this machine's CPUs.

    python -m benchmarks.sampling --datasets adult kddcup99_intrusion --seeds 0 1 2 \\
        --rows 1000000 --cli-rows 10000000 --out benchmarks/results/sampling

For each dataset and seed a model is fitted for one epoch on the dataset's training split (the
weights' values do not change the cost of sampling; the layout does), then ``--rows`` rows are
timed stage by stage, each in 20,000-row chunks as ``synthgan sample`` makes them:

- ``matmul``: the generator's linear layers alone (``x @ W.T`` on random inputs of their widths,
  in blocks of 4,096 rows): the floor the issue measures sampling against;
- ``matmul_computed``: the same without the conditional vector's inputs, which sampling reads as
  one-hot indices (``Generator.infer``'s ``hot``) instead of multiplying: the matmuls it computes;
- ``generate``: conditional vectors, noise, the generator and its output activation
  (``model.generate``), as one tensor;
- ``decode``: the inverse transform of those tensors to typed columns;
- ``rows``: ``iter_samples`` end to end (all of the above, plus identifier numbering);
- ``parquet``: ``iter_samples`` written to a parquet file with ``synthgan.io.write_table`` with
  ``overlap=True`` (each chunk converted and written in a second thread while the next is
  generated; what the CLI does when it generates on a GPU);
- ``parquet_inline``: the same with ``overlap=False`` (written in the generating thread: what the
  CLI does on the CPU), for the gain of the overlap in the same run.

Then ``synthgan sample MODEL --rows CLI_ROWS -o FILE.parquet`` runs as a user runs it (wall
seconds and the peak RSS of that process), and ``synthgan fit DATA.parquet --epochs 1`` on the
whole dataset file (wall seconds, peak RSS, the transformer fit and the epoch from the model file).
Run it alone on the machine; results go to ``OUT/sampling.csv`` and ``OUT/summary.md``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.run import DATASETS_DIR, ResultRows, commit, load_split, machine_description, recorded_command

CHUNK = 20_000
_PEAK = ("import resource, subprocess, sys; done = subprocess.run(sys.argv[1:]); "
         "print('PEAK_KB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(done.returncode)")


def _code_commit() -> str:
    """Commit of the synthgan code being measured (which may be another checkout's, via PYTHONPATH)."""
    import synthgan

    return commit(Path(synthgan.__file__).parent)


def _timed(run, rows: int) -> float:
    started = time.perf_counter()
    run()
    return rows / (time.perf_counter() - started)


def _with_peak(command: list[str], cwd: Path | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB, of the largest process it waited for) of ``command`` run in a
    process of its own (in folder ``cwd``)."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _PEAK, *command], capture_output=True, text=True, cwd=cwd)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    peak = next(int(x.split()[1]) for x in done.stdout.splitlines() if x.startswith("PEAK_KB"))
    return seconds, peak / 1024


def _stages(model, rows: int, rng: np.random.Generator) -> dict[str, float]:
    """Rows per second of each sampling stage (see the module docstring)."""
    import torch

    from synthgan.io import write_table

    generation = model._generation
    generator = generation.model.networks()["generator"]
    linears = [m for m in generator.modules() if isinstance(m, torch.nn.Linear)]
    blocks = [torch.randn(4096, layer.in_features) for layer in linears]

    def matmul() -> None:
        with torch.no_grad():
            for _ in range(-(-rows // 4096)):
                for x, layer in zip(blocks, linears):
                    torch.mm(x, layer.weight.T)

    # the matmuls sampling computes: each layer without the conditional vector's inputs, which
    # Generator.infer reads as one-hot indices (a gathered weight row) instead of multiplying
    sparse = generation.transformer.layout_.condition_dim if generation.model.conditional else 0
    dense = [layer.weight[:, :layer.in_features - sparse].contiguous() for layer in linears]
    computed_blocks = [torch.randn(4096, w.shape[1]) for w in dense]

    def matmul_computed() -> None:
        with torch.no_grad():
            for _ in range(-(-rows // 4096)):
                for x, weight in zip(computed_blocks, dense):
                    torch.mm(x, weight.T)

    def conditions(n: int) -> torch.Tensor:
        sampler = generation.sampler
        if generation.model.conditional and sampler.n_spans:
            return torch.as_tensor(sampler.vectors(sampler.entry(*sampler.draw_empirical(n, rng))))
        return torch.zeros(n, 0)

    generated: list = []  # EncodedRows

    def generate() -> None:
        for first in range(0, rows, CHUNK):
            seed = torch.Generator().manual_seed(int(rng.integers(2**62)))
            generated.append(generation.model.generate(conditions(min(CHUNK, rows - first)), seed))

    def decode() -> None:
        for block in generated:
            generation.transformer.inverse_transform(block, rng)

    def end_to_end() -> None:
        for _ in model.iter_samples(rows, CHUNK, random_state=int(rng.integers(2**31))):
            pass

    with tempfile.TemporaryDirectory() as tmp:
        def parquet(overlap: bool) -> None:
            write_table(model.iter_samples(rows, CHUNK, random_state=int(rng.integers(2**31))),
                        Path(tmp) / "rows.parquet", overwrite=True, overlap=overlap)

        speeds = {}
        for name, stage in (("matmul", matmul), ("matmul_computed", matmul_computed), ("generate", generate),
                            ("decode", decode),
                            ("rows", end_to_end), ("parquet", lambda: parquet(overlap=True)),
                            ("parquet_inline", lambda: parquet(overlap=False))):
            speeds[f"{name}_rows_per_s"] = _timed(stage, rows)
    return speeds


def run(args: argparse.Namespace) -> None:
    from synthgan import SynthGAN

    warnings.simplefilter("ignore")
    results = ResultRows(args.out / "sampling.csv")
    with (args.out / "commands.txt").open("a") as log:  # every run that added rows, for the summary
        log.write(recorded_command("benchmarks.sampling") + "\n")
    for name in args.datasets:
        for seed in args.seeds:
            train, _, _ = load_split(name, args.datasets_dir, args.max_train_rows, seed)
            model = SynthGAN(epochs=1, random_state=seed, verbose=False).fit(train)
            row = {"commit": _code_commit(), "dataset": name, "seed": seed,
                   "encoded_dim": model.transformer_.layout_.dim,
                   "rows": args.rows, **_stages(model, args.rows, np.random.default_rng(seed))}
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "model.synthgan"
                model.save(path)
                out = Path(tmp) / "rows.parquet"
                seconds, peak = _with_peak([sys.executable, "-m", "synthgan", "sample", str(path), "--rows",
                                            str(args.cli_rows), "-o", str(out), "-q", "--seed", str(seed)])
                row.update(cli_rows=args.cli_rows, cli_s=seconds, cli_rows_per_s=args.cli_rows / seconds,
                           cli_peak_rss_mb=peak, cli_mb_on_disk=out.stat().st_size / 2**20)
                fitted = Path(tmp) / "fit.synthgan"
                seconds, peak = _with_peak([sys.executable, "-m", "synthgan", "fit",
                                            str(args.datasets_dir / f"{name}.parquet"), "-o", str(fitted),
                                            "--epochs", "1", "-q", "--seed", str(seed)])
                whole = SynthGAN.load(fitted)
                row.update(fit_rows=int(pd.read_parquet(args.datasets_dir / f"{name}.parquet", columns=[]).shape[0]),
                           fit_s=seconds, fit_peak_rss_mb=peak, fit_epoch_s=float(whole.history_["seconds"].iloc[0]))
            results.append(row)


def report(out: Path, command: str) -> None:
    rows = pd.read_csv(out / "sampling.csv")
    stages = ["matmul", "matmul_computed", "generate", "decode", "rows", "parquet", "parquet_inline", "cli"]
    stages = [stage for stage in stages if f"{stage}_rows_per_s" in rows]  # older runs lack some
    runs = (out / "commands.txt").read_text().splitlines() if (out / "commands.txt").exists() else [command]
    lines = ["Runs (each adds rows; `commit` in the tables is the synthgan code measured):", "",
             *[f"- `{line}`" for line in runs], "", f"Machine: {machine_description()}", "",
             "Rows per second, mean ± sd over seeds (µs per row in brackets); `x matmul`: end-to-end parquet "
             "time per row over the generator's matmul time per row (all its inputs, as a dense network "
             "multiplies them); `x computed`: the same over the matmuls sampling computes (`matmul_computed`: "
             "without the conditional vector's inputs, which it reads as indices; runs before that have none).",
             "", "| commit | dataset | encoded dim | " + " | ".join(stages) + " | x matmul | x computed | CLI peak RSS MB |",
             "|---" * (len(stages) + 6) + "|"]
    for (sha, name), part in rows.groupby(["commit", "dataset"], sort=False):
        cells = []
        for stage in stages:
            speed = part[f"{stage}_rows_per_s"].dropna()
            cells.append(f"{speed.mean():,.0f} ± {speed.std():,.0f} ({1e6 / speed.mean():.2f})" if len(speed) else "")
        ratio = (part["matmul_rows_per_s"] / part["parquet_rows_per_s"]).mean()
        computed = (part["matmul_computed_rows_per_s"] / part["parquet_rows_per_s"]).mean() \
            if "matmul_computed_rows_per_s" in part else float("nan")
        lines.append(f"| {sha} | {name} | {part['encoded_dim'].iloc[0]} | " + " | ".join(cells)
                     + f" | {ratio:.2f} | {'' if np.isnan(computed) else f'{computed:.2f}'} | "
                     f"{part['cli_peak_rss_mb'].mean():,.0f} |")
    lines += ["", "`synthgan fit DATA.parquet --epochs 1` on the whole file:", "",
              "| commit | dataset | rows | wall s | of which the epoch, s | peak RSS MB |", "|---|---|---|---|---|---|"]
    for (sha, name), part in rows.groupby(["commit", "dataset"], sort=False):
        lines.append(f"| {sha} | {name} | {part['fit_rows'].iloc[0]:,} | {part['fit_s'].mean():.1f} ± "
                     f"{part['fit_s'].std():.1f} | "
                     f"{part['fit_epoch_s'].mean():.1f} ± {part['fit_epoch_s'].std():.1f} | "
                     f"{part['fit_peak_rss_mb'].mean():,.0f} |")
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["adult", "kddcup99_intrusion"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--cli-rows", type=int, default=10_000_000)
    parser.add_argument("--max-train-rows", type=int, default=50_000)
    parser.add_argument("--datasets-dir", type=Path, default=DATASETS_DIR)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/sampling"))
    parser.add_argument("--replot", action="store_true", help="only rebuild summary.md")
    args = parser.parse_args()
    if not args.replot:
        run(args)
    report(args.out, recorded_command("benchmarks.sampling"))


if __name__ == "__main__":
    main()

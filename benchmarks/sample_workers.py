"""``synthgan sample --parts K --workers W`` on this machine's CPUs: rows per second by workers (issue #10).

    python -m benchmarks.sample_workers --dataset kddcup99_intrusion --rows 4000000 --parts 4 \\
        --workers 1 2 --repeats 3 --checkout new=. --checkout old=/path/to/older/worktree \\
        --out benchmarks/results/sample_workers

A model is fitted for one epoch on the dataset's training split (the weights' values do not change
the cost of sampling; the layout does) and saved once; then, for each repeat, each checkout and
each number of workers in turn (alternated, so the machine's drift falls on every arm alike), the
CLI writes ``--rows`` rows as ``--parts`` parquet parts, run from that checkout (its ``synthgan``
package is the one imported). Wall seconds include starting the processes and loading the model.
Run it alone on the machine; results go to ``OUT/sample_workers.csv`` and ``OUT/summary.md``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import pandas as pd

from benchmarks.run import DATASETS_DIR, ResultRows, commit, load_split, machine_description, recorded_command
from benchmarks.sampling import _with_peak


def run(args: argparse.Namespace) -> None:
    from synthgan import SynthGAN

    warnings.simplefilter("ignore")
    checkouts = {label: Path(folder).resolve() for label, folder in
                 (item.split("=", 1) for item in args.checkout or ["current=."])}
    commits = {label: commit(folder) for label, folder in checkouts.items()}
    results = ResultRows(args.out / "sample_workers.csv")
    with (args.out / "commands.txt").open("a") as log:
        log.write(recorded_command("benchmarks.sample_workers") + "\n")
    train, _, _ = load_split(args.dataset, args.datasets_dir, args.max_train_rows, 0)
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "model.synthgan"
        SynthGAN(epochs=1, random_state=0, verbose=False).fit(train).save(model)
        for repeat in range(args.repeats):
            for label, checkout in checkouts.items():
                for workers in args.workers:
                    out = Path(tmp) / "parts"
                    shutil.rmtree(out, ignore_errors=True)
                    command = [sys.executable, "-m", "synthgan", "sample", str(model), "--rows", str(args.rows),
                               "-o", f"{out}/", "--parts", str(args.parts), "--workers", str(workers), "-q",
                               "--seed", "1"]
                    seconds, peak = _with_peak(command, cwd=checkout)
                    results.append({"checkout": label, "commit": commits[label], "dataset": args.dataset,
                                    "repeat": repeat, "rows": args.rows, "parts": args.parts, "workers": workers,
                                    "seconds": seconds, "rows_per_s": args.rows / seconds,
                                    "us_per_row": seconds / args.rows * 1e6, "peak_rss_mb": peak})
    report(args.out)


def report(out: Path) -> None:
    rows = pd.read_csv(out / "sample_workers.csv")
    lines = ["# `synthgan sample --parts --workers` (issue #10)", "", machine_description(), "",
             "Commands:", ""]
    commands = out / "commands.txt"
    if commands.exists():
        lines += [f"- `{line.strip()}`" for line in commands.read_text().splitlines() if line.strip()]
    lines += ["", "| checkout | commit | dataset | rows | parts | workers | µs per row, mean ± sd (runs) | "
              "rows per second | peak RSS MB (largest process) |", "|---|---|---|---|---|---|---|---|---|"]
    keys = ["checkout", "commit", "dataset", "rows", "parts", "workers"]
    for key, part in rows.groupby(keys, sort=False):
        runs = ", ".join(f"{v:.2f}" for v in part["us_per_row"])
        lines.append("| " + " | ".join(str(k) for k in key) + f" | {part['us_per_row'].mean():.2f} ± "
                     f"{part['us_per_row'].std():.2f} ({runs}) | {part['rows_per_s'].mean():,.0f} | "
                     f"{part['peak_rss_mb'].max():,.0f} |")
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="kddcup99_intrusion")
    parser.add_argument("--datasets-dir", type=Path, default=DATASETS_DIR)
    parser.add_argument("--max-train-rows", type=int, default=50_000)
    parser.add_argument("--rows", type=int, default=4_000_000)
    parser.add_argument("--parts", type=int, default=4)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--checkout", action="append", default=[],
                        help="LABEL=DIR: run the CLI from this checkout (repeatable; default: the current one)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--replot", action="store_true", help="only rewrite OUT/summary.md from OUT's CSV")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.replot:
        report(args.out)
    else:
        run(args)


if __name__ == "__main__":
    main()

"""Data-parallel scaling (issue #10): training rows per second with 1 and 2 processes (torchrun).

    python -m benchmarks.scaling --processes 1 2 --seeds 0 1 2 --epochs 3 --out benchmarks/results/scaling

For each process count and seed, ``torchrun --standalone --nproc-per-node N`` runs this module's
worker, which fits ``SynthGAN(epochs=EPOCHS)`` on its share (rows ``rank::N``) of adult's 80%
training split; rank 0 reports the training seconds (transformer fit excluded), and the rows
trained on per second are ``rows x epochs / seconds`` (all processes together). Also written: the
bytes all-reduced per training step (the gradients of the critic and of the generator, and the
batch-norm sums of the generator's forward passes) against the parameters' compute. Run it alone
on the machine: on 2 cores, 2 processes share the cores one thread each.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

from benchmarks.run import DATASETS_DIR, ResultRows, load_split, machine_description, recorded_command


def worker(args: argparse.Namespace) -> None:
    from synthgan import SynthGAN
    from synthgan import distributed as D

    warnings.simplefilter("ignore")
    ctx = D.context()
    train, _, _ = load_split("adult", args.datasets_dir, 50_000, args.seed)
    share = train.iloc[ctx.rank::ctx.world_size].reset_index(drop=True)
    started = time.perf_counter()
    model = SynthGAN(epochs=args.epochs, random_state=args.seed, verbose=False).fit(share)
    total = time.perf_counter() - started
    if ctx.is_main:
        networks = model.model_.networks()
        generator = sum(p.numel() for p in networks["generator"].parameters())
        critic = sum(p.numel() for p in networks["critic"].parameters())
        norms = [m.num_features for m in networks["generator"].modules() if hasattr(m, "running_mean")]
        # per step: critic gradients once per critic step, generator gradients once, and the batch-norm
        # sums (2 x width + 1) of each generator forward pass (critic phase and generator phase)
        per_step = 4 * (critic * model.critic_steps + generator + 2 * sum(2 * w + 1 for w in norms))
        print("RESULT " + json.dumps({"processes": ctx.world_size, "seed": args.seed, "rows": len(train),
                                      "epochs": len(model.history_), "training_s": model.timings_["training_s"],
                                      "fit_s": total, "bytes_per_step": per_step if ctx.distributed else 0,
                                      "parameters": generator + critic}), flush=True)


def run(args: argparse.Namespace) -> None:
    results = ResultRows(args.out / "scaling.csv")
    for seed in args.seeds:
        for processes in args.processes:
            command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
                       str(processes), "-m", "benchmarks.scaling", "--worker", "--seed", str(seed),
                       "--epochs", str(args.epochs), "--datasets-dir", str(args.datasets_dir)]
            env = {**os.environ, "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // processes))}
            done = subprocess.run(command, capture_output=True, text=True, env=env)
            line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
            if done.returncode != 0 or line is None:
                raise RuntimeError(f"{processes} processes, seed {seed} failed:\n{done.stderr[-3000:]}")
            row = json.loads(line[len("RESULT "):])
            row["rows_per_s"] = row["rows"] * row["epochs"] / row["training_s"]
            row["threads_per_process"] = env["OMP_NUM_THREADS"]
            results.append(row)


def report(out: Path, command: str) -> None:
    import pandas as pd

    rows = pd.read_csv(out / "scaling.csv")
    lines = [f"Command: `{command}`", "", f"Machine: {machine_description()}", "",
             "| processes | seeds | training rows/s | s per epoch | bytes all-reduced per step |", "|---|---|---|---|---|"]
    for processes, part in rows.groupby("processes"):
        per_epoch = part["training_s"] / part["epochs"]
        lines.append(f"| {processes} | {len(part)} | {part['rows_per_s'].mean():,.0f} ± {part['rows_per_s'].std():,.0f} "
                     f"| {per_epoch.mean():.2f} ± {per_epoch.std():.2f} | {int(part['bytes_per_step'].iloc[0]):,} |")
    (out / "summary.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--datasets-dir", type=Path, default=DATASETS_DIR)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/scaling"))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--replot", action="store_true", help="only rebuild summary.md")
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    if not args.replot:
        run(args)
    report(args.out, recorded_command("benchmarks.scaling"))


if __name__ == "__main__":
    main()

"""Side-by-side benchmark: synthgan vs the ``ctgan`` package vs simple baselines on real datasets.

    pip install -e ".[bench]"
    python -m benchmarks.run --datasets adult --budget 600

For each dataset: constant columns are dropped (synthgan refuses them, see README), the rows are
split 80/20 into train and holdout with one seed, train is capped at ``--max-train-rows``, and then
every system is fitted on the same train rows in a child process of its own with the same wall-clock
budget, samples as many rows as train, and is scored by ``synthgan.evaluation.evaluate`` against the
same holdout. Writes ``results.csv`` (tidy), ``results.md`` (tables, speed ratios) and
``quality.png`` and ``speed.png`` under ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.fit_one import SYSTEMS
from synthgan.evaluation import evaluate

DATASETS_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
TARGETS = {"adult": "income", "bank_marketing": "y", "diabetes130": "readmitted", "abalone": "Rings",
           "king_county_houses": "price", "german_credit": "class", "kddcup99_intrusion": "label"}
logger = logging.getLogger("benchmarks.run")


class ResultRows:
    """One CSV of results: a row is appended (and printed) as each run finishes, the header once,
    from the first row's keys; a rerun can skip the runs already recorded."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def recorded(self, *keys: str) -> set[tuple]:
        """The ``keys`` values of every recorded row (as text)."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return set()
        return {tuple(str(v) for v in row) for row in pd.read_csv(self.path)[list(keys)].itertuples(index=False)}

    def append(self, row: dict) -> None:
        fresh = not self.path.exists() or self.path.stat().st_size == 0
        with self.path.open("a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(row))
            if fresh:
                writer.writeheader()
            writer.writerow(row)
        print(row, flush=True)


def commit() -> str:
    """This checkout's short commit hash ("unknown" outside git)."""
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True, cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def recorded_command(module: str) -> str:
    """The command line that made a result, with the commit, for its summary."""
    return f"python -m {module} {' '.join(sys.argv[1:])} (commit {commit()})"


def load_split(name: str, datasets: Path, max_train_rows: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, list]:
    frame = pd.read_parquet(datasets / f"{name}.parquet")
    constant = [c for c in frame.columns if frame[c].nunique(dropna=False) <= 1]
    frame = frame.drop(columns=constant)
    order = np.random.default_rng(seed).permutation(len(frame))
    cut = int(0.8 * len(frame))
    train, holdout = frame.iloc[order[:cut]], frame.iloc[order[cut:]]
    return train.iloc[:max_train_rows].reset_index(drop=True), holdout.reset_index(drop=True), constant


def headline(result, target: str) -> dict:
    scores = result.scores
    tstr = scores["utility"]["tstr"] if scores["utility"] else {}
    if tstr.get("task") == "regression":
        metric, real, synthetic = "r2", tstr["real"].get("r2"), tstr["synthetic"].get("r2")
    else:
        metric = "roc_auc" if "roc_auc" in tstr.get("synthetic", {}) else "macro_f1"
        real, synthetic = tstr.get("real", {}).get(metric), tstr.get("synthetic", {}).get(metric)
    return {"quality": scores["fidelity"].get("sdmetrics_quality"),
            "column_shapes": scores["fidelity"]["column_shapes"], "pair_trends": scores["fidelity"]["pair_trends"],
            "detection_auc": scores["fidelity"].get("detection_auc"), "tstr_metric": metric,
            "tstr": synthetic, "trtr": real, "dcr_median": scores["privacy"]["dcr_synthetic_median"],
            "dcr_holdout_median": scores["privacy"].get("dcr_holdout_median"),
            "exact_copy_rate": scores["privacy"]["exact_copy_rate"], "mia_auc": scores["privacy"].get("mia_auc")}


def run_system(system: str, train_path: Path, budget: float, seed: int, work: Path) -> dict:
    out = work / system
    command = [sys.executable, "-m", "benchmarks.fit_one", "--system", system, "--train", str(train_path),
               "--budget", str(budget), "--seed", str(seed), "--out", str(out)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=budget * 4 + 1800)
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        logger.error("%s failed: %s", system, tail[0])
        return {"error": tail[0]}
    metrics = json.loads((out / "metrics.json").read_text())
    metrics["wall_s"] = time.perf_counter() - started
    metrics["synthetic_path"] = str(out / "synthetic.parquet")
    return metrics


def machine_description() -> str:
    """Platform, CPU model and count, and the library versions that set the figures."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = [f"Python {platform.python_version()}", f"torch {torch.__version__}",
                f"{torch.get_num_threads()} torch threads", f"pandas {pd.__version__}"]
    try:
        from importlib.metadata import version

        versions.append(f"ctgan {version('ctgan')}")
    except Exception:  # noqa: BLE001 - ctgan is optional
        pass
    return f"{platform.platform()}, {cpu}, {os.cpu_count()} CPUs; " + ", ".join(versions)


def markdown_table(frame: pd.DataFrame) -> str:
    """Pipe table with 4 significant digits (no extra dependency)."""
    def cell(value) -> str:
        if isinstance(value, (float, np.floating)):
            return "" if np.isnan(value) else f"{value:.4g}"
        return str(value)

    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * frame.shape[1]]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def speed_ratios(rows: pd.DataFrame) -> pd.DataFrame:
    """ctgan / synthgan-ctgan for transformer fit, epoch time and sampling time (per dataset)."""
    out = []
    for dataset, group in rows.groupby("dataset"):
        by = group.set_index("system")
        if {"synthgan-ctgan", "ctgan-0.12"} <= set(by.index):
            ours, theirs = by.loc["synthgan-ctgan"], by.loc["ctgan-0.12"]
            out.append({"dataset": dataset,
                        "transformer_fit_speedup": theirs.transformer_fit_s / ours.transformer_fit_s,
                        "epoch_speedup": theirs.epoch_s / ours.epoch_s,
                        "sampling_speedup": ours.sample_rows_per_s / theirs.sample_rows_per_s})
    return pd.DataFrame(out)


def _bar_figure(rows: pd.DataFrame, panels: list[tuple[str, str, pd.Series | None]], path: Path,
                log: bool = False):
    """One panel per ``(metric, title, row mask)``: a bar per system (mean, with the standard deviation
    over seeds as an error bar), grouped by dataset. Linear axes are zoomed to the data, not started
    at 0, so that differences show; the legend sits below the panels, off the bars."""
    from matplotlib.figure import Figure

    systems = list(dict.fromkeys(rows["system"]))
    fig = Figure(figsize=(5 * len(panels), 4.4))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    width = 0.8 / len(systems)
    handles = {}
    for ax, (metric, title, mask) in zip(axes, panels):
        part = rows if mask is None else rows[mask]
        datasets = list(dict.fromkeys(part["dataset"]))
        values_seen: list[float] = []
        for k, system in enumerate(systems):
            stats = [part[(part.dataset == d) & (part.system == system)][metric].astype(float) for d in datasets]
            means = [v.mean() for v in stats]
            spreads = [v.std() if len(v) > 1 else 0.0 for v in stats]
            bars = ax.bar(np.arange(len(datasets)) + k * width, means, width, yerr=spreads, capsize=2, label=system,
                          color=f"C{k}")
            handles[system] = bars
            values_seen += [m + s for m, s in zip(means, spreads) if np.isfinite(m)]
            values_seen += [m - s for m, s in zip(means, spreads) if np.isfinite(m)]
        if log:
            ax.set_yscale("log")
        elif values_seen:
            low, high = min(values_seen), max(values_seen)
            pad = 0.08 * (high - low or abs(high) or 1.0)
            ax.set_ylim(low - pad, high + pad)
        ax.set_xticks(np.arange(len(datasets)) + 0.4 - width / 2, datasets, rotation=20)
        ax.set_title(title, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=min(len(systems), 7), fontsize=8,
               frameon=False)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    fig.savefig(path, dpi=90)
    return fig


def plot(rows: pd.DataFrame, path: Path):
    """``path``: quality, detection and TSTR of every system (ROC-AUC and R-squared apart);
    ``speed.png`` beside it: GAN timings."""
    panels = [("quality", "sdmetrics quality (higher better)", None),
              ("detection_auc", "detection AUC (0.5 best)", None)]
    for metric, name in (("roc_auc", "TSTR ROC-AUC (higher better)"), ("r2", "TSTR R-squared (higher better)")):
        mask = rows["tstr_metric"] == metric
        if mask.any():
            panels.append(("tstr", name, mask))
    figure = _bar_figure(rows, panels, path)
    timed = rows[rows["system"].isin(["synthgan-ctgan", "synthgan-wgan-gp", "ctgan-0.12"])]
    if "epoch_s" in timed and not timed["epoch_s"].isna().all():
        _bar_figure(timed, [(m, f"{m} (log scale, lower better)", None) for m in ["transformer_fit_s", "epoch_s"]],
                    path.with_name("speed.png"), log=True)
    return figure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="adult", help="comma-separated names from ../shared/datasets")
    parser.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated subset of " + ",".join(SYSTEMS))
    parser.add_argument("--budget", type=float, default=600.0, help="training seconds per system")
    parser.add_argument("--max-train-rows", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--datasets-dir", type=Path, default=DATASETS_DIR)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    parser.add_argument("--keep-synthetic", action="store_true",
                        help="also write each system's synthetic rows to OUT/synthetic/DATASET__SYSTEM.parquet")
    parser.add_argument("--replot", action="store_true", help="only redraw the plots from OUT/results.csv")
    args = parser.parse_args()
    if args.replot:
        frame = pd.read_csv(args.out / "results.csv")
        plot(frame[frame["quality"].notna()], args.out / "quality.png")
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = set(systems) - set(SYSTEMS)
    if unknown:
        parser.error(f"unknown systems {sorted(unknown)}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="synthgan-bench-") as tmp:
        for name in [d.strip() for d in args.datasets.split(",") if d.strip()]:
            target = TARGETS[name]
            train, holdout, dropped = load_split(name, args.datasets_dir, args.max_train_rows, args.seed)
            logger.info("%s: train %d x %d, holdout %d, dropped constant %s", name, *train.shape, len(holdout), dropped)
            train_path = Path(tmp) / f"{name}_train.parquet"
            train.to_parquet(train_path, index=False)
            for system in systems:
                logger.info("%s / %s: fitting (budget %.0fs)", name, system, args.budget)
                metrics = run_system(system, train_path, args.budget, args.seed, Path(tmp) / name)
                row = {"dataset": name, "system": system, "train_rows": len(train), "budget_s": args.budget}
                if "error" in metrics:
                    rows.append({**row, "error": metrics["error"]})
                    continue
                synthetic = pd.read_parquet(metrics.pop("synthetic_path"))
                if args.keep_synthetic:
                    (args.out / "synthetic").mkdir(exist_ok=True)
                    synthetic.to_parquet(args.out / "synthetic" / f"{name}__{system}.parquet", index=False)
                started = time.perf_counter()
                result = evaluate(train, synthetic, target=target, holdout=holdout, random_state=args.seed)
                rows.append({**row, **headline(result, target), **metrics,
                             "evaluate_s": time.perf_counter() - started})
                logger.info("%s / %s: %s", name, system, {k: v for k, v in rows[-1].items() if k not in row})
                pd.DataFrame(rows).to_csv(args.out / "results.csv", index=False)
    frame = pd.DataFrame(rows)
    frame.to_csv(args.out / "results.csv", index=False)
    ratios = speed_ratios(frame) if "epoch_s" in frame else pd.DataFrame()
    columns = [c for c in ["dataset", "system", "quality", "detection_auc", "tstr_metric", "tstr", "trtr",
                           "dcr_median", "dcr_holdout_median", "mia_auc", "fit_s", "transformer_fit_s", "epochs",
                           "epoch_s", "sample_rows_per_s", "peak_rss_mb", "error"] if c in frame]
    text = [f"# Benchmark results\n\nCommand: `python -m benchmarks.run --datasets {args.datasets} "
            f"--systems {','.join(systems)} --budget {args.budget:g} --max-train-rows {args.max_train_rows} "
            f"--seed {args.seed}`\n", f"Machine: {machine_description()}\n", markdown_table(frame[columns])]
    if len(ratios):
        text += ["\n## Speed: ctgan 0.12 time / synthgan time (higher = synthgan faster)\n",
                 markdown_table(ratios)]
    (args.out / "results.md").write_text("\n".join(text) + "\n")
    if "quality" in frame:
        plot(frame[frame["quality"].notna()], args.out / "quality.png")
    print("\n".join(text))


if __name__ == "__main__":
    main()

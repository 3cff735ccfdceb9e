"""Side-by-side benchmark: synthgan vs the ``ctgan`` package (CTGAN, TVAE) vs simple baselines
and the real holdout, on real datasets, over several seeds and training budgets.

    pip install -e ".[bench]"
    python -m benchmarks.run --datasets adult --budget 600
    python -m benchmarks.run --datasets abalone --budget 15,30,60,120 --seeds 0 1 2 \
        --systems synthgan-ctgan,ctgan-0.12,tvae-0.12,gaussian-copula,holdout --out benchmarks/results/time_to_quality

For each dataset: constant columns are dropped (synthgan refuses them, see README) and the rows
are split 80/20 into train and holdout with ``--split-seed`` (the same split for every seed and
system); train is capped at ``--max-train-rows``. Then, for every seed and every budget, each
system is fitted on the same train rows in a child process of its own with that wall-clock
training budget, samples as many rows as train, and is scored by ``synthgan.evaluation.evaluate``
against the same holdout. Systems without training (the baselines) and ``ctgan-0.12-300ep`` (the
package's default 300 epochs, whatever the budget) run once per seed. ``holdout`` is the real
holdout itself scored against train as if it were synthetic: the level that fresh real rows
reach (quality, detection AUC, distances), so a score above it is noise, not fidelity.

With ``--one-run`` and several budgets, each trained system is fitted once per seed, to the
largest budget, and the smaller budgets are scored on the model that same run had at the first
epoch ending past each of them (``benchmarks.fit_one --snapshots``): the epoch a run with that
budget stops at. The curve then costs one run of the largest budget instead of a run per budget;
its rows carry ``run_budget_s``.

Writes ``results.csv`` (tidy, one row per dataset, system, seed and budget; rewritten as each run
finishes), ``results.md`` (mean ± sd over seeds, speed ratios, the time-to-quality check),
``quality.png`` and ``speed.png`` (at the largest budget) and, with several budgets,
``time_to_quality_DATASET.png`` under ``--out``.
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
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.fit_one import BASELINE_SYSTEMS, PACKAGE_SYSTEMS, SYSTEMS, snapshot_dir
from synthgan.evaluation import evaluate

DATASETS_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
TARGETS = {"adult": "income", "bank_marketing": "y", "diabetes130": "readmitted", "abalone": "Rings",
           "king_county_houses": "price", "german_credit": "class", "kddcup99_intrusion": "label"}
HOLDOUT = "holdout"  # the real holdout, scored as if it were synthetic
UNTIMED = {*BASELINE_SYSTEMS, HOLDOUT}  # no training: one run per seed
# a fixed number of epochs, whatever the budget: one run per seed
FIXED_EPOCHS = {name for name, (_, _, epochs) in PACKAGE_SYSTEMS.items() if epochs}
DEFAULT_SYSTEMS = [s for s in SYSTEMS if s not in FIXED_EPOCHS] + [HOLDOUT]
SUMMARY_METRICS = ("quality", "detection_auc", "tstr", "dcr_median", "exact_copy_rate", "mia_auc", "fit_s",
                   "train_s", "epochs")
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
        """Append ``row`` under the file's own header (a key it lacks is left blank); a key the
        header does not have yet adds a column to the whole file."""
        fresh = not self.path.exists() or self.path.stat().st_size == 0
        header = list(row)
        if not fresh:
            with self.path.open(newline="") as handle:
                header = next(csv.reader(handle))
            if set(row) - set(header):
                table = pd.concat([pd.read_csv(self.path), pd.DataFrame([row])], ignore_index=True)
                table.to_csv(self.path, index=False)
                print(row, flush=True)
                return
        with self.path.open("a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=header)
            if fresh:
                writer.writeheader()
            writer.writerow(row)
        print(row, flush=True)


def commit(folder: Path | None = None) -> str:
    """The short commit hash of the checkout holding ``folder`` (default: this one; "unknown"
    outside git)."""
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True, cwd=folder or Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def recorded_command(module: str) -> str:
    """The command line that made a result, with the commit, for its summary."""
    return f"python -m {module} {' '.join(sys.argv[1:])} (commit {commit()})"


def earlier_command(summary: Path, command: str) -> str:
    """The ``Command: `...` `` line of an existing summary file (what made the results a replot
    rewrites), else ``command``."""
    lines = summary.read_text().splitlines() if summary.exists() else []
    return next((line.removeprefix("Command: `").removesuffix("`") for line in lines if line.startswith("Command: `")),
                command)


def read_dataset(name: str, datasets: Path) -> tuple[pd.DataFrame, list]:
    """A dataset without its constant columns (synthgan refuses them), and their names."""
    frame = pd.read_parquet(datasets / f"{name}.parquet")
    constant = [c for c in frame.columns if frame[c].nunique(dropna=False) <= 1]
    return frame.drop(columns=constant), constant


def load_split(name: str, datasets: Path, max_train_rows: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, list]:
    frame, constant = read_dataset(name, datasets)
    order = np.random.default_rng(seed).permutation(len(frame))
    cut = int(0.8 * len(frame))
    train, holdout = frame.iloc[order[:cut]], frame.iloc[order[cut:]]
    return train.iloc[:max_train_rows].reset_index(drop=True), holdout.reset_index(drop=True), constant


def ablation_parser(description: str, out: Path) -> argparse.ArgumentParser:
    """The options every ablation script reads: datasets, time budget, seeds, where the datasets
    are and where results go, and ``--summary`` (only rebuild ``OUT/summary.md``)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["adult"])
    parser.add_argument("--budget", type=float, default=120.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--datasets-dir", type=Path, default=DATASETS_DIR)
    parser.add_argument("--out", type=Path, default=out)
    parser.add_argument("--summary", action="store_true", help="only write OUT/summary.md from OUT/ablation.csv")
    return parser


def ablation_cases(args: argparse.Namespace) -> Iterator[tuple[str, int, pd.DataFrame, pd.DataFrame]]:
    """Each dataset and seed an ablation script runs (the options of :func:`ablation_parser`): the
    dataset's name, the seed, and that seed's split of :func:`load_split` (training rows capped at
    50,000, then the holdout). Warnings are silenced for the run."""
    warnings.simplefilter("ignore")
    for name in args.datasets:
        for seed in args.seeds:
            train, holdout, _ = load_split(name, args.datasets_dir, 50_000, seed)
            yield name, seed, train, holdout


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


def run_system(system: str, train_path: Path, budget: float, seed: int, work: Path,
               snapshots: list[float] | None = None) -> dict:
    """Fit ``system`` in a child process (``benchmarks.fit_one``); its metrics, with
    ``synthetic_path`` and ``wall_s``, or ``{"error": ...}``. With ``snapshots`` (budgets below
    ``budget``), ``metrics["snapshots"]`` maps each to the metrics of the model the same run had
    there (with its own ``synthetic_path``)."""
    out = work / system
    command = [sys.executable, "-m", "benchmarks.fit_one", "--system", system, "--train", str(train_path),
               "--budget", str(budget), "--seed", str(seed), "--out", str(out)]
    if snapshots:
        command += ["--snapshots", ",".join(f"{b:g}" for b in snapshots)]
    started = time.perf_counter()
    timeout = budget * 4 + 1800 if budget else 6 * 3600  # budget 0: a fixed number of epochs, or no training
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        logger.error("%s failed: %s", system, tail[0])
        return {"error": tail[0]}
    metrics = json.loads((out / "metrics.json").read_text())
    metrics["wall_s"] = time.perf_counter() - started
    metrics["synthetic_path"] = str(out / "synthetic.parquet")
    if snapshots:
        metrics["snapshots"] = {}
        for snapshot in snapshots:
            where = snapshot_dir(out, snapshot)
            metrics["snapshots"][snapshot] = (
                {**json.loads((where / "metrics.json").read_text()), "synthetic_path": str(where / "synthetic.parquet")}
                if (where / "metrics.json").exists() else {"error": f"no snapshot at {snapshot:g} s"})
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
    """ctgan / synthgan-ctgan for transformer fit, epoch time and sampling time (per dataset; means
    over seeds and budgets)."""
    out = []
    for dataset, group in rows.groupby("dataset"):
        by = group.groupby("system")[["transformer_fit_s", "epoch_s", "sample_rows_per_s"]].mean()
        if {"synthgan-ctgan", "ctgan-0.12"} <= set(by.index):
            ours, theirs = by.loc["synthgan-ctgan"], by.loc["ctgan-0.12"]
            out.append({"dataset": dataset,
                        "transformer_fit_speedup": theirs.transformer_fit_s / ours.transformer_fit_s,
                        "epoch_speedup": theirs.epoch_s / ours.epoch_s,
                        "sampling_speedup": ours.sample_rows_per_s / theirs.sample_rows_per_s})
    return pd.DataFrame(out)


def summary_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean ± sd over seeds of every dataset, system and budget (``budget_s`` blank for the systems
    that do not train to a budget), in the order the runs were made."""
    rows = rows.copy()
    rows["budget"] = rows["budget_s"].map(lambda b: "" if pd.isna(b) else f"{b:g}")
    out = []
    for (dataset, system, budget), part in rows.groupby(["dataset", "system", "budget"], sort=False):
        entry = {"dataset": dataset, "system": system, "budget_s": budget, "seeds": len(part)}
        for metric in SUMMARY_METRICS:
            values = part[metric].dropna().astype(float) if metric in part else pd.Series(dtype=float)
            entry[metric] = ("" if values.empty else f"{values.mean():.1f}" if metric in ("epochs", "fit_s", "train_s")
                             else f"{values.mean():.3f} ± {values.std():.3f}" if len(values) > 1
                             else f"{values.mean():.3f}")
        out.append(entry)
    return pd.DataFrame(out)


def time_to_quality_check(rows: pd.DataFrame, ours: str = "synthgan-ctgan",
                          reference: str = "ctgan-0.12-300ep") -> pd.DataFrame:
    """Per dataset: ctgan's mean quality after its default 300 epochs and the wall time it took, the
    smallest budget at which ``ours`` reaches that mean quality, and that budget as a fraction of
    ctgan's time (issue #13 asks for at most 0.1). Empty where either system is missing."""
    out = []
    for dataset, group in rows.groupby("dataset", sort=False):
        ref = group[group.system == reference]
        mine = group[group.system == ours].groupby("budget_s")["quality"].mean().sort_index()
        if ref.empty or mine.empty:
            continue
        quality, seconds = ref["quality"].mean(), ref["train_s"].mean()
        reached = mine[mine >= quality]
        budget = float(reached.index[0]) if len(reached) else float("nan")
        verdict = ("not reached at any budget run" if not len(reached)
                   else "met" if budget <= 0.1 * seconds else "missed")
        out.append({"dataset": dataset, f"{reference} quality": quality, f"{reference} train_s": seconds,
                    f"{ours} budget reaching it": budget, "fraction of ctgan time": budget / seconds,
                    "target (at most 0.1)": verdict})
    return pd.DataFrame(out)


def plot_time_to_quality(rows: pd.DataFrame, out: Path) -> dict:
    """One figure per dataset, ``out/time_to_quality_DATASET.png``: sdmetrics quality and TSTR
    against the training budget (mean, sd as error bars) for each system trained to a budget;
    systems without one are dashed lines (the holdout's own level among them), and a fixed-epoch
    system is one point at its mean training time. Returns ``{path: figure}``."""
    from matplotlib.figure import Figure

    written = {}
    systems = list(dict.fromkeys(rows["system"]))
    for dataset, group in rows.groupby("dataset", sort=False):
        fig = Figure(figsize=(10, 4.2))
        axes = fig.subplots(1, 2)
        for ax, metric in zip(axes, ("quality", "tstr")):
            for k, system in enumerate(systems):
                part = group[group.system == system]
                if part.empty or part[metric].isna().all():
                    continue
                color = f"C{k % 10}"
                if system in FIXED_EPOCHS:
                    ax.errorbar([part["train_s"].mean()], [part[metric].mean()], yerr=[part[metric].std()],
                                fmt="s", color=color, capsize=3, label=system)
                elif part["budget_s"].isna().all():
                    ax.axhline(part[metric].mean(), linestyle="--", color=color, label=system)
                else:
                    stats = part.groupby("budget_s")[metric].agg(["mean", "std"]).sort_index()
                    ax.errorbar(stats.index, stats["mean"], yerr=stats["std"].fillna(0), marker="o", color=color,
                                capsize=3, label=system)
            ax.set_xscale("log")
            ax.set_xlabel("training seconds")
            metric_name = group["tstr_metric"].dropna().iloc[0] if metric == "tstr" else ""
            ax.set_title(f"{dataset}: " + ("sdmetrics quality" if metric == "quality" else f"TSTR {metric_name}"),
                         fontsize=10)
            ax.grid(alpha=0.3)
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 6), fontsize=8, frameon=False)
        fig.tight_layout(rect=(0, 0.1, 1, 1))
        path = out / f"time_to_quality_{dataset}.png"
        fig.savefig(path, dpi=90)
        written[path] = fig
    return written


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
    """``path``: quality, detection and TSTR of every system (ROC-AUC and R-squared apart), at the
    largest budget; ``speed.png`` beside it: GAN timings."""
    if "budget_s" in rows and rows["budget_s"].notna().any():
        rows = rows[rows["budget_s"].isna() | (rows["budget_s"] == rows["budget_s"].max())]
    panels = [("quality", "sdmetrics quality (higher better)", None),
              ("detection_auc", "detection AUC (0.5 best)", None)]
    for metric, name in (("roc_auc", "TSTR ROC-AUC (higher better)"), ("r2", "TSTR R-squared (higher better)")):
        mask = rows["tstr_metric"] == metric
        if mask.any():
            panels.append(("tstr", name, mask))
    figure = _bar_figure(rows, panels, path)
    timed = rows[rows["system"].isin(["synthgan-ctgan", "synthgan-wgan-gp", "ctgan-0.12", "tvae-0.12"])]
    if "epoch_s" in timed and not timed["epoch_s"].isna().all():
        _bar_figure(timed, [(m, f"{m} (log scale, lower better)", None) for m in ["transformer_fit_s", "epoch_s"]],
                    path.with_name("speed.png"), log=True)
    return figure


def _budgets(text: str) -> list[float]:
    try:
        budgets = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--budget takes seconds, or a comma-separated list of them; got {text!r}")
    if not budgets or min(budgets) <= 0:
        raise argparse.ArgumentTypeError(f"--budget needs positive seconds; got {text!r}")
    return sorted(set(budgets))


def score_holdout(train: pd.DataFrame, holdout: pd.DataFrame, seed: int) -> dict:
    """The real holdout scored against train as if it were synthetic: fidelity and distances only
    (a TSTR or an attack with the holdout as both the synthetic and the test rows would mean nothing)."""
    result = evaluate(train, holdout, target=None, holdout=None, random_state=seed, augmentation=False)
    return {**headline(result, None), "tstr_metric": None, "tstr": None, "mia_auc": None}


def write_outputs(frame: pd.DataFrame, out: Path, command: str) -> str:
    """``results.csv``, ``results.md`` and the plots from the tidy rows; the Markdown text."""
    frame.to_csv(out / "results.csv", index=False)
    scored = frame[frame["quality"].notna()] if "quality" in frame else frame.iloc[:0]
    text = [f"# Benchmark results\n\nCommand: `{command}`\n", f"Machine: {machine_description()}\n"]
    if len(scored):
        text += ["Mean ± sd over seeds (TRTR: the TSTR of the real training rows; holdout DCR: the real "
                 "holdout's distance to train).\n", markdown_table(summary_table(scored))]
        reference = scored.groupby("dataset", sort=False)[["trtr", "dcr_holdout_median"]].mean().reset_index()
        text += ["\n## References\n", markdown_table(reference)]
    errors = frame[frame["error"].notna()] if "error" in frame else frame.iloc[:0]
    if len(errors):
        text += ["\n## Failed runs\n", markdown_table(errors[["dataset", "system", "seed", "budget_s", "error"]])]
    ratios = speed_ratios(scored) if "epoch_s" in scored else pd.DataFrame()
    if len(ratios):
        text += ["\n## Speed: ctgan 0.12 time / synthgan time (higher = synthgan faster)\n", markdown_table(ratios)]
    check = time_to_quality_check(scored) if "train_s" in scored else pd.DataFrame()
    if len(check):
        text += ["\n## Time to ctgan's 300-epoch quality (issue #13: a fraction of at most 0.1)\n",
                 markdown_table(check)]
    (out / "results.md").write_text("\n".join(text) + "\n")
    if len(scored):
        plot(scored, out / "quality.png")
        if scored["budget_s"].nunique() > 1:
            plot_time_to_quality(scored, out)
    return "\n".join(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="adult", help="comma-separated names from ../shared/datasets")
    choices = [*SYSTEMS, HOLDOUT]
    parser.add_argument("--systems", default=",".join(DEFAULT_SYSTEMS),
                        help="comma-separated subset of " + ",".join(choices))
    parser.add_argument("--budget", type=_budgets, default=[600.0],
                        help="training seconds per system, or a comma-separated list (time-to-quality curves)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="seeds of the systems (and the scoring)")
    parser.add_argument("--split-seed", type=int, default=0, help="seed of the 80/20 split, the same for every run")
    parser.add_argument("--max-train-rows", type=int, default=50_000)
    parser.add_argument("--datasets-dir", type=Path, default=DATASETS_DIR)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    parser.add_argument("--one-run", action="store_true",
                        help="with several budgets: train each system once per seed, to the largest budget, and score "
                             "the model it had at each smaller one (rows marked run_budget_s)")
    parser.add_argument("--keep-synthetic", action="store_true",
                        help="also write each run's synthetic rows to OUT/synthetic/ (DATASET__SYSTEM__SEED__BUDGET)")
    parser.add_argument("--replot", action="store_true",
                        help="only rewrite results.md and the plots from OUT/results.csv")
    args = parser.parse_args()
    command = recorded_command("benchmarks.run")
    if args.replot:  # keep the command that made the results, not this one
        made = earlier_command(args.out / "results.md", command)
        print(write_outputs(pd.read_csv(args.out / "results.csv"), args.out, made))
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = set(systems) - set(choices)
    if unknown:
        parser.error(f"unknown systems {sorted(unknown)}; choose from {', '.join(choices)}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="synthgan-bench-") as tmp:
        for name in [d.strip() for d in args.datasets.split(",") if d.strip()]:
            target = TARGETS[name]
            train, holdout, dropped = load_split(name, args.datasets_dir, args.max_train_rows, args.split_seed)
            logger.info("%s: train %d x %d, holdout %d, dropped constant %s", name, *train.shape, len(holdout), dropped)
            train_path = Path(tmp) / f"{name}_train.parquet"
            train.to_parquet(train_path, index=False)
            for seed in args.seeds:
                for system in systems:
                    once = system in UNTIMED or system in FIXED_EPOCHS
                    for budget in ([None] if once else args.budget[-1:] if args.one_run else args.budget):
                        row = {"dataset": name, "system": system, "seed": seed, "budget_s": budget,
                               "train_rows": len(train)}
                        logger.info("%s / %s / seed %d: fitting (budget %s)", name, system, seed,
                                    "none" if budget is None else f"{budget:g}s")
                        if system == HOLDOUT:
                            scored = [{**row, **score_holdout(train, holdout, seed), "synthetic_rows": len(holdout)}]
                        else:
                            scored = _run_and_score(row, system, train, holdout, target, train_path, budget, seed,
                                                    Path(tmp) / name, args)
                        rows.extend(scored)
                        for result in scored:
                            logger.info("%s", result)
                        pd.DataFrame(rows).to_csv(args.out / "results.csv", index=False)
    print(write_outputs(pd.DataFrame(rows), args.out, command))


def _run_and_score(row: dict, system: str, train: pd.DataFrame, holdout: pd.DataFrame, target: str, train_path: Path,
                   budget: float | None, seed: int, work: Path, args: argparse.Namespace) -> list[dict]:
    """Fit one system in a child process and score its rows: one result row, or with ``--one-run``
    one per budget (the smaller budgets' from the snapshots of the same run, first)."""
    snapshots = [b for b in args.budget if b < budget] if args.one_run and budget else []
    metrics = run_system(system, train_path, budget or 0.0, seed, work, snapshots)
    if "error" in metrics:
        return [{**row, "error": metrics["error"]}]
    found = metrics.pop("snapshots", {})
    runs = [(snapshot, {**found[snapshot], "run_budget_s": budget}) for snapshot in snapshots]
    runs.append((budget, {**metrics, "run_budget_s": budget} if snapshots else metrics))
    return [_score(row, system, train, holdout, target, at, run, seed, args) for at, run in runs]


def _score(row: dict, system: str, train: pd.DataFrame, holdout: pd.DataFrame, target: str, budget: float | None,
           metrics: dict, seed: int, args: argparse.Namespace) -> dict:
    row = {**row, "budget_s": budget}
    if "error" in metrics:
        return {**row, **metrics}
    synthetic = pd.read_parquet(metrics.pop("synthetic_path"))
    if args.keep_synthetic:
        (args.out / "synthetic").mkdir(exist_ok=True)
        label = "none" if budget is None else f"{budget:g}"
        synthetic.to_parquet(args.out / "synthetic" / f"{row['dataset']}__{system}__{seed}__{label}.parquet",
                             index=False)
    started = time.perf_counter()
    result = evaluate(train, synthetic, target=target, holdout=holdout, random_state=seed)
    return {**row, **headline(result, target), **metrics, "synthetic_rows": len(synthetic),
            "evaluate_s": time.perf_counter() - started}


if __name__ == "__main__":
    main()

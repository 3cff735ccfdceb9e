"""Differential privacy (issue #11): quality, utility and membership inference against epsilon.

    python -m benchmarks.privacy --datasets adult bank_marketing --epsilons 0.5 1 3 10 --seeds 0 1 2 \
        --out benchmarks/results/privacy_auto

For each dataset and seed, on the same 80/20 split as ``benchmarks.run`` (split seed = run seed):

- ``synthgan-dp``: ``SynthGAN(epsilon=e)`` at every epsilon, with ``epochs=EPOCHS`` when ``--epochs``
  is given (the noise is set so that the epochs spend the budget; statistics 20%, DP-SGD 80%);
- ``synthgan-dp-gN`` (with ``--generator-steps ... N``): the same with ``generator_steps=N``,
  N generator updates per critic update (free under DP: the generator sees data only through the
  critic);
- ``synthgan-dp-dropoutP`` (with ``--discriminator-dropout ... P``): the same with
  ``discriminator_dropout=P`` (every combination with the generator steps is a system);
- ``synthgan-dp-NAME`` (with ``--variant NAME=key:value;key:value``): the default private GAN with
  those ``SynthGAN`` parameters, e.g. ``--variant 'critic64=discriminator_dim:64,64'`` (a value with
  a comma is a tuple of numbers; ``@target`` is the dataset's target column, e.g. ``--variant
  'target=target:@target'``; ``epochs`` there replaces ``--epochs``; one system per ``--variant``,
  at every epsilon);
- ``private-marginals``: independent columns from the same private column statistics with the whole
  budget (``benchmarks.baselines.PrivateMarginals``), at every epsilon;
- ``private-copula``: a private Gaussian copula (``benchmarks.baselines.PrivateGaussianCopula``): half
  the budget for those marginals, half for a Gaussian-mechanism correlation of the rows' normal
  scores, at every epsilon;
- ``synthgan``: the non-private default, given the mean training time of ``synthgan-dp`` on that
  dataset and seed as ``max_time`` (the same wall-clock budget).

Each samples as many rows as the training table and is scored by ``synthgan.evaluation.evaluate``
against the holdout (sdmetrics quality, TSTR, distance-based membership-inference AUC, ...). One row
per run is appended to ``OUT/privacy.csv`` as it finishes; a rerun skips rows already there.
``--replot`` rebuilds ``OUT/summary.md`` and ``OUT/privacy.png`` from the CSV. Run it alone on the
machine (2 cores: a parallel job slows every system).
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import pandas as pd

from benchmarks.baselines import PrivateGaussianCopula, PrivateMarginals
from benchmarks.run import (DATASETS_DIR, TARGETS, ResultRows, earlier_command, headline, load_split,
                            machine_description, recorded_command)
from synthgan import SynthGAN
from synthgan.evaluation import evaluate

METRICS = ("quality", "tstr", "mia_auc", "detection_auc")
TARGET_VALUE = "@target"  # in a --variant: the dataset's target column


def _done(path: Path) -> set[tuple]:
    if not path.exists():
        return set()
    rows = pd.read_csv(path)
    return {(r.dataset, r.system, str(r.epsilon), int(r.seed)) for r in rows.itertuples()}


def run(args: argparse.Namespace) -> None:
    target_file = args.out / "privacy.csv"
    results = ResultRows(target_file)
    done = _done(target_file)
    for name in args.datasets:
        for seed in args.seeds:
            train, holdout, _ = load_split(name, args.datasets_dir, 50_000, seed)
            plan: list[tuple[str, object, dict | None]] = [
                (_dp_system(g, d), e, {"generator_steps": g, **({} if d is None else {"discriminator_dropout": d})})
                for e in args.epsilons for g in args.generator_steps for d in args.discriminator_dropout]
            plan += [(f"synthgan-dp-{label}", e, params) for e in args.epsilons for label, params in args.variant]
            plan += [(baseline, e, None) for e in args.epsilons for baseline in ("private-marginals", "private-copula")]
            if not args.no_nonprivate:
                plan.append(("synthgan", "none", None))
            dp_seconds: list[float] = []
            for system, epsilon, private_params in plan:
                if (name, system, str(epsilon), seed) in done:
                    continue
                started = time.perf_counter()
                privacy: dict = {}
                if private_params is not None:  # a private GAN
                    epochs = {} if args.epochs is None else {"epochs": args.epochs}
                    given = {k: TARGETS[name] if v == TARGET_VALUE else v for k, v in private_params.items()}
                    model = SynthGAN(epsilon=float(epsilon), random_state=seed, verbose=False,
                                     **{**epochs, **given}).fit(train)
                    privacy = model.privacy_
                    dp_seconds.append(model.timings_["training_s"])
                elif system == "private-marginals":
                    model = PrivateMarginals(float(epsilon), random_state=seed).fit(train)
                elif system == "private-copula":
                    model = PrivateGaussianCopula(float(epsilon), random_state=seed).fit(train)
                else:
                    if not dp_seconds:  # resumed run: take the recorded private training times
                        recorded = pd.read_csv(target_file)
                        mine = recorded[(recorded.dataset == name) & (recorded.seed == seed)
                                        & (recorded.system == "synthgan-dp")]
                        dp_seconds = mine["train_s"].tolist() or [60.0]
                    model = SynthGAN(epochs=100_000, max_time=sum(dp_seconds) / len(dp_seconds),
                                     random_state=seed, verbose=False).fit(train)
                fit_s = time.perf_counter() - started
                synthetic = model.sample(len(train))
                scores = headline(evaluate(train, synthetic, target=TARGETS[name], holdout=holdout,
                                           random_state=seed), TARGETS[name])
                timings = getattr(model, "timings_", {})
                results.append({"dataset": name, "system": system, "epsilon": epsilon, "seed": seed,
                       "epsilon_spent": privacy.get("epsilon"), "delta": privacy.get("delta"),
                       "noise_multiplier": privacy.get("noise_multiplier"), "steps": privacy.get("steps"),
                       "epochs": len(model.history_) if hasattr(model, "history_") else None,
                       "train_s": round(timings.get("training_s", fit_s), 1), "fit_s": round(fit_s, 1),
                       **{k: scores[k] for k in ("quality", "column_shapes", "pair_trends", "detection_auc",
                                                 "tstr_metric", "tstr", "trtr", "mia_auc", "dcr_median",
                                                 "dcr_holdout_median", "exact_copy_rate")}})


def _dp_system(generator_steps: int, dropout: float | None = None) -> str:
    """``synthgan-dp`` with one generator step per critic step and the default critic dropout;
    ``-gN`` with N steps, ``-dropoutP`` with dropout P."""
    return ("synthgan-dp" + ("" if generator_steps == 1 else f"-g{generator_steps}")
            + ("" if dropout is None else f"-dropout{dropout:g}"))


def parse_variant(text: str) -> tuple[str, dict]:
    """``NAME=key:value;key:value`` -> (NAME, {key: value}); a value with a comma is a tuple of numbers,
    ``true``/``false`` a boolean, ``@target`` stands for the dataset's target column, and any other
    value that is not a number a string (e.g. ``numeric_encoding:quantile``)."""
    label, sep, body = text.partition("=")
    if not sep or not label or not body:
        raise argparse.ArgumentTypeError(f"--variant {text!r}: expected NAME=key:value;key:value")

    def number(v: str) -> int | float | str:
        for kind in (int, float):
            try:
                return kind(v)
            except ValueError:
                pass
        return v

    params = {}
    for item in body.split(";"):
        key, sep, value = item.partition(":")
        if not sep:
            raise argparse.ArgumentTypeError(f"--variant {text!r}: {item!r} is not key:value")
        if value == TARGET_VALUE:
            params[key.strip()] = value
        elif value.lower() in ("true", "false"):
            params[key.strip()] = value.lower() == "true"
        else:
            params[key.strip()] = tuple(number(v) for v in value.split(",")) if "," in value else number(value)
    return label, params


def summarize(out: Path) -> pd.DataFrame:
    rows = pd.read_csv(out / "privacy.csv")
    grouped = rows.groupby(["dataset", "system", "epsilon"], sort=False)
    table = grouped[list(METRICS)].agg(["mean", "std"])
    table.columns = [f"{m}_{s}" for m, s in table.columns]
    table["seeds"] = grouped.size()
    table["epsilon_spent"] = grouped["epsilon_spent"].mean()
    table["train_s"] = grouped["train_s"].mean()
    return table.reset_index()


def plot(summary: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(dict.fromkeys(summary["dataset"]))
    fig, axes = plt.subplots(len(datasets), 3, figsize=(13, 3.6 * len(datasets)), squeeze=False)
    for row, name in enumerate(datasets):
        part = summary[summary["dataset"] == name]
        for col, metric in enumerate(("quality", "tstr", "mia_auc")):
            ax = axes[row][col]
            private_gans = [s for s in dict.fromkeys(part["system"]) if s.startswith("synthgan-dp")]
            for system, style in [*((s, "o-") for s in private_gans), ("private-marginals", "s--"),
                                  ("private-copula", "^--")]:
                line = part[part["system"] == system].copy()
                line["eps"] = line["epsilon"].astype(float)
                line = line.sort_values("eps")
                ax.errorbar(line["eps"], line[f"{metric}_mean"], yerr=line[f"{metric}_std"], fmt=style,
                            capsize=3, label=system)
            free = part[part["system"] == "synthgan"]
            if len(free):
                ax.axhline(float(free[f"{metric}_mean"].iloc[0]), color="grey", linestyle=":",
                           label="synthgan (no privacy)")
            if metric == "mia_auc":
                ax.axhline(0.5, color="black", linewidth=0.6)
            ax.set_xscale("log")
            ax.set_xlabel("epsilon")
            ax.set_title(f"{name}: {metric} (mean ± sd over seeds)")
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report(out: Path, command: str) -> None:
    summary = summarize(out)
    plot(summary, out / "privacy.png")
    lines = [f"Command: `{command}`", "", f"Machine: {machine_description()}", "",
             "| dataset | system | epsilon | seeds | epsilon spent | quality | TSTR | MIA AUC | detection AUC | train s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in summary.itertuples():
        def cell(metric: str) -> str:
            mean, std = getattr(r, f"{metric}_mean"), getattr(r, f"{metric}_std")
            return f"{mean:.4f} ± {0.0 if pd.isna(std) else std:.4f}"

        spent = "" if pd.isna(r.epsilon_spent) else f"{r.epsilon_spent:.3f}"
        lines.append(f"| {r.dataset} | {r.system} | {r.epsilon} | {r.seeds} | {spent} | {cell('quality')} | "
                     f"{cell('tstr')} | {cell('mia_auc')} | {cell('detection_auc')} | {r.train_s:.0f} |")
    (out / "summary.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["adult", "bank_marketing"])
    parser.add_argument("--epsilons", nargs="+", default=["0.5", "1", "3", "10"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs of every private GAN (default: SynthGAN's, 20 with epsilon)")
    parser.add_argument("--generator-steps", type=int, nargs="+", default=[1],
                        help="generator steps per critic step of the private GAN (each value is a system)")
    parser.add_argument("--discriminator-dropout", type=float, nargs="+", default=[None],
                        help="critic dropout of the private GAN (each value is a system; default: the default)")
    parser.add_argument("--variant", type=parse_variant, action="append", default=[],
                        help="NAME=key:value;key:value: a private GAN with those parameters, named synthgan-dp-NAME")
    parser.add_argument("--no-nonprivate", action="store_true", help="leave out the non-private synthgan")
    parser.add_argument("--datasets-dir", type=Path, default=DATASETS_DIR)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/privacy"))
    parser.add_argument("--replot", action="store_true", help="only rebuild summary.md and privacy.png")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    command = recorded_command("benchmarks.privacy")
    if args.replot:  # keep the command that made the results, not this one
        command = earlier_command(args.out / "summary.md", command)
    else:
        run(args)
    report(args.out, command)


if __name__ == "__main__":
    main()

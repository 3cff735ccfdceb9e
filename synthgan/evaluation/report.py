"""The evaluation result: tidy tables, JSON, a text summary and an HTML report with plots."""

from __future__ import annotations

import base64
import html
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from synthgan.evaluation.encoding import is_numeric_column, numeric_values
from synthgan.evaluation.verdicts import RULES, describe
from synthgan.io import atomic_path


def _flatten(prefix: str, value, rows: list) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), item, rows)
    elif isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool):
        section, _, metric = prefix.partition(".")
        rows.append((section, metric, float(value)))


def _clean(value):
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


_HEADLINE = ("synthgan quality = mean of column-shape and pair-trend similarity between the synthetic and the "
             "real rows (1 = same). It is the one number to compare runs by. sdmetrics' QualityReport score, when "
             "shown, measures the same two things with its own bins and weights (for comparison with SDV) and "
             "typically differs by a few points.")
_COLORS = {"pass": "#1a7f37", "warn": "#9a6700", "fail": "#cf222e"}


@dataclass
class EvaluationResult:
    """Scores of one synthetic table against the real one, with references and verdicts.

    Attributes
    ----------
    scores : dict
        ``{"fidelity": {...}, "utility": {...} or None, "privacy": {...}}``.
    column_shapes : DataFrame
        Per-column shape scores.
    pair_trends : DataFrame
        Per-pair trend scores.
    notes : list of str
        Caveats about how the scores were obtained.
    references : dict
        The same scores for reference tables computed in the same call: ``independent`` (each
        column shuffled on its own), ``holdout`` (real rows the model never saw, when given) and
        ``identity`` (a copy of the training rows).
    verdicts : dict
        Per section: ``verdict`` (pass / warn / fail) and ``reasons`` (sentences with the numbers).
    skipped : list of str
        What was not computed and why.
    history : DataFrame or None
        The model's training history, if given.
    provenance : dict
        Rows, columns, seeds, versions, date, and whatever the caller added (files, model).
    """

    scores: dict
    column_shapes: pd.DataFrame
    pair_trends: pd.DataFrame
    notes: list = field(default_factory=list)
    references: dict = field(default_factory=dict)
    verdicts: dict = field(default_factory=dict)
    skipped: list = field(default_factory=list)
    history: pd.DataFrame | None = None
    provenance: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return _clean({**self.scores, "verdicts": self.verdicts, "references": self.references,
                       "column_shapes": self.column_shapes.to_dict(orient="records"),
                       "pair_trends": self.pair_trends.to_dict(orient="records"), "notes": list(self.notes),
                       "skipped": list(self.skipped), "provenance": self.provenance})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str)

    def to_frame(self) -> pd.DataFrame:
        """Tidy ``section``, ``metric``, ``value``, ``direction`` rows of every headline number."""
        rows: list = []
        _flatten("", self.scores, rows)
        frame = pd.DataFrame(rows, columns=["section", "metric", "value"])
        infos = [describe(row.section, row.metric) for row in frame.itertuples()]
        frame["direction"] = [f"{i.direction} is better" if i and i.direction in ("higher", "lower") else
                              (i.direction if i else "") for i in infos]
        frame["meaning"] = [i.meaning if i else "" for i in infos]
        return frame

    def worst_columns(self, n: int = 5) -> pd.DataFrame:
        return self.column_shapes.sort_values("score").head(n)

    def worst_pairs(self, n: int = 5) -> pd.DataFrame:
        return self.pair_trends.sort_values("score").head(n)

    def summary(self) -> str:
        """Plain text: verdicts first, the headline quality, the worst columns and pairs, then every metric."""
        lines = []
        for section, verdict in self.verdicts.items():
            lines.append(f"{section.upper():<9} {verdict['verdict'].upper()}: " + "; ".join(verdict["reasons"]))
        quality = self.scores["fidelity"]["overall"]
        lines.append(f"quality   {quality:.4f} (synthgan quality; independent columns "
                     f"{self.references.get('independent', {}).get('overall', float('nan')):.4f}"
                     + (f", real holdout {self.references['holdout']['overall']:.4f}" if "holdout" in self.references
                        else "") + ")")
        worst = ", ".join(f"{r.column} {r.score:.3f}" for r in self.worst_columns(3).itertuples())
        pairs = ", ".join(f"{r.column_a}~{r.column_b} {r.score:.3f}" for r in self.worst_pairs(3).itertuples())
        lines += [f"worst columns: {worst}", f"worst pairs: {pairs}", ""]
        arrows = {"higher is better": "(higher better)", "lower is better": "(lower better)",
                  "closer to 0.5": "(0.5 best)"}
        lines += [f"{row.section:<10} {row.metric:<45} {row.value:.4f} {arrows.get(row.direction, '')}"
                  for row in self.to_frame().itertuples()]
        lines += [f"note: {n}" for n in self.notes] + [f"skipped: {s}" for s in self.skipped]
        return "\n".join(lines)

    # ------------------------------------------------------------------ HTML
    def write_html(self, path: str | Path, real: pd.DataFrame, synthetic: pd.DataFrame,
                   overwrite: bool = False) -> None:
        """Write a self-contained HTML report (plots embedded as PNG)."""
        with atomic_path(Path(path), overwrite=overwrite) as tmp:
            tmp.write_text(self.to_html(real, synthetic), encoding="utf-8")

    def to_html(self, real: pd.DataFrame, synthetic: pd.DataFrame) -> str:
        esc = html.escape
        body = ["<h1>synthgan evaluation</h1>", _provenance_html(self.provenance)]
        cards = []
        for section, verdict in self.verdicts.items():
            color = _COLORS[verdict["verdict"]]
            reasons = "".join(f"<li>{esc(r)}</li>" for r in verdict["reasons"])
            cards.append(f"<div class='card' style='border-color:{color}'><h3>{esc(section.title())}: "
                         f"<span style='color:{color}'>{verdict['verdict'].upper()}</span></h3><ul>{reasons}</ul></div>")
        body.append("<div class='cards'>" + "".join(cards) + "</div>")
        quality = self.scores["fidelity"]["overall"]
        body.append(f"<p class='headline'>Quality <b>{quality:.3f}</b></p><p>{esc(_HEADLINE)}</p>")
        body.append("<h2>Worst columns and pairs</h2><div class='row'>"
                    + self.worst_columns(10).to_html(index=False, float_format="%.3f")
                    + self.worst_pairs(10).to_html(index=False, float_format="%.3f") + "</div>")
        body.append("<h2>References computed in this run</h2>" + _references_html(self.references, self.scores))
        frame = self.to_frame()
        for section in frame["section"].unique():
            part = frame[frame["section"] == section]
            body.append(f"<h2>{esc(section.title())} metrics</h2>"
                        + part.drop(columns="section").to_html(index=False, float_format="%.4f"))
        images = [("Training history", history_figure(self.history)),
                  ("Column distributions, real vs synthetic", distribution_figure(real, synthetic)),
                  ("Pair differences", difference_figure(self.pair_trends, real, synthetic))]
        for title, png in images:
            if png:
                body.append(f"<h2>{esc(title)}</h2><img alt='{esc(title)}' src='data:image/png;base64,{png}'/>")
        if self.notes or self.skipped:
            body.append("<h2>Notes and what was skipped</h2><ul>"
                        + "".join(f"<li>{esc(n)}</li>" for n in self.notes)
                        + "".join(f"<li>skipped: {esc(s)}</li>" for s in self.skipped) + "</ul>")
        body.append("<h2>How the verdicts are decided</h2><ul>" + "".join(f"<li>{esc(r)}</li>" for r in RULES)
                    + "</ul>")
        body.append("<h2>All column shapes</h2>" + self.column_shapes.to_html(index=False, float_format="%.4f"))
        return ("<!doctype html><html><head><meta charset='utf-8'><meta name='viewport' "
                "content='width=device-width, initial-scale=1'><title>synthgan evaluation</title><style>"
                "body{font-family:sans-serif;margin:1.5em;max-width:1400px}img{max-width:100%;height:auto}"
                "table{border-collapse:collapse;margin:0 1em 1em 0;font-size:0.9em}"
                "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}"
                ".cards,.row{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}"
                ".card{border:3px solid;border-radius:6px;padding:0 1em;flex:1 1 280px}"
                ".headline{font-size:1.4em}.meta td{border:none;padding:0 1em 0 0}</style></head><body>"
                + "\n".join(body) + "</body></html>")


def _provenance_html(provenance: dict) -> str:
    rows = "".join(f"<tr><td>{html.escape(str(k).replace('_', ' '))}</td><td>{html.escape(str(v))}</td></tr>"
                   for k, v in provenance.items() if v is not None)
    return f"<table class='meta'>{rows}</table>"


def _references_html(references: dict, scores: dict) -> str:
    names = {"independent": "independent columns (each column shuffled on its own)",
             "holdout": "real holdout rows (never seen by the model)",
             "identity": "identity (a copy of the training rows)"}
    keys = ["column_shapes", "pair_trends", "overall", "detection_auc", "exact_copy_rate"]
    header = "".join(f"<th>{k}</th>" for k in keys)
    ours = {**scores["fidelity"], **scores["privacy"]}
    rows = ["<tr><td><b>this synthetic table</b></td>"
            + "".join(f"<td>{ours[k]:.4f}</td>" if k in ours else "<td></td>" for k in keys) + "</tr>"]
    for name, values in references.items():
        rows.append(f"<tr><td>{html.escape(names.get(name, name))}</td>"
                    + "".join(f"<td>{values[k]:.4f}</td>" if k in values else "<td></td>" for k in keys) + "</tr>")
    return f"<table><tr><th>table</th>{header}</tr>{''.join(rows)}</table>"


def history_figure(history: pd.DataFrame | None) -> str:
    """Losses per epoch and, when logged, validation fidelity; base64 PNG ('' without a history)."""
    if history is None or len(history) == 0 or "epoch" not in history:
        return ""
    losses = [c for c in history.columns if c.endswith("_loss")]
    has_validation = "val_fidelity" in history and history["val_fidelity"].notna().any()
    fig = _figure(12, 3.5)
    axes = fig.subplots(1, 2 if has_validation else 1, squeeze=False)[0]
    for column in losses:
        axes[0].plot(history["epoch"], history[column], label=column)
    axes[0].set_xlabel("epoch")
    axes[0].set_title("losses", fontsize=10)
    axes[0].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    if has_validation:
        valid = history[history["val_fidelity"].notna()]
        axes[1].plot(valid["epoch"], valid["val_fidelity"], marker="o", color="#1a7f37")
        axes[1].set_xlabel("epoch")
        axes[1].set_title("validation fidelity (higher is better)", fontsize=10)
    fig.tight_layout()
    return _png(fig)


def _figure(width: float, height: float):
    """A matplotlib Figure drawn without pyplot, so the process's backend and figure list are untouched."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _labels(series: pd.Series) -> pd.Series:
    return series.astype(object).where(series.notna(), "<missing>").astype(str)


def distribution_figure(real: pd.DataFrame, synthetic: pd.DataFrame, max_columns: int = 40) -> str:
    """Grid of per-column histograms (numbers) or bar charts (top 10 categories), base64 PNG."""
    columns = list(real.columns)[:max_columns]
    ncols = 4
    nrows = max(1, math.ceil(len(columns) / ncols))
    fig = _figure(4 * ncols, 2.8 * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax, column in zip(axes.flat, columns):
        if is_numeric_column(real[column]):
            r, s = numeric_values(real[column]), numeric_values(synthetic[column])
            r, s = r[~np.isnan(r)], s[~np.isnan(s)]
            edges = np.histogram_bin_edges(r, bins=30)
            ax.hist(r, bins=edges, density=True, alpha=0.5, label="real")
            ax.hist(np.clip(s, edges[0], edges[-1]), bins=edges, density=True, alpha=0.5, label="synthetic")
        else:
            r = _labels(real[column]).value_counts(normalize=True)
            s = _labels(synthetic[column]).value_counts(normalize=True)
            top = r.index[:10]
            x = np.arange(len(top))
            ax.bar(x - 0.2, r.reindex(top).to_numpy(), 0.4, label="real")
            ax.bar(x + 0.2, s.reindex(top).fillna(0).to_numpy(), 0.4, label="synthetic")
            ax.set_xticks(x, [t[:10] for t in top], rotation=60, fontsize=7)
        ax.set_title(str(column), fontsize=9)
    for ax in list(axes.flat)[len(columns):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)


def difference_figure(pairs: pd.DataFrame, real: pd.DataFrame, synthetic: pd.DataFrame) -> str:
    """Heatmaps of |corr_real - corr_synthetic| (numbers) and of 1 - pair-trend score (all pairs)."""
    columns = list(real.columns)
    numeric = [c for c in columns if is_numeric_column(real[c])]
    fig = _figure(13, 5.5)
    axes = fig.subplots(1, 2)
    if len(numeric) >= 2:
        corr = lambda f: pd.DataFrame({c: numeric_values(f[c]) for c in numeric}).corr().to_numpy()  # noqa: E731
        image = axes[0].imshow(np.abs(corr(real) - corr(synthetic)), vmin=0, vmax=1, cmap="Reds")
        axes[0].set_xticks(range(len(numeric)), [str(c)[:12] for c in numeric], rotation=90, fontsize=7)
        axes[0].set_yticks(range(len(numeric)), [str(c)[:12] for c in numeric], fontsize=7)
        fig.colorbar(image, ax=axes[0])
    axes[0].set_title("|correlation real - synthetic|", fontsize=10)
    position = {c: i for i, c in enumerate(columns)}
    matrix = np.zeros((len(columns), len(columns)))
    for row in pairs.itertuples():
        i, j = position[row.column_a], position[row.column_b]
        matrix[i, j] = matrix[j, i] = 1.0 - row.score
    image = axes[1].imshow(matrix, vmin=0, vmax=max(0.3, matrix.max()), cmap="Reds")
    axes[1].set_xticks(range(len(columns)), [str(c)[:12] for c in columns], rotation=90, fontsize=7)
    axes[1].set_yticks(range(len(columns)), [str(c)[:12] for c in columns], fontsize=7)
    axes[1].set_title("1 - pair-trend score", fontsize=10)
    fig.colorbar(image, ax=axes[1])
    fig.tight_layout()
    return _png(fig)

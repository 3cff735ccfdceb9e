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


@dataclass
class EvaluationResult:
    """Scores of one synthetic table against the real one.

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
    """

    scores: dict
    column_shapes: pd.DataFrame
    pair_trends: pd.DataFrame
    notes: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return _clean({**self.scores, "column_shapes": self.column_shapes.to_dict(orient="records"),
                       "pair_trends": self.pair_trends.to_dict(orient="records"), "notes": list(self.notes)})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_frame(self) -> pd.DataFrame:
        """Tidy ``section``, ``metric``, ``value`` rows of every headline number."""
        rows: list = []
        _flatten("", self.scores, rows)
        return pd.DataFrame(rows, columns=["section", "metric", "value"])

    def summary(self) -> str:
        lines = [f"{row.section:<10} {row.metric:<45} {row.value:.4f}" for row in self.to_frame().itertuples()]
        return "\n".join(lines + [f"note: {n}" for n in self.notes])

    # ------------------------------------------------------------------ HTML
    def write_html(self, path: str | Path, real: pd.DataFrame, synthetic: pd.DataFrame,
                   overwrite: bool = False) -> None:
        """Write a self-contained HTML report (plots embedded as PNG)."""
        images = [("Column distributions, real vs synthetic", distribution_figure(real, synthetic)),
                  ("Pair differences", difference_figure(self.pair_trends, real, synthetic))]
        body = ["<h1>synthgan evaluation</h1>", self.to_frame().to_html(index=False, float_format="%.4f")]
        body += [f"<p><em>{html.escape(n)}</em></p>" for n in self.notes]
        for title, png in images:
            if png:
                body.append(f"<h2>{html.escape(title)}</h2><img src='data:image/png;base64,{png}'/>")
        body.append("<h2>Column shapes</h2>" + self.column_shapes.to_html(index=False, float_format="%.4f"))
        page = ("<!doctype html><html><head><meta charset='utf-8'><title>synthgan evaluation</title>"
                "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
                "td,th{border:1px solid #ccc;padding:2px 6px}</style></head><body>"
                + "\n".join(body) + "</body></html>")
        with atomic_path(Path(path), overwrite=overwrite) as tmp:
            tmp.write_text(page, encoding="utf-8")


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

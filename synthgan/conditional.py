"""Training-by-sampling and conditional vectors (Xu et al., 2019, section 4.3), vectorized with numpy.

A draw picks a discrete column uniformly, then one of its categories with probability proportional
to ``log(1 + count)`` (or to ``count``), then a real row holding that category. Rows are found
through one argsort per discrete column, so a whole batch is drawn with a few array lookups.
"""

from __future__ import annotations

import numpy as np


class ConditionSampler:
    """Draw (span, category) pairs, matching real rows, and the one-hot conditional vectors.

    Parameters
    ----------
    counts : list of ndarray
        For each condition span, the training count of each category slot.
    codes : ndarray (n_rows, n_spans), optional
        Category slot of every training row; needed only to draw real rows.
    log_frequency : bool
        Use ``log(1 + count)`` rather than ``count`` for the training draw.
    """

    def __init__(self, counts: list[np.ndarray], codes: np.ndarray | None = None, log_frequency: bool = True):
        self.counts = [np.asarray(c, dtype=np.int64) for c in counts]
        self.n_spans = len(self.counts)
        widths = np.array([len(c) for c in self.counts], dtype=np.int64)
        self.offset = np.concatenate([[0], np.cumsum(widths)]).astype(np.int64)
        self.dim = int(self.offset[-1])
        padded = np.zeros((self.n_spans, int(widths.max()) if self.n_spans else 0))
        for k, c in enumerate(self.counts):
            padded[k, : len(c)] = c
        self._padded_counts = padded.astype(np.int64)
        self._train_cdf = self._cdf(np.log1p(padded) if log_frequency else padded)
        self._empirical_cdf = self._cdf(padded)
        if codes is not None:
            self._order = np.argsort(codes, axis=0, kind="stable").T  # (n_spans, n_rows)
            self._first = np.concatenate([np.zeros((self.n_spans, 1), dtype=np.int64),
                                          np.cumsum(self._padded_counts, axis=1)[:, :-1]], axis=1)

    @staticmethod
    def _cdf(weights: np.ndarray) -> np.ndarray:
        cdf = np.cumsum(weights, axis=1)
        return cdf / np.maximum(cdf[:, -1:], 1e-12)

    def _draw(self, cdf: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        span = rng.integers(self.n_spans, size=n)
        u = rng.random(n)[:, None]
        category = (cdf[span] < u).sum(axis=1)
        widths = np.diff(self.offset)[span]
        return span, np.minimum(category, widths - 1)

    def draw_training(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``(span, category)`` for ``n`` rows with the training (log-)frequency."""
        return self._draw(self._train_cdf, n, rng)

    def draw_empirical(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``(span, category)`` for ``n`` rows with the categories' real frequency (used when sampling)."""
        return self._draw(self._empirical_cdf, n, rng)

    def rows_for(self, span: np.ndarray, category: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A uniformly chosen training row holding each requested category."""
        count = self._padded_counts[span, category]
        pick = self._first[span, category] + np.floor(rng.random(len(span)) * count).astype(np.int64)
        return self._order[span, pick]

    def entry(self, span: np.ndarray, category: np.ndarray) -> np.ndarray:
        """Index of each ``(span, category)`` in the conditional vector."""
        return self.offset[span] + category

    def vectors(self, entry: np.ndarray) -> np.ndarray:
        """One-hot conditional vectors, float32 ``(n, dim)``."""
        out = np.zeros((len(entry), self.dim), dtype=np.float32)
        out[np.arange(len(entry)), entry] = 1.0
        return out

"""Rare levels of sensitive discrete columns: never learned, generated or stored.

A level held by fewer than ``threshold`` training rows can single a person out (the only patient
from a small town, the one employee with a job title). For the columns this applies to
(``SynthGAN(privacy="strict")``: every discrete column; metadata ``"sensitive": true``: that
column), such levels are replaced in a copy of the training rows before anything is fitted, so no
later step sees them:

* text and ``category`` columns: by the label :data:`RARE_LABEL` (for a ``category`` column the
  rare levels leave its categories and the label joins them);
* other discrete columns (integer codes, booleans): by a level held by at least ``threshold`` rows,
  drawn with the training frequencies.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from synthgan.errors import DataError

RARE_LABEL = "(rare)"


def protect_rare_levels(df: pd.DataFrame, columns: Iterable, threshold: int,
                        rng: np.random.Generator) -> tuple[pd.DataFrame, dict]:
    """A copy of ``df`` without the levels of ``columns`` held by fewer than ``threshold`` rows, and
    ``{column: number of levels replaced}``. ``df`` itself is not changed."""
    out, replaced = df, {}
    for name in columns:
        series = df[name]
        counts = series.value_counts(dropna=True)
        rare = counts.index[counts < threshold]
        if len(rare) == 0:
            continue
        if out is df:
            out = df.copy()
        hit = series.isin(rare).to_numpy()
        replaced[name] = len(rare)
        if isinstance(series.dtype, pd.CategoricalDtype):
            kept = [c for c in series.cat.categories if c not in set(rare)]
            values = series.astype(object).where(~hit, RARE_LABEL)
            out[name] = pd.Categorical(values, categories=kept + [RARE_LABEL], ordered=series.cat.ordered)
        elif pd.api.types.is_object_dtype(series.dtype) or pd.api.types.is_string_dtype(series.dtype):
            out[name] = series.where(~hit, RARE_LABEL)
        else:
            frequent = counts[counts >= threshold]
            if len(frequent) == 0:
                raise DataError(f"column {name!r}: no level is held by {threshold} or more rows, so none can be "
                                "generated under the rare-level rule; drop the column or lower rare_threshold")
            drawn = rng.choice(frequent.index.to_numpy(), size=int(hit.sum()), p=(frequent / frequent.sum()).to_numpy())
            values = series.to_numpy(copy=True)
            values[hit] = drawn
            out[name] = pd.Series(values, index=series.index, dtype=series.dtype)
    return out, replaced

"""Dependence calibration: the numbers' correlation in normal-score space, mapped onto the training one.

The marginal calibration (:meth:`synthgan.transform.modes.ModeState.calibrate`) maps each decoded
number ``x`` through ``Q_train(F_generated(x))``. Between the two steps every value is a
probability ``u = F_generated(x)``; its normal score ``z = Phi^-1(u)`` is standard normal. The
dependence calibration moves the scores of a row's calibrated columns together, ``z' = T z``,
before they go back to probabilities and through ``Q_train``. ``T`` is the optimal-transport
(Monge) map between the centred Gaussians of the generator's score correlation ``G`` and the
training one ``R``:

    T = G^-1/2 (G^1/2 R G^1/2)^1/2 G^-1/2

the symmetric linear map with ``T G T = R`` that moves the scores least (it is the identity when
``G = R`` and does not depend on the order of the columns). A generator that draws near-proportional
columns (lengths and weights, areas and prices) looser than the training rows gets their linear
dependence back; the order of each column's values, the categories and everything non-linear the
generator learned stay its own. The moved scores ``z'`` are not exactly standard normal where the
generator's scores are not jointly Gaussian, so each column's ``z'`` goes back to a probability
through its own quantile grid on the generated rows the map was fitted on (:data:`GRID_POINTS`
points), not through ``Phi``: each column's marginal stays the training one.

Correlations are estimated on the rows where both columns are present (pairwise complete) and
projected onto the positive-definite matrices with eigenvalues of at least :data:`EIGEN_FLOOR`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from synthgan.transform.modes import grid_positions, run_ends

EIGEN_FLOOR = 1e-3  # smallest eigenvalue kept in a correlation matrix (the map inverts G^1/2)
EDGE = 1e-6  # probabilities are kept in [EDGE, 1 - EDGE] before the normal quantile function
GRID_POINTS = 1001  # points of each column's quantile grid of its moved scores


def score_correlation(probability: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Correlation ``(columns, columns)`` of the normal scores of ``probability`` (columns, rows),
    each pair over the rows where both are ``present``; scores are standardized per column over
    its present rows. A pair with fewer than three rows in common gets 0."""
    scores = ndtri(np.clip(probability, EDGE, 1 - EDGE))
    weight = present.astype(np.float64)
    count = np.maximum(weight.sum(axis=1, keepdims=True), 1.0)
    mean = (scores * weight).sum(axis=1, keepdims=True) / count
    centred = (scores - mean) * weight
    spread = np.sqrt((centred ** 2).sum(axis=1, keepdims=True) / count)
    standard = centred / np.where(spread > 0, spread, 1.0)
    together = weight @ weight.T
    correlation = np.where(together >= 3, (standard @ standard.T) / np.maximum(together, 1.0), 0.0)
    np.fill_diagonal(correlation, 1.0)
    return nearest_correlation(correlation)


def nearest_correlation(matrix: np.ndarray) -> np.ndarray:
    """``matrix`` made symmetric with eigenvalues of at least :data:`EIGEN_FLOOR` and a unit
    diagonal (a pairwise-complete estimate need not be positive definite)."""
    symmetric = np.clip((matrix + matrix.T) / 2, -1.0, 1.0)
    values, vectors = np.linalg.eigh(symmetric)
    repaired = (vectors * np.maximum(values, EIGEN_FLOOR)) @ vectors.T
    scale = np.sqrt(np.diag(repaired))
    return repaired / np.outer(scale, scale)


def _power(matrix: np.ndarray, exponent: float) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.maximum(values, EIGEN_FLOOR) ** exponent) @ vectors.T


def transport_map(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The optimal-transport map ``T`` from ``N(0, source)`` to ``N(0, target)`` (module docstring):
    symmetric, with ``T source T = target``."""
    root, inverse_root = _power(source, 0.5), _power(source, -0.5)
    return inverse_root @ _power(root @ target @ root, 0.5) @ inverse_root


@dataclass(frozen=True)
class DependenceState:
    """The dependence calibration of a transformer's calibrated number columns.

    ``columns``: their positions in the transformer's ``states_``; ``target``: the training rows'
    score correlation ``R``; ``matrix``: the map ``T`` and ``grids``: each column's quantile grid of
    its moved scores (both None until the generator's correlation is known, see
    :meth:`synthgan.transform.transformer.DataTransformer.fit_calibration`).
    """

    columns: tuple[int, ...]
    target: tuple[tuple[float, ...], ...]
    matrix: tuple[tuple[float, ...], ...] | None = None
    grids: tuple[tuple[float, ...], ...] | None = None

    @classmethod
    def from_arrays(cls, columns: Sequence[int], target: np.ndarray, matrix: np.ndarray | None = None,
                    grids: np.ndarray | None = None) -> DependenceState:
        if (matrix is None) != (grids is None):
            raise ValueError("a dependence calibration's map and grids come together")
        return cls(tuple(map(int, columns)), _nested(target), None if matrix is None else _nested(matrix),
                   None if grids is None else _nested(grids))

    def fitted(self, probability: np.ndarray, present: np.ndarray) -> DependenceState:
        """This state with its map and grids fitted to the generator's probabilities ``(columns, rows)``
        (``present``: where a value is not missing)."""
        transport = transport_map(score_correlation(probability, present), np.asarray(self.target))
        moved = _moved(transport, probability)
        moved[~present & present.any(axis=1, keepdims=True)] = np.nan  # a column's grid: its present rows
        grids = np.nanquantile(moved, np.linspace(0, 1, GRID_POINTS), axis=1).T
        return DependenceState.from_arrays(self.columns, np.asarray(self.target), transport, grids)

    def apply(self, probability: np.ndarray) -> np.ndarray:
        """Probabilities ``(columns, rows)`` of the generator's values moved by ``T`` in score space,
        each through its column's grid (the identity until fitted)."""
        if self.matrix is None:
            return probability
        moved = _moved(np.asarray(self.matrix), probability)
        grids = np.asarray(self.grids)
        middle = np.full(moved.shape, 0.5)  # a run of equal grid points (a spike): its middle
        return grid_positions(grids, run_ends(grids), moved, middle).numpy() / (grids.shape[1] - 1)

    def to_json(self) -> dict:
        def listed(matrix: tuple | None) -> list | None:
            return None if matrix is None else [list(r) for r in matrix]

        return {"columns": list(self.columns), "target": listed(self.target), "matrix": listed(self.matrix),
                "grids": listed(self.grids)}

    @classmethod
    def from_json(cls, data: dict) -> DependenceState:
        size = len(data["columns"])
        shapes = {"target": (size, size), "matrix": (size, size), "grids": (size, GRID_POINTS)}
        for name, shape in shapes.items():
            if data.get(name) is not None and np.shape(data[name]) != shape:
                raise ValueError(f"the stored dependence calibration's {name} is not {shape[0]} x {shape[1]}")
        arrays = {name: None if data.get(name) is None else np.asarray(data[name], dtype=np.float64)
                  for name in shapes}
        return cls.from_arrays(data["columns"], **arrays)


def _moved(transport: np.ndarray, probability: np.ndarray) -> np.ndarray:
    """The normal scores of ``probability`` ``(columns, rows)`` moved by ``transport``."""
    return transport @ ndtri(np.clip(probability, EDGE, 1 - EDGE))


def _nested(matrix: np.ndarray) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(map(float, row)) for row in matrix)

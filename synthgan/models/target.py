"""Auxiliary target loss: a predictor of the user's target column that generated rows must agree with.

When the user names the column a downstream model will predict (``SynthGAN(target=...)``), a small
network learns, from real rows only, to predict that column from the other columns; the generator
is then also scored on how well the same network predicts its rows' target from its rows' other
columns (Zhao et al., 2022, CTAB-GAN+, "auxiliary classifier/regressor"). The adversarial loss
matches the joint distribution only as far as the critic can tell; this term aims directly at the
conditional distribution of the target given the features, which is what train-on-synthetic,
test-on-real (TSTR) utility measures. Two choices differ from a plain auxiliary loss (both chosen
by a one-seed trial on king_county_houses, recorded in benchmarks/README.md): the generated
features are detached (only the target is moved), and the term is a hinge at the real batch's own
loss (see :meth:`TargetLoss.generator_loss`).

The target is read in the encoded space, so the same code serves real rows (exact one-hots) and
generated ones (Gumbel-softmax outputs, differentiable):

- a discrete target: its one-hot span; the loss is the cross-entropy of the prediction against the
  (soft) one-hot;
- a number or datetime: its standardized value ``z = alpha * 4 * std[mode] + mean[mode]`` (the
  transformer's mode-specific normalization, with the mode's one-hot as weights), predicted under a
  Huber loss (robust to heavy tails); a missing indicator, when the column has nulls, is one more
  one-hot part.

The predictor never sees the target's own columns. It is trained in its own phase (``target``)
on real rows and is frozen while the generator uses it.

In private training (``epsilon``) the predictor is trained with DP-SGD like the critic (its loss a
sum over rows, each row's gradient clipped and noised; its own share of the budget), the
generator's term reads no real row (its reference is the predictor's own predicted entropy, see
:meth:`TargetLoss.generator_loss`), and the target must be discrete.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from synthgan.layout import TableLayout
from synthgan.transform.modes import WINDOW

HIDDEN = (256, 256)  # the predictor's hidden widths (as the critic's default)


@dataclass(frozen=True)
class _Part:
    """One predicted piece of the target: a one-hot span, or a number's value and mode spans."""

    kind: str  # "onehot" or "number"
    start: int  # one-hot: the span; number: the mode span
    stop: int
    value: int = -1  # number: the encoded column of its scalar
    means: torch.Tensor | None = None  # number: the modes' means and 4 * their standard deviations
    scales: torch.Tensor | None = None

    @property
    def outputs(self) -> int:
        return self.stop - self.start if self.kind == "onehot" else 1


class TargetPredictor(nn.Module):
    """MLP from the non-target encoded columns to the target's parts (logits or a value)."""

    def __init__(self, inputs: int, outputs: int, hidden: tuple[int, ...] = HIDDEN):
        super().__init__()
        layers: list[nn.Module] = []
        width = inputs
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        layers.append(nn.Linear(width, outputs))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class TargetLoss:
    """The target's encoded parts, the predictor's input columns, and the loss of a batch of rows.

    Parameters
    ----------
    layout : TableLayout
        The encoded table.
    column : str
        The target column (must be modelled: it has spans in ``layout``).
    modes : ModeState or None
        The column's fitted mixture when it is a number or datetime.
    device : torch.device
    """

    def __init__(self, layout: TableLayout, column: object, modes, device: torch.device):
        spans = {s.role: s for s in layout.spans_of(column)}
        if not spans:
            raise ValueError(f"target column {column!r} has no encoded columns")
        parts: list[_Part] = []
        if "category" in spans:
            parts.append(_Part("onehot", spans["category"].start, spans["category"].stop))
        else:
            parts.append(_Part("number", spans["mode"].start, spans["mode"].stop, value=spans["value"].start,
                               means=torch.tensor(modes.means, dtype=torch.float32, device=device),
                               scales=WINDOW * torch.tensor(modes.stds, dtype=torch.float32, device=device)))
            if "missing" in spans:
                parts.append(_Part("onehot", spans["missing"].start, spans["missing"].stop))
        self.parts = tuple(parts)
        own = np.zeros(layout.dim, dtype=bool)
        for span in spans.values():
            own[span.start:span.stop] = True
        self.features = torch.as_tensor(np.flatnonzero(~own), device=device)
        self.outputs = sum(part.outputs for part in parts)

    def build(self, hidden: tuple[int, ...] = HIDDEN) -> TargetPredictor:
        return TargetPredictor(len(self.features), self.outputs, hidden)

    @property
    def discrete(self) -> bool:
        """True when every predicted part is a one-hot (a discrete target)."""
        return all(part.kind == "onehot" for part in self.parts)

    def __call__(self, predictor: nn.Module, rows: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        """Loss of ``predictor`` on ``rows`` (batch, dim) of activated encoded rows (what the
        predictor is trained on, with real rows): the mean over rows, or with ``reduction="sum"``
        their sum (what DP-SGD clips row by row)."""
        per_row = self._loss(predictor(rows[:, self.features]), rows)
        return per_row.sum() if reduction == "sum" else per_row.mean()

    def generator_loss(self, predictor: nn.Module, fake: torch.Tensor, real: torch.Tensor | None) -> torch.Tensor:
        """How much less predictable the generated rows' target is than the real rows' (zero if not).

        The features are detached: their distribution is the critic's to shape, and letting this
        term move them would make the generator invent features that are easy to predict from.
        The term stops at a reference loss, so the generated target is pulled toward the
        prediction only while it is noisier than real data, not collapsed onto it. The reference
        is the real rows' own loss, or, with ``real=None`` (private training, where the generator
        may read no real row), the predictor's own entropy on the generated rows' features: the
        loss a target drawn from the predicted distribution would have on average, so the term
        stops where the generated target is as uncertain as the predictor says the real one is.
        That needs a discrete target (a number's prediction carries no spread).
        """
        predicted = predictor(fake[:, self.features].detach())
        generated = self._loss(predicted, fake).mean()
        with torch.no_grad():
            if real is not None:
                reference = self(predictor, real)
            elif self.discrete:
                reference = self._entropy(predicted).mean()
            else:
                raise ValueError("a reference without real rows needs a discrete target")
        return torch.relu(generated - reference)

    def _pieces(self, predicted: torch.Tensor):
        first = 0
        for part in self.parts:  # one or two parts of one column
            yield part, predicted[:, first:first + part.outputs]
            first += part.outputs

    def _entropy(self, predicted: torch.Tensor) -> torch.Tensor:
        """Per row: the entropy of the predicted distribution of every one-hot part, summed."""
        total = predicted.new_zeros(len(predicted))
        for _, out in self._pieces(predicted):
            log_p = F.log_softmax(out, dim=1)
            total = total - (log_p.exp() * log_p).sum(dim=1)
        return total

    def _loss(self, predicted: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """Per row: the loss of every part, summed."""
        loss = rows.new_zeros(len(rows))
        for part, out in self._pieces(predicted):
            if part.kind == "onehot":
                loss = loss - (rows[:, part.start:part.stop] * F.log_softmax(out, dim=1)).sum(dim=1)
            else:
                mode = rows[:, part.start:part.stop]
                value = rows[:, part.value] * (mode @ part.scales) + mode @ part.means
                loss = loss + F.huber_loss(out[:, 0], value, reduction="none")
        return loss

"""Span-wise output activations, computed for all spans at once from the layout.

Every encoded column belongs to one segment: each softmax span is a segment, and each tanh column is
a segment of its own. Segment sums and broadcasts are products with a fixed 0/1 membership matrix,
so the whole activation is a handful of dense ops with no Python loop over spans and no
scatter/atomic kernels (whose gradients are not reproducible on GPUs).
"""

from __future__ import annotations

import numpy as np
import torch

from synthgan.layout import TableLayout
from synthgan.streams import numpy_from_torch
from synthgan.transform.encoded import first_max

_EPS = 1e-20


def _uniform(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """Float32 draws in [0, 1) from ``generator``: on the CPU through numpy's PCG64 seeded from it
    (which fills float32 about twice as fast as torch's CPU generator), elsewhere on its device."""
    if generator.device.type != "cpu":
        return torch.rand(shape, generator=generator, device=generator.device)
    return torch.from_numpy(numpy_from_torch(generator).random(shape, dtype=np.float32))


class SpanActivation:
    """Apply tanh to scalar spans and a (Gumbel-)softmax to every one-hot span in one pass."""

    def __init__(self, layout: TableLayout, device: torch.device):
        segment = layout.column_span
        tanh = np.zeros(layout.dim, dtype=bool)
        tanh[layout.tanh_index] = True
        membership = np.zeros((layout.dim, len(layout.spans)), dtype=np.float32)
        membership[np.arange(layout.dim), segment] = 1.0
        self.segment = torch.as_tensor(segment, device=device)
        self.tanh_mask = torch.as_tensor(tanh, device=device)
        self.membership = torch.as_tensor(membership, device=device)  # (dim, n_segments)
        # encoded column of each conditional-vector entry (an index, not a dense 0/1 matrix, whose
        # condition_dim x dim floats would not fit memory for wide tables)
        self.condition_index = torch.as_tensor(layout.condition_index, device=device)
        # the order for_decoding reads the output in: the tanh columns, then the one-hot spans of two
        # or more slots grouped by width (spans of one width side by side)
        order, self.width_groups, first = [layout.tanh_index], [], 0
        for width, members, columns in layout.onehot_groups:
            order.append(columns)
            self.width_groups.append((first, width, torch.as_tensor(members, device=device)))
            first += width * len(members)
        self.n_values = len(layout.tanh_index)
        self.n_onehot = len(layout.onehot_spans)
        self.decode_order = torch.as_tensor(np.concatenate(order).astype(np.int64), device=device)

    def segment_log_softmax(self, logits: torch.Tensor) -> torch.Tensor:
        """Log-softmax of ``logits`` (batch, dim) within each segment (tanh columns give 0)."""
        index = self.segment.expand(logits.shape[0], -1)
        with torch.no_grad():
            peak = logits.new_full((logits.shape[0], self.membership.shape[1]), float("-inf"))
            peak = peak.scatter_reduce(1, index, logits, reduce="amax").gather(1, index)
        shifted = logits - peak
        log_norm = torch.log(shifted.exp() @ self.membership)
        return shifted - log_norm @ self.membership.T

    def __call__(self, raw: torch.Tensor, tau: float, generator: torch.Generator | None) -> torch.Tensor:
        """Activated output: tanh scalars, Gumbel-softmax one-hots at temperature ``tau``.

        With ``generator=None`` no Gumbel noise is added (plain softmax). Computed in float32
        whatever ``raw``'s dtype (bfloat16 under autocast), as the losses that read it are.
        """
        raw = raw.float()
        logits = raw
        if generator is not None:
            uniform = torch.rand(raw.shape, generator=generator, device=raw.device, dtype=raw.dtype)
            logits = raw - torch.log(-torch.log(uniform + _EPS) + _EPS)
        soft = self.segment_log_softmax(logits / tau).exp()
        return torch.where(self.tanh_mask, torch.tanh(raw), soft)

    def for_decoding(self, raw: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Sampled rows in compact form from generator output whose columns are in
        :attr:`decode_order` (``raw[:, decode_order]`` of the layout-ordered output; the generator
        computes them in that order directly, see ``Generator.infer``): ``(values, slots)``, the
        tanh of every scalar column (in ``layout.tanh_index`` order) and the slot each row draws in
        every one-hot span (in ``layout.onehot_spans`` order), as :class:`EncodedRows` stores them.

        A span's slot is the argmax of ``raw + gumbel``, which is the argmax of the Gumbel-softmax
        at any temperature (a draw from the span's softmax), so sampling needs neither the softmax
        nor the temperature (Gumbel-max trick). In decode order the spans of one width lie side
        by side, so each width's argmax runs over a view, and noise is drawn only for spans of
        two or more slots (a one-slot span always draws slot 0). ``raw`` is overwritten.
        """
        n_values = self.n_values
        values = torch.tanh(raw[:, :n_values])
        slots = torch.zeros((len(raw), self.n_onehot), dtype=torch.int64, device=raw.device)
        scores = raw[:, n_values:]
        if scores.shape[1]:
            noise = _uniform(scores.shape, generator).to(raw.dtype)
            scores.sub_(noise.add_(_EPS).log_().neg_().add_(_EPS).log_())  # raw - log(-log(u)) = raw + gumbel
            for first, width, members in self.width_groups:
                block = scores[:, first:first + width * len(members)].unflatten(1, (len(members), width))
                slots[:, members] = first_max(block)
        return values, slots

    def condition_loss(self, raw: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of the generated spans against the categories the rows were conditioned on.

        Parameters
        ----------
        raw : Tensor (batch, dim)
            Generator output before activation.
        condition : Tensor (batch, condition_dim)
            One-hot conditional vectors.
        """
        raw = raw.float()
        target = raw.new_zeros(raw.shape).index_copy_(1, self.condition_index, condition)  # one-hot over columns
        return -(self.segment_log_softmax(raw) * target).sum(dim=1).mean()

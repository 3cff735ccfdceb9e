"""Span-wise output activations, computed for all spans at once from the layout's index tensors."""

from __future__ import annotations

import torch

from synthgan.layout import TableLayout

_EPS = 1e-20


class SpanActivation:
    """Apply tanh to scalar spans and a (Gumbel-)softmax to every one-hot span in one pass.

    The softmax spans have different widths; instead of a Python loop over spans the logits of all
    of them are gathered into one ``(batch, n_softmax_columns)`` block and normalized per segment
    with scatter reductions.
    """

    def __init__(self, layout: TableLayout, device: torch.device):
        self.dim = layout.dim
        self.tanh_index = torch.as_tensor(layout.tanh_index, device=device)
        self.softmax_index = torch.as_tensor(layout.softmax_index, device=device)
        self.segment = torch.as_tensor(layout.softmax_segment, device=device)
        self.n_segments = len(layout.softmax_spans)
        # position, inside the softmax block, of each conditional-vector entry
        self.condition_position = torch.searchsorted(
            self.softmax_index, torch.as_tensor(layout.condition_index, device=device))

    def _segment_max(self, logits: torch.Tensor) -> torch.Tensor:
        index = self.segment.expand(logits.shape[0], -1)
        empty = logits.new_full((logits.shape[0], self.n_segments), float("-inf"))
        return empty.scatter_reduce(1, index, logits, reduce="amax", include_self=True)

    def _segment_sum(self, values: torch.Tensor) -> torch.Tensor:
        total = values.new_zeros((values.shape[0], self.n_segments))
        return total.index_add(1, self.segment, values)

    def segment_log_softmax(self, logits: torch.Tensor) -> torch.Tensor:
        """Log-softmax within each segment of the softmax block ``logits``."""
        shifted = logits - self._segment_max(logits).detach().gather(1, self.segment.expand(logits.shape[0], -1))
        log_norm = torch.log(self._segment_sum(shifted.exp()))
        return shifted - log_norm.gather(1, self.segment.expand(logits.shape[0], -1))

    def __call__(self, raw: torch.Tensor, tau: float, generator: torch.Generator | None) -> torch.Tensor:
        """Activated output: tanh scalars, Gumbel-softmax one-hots at temperature ``tau``.

        With ``generator=None`` no Gumbel noise is added (plain softmax).
        """
        out = torch.empty_like(raw)
        out[:, self.tanh_index] = torch.tanh(raw[:, self.tanh_index])
        logits = raw[:, self.softmax_index]
        if generator is not None:
            uniform = torch.rand(logits.shape, generator=generator, device=logits.device, dtype=logits.dtype)
            logits = logits - torch.log(-torch.log(uniform + _EPS) + _EPS)
        out[:, self.softmax_index] = self.segment_log_softmax(logits / tau).exp()
        return out

    def condition_loss(self, raw: torch.Tensor, condition_entry: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of the generated span against the category each row was conditioned on.

        Parameters
        ----------
        raw : Tensor (batch, dim)
            Generator output before activation.
        condition_entry : LongTensor (batch,)
            Index into the conditional vector of the category each row was asked for.
        """
        log_prob = self.segment_log_softmax(raw[:, self.softmax_index])
        picked = log_prob.gather(1, self.condition_position[condition_entry].unsqueeze(1))
        return -picked.mean()

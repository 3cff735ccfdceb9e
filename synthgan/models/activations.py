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
        # or more slots grouped by width (spans of one width side by side); and where each one-hot
        # span's slots lie among those scores after the values (a one-slot span has none: width 0)
        self.n_onehot = len(layout.onehot_spans)
        self.score_start = np.zeros(self.n_onehot, dtype=np.int64)
        self.score_width = np.zeros(self.n_onehot, dtype=np.int64)
        order, self.width_groups, first = [layout.tanh_index], [], 0
        for width, members, columns in layout.onehot_groups:
            order.append(columns)
            self.width_groups.append((first, width, torch.as_tensor(members, device=device)))
            self.score_start[members] = first + width * np.arange(len(members))
            self.score_width[members] = width
            first += width * len(members)
        self.n_values = len(layout.tanh_index)
        self.n_scores = first  # decode-order columns after the values
        self.decode_order = torch.as_tensor(np.concatenate(order).astype(np.int64), device=device)
        # the one-hot span of each conditional-vector entry (its position among layout.onehot_spans)
        spans = layout.condition_spans
        entry_span = np.repeat([layout.slot_column[s.start] for s in spans], [s.width for s in spans]).astype(np.int64)
        entry_width = self.score_width[entry_span]
        self._entry_start = torch.as_tensor(self.score_start[entry_span], device=device)
        self._entry_width = torch.as_tensor(entry_width, device=device)
        self._widest_condition = int(entry_width.max()) if len(entry_span) else 0
        self._condition_spans = [(layout.slot_column[s.start], s.role) for s in spans]
        self.logit_offsets: torch.Tensor | None = None  # set by discrete calibration, see fit_logit_offsets

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

    def conditioned_scores(self, condition: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The decode-order score columns (after the values) of the span each row is conditioned
        on: ``(columns, valid)``, both ``(n, widest)``; ``valid`` is False on padding and on rows
        without a condition (an all-zero conditional vector)."""
        n, widest = len(condition), self._widest_condition
        if not condition.shape[1] or not widest:
            return (torch.zeros((n, 0), dtype=torch.int64, device=condition.device),
                    torch.zeros((n, 0), dtype=torch.bool, device=condition.device))
        return self._entry_scores(condition.argmax(dim=1), condition.amax(dim=1) > 0)

    def _entry_scores(self, entry: torch.Tensor, present: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`conditioned_scores` of rows conditioned on conditional-vector entries ``entry``
        (where ``present``; the other rows have no condition)."""
        step = torch.arange(self._widest_condition, device=entry.device)
        valid = (step < self._entry_width[entry][:, None]) & present[:, None]
        columns = torch.where(valid, self._entry_start[entry][:, None] + step, 0)
        return columns, valid

    def offset_mask(self, condition: torch.Tensor) -> torch.Tensor:
        """Float ``(n, scores)``: 1 where the logit offsets apply to a row whose condition was asked
        for (``sample(conditions=...)``), 0 on the span it is conditioned on (the row keeps what it
        asked for)."""
        return self._outside(*self.conditioned_scores(condition))

    def _outside(self, columns: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Float ``(n, scores)``: 0 on each row's valid ``columns``, 1 elsewhere."""
        held = torch.zeros((len(columns), self.n_scores), device=columns.device)
        return (held.scatter_add_(1, columns, valid.float()) == 0).float()

    def slot_frequency(self, counts: list[np.ndarray], standard_errors: float = 2.0,
                       count_noise: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
        """Targets of :meth:`fit_logit_offsets` from the training count of every slot of each
        condition span (``layout.condition_spans`` order): ``(frequency, tolerance)`` in decode
        order, each category and missing-indicator span's shares and ``standard_errors`` times
        their standard error as estimates from the span's rows (``sqrt(p (1 - p) / n)``); NaN
        elsewhere (numeric modes, whose values the marginal calibration maps, and spans that are
        not conditions). Counts released with Gaussian noise of standard deviation
        ``count_noise`` (a private fit's) add that noise's error of a share, ``count_noise / n``,
        in quadrature."""
        frequency = np.full(self.n_scores, np.nan, dtype=np.float64)
        tolerance = np.full_like(frequency, np.nan)
        for (position, role), count in zip(self._condition_spans, counts):
            width = self.score_width[position]
            total = float(np.sum(count))
            if role in ("category", "missing") and width and total > 0:
                share = np.asarray(count, dtype=np.float64) / total
                start = self.score_start[position]
                frequency[start:start + width] = share
                tolerance[start:start + width] = standard_errors * np.sqrt(share * (1 - share) / total
                                                                           + (count_noise / total) ** 2)
        device = self.decode_order.device
        return (torch.as_tensor(frequency, dtype=torch.float32, device=device),
                torch.as_tensor(tolerance, dtype=torch.float32, device=device))

    def fit_logit_offsets(self, scores: torch.Tensor, frequency: torch.Tensor,
                          tolerance: torch.Tensor | None = None, rounds: int = 50, bound: float = 8.0) -> None:
        """Discrete calibration: per-slot offsets to the generator's logits, so that the slots
        drawn from its softmax occur with ``frequency`` (within ``tolerance``).

        Parameters
        ----------
        scores : Tensor (n, scores)
            Generator logits in decode order after the values (``raw[:, decode_order][:, n_values:]``)
            for rows drawn as sampling draws them (conditional vectors from the training shares).
        frequency : Tensor (scores,)
            Target share of every slot among its span's draws; NaN on spans not calibrated.
        tolerance : Tensor (scores,) or None
            How far a generated share may lie from ``frequency`` and be left alone (a share
            outside is moved to the nearer edge); None: matched exactly. With the training
            shares' standard errors (:meth:`slot_frequency`) the generator is corrected where it
            differs from the training table by more than the table's own sampling noise, and not
            fitted to that noise.
        rounds, bound : int, float
            At most this many fixed-point rounds (fewer once no offset moves by 0.001), each adding
            ``log(goal) - log(mean generated probability)`` to every slot's offset (iterative
            proportional fitting of the mean softmax; a span the generator draws in one shape for
            every row is matched in one round), centred within the span, and the largest offset in
            absolute value (a safety bound: e^8, about 3,000 times more or less often; a share the
            generator cannot reach with the offsets, as when it does not follow its conditions,
            stops there).

        The offsets apply to every span of a row, the one it is conditioned on included: when
        sampling draws a row's conditional vector itself (from the training shares) the vector is
        only the generator's input, and a generator that does not follow it (a short fit, as under a
        privacy budget) would otherwise draw its own shares on that span, out of the offsets' reach
        (one such fit drew a missing indicator for 12% of rows against a share of 0.3%). Only a
        condition the user asked for is spared (:meth:`offset_mask`).
        """
        self.logit_offsets = None
        if not self.width_groups:  # no span of two or more slots: nothing is drawn
            return
        scores = scores.float()
        use = ~torch.isnan(frequency)
        target = torch.where(use, frequency, 1.0)
        band = torch.zeros_like(target) if tolerance is None else torch.where(use, tolerance, 0.0)
        offsets = torch.zeros_like(frequency)
        for _ in range(rounds):
            previous = offsets.clone()
            shifted = scores + offsets
            for first, width, members in self.width_groups:  # a handful of widths, not one per column
                cols = slice(first, first + width * len(members))
                shape = (len(members), width)
                share = torch.softmax(shifted[:, cols].unflatten(1, shape), dim=-1).mean(dim=0)
                goal = torch.minimum(torch.maximum(share, (target[cols] - band[cols]).view(shape)),
                                     (target[cols] + band[cols]).view(shape))
                step = offsets[cols].view(shape) + goal.clamp_min(1e-6).log() - share.clamp_min(1e-12).log()
                step = step - step.mean(dim=1, keepdim=True)  # only differences within a span matter
                offsets[cols] = step.clamp(-bound, bound).flatten()
            offsets = torch.where(use, offsets, 0.0)
            if float((offsets - previous).abs().max()) < 1e-3:  # converged (or every share in its band)
                break
        self.logit_offsets = offsets if bool(offsets.any()) else None  # None: every share within its band

    def add_logit_offsets(self, raw: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """``raw`` (decode order, as :meth:`for_decoding` reads it) with :attr:`logit_offsets` added
        to its scores in place, except on the span each row is conditioned on when ``condition``
        (the rows' conditional vectors, asked for by the user) is given; None: on every span (also
        for rows whose conditional vectors sampling drew); unchanged when not calibrated."""
        scores = raw[:, self.n_values:]
        if scores.shape[1] and self.logit_offsets is not None:
            offsets = self.logit_offsets.to(scores.dtype)
            scores.add_(offsets if condition is None else offsets * self.offset_mask(condition).to(scores.dtype))
        return raw

    def offset_table(self, asked: bool) -> torch.Tensor | None:
        """:meth:`add_logit_offsets` as a table to add to the generator's output bias: row ``e``
        (of ``condition_dim + 1``, each ``n_values + n_scores`` in decode order) holds what is added
        to a row conditioned on entry ``e``, the last row what is added to a row without a
        condition (``Generator.infer``'s ``hot`` picks the row); None when not calibrated. With
        ``asked`` (the rows' conditions were asked for) each entry's row leaves out the span it
        conditions on, as ``add_logit_offsets(raw, condition)`` does; else every row holds all
        the offsets, as ``add_logit_offsets(raw)`` adds them."""
        if self.logit_offsets is None:
            return None
        device = self.logit_offsets.device
        entries = len(self._entry_start)
        table = torch.zeros((entries + 1, self.n_values + self.n_scores), device=device)
        table[:, self.n_values:] = self.logit_offsets
        if asked and entries and self._widest_condition:
            every = self._entry_scores(torch.arange(entries, device=device),
                                       torch.ones(entries, dtype=torch.bool, device=device))
            table[:entries, self.n_values:] *= self._outside(*every)  # not on the span each entry conditions on
        return table

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

        :attr:`logit_offsets` (discrete calibration) are not added here: ``raw`` holds them already
        (:meth:`add_logit_offsets`, or :meth:`offset_table` folded into the generator's output bias).
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

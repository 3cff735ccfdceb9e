"""Vectorized span activation, conditional loss and training-by-sampling draws."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from synthgan.conditional import ConditionSampler
from synthgan.layout import Span, TableLayout
from synthgan.models.activations import SpanActivation

LAYOUT = TableLayout((
    Span("x", "value", "tanh", 0, 1),
    Span("x", "mode", "softmax", 1, 4),
    Span("c", "category", "softmax", 4, 6),
    Span("d", "category", "softmax", 6, 10),
))


def test_layout_derived_indices():
    assert LAYOUT.dim == 10
    assert LAYOUT.tanh_index.tolist() == [0]
    assert LAYOUT.column_span.tolist() == [0, 1, 1, 1, 2, 2, 3, 3, 3, 3]
    assert LAYOUT.condition_index.tolist() == list(range(4, 10))
    assert LAYOUT.condition_dim == 6
    with pytest.raises(ValueError):
        TableLayout((Span("x", "value", "tanh", 0, 1), Span("y", "value", "tanh", 2, 3)))


def test_activation_matches_per_span_reference():
    act = SpanActivation(LAYOUT, torch.device("cpu"))
    raw = torch.randn(5, 10, generator=torch.Generator().manual_seed(0))
    out = act(raw, tau=0.5, generator=None)
    assert torch.allclose(out[:, 0], torch.tanh(raw[:, 0]))
    for start, stop in [(1, 4), (4, 6), (6, 10)]:
        assert torch.allclose(out[:, start:stop], torch.softmax(raw[:, start:stop] / 0.5, dim=1), atol=1e-6)


def test_gumbel_noise_is_seeded_by_the_generator():
    act = SpanActivation(LAYOUT, torch.device("cpu"))
    raw = torch.zeros(4, 10)
    a = act(raw, 0.2, torch.Generator().manual_seed(1))
    b = act(raw, 0.2, torch.Generator().manual_seed(1))
    c = act(raw, 0.2, torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_decoding_rows_draw_each_span_from_its_softmax():
    """Sampling skips the softmax (Gumbel-max): in every one-hot span the slots drawn follow the
    span's softmax, spans of one width are read together and kept apart, a one-slot span draws
    slot 0, and the scalars are the tanh of their columns."""
    layout = TableLayout((
        Span("x", "value", "tanh", 0, 1),
        Span("x", "mode", "softmax", 1, 4),
        Span("y", "value", "tanh", 4, 5),
        Span("y", "mode", "softmax", 5, 6),
        Span("c", "category", "softmax", 6, 9),
        Span("d", "category", "softmax", 9, 11),
    ))
    act = SpanActivation(layout, torch.device("cpu"))
    logits = torch.tensor([0.3, 2.0, 0.0, -1.0, -0.7, 5.0, -1.0, 0.5, 1.5, 1.0, -1.0])
    n = 20_000
    raw = logits.repeat(n, 1) + torch.zeros(n, 11)
    raw[:, 0] = torch.linspace(-3, 3, n)
    values, slots = act.for_decoding(raw[:, act.decode_order].clone(), torch.Generator().manual_seed(7))
    assert torch.allclose(values, torch.tanh(raw[:, [0, 4]]))
    assert slots.shape == (n, 4) and torch.equal(slots[:, 1], torch.zeros(n, dtype=torch.int64))
    for k, (start, stop) in enumerate([(1, 4), (5, 6), (6, 9), (9, 11)]):
        share = torch.bincount(slots[:, k], minlength=stop - start).double() / n
        assert torch.allclose(share, torch.softmax(logits[start:stop].double(), 0), atol=0.015), k
    again = act.for_decoding(raw[:, act.decode_order].clone(), torch.Generator().manual_seed(7))[1]
    assert torch.equal(again, slots)


def test_condition_loss_is_cross_entropy_of_the_requested_span():
    act = SpanActivation(LAYOUT, torch.device("cpu"))
    raw = torch.randn(3, 10, generator=torch.Generator().manual_seed(0))
    entry = torch.tensor([1, 2, 5])  # c=second level; d=first; d=fourth
    condition = torch.nn.functional.one_hot(entry, LAYOUT.condition_dim).float()
    expected = torch.stack([
        torch.nn.functional.cross_entropy(raw[0:1, 4:6], torch.tensor([1])),
        torch.nn.functional.cross_entropy(raw[1:2, 6:10], torch.tensor([0])),
        torch.nn.functional.cross_entropy(raw[2:3, 6:10], torch.tensor([3])),
    ]).mean()
    assert torch.allclose(act.condition_loss(raw, condition), expected, atol=1e-6)


def test_training_draw_uses_log_frequency_and_returns_matching_rows():
    rng = np.random.default_rng(0)
    codes = np.stack([rng.choice(2, 5000, p=[0.9, 0.1]), rng.choice(4, 5000, p=[0.7, 0.1, 0.1, 0.1])], axis=1)
    counts = [np.bincount(codes[:, k], minlength=w) for k, w in enumerate([2, 4])]
    sampler = ConditionSampler(counts, codes, log_frequency=True)
    span, category = sampler.draw_training(40_000, rng)
    first = category[span == 0]
    expected = np.log1p(counts[0][1]) / np.log1p(counts[0]).sum()
    assert abs(first.mean() - expected) < 0.02  # log-frequency lifts the rare level well above 0.1
    rows = sampler.rows_for(span, category, rng)
    assert (codes[rows, span] == category).all()
    entry = sampler.entry(span, category)
    vectors = sampler.vectors(entry[:10])
    assert vectors.shape == (10, 6) and (vectors.sum(axis=1) == 1).all()
    assert (vectors.argmax(axis=1) == entry[:10]).all()


def test_empirical_draw_follows_real_frequency():
    counts = [np.array([900, 100])]
    sampler = ConditionSampler(counts)
    _, category = sampler.draw_empirical(50_000, np.random.default_rng(0))
    assert abs(category.mean() - 0.1) < 0.01


def test_condition_text_is_parsed_to_the_column_type():
    from synthgan.errors import ConditionError
    from synthgan.transform.conditions import check_conditions, parse_condition
    from synthgan.transform.transformer import DataTransformer
    from tests.conftest import make_mixed

    transformer = DataTransformer().fit(make_mixed(), np.random.default_rng(0))
    assert parse_condition("count=3", transformer) == ("count", 3)
    assert parse_condition("flag=TRUE", transformer) == ("flag", True)
    assert parse_condition("city=NA", transformer) == ("city", None)
    assert parse_condition("when=2024-02-01", transformer) == ("when", pd.Timestamp("2024-02-01"))
    column, value = parse_condition("amount=12.5", transformer)
    assert column == "amount" and value == 12.5 and isinstance(value, float)
    check_conditions(dict([parse_condition("group=b", transformer)]), transformer)
    with pytest.raises(ConditionError, match="does not fit column 'flag'"):
        parse_condition("flag=maybe", transformer)
    with pytest.raises(ConditionError, match="lies outside the training range"):
        check_conditions({"count": 10_000}, transformer)

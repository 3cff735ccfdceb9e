"""Richer conditions: ranges, value lists, CLI operators, a budgeted rejection sampler."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from synthgan import ConditionError, SynthGAN
from synthgan.cli import main
from synthgan.transform.conditions import Range, parse_conditions
from tests.conftest import make_mixed

FAST = dict(epochs=3, batch_size=60, pac=4, embedding_dim=16, generator_dim=(32,), discriminator_dim=(32,),
            verbose=False, random_state=0)


@pytest.fixture(scope="module")
def fitted():
    return SynthGAN(**FAST).fit(make_mixed(400))


def test_ranges_lists_and_dates(fitted):
    out = fitted.sample(60, conditions={"count": (3, 5), "group": ["a", "c"]})
    assert len(out) == 60 and out["count"].between(3, 5).all() and out["group"].isin(["a", "c"]).all()
    amounts = fitted.sample(30, conditions={"amount": (20.0, None)})["amount"]
    assert (amounts >= 20.0).all()
    when = fitted.sample(20, conditions={"when": (pd.Timestamp("2024-03-01"), pd.Timestamp("2024-06-30"))})["when"]
    assert when.between(pd.Timestamp("2024-03-01"), pd.Timestamp("2024-06-30")).all()
    opened = fitted.sample(20, conditions={"count": Range(3, 5, low_open=True, high_open=True)})["count"]
    assert (opened == 4).all()


def test_bad_ranges_and_lists_are_clear(fitted):
    with pytest.raises(ConditionError, match="'group' is categorical: a range needs a number or date column"):
        fitted.sample(5, conditions={"group": ("a", "c")})
    with pytest.raises(ConditionError, match="never occurs in column 'group'"):
        fitted.sample(5, conditions={"group": ["a", "zzz"]})
    with pytest.raises(ConditionError, match="a range is a pair"):
        fitted.sample(5, conditions={"count": (1, 2, 3)})


def test_cli_operators_become_ranges_and_lists(fitted):
    parsed = parse_conditions(["count>=3", "count<6", "group=a", "group=c", "flag=true"], fitted.transformer_)
    assert parsed == {"count": Range(3, 6, False, True), "group": ["a", "c"], "flag": True}
    with pytest.raises(ConditionError, match="both a range and an exact value"):
        parse_conditions(["count=3", "count>=2"], fitted.transformer_)


def test_cli_sample_with_operators(fitted, tmp_path):
    path = tmp_path / "m.synthgan"
    fitted.save(path)
    out = tmp_path / "o.csv"
    result = CliRunner().invoke(main, ["sample", str(path), "--rows", "40", "-o", str(out), "-c", "count>=4",
                                       "-c", "count<=6", "-c", "group=b", "-c", "group=c", "--quiet"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    written = pd.read_csv(out)
    assert len(written) == 40 and written["count"].between(4, 6).all() and written["group"].isin(["b", "c"]).all()


def test_rejection_budget_returns_what_it_found_or_raises_when_strict(fitted):
    rare = {"amount": (float(np.nanquantile(make_mixed(400)["amount"], 0.999)), None)}
    with pytest.warns(UserWarning, match=r"only \d+ of 5000 rows met the conditions .* returning the \d+ rows found"):
        found = fitted.sample(5000, conditions=rare, max_rounds=1)
    assert 0 < len(found) < 5000
    with pytest.raises(ConditionError, match=r"only \d+ of 5000 rows met the conditions"):
        fitted.sample(5000, conditions=rare, max_rounds=1, strict=True)


def test_sample_remaining_columns_fills_in_the_rest(fitted):
    known = pd.DataFrame({"group": ["a", "c", "a", "b", "c"] * 6, "flag": [True, False, False, True, True] * 6})
    out = fitted.sample_remaining_columns(known)
    assert len(out) == 30 and list(out.columns) == list(make_mixed().columns)
    pd.testing.assert_frame_equal(out[["group", "flag"]], known)
    assert out.dtypes.to_dict() == make_mixed().dtypes.to_dict()
    with pytest.raises(ConditionError, match="'amount' is continuous"):
        fitted.sample_remaining_columns(pd.DataFrame({"amount": [12.5]}))
    with pytest.raises(ConditionError, match="not training columns"):
        fitted.sample_remaining_columns(pd.DataFrame({"nope": [1]}))
    with pytest.raises(ConditionError, match="conditions must be a dict"):
        fitted.sample(5, conditions=known)


def test_an_exact_value_off_a_columns_grid_is_refused():
    frame = pd.DataFrame({"length": np.round(np.random.default_rng(0).integers(60, 140, 300) * 0.005, 3),
                          "group": np.random.default_rng(1).choice(["a", "b"], 300)})
    model = SynthGAN(**FAST).fit(frame)
    assert model.transformer_.specs_[0].step == 0.005
    with pytest.raises(ConditionError, match="not on column 'length''s grid .*steps of 0.005"):
        model.sample(5, conditions={"length": 0.4512})
    assert (model.sample(5, conditions={"length": (0.45, 0.5)})["length"].between(0.45, 0.5)).all()

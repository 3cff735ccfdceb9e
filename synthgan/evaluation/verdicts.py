"""What the scores mean: each metric's direction and one plain sentence, references computed in the
same call, and a pass / warn / fail verdict per section with the rule that decided it.

The rules are stated in :data:`RULES` and printed in every report, so a reader can check them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

PASS, WARN, FAIL = "pass", "warn", "fail"
_ORDER = {PASS: 0, WARN: 1, FAIL: 2}


@dataclass(frozen=True)
class Metric:
    """How to read one metric."""

    direction: str  # "higher", "lower" or "closer to 0.5"
    meaning: str


# keys are the metric names of EvaluationResult.to_frame() ("section", "metric"); the first match
# of a prefix wins, so specific names come before general ones
METRICS: dict[tuple[str, str], Metric] = {
    ("fidelity", "overall"): Metric("higher", "synthgan's quality: the mean of column-shape and pair-trend "
                                    "similarity; 1 means the same distributions and pairwise relations."),
    ("fidelity", "column_shapes"): Metric("higher", "How closely each column's distribution matches "
                                          "(1 - KS statistic for numbers, 1 - total variation for categories)."),
    ("fidelity", "pair_trends"): Metric("higher", "How closely relations between two columns match "
                                        "(correlations for number pairs, binned joint frequencies otherwise)."),
    ("fidelity", "detection_auc"): Metric("lower", "How well a classifier tells synthetic rows from real ones: "
                                          "0.5 means it cannot, 1.0 means it always can."),
    ("fidelity", "detection_score"): Metric("higher", "2 x (1 - detection AUC), capped at 1."),
    ("fidelity", "sdmetrics_quality"): Metric("higher", "sdmetrics' QualityReport score, to compare with numbers "
                                              "SDV reports; it bins and averages differently from synthgan's "
                                              "quality, so the two differ by a few points."),
    ("utility", "tstr.real"): Metric("higher", "TRTR: a model trained on the real training rows, tested on real "
                                     "held-out rows (the reference)."),
    ("utility", "tstr.synthetic"): Metric("higher", "TSTR: the same model trained on the synthetic rows, tested "
                                          "on the same real rows."),
    ("utility", "tstr.ratio"): Metric("higher", "TSTR / TRTR: 1 means synthetic rows train as good a model as "
                                      "the real ones."),
    ("utility", "augmentation.gain"): Metric("higher", "Macro-F1 gained by adding synthetic minority rows to a "
                                             "small real set (vs the real set alone or SMOTE)."),
    ("utility", "augmentation"): Metric("higher", "Macro-F1 or minority-class F1 of a model trained on a small "
                                        "real set, alone, with synthetic rows, or with SMOTE."),
    ("privacy", "exact_copy_rate"): Metric("lower", "Share of synthetic rows identical to a training row."),
    ("privacy", "dcr_synthetic"): Metric("higher", "Distance from synthetic rows to the closest training row; "
                                         "smaller than the holdout's means rows sit too close to real people."),
    ("privacy", "dcr_holdout"): Metric("higher", "The same distance for real rows the model never saw (the "
                                       "reference for DCR)."),
    ("privacy", "nndr"): Metric("higher", "Nearest / second-nearest training-row distance; near 0 means a "
                                "synthetic row is much closer to one real row than to any other."),
    ("privacy", "mia_auc"): Metric("closer to 0.5", "A distance-based membership attack telling training rows "
                                   "from holdout rows: 0.5 means it learns nothing about who was trained on."),
}

RULES = [
    "Fidelity, the worst of three: column shapes at most 0.03 below the holdout's own score against the "
    "training rows (1.0 without a holdout) pass, more than 0.08 below fail; pair trends placed between the "
    "independent-columns baseline (0%) and the holdout (100%) pass from 80% and fail at 25% or less (when "
    "the two references are within 0.01, within 0.01 of the holdout passes); detection AUC at most 0.75 "
    "passes, 0.95 or more fails. Everything in between warns.",
    "Utility: TSTR's lift over chance relative to TRTR's (ROC-AUC minus 0.5 for classes, R-squared for "
    "numbers). Pass at 0.9 or more, warn from 0.7, fail below.",
    "Privacy: exact copies at most the holdout's own rate + 0.5 points, median DCR at least 90% of the "
    "holdout's, membership-inference AUC at most 0.55. Fail with more than twice the holdout's copies + 1 "
    "point, DCR under half the holdout's, or MIA AUC above 0.6; warn otherwise. Without a holdout only the "
    "copy rate can be judged (fail above 5%).",
]


def describe(section: str, metric: str) -> Metric | None:
    """How to read ``metric`` of ``section``, if known."""
    if metric.endswith("train_rows"):
        return Metric("", "Rows in that training set (context, not a score).")
    for (known_section, prefix), info in METRICS.items():
        if known_section == section and metric.startswith(prefix):
            return info
    return None


def _worst(verdicts: list[str]) -> str:
    return max(verdicts, key=_ORDER.__getitem__) if verdicts else WARN


def fidelity_verdict(scores: dict, references: dict) -> dict:
    """Column shapes against the holdout's, pair trends between the independent-columns baseline and
    the holdout, and the detection AUC (see :data:`RULES`)."""
    ceiling = references.get("holdout", {"column_shapes": 1.0, "pair_trends": 1.0})
    where = "the real holdout" if "holdout" in references else "a perfect copy"
    floor = references["independent"]
    parts, reasons = [], []
    gap = ceiling["column_shapes"] - scores["column_shapes"]
    parts.append(PASS if gap <= 0.03 else WARN if gap <= 0.08 else FAIL)
    reasons.append(f"column shapes {scores['column_shapes']:.3f} against {ceiling['column_shapes']:.3f} for {where}")
    pairs, low, high = scores["pair_trends"], floor["pair_trends"], ceiling["pair_trends"]
    if not math.isnan(pairs):
        if high - low > 0.01:
            position = (pairs - low) / (high - low)
            parts.append(PASS if position >= 0.8 else FAIL if position <= 0.25 else WARN)
            if position < 0:
                reasons.append(f"pair trends {pairs:.3f}, below independent columns ({low:.3f}): relations between "
                               f"columns are worse than having none ({where}: {high:.3f})")
            else:
                reasons.append(f"pair trends {pairs:.3f}: {100 * min(position, 1.0):.0f}% of the way from "
                               f"independent columns ({low:.3f}) to {where} ({high:.3f})")
        else:  # the columns are nearly independent: pairs cannot tell models apart
            parts.append(PASS if pairs >= high - 0.01 else WARN)
            reasons.append(f"pair trends {pairs:.3f} against {high:.3f} for {where}; independent columns score "
                           f"{low:.3f}, so this table's columns barely relate and pairs say little")
    auc = scores.get("detection_auc")
    if auc is not None:
        parts.append(PASS if auc <= 0.75 else FAIL if auc >= 0.95 else WARN)
        reasons.append(f"a classifier tells synthetic from real rows with AUC {auc:.3f}"
                       + (f" (independent columns: {floor['detection_auc']:.3f})" if "detection_auc" in floor else ""))
    return {"verdict": _worst(parts), "reasons": reasons}


def _lift(task: str, tstr: dict, trtr: dict) -> tuple[str, float] | None:
    if task == "classification" and "roc_auc" in tstr and "roc_auc" in trtr:
        return "ROC-AUC", (tstr["roc_auc"] - 0.5) / max(trtr["roc_auc"] - 0.5, 1e-9)
    if task == "regression" and "r2" in tstr and "r2" in trtr and trtr["r2"] > 0:
        return "R-squared", tstr["r2"] / trtr["r2"]
    return None


def utility_verdict(utility: dict) -> dict:
    tstr = utility["tstr"]
    real, synthetic = tstr.get("real", {}), tstr.get("synthetic", {})
    if "error" in real or "error" in synthetic:
        return {"verdict": WARN, "reasons": [real.get("error") or synthetic.get("error")]}
    lift = _lift(tstr["task"], synthetic, real)
    if lift is None:
        return {"verdict": WARN, "reasons": ["TSTR and TRTR cannot be compared for this target"]}
    name, relative = lift
    verdict = PASS if relative >= 0.9 else WARN if relative >= 0.7 else FAIL
    key = "roc_auc" if name == "ROC-AUC" else "r2"
    return {"verdict": verdict, "reasons": [f"trained on synthetic rows the model reaches {name} "
                                            f"{synthetic[key]:.3f} against {real[key]:.3f} when trained on real "
                                            f"rows ({100 * relative:.0f}% of the real rows' lift)"]}


def privacy_verdict(privacy: dict, references: dict) -> dict:
    copies = privacy["exact_copy_rate"]
    if "holdout" not in references or "dcr_holdout_median" not in privacy:
        verdict = FAIL if copies > 0.05 else WARN
        return {"verdict": verdict, "reasons": [f"{100 * copies:.1f}% of synthetic rows copy a training row",
                                                "no holdout given: distances and the membership attack have "
                                                "no reference, so privacy is not judged beyond copies"]}
    held_copies = references["holdout"]["exact_copy_rate"]
    dcr, held_dcr = privacy["dcr_synthetic_median"], privacy["dcr_holdout_median"]
    mia = privacy.get("mia_auc", float("nan"))
    parts = [
        PASS if copies <= held_copies + 0.005 else FAIL if copies > 2 * held_copies + 0.01 else WARN,
        PASS if dcr >= 0.9 * held_dcr else FAIL if dcr < 0.5 * held_dcr else WARN,
        WARN if math.isnan(mia) else PASS if mia <= 0.55 else WARN if mia <= 0.6 else FAIL,
    ]
    reasons = [f"{100 * copies:.1f}% of synthetic rows copy a training row (real holdout rows: "
               f"{100 * held_copies:.1f}%)",
               f"median distance to the closest training row {dcr:.3f} (holdout rows: {held_dcr:.3f})",
               f"membership-inference AUC {mia:.3f} (0.5 = the attack learns nothing)"]
    return {"verdict": _worst(parts), "reasons": reasons}

"""Differential privacy: private transformer statistics and DP-SGD training of the critic.

See :mod:`synthgan.privacy.statistics` (what is released about the columns, and what is treated as
public), :mod:`synthgan.privacy.moments` (the release of the rows' second moments) and
:mod:`synthgan.privacy.accounting` (the budget split, opacus' DP-SGD and accountant).
"""

from synthgan.privacy.accounting import DPStrategy, PrivacyBudget, default_delta, training_epsilon
from synthgan.privacy.statistics import Release, release_statistics

__all__ = ["DPStrategy", "PrivacyBudget", "Release", "default_delta", "release_statistics", "training_epsilon"]

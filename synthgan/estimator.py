"""``SynthGAN``: the scikit-learn style façade over transformer, model, trainer and sampler."""

from __future__ import annotations

import functools
import inspect
import logging
import math
import os
import secrets
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from numbers import Integral
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator

from synthgan import params as P
from synthgan import persistence
from synthgan.conditional import ConditionSampler
from synthgan.constraints import Constraint, Constraints, FixedCombinations
from synthgan import distributed as D
from synthgan.errors import ConditionError, DataError, ModelFileError, NotFittedError, SynthGANError
from synthgan.metadata import Metadata, as_metadata, with_text_dates
from synthgan.models.base import TabularModel, build_model, model_class, model_names
from synthgan.models.gan import OFFSETS_KEY
from synthgan.models.moments import moment_sum
from synthgan.privacy.accounting import DPStrategy, PrivacyBudget, default_delta, release_noise
from synthgan.privacy.moments import release_moments
from synthgan.privacy.statistics import conform, private_condition_counts, release_statistics
from synthgan.streams import RandomStreams, root_entropy
from synthgan.training import (BatchSampler, Callback, ProgressBar, TimeBudget, Trainer, TrainingPlan,
                               ValidationScore, WeightAverage, read_checkpoint)
from synthgan.training.batches import PoissonBatchSampler
from synthgan.training.strategy import Strategy
from synthgan.transform import conditions as cond
from synthgan.transform.columns import column_kind, continuous_values, identifier_kind
from synthgan.transform.encoded import EncodedRows, slot_dtype
from synthgan.transform.modes import merge_widening
from synthgan.transform.rare import protect_rare_levels
from synthgan.transform.transformer import DataTransformer

logger = logging.getLogger(__name__)

_MAX_REJECTION_ROUNDS = 50
_SAMPLE_CHUNK_ROWS = 50_000
_VALIDATION_ROWS = 5_000  # generated rows per validation score
_HISTORY_LEAD = ("epoch", "generator_loss", "critic_loss", "seconds")
# what a run must share with a checkpoint to resume from it (the model's own parameters are added)
_RESUME_PARAMS = ("model", "batch_size", "log_frequency", "max_modes", "mode_separation", "bounded_mode_merging",
                  "max_categories",
                  "gmm_max_rows", "numeric_encoding", "marginal_calibration", "dependence_calibration",
                  "condition_on_modes",
                  "validation_size", "epsilon", "delta", "max_grad_norm", "noise_multiplier", "statistics_share",
                  "weight_average")
# parameters added after model files or checkpoints were first written, with the value every run from
# before them had (which may differ from today's default): a file or checkpoint without the key ran so
_INTRODUCED = {"generator_steps": 1, "discriminator_dropout": 0.5, "condition_on_modes": False,
               "critic_whitening": False,
               "mode_separation": None, "discrete_calibration": False, "dependence_calibration": False,
               "moment_weight": 0.0, "bounded_mode_merging": False}
# parameters private training fixes (per-row clipping needs one row per critic input and no penalty)
_PRIVATE_OVERRIDES = {"pac": 1, "loss": "bce"}
# With target and epsilon: the share of DP-SGD's epsilon that sets the target predictor's noise (the
# critic's sets the rest). A quarter: the predictor is one small classifier, the critic has the
# whole joint distribution to learn. Chosen before any measurement, not tuned.
PRIVATE_TARGET_SHARE = 0.25
# With epsilon and moment_weight > 0: the share of the training budget (in zero-concentrated terms, which
# add up under composition) that sets the noise of the one-query release of the rows' second moments
# (the critic, and a target predictor, take theirs from the rest; the accountant composes all). A
# tenth: the critic's noise multiplier then rose by about 2% (1.87 -> 1.92 on a 2,000-row demo fit at
# epsilon = 3). Chosen before any measurement, not tuned.
PRIVATE_MOMENT_SHARE = 0.1
# parameters whose default is "auto": (value without privacy, value with epsilon). Under DP-SGD the
# noise is added to the whole critic's clipped gradient, so a narrower critic gets more signal per
# unit of noise, and more steps cost little extra noise (benchmarks/README.md, "Differential privacy")
_AUTO = {"epochs": (300, 20), "discriminator_dim": ((256, 256), (64, 64)),
         "generator_lr": (2e-4, 1e-3), "discriminator_lr": (2e-4, 1e-3), "mode_separation": (2.0, 2.0),
         "marginal_calibration": (True, False), "moment_weight": (0.0, 4.0), "bounded_mode_merging": (False, True)}
# With epsilon and epochs="auto": the fewest critic batches a private fit takes (20 epochs of a table of
# 36,000 rows at batch 500, bank marketing's default; not tuned on the small tables it lengthens)
MIN_PRIVATE_STEPS = 1440
# parameters that are not written to model files (objects, or only about how a fit runs)
_NOT_SAVED = ("random_state", "callbacks", "constraints", "metadata")  # the last two: saved fitted, apart


def _calibration_rows(n_train: int) -> int:
    """Generated rows that estimate the generator's marginals for calibration (as many as the
    training rows, within 20,000 and 100,000)."""
    return int(min(max(n_train, 20_000), 100_000))


def _discrete_calibration_rows(n_train: int) -> int:
    """Generated rows that fit the discrete calibration's offsets: ten per training row, within
    2,000 and 20,000 (the shares they estimate then vary far less than the band of two standard
    errors of the training shares that the calibration leaves alone)."""
    return int(min(max(10 * n_train, 2_000), 20_000))


def available_memory() -> int | None:
    """Bytes of physical memory available now (None where the system does not say)."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _is_seed(value: object) -> bool:
    return value is None or isinstance(value, np.random.Generator) or (
        isinstance(value, Integral) and not isinstance(value, bool) and value >= 0)


def _are_constraints(value: object) -> bool:
    return value is None or (isinstance(value, (list, tuple)) and all(isinstance(c, (Constraint, Mapping))
                                                                       for c in value))


def _are_callbacks(value: object) -> bool:
    return value is None or (isinstance(value, (list, tuple)) and all(isinstance(c, Callback) for c in value))


class _Generation:
    """Decoded synthetic rows from a model: conditional vectors, generator, inverse transform."""

    def __init__(self, model: TabularModel, transformer: DataTransformer, counts: Sequence[np.ndarray],
                 device: torch.device, constraints: Constraints | None = None, metadata: Metadata | None = None):
        self.model = model
        self.transformer = transformer
        self.sampler = ConditionSampler(list(counts))
        self.device = device
        self.constraints = constraints
        self.metadata = metadata

    def rows(self, n: int, native: tuple[int, int] | None, rng: np.random.Generator) -> pd.DataFrame:
        """``n`` rows in the training columns; every row satisfies every constraint."""
        rows = self._constrained(n, native, rng)
        return self.metadata.unparse(rows) if self.metadata is not None else rows

    def _constrained(self, n: int, native: tuple[int, int] | None, rng: np.random.Generator) -> pd.DataFrame:
        if not self.constraints:
            return self._decoded(n, native, rng)
        kept, have = [], 0
        for _ in range(_MAX_REJECTION_ROUNDS):
            batch = self.constraints.reverse(self._decoded(n if not kept else max(2 * (n - have), 100), native, rng))
            if self.constraints.rejection:
                batch = batch[self.constraints.valid(batch)]
            kept.append(batch)
            have += len(batch)
            if have >= n:
                return pd.concat(kept, ignore_index=True).iloc[:n] if len(kept) > 1 else batch.reset_index(drop=True)
        broken = ", ".join(map(repr, self.constraints.rejection))
        raise DataError(f"only {have} of {n} generated rows satisfied the constraints {broken} in "
                        f"{_MAX_REJECTION_ROUNDS} rounds; the model rarely produces such rows: train longer, "
                        "or express the rule as an Inequality, Bounds or FixedCombinations (enforced exactly)")

    def _decoded(self, n: int, native: tuple[int, int] | None, rng: np.random.Generator) -> pd.DataFrame:
        return self.transformer.inverse_transform(self.encoded(n, native, rng), rng)

    def encoded(self, n: int, native: tuple[int, int] | None, rng: np.random.Generator) -> EncodedRows:
        """``n`` decode-ready generated rows (conditions drawn with the training frequencies, or
        all on the ``native`` (span, slot))."""
        condition = self._conditions(n, native, rng)
        generator = torch.Generator(device=self.device).manual_seed(int(rng.integers(2**62)))
        return self.model.generate(condition, generator, asked=native is not None)

    def calibrate_discrete(self, n_train: int, rng: np.random.Generator, count_noise: float = 0.0) -> None:
        """Fit the model's discrete calibration on generated rows (:func:`_discrete_calibration_rows`)
        whose conditions are drawn as :meth:`encoded` draws them, towards the sampler's counts
        (a private fit's: the release's noisy counts, with its noise ``count_noise``)."""
        condition = self._conditions(_discrete_calibration_rows(n_train), None, rng)
        generator = torch.Generator(device=self.device).manual_seed(int(rng.integers(2**62)))
        self.model.calibrate_discrete(condition, generator, self.sampler.counts, count_noise)

    def _conditions(self, n: int, native: tuple[int, int] | None, rng: np.random.Generator) -> torch.Tensor:
        sampler = self.sampler
        if not (self.model.conditional and sampler.n_spans):
            return torch.zeros(n, 0, device=self.device)
        if native is None:
            entry = sampler.entry(*sampler.draw_empirical(n, rng))
        else:
            entry = sampler.entry(np.full(n, native[0]), np.full(n, native[1]))
        return torch.as_tensor(sampler.vectors(entry), device=self.device)


class SynthGAN(BaseEstimator):
    """Learn a mixed-type table and sample synthetic rows from it.

    Parameters
    ----------
    model : str, default="ctgan"
        A registered model (``synthgan.models.model_names()``): ``ctgan``, the conditional generator
        with training-by-sampling and a critic of ``pac`` rows; ``wgan-gp``, an unconditional Wasserstein
        GAN with gradient penalty; ``copula``, a Gaussian copula over the columns' empirical
        distributions, fitted in one pass (a fast baseline for small or simple tables; the training
        parameters below do not apply to it).
    epochs : int or "auto", default="auto"
        Passes over the training rows (the epoch to train up to when resuming); ``"auto"`` is 300,
        or with ``epsilon`` 20 or as many as give :data:`MIN_PRIVATE_STEPS` (1,440) critic
        batches, whichever is more (the noise per step is set so that these epochs spend the
        budget). 20 epochs of a small table are a few dozen noisy steps, too few for a GAN: on
        king_county_houses, abalone and german_credit at epsilon = 3 the step floor raised
        sdmetrics quality on every seed (benchmarks/README.md, "Private epochs for small tables").
    batch_size : int, default=500
        Rows per step; rounded down to a multiple of ``pac`` and capped at the table size.
    loss : {"wgan-gp", "bce"}, default="wgan-gp"
        Adversarial loss; ``bce`` is the vanilla (non-saturating) GAN loss.
    embedding_dim : int, default=128
        Size of the generator's noise input.
    generator_dim : tuple of int, default=(256, 256)
        Hidden layer widths of the generator (residual).
    discriminator_dim : tuple of int or "auto", default="auto"
        Hidden layer widths of the critic; ``"auto"`` is (256, 256), or (64, 64) with ``epsilon``.
    generator_lr, discriminator_lr : float or "auto", default="auto"
        Adam learning rates; ``"auto"`` is 2e-4, or 1e-3 with ``epsilon``.
    weight_decay : float, default=1e-6
        Adam weight decay of both networks.
    pac : int, default=1
        Rows the critic scores together (PacGAN, Lin et al., 2018; ctgan uses 10). The default
        scores one row at a time, which with ``discriminator_dropout=0`` raised TSTR and quality on
        every dataset of its ablation (benchmarks/README.md, "Ablation: a single-row critic").
    discriminator_dropout : float, default=0.0
        Dropout probability after each hidden layer of the critic (ctgan uses 0.5; 0: none).
    critic_steps : int, default=1
        Critic updates per training step.
    generator_steps : int, default=1
        Generator updates per training step (after the critic's). With ``epsilon`` they cost no
        privacy budget: the generator sees the data only through the critic.
    critic_whitening : bool, default=True
        The critic reads the encoded numbers whitened by the training rows' covariance (every
        direction given the same spread, the total kept; no direction stretched more than 10
        times; a number that never varies in the encoding left as it is), and the gradient
        penalty bounds its slope in that view, so an error across a near-exact relation between
        numbers weighs as much as one along their main direction. In its ablation it lowered
        abalone's detection AUC by 0.059 and raised its TSTR on every seed, at a cost of 0.007
        sdmetrics quality on king_county_houses and bank_marketing and, on diabetes130, 0.020
        detection AUC and 0.010 TSTR (benchmarks/README.md, "Ablation: a whitened critic"). Not
        used with ``epsilon`` (it reads real rows).
    target : str or None, default=None
        The column a downstream model will predict, if any (e.g. the label of a classification
        task the synthetic rows are for). A small network then learns from real rows to predict it
        from the other columns, and the generator is also trained to make that prediction hold in
        its own rows (an auxiliary target loss, as in CTAB-GAN+; :mod:`synthgan.models.target`).
        It aims at train-on-synthetic, test-on-real utility. With ``epsilon`` the predictor is
        trained with DP-SGD too (its noise set by a quarter of the training budget, the
        accountant composing it with the critic's) and the target must be discrete. Not with the
        one-pass ``copula``.
    target_weight : float, default=1.0
        Weight of the auxiliary target loss in the generator's loss.
    moment_weight : float or "auto", default="auto"
        Weight of the generator's moment term: the relative error between the second moments of
        its batches and the training rows' (``mean(z z^T)`` of each encoded row with a constant in
        front: every slot's and value's mean and every pair's joint moment, pairwise relations of
        the kind a Gaussian copula keeps, on the generator's encoding;
        :mod:`synthgan.models.moments`). With ``epsilon`` the rows' moments are released once
        with the Gaussian mechanism, its noise set by a tenth of the training budget and composed
        with DP-SGD by the accountant, and the generator matches the release for as long as it
        trains (post-processing). ``"auto"`` is 0 (off), or 4 with
        ``epsilon``: see the README's Differential privacy section for what it measured. Without
        ``epsilon`` it needs ``log_frequency=False`` (batches drawn by log-frequency do not have
        the table's moments) and was not measured. Not with the one-pass ``copula``.
    log_frequency : bool, default=True
        Draw training conditions with log-frequency rather than frequency.
    max_modes : int, default=10
        Most Gaussian-mixture modes per continuous column.
    mode_separation : float, None or "auto", default="auto"
        Neighbouring mixture components whose Ashman's D (distance of the means over their pooled
        spread, times sqrt 2) is at most this are merged into one mode, so a single-peaked column
        gets one mode instead of ``max_modes`` overlapping ones; 2 is the separation two Gaussians
        need to be told apart (Ashman et al., 1994). Point masses are never merged. None keeps
        every component the mixture fits (ctgan's behaviour; the default before the ablation of
        benchmarks/README.md, "Ablation: separated modes").
        ``"auto"``: 2.0, with or without ``epsilon`` (under privacy the mixtures come from the
        private release and merging them is post-processing: it costs no budget; at epsilon = 3 it
        raised TSTR on adult and bank_marketing, benchmarks/README.md).
    bounded_mode_merging : bool or "auto", default="auto"
        With ``mode_separation``: merge a pair only when the one mode is wider than its members by
        no more than merging two equal components at the threshold needs (sqrt 2 at 2;
        :func:`synthgan.transform.modes.merge_widening`). A light, far tail (a skewed column's
        largest values) then keeps a mode of its own instead of stretching the body's over its
        range, where the body's values would fill a small part of the encoded range (bank
        marketing's call duration: one mode 2 to 3.3 column standard deviations wide in most fits
        without it). ``"auto"``: True with ``epsilon``, False without (at epsilon = 3 it raised
        bank marketing's TSTR from 0.825 to 0.864, paired, with adult's level; in a two-seed screen
        without privacy it raised bank marketing's and adult's TSTR and lowered abalone's R² from
        0.44 to 0.30; benchmarks/README.md, "Bounded mode merging").
    max_categories : int, default=100
        Widest one-hot per discrete column; rarer levels share one slot and are drawn with their
        training frequency.
    gmm_max_rows : int, default=5000
        Rows sampled to fit each column's mixture (speed).
    numeric_encoding : {"modes", "quantile"}, default="modes"
        How numbers and datetimes are encoded: ``modes``, mode-specific normalization of the values
        (Xu et al., 2019); ``quantile``, the same on their normal scores through the column's own
        quantiles (one stored point per ten training values, at most 1,000), so heavy tails, skew
        and spikes reach the generator as near-Gaussian columns and decode to the training
        marginal. With ``epsilon`` the quantiles are those of each column's released noisy
        histogram (bins under two noise standard deviations left out; the grid the private
        marginal calibration maps onto), never the rows' (post-processing: no budget spent). At
        epsilon = 3 it raised adult's quality and lowered bank marketing's TSTR on every seed
        (benchmarks/README.md, "Private quantile encoding"), so ``modes`` stays the default there too.
    marginal_calibration : bool or "auto", default="auto"
        After training, map each continuous column's generated values through the generator's own
        marginal onto the training one (a monotone quantile map per column, estimated from
        generated rows drawn as ``sample`` draws them): marginals match the training table up to
        its quantile grid (one point per ten values, at most 1,000), and the order of values
        within each column, hence every dependence the generator learned, is kept. The quantile
        grid is stored in the model file. ``"auto"`` is True, or False with ``epsilon``. With
        ``epsilon`` and True the training marginal is the private release's: the quantiles of each
        column's noisy histogram (the one its mixture is fitted to, bins under two noise standard
        deviations left out), never the rows' (post-processing: no budget spent). Not the private
        default: at epsilon = 3, in two runs, it raised sdmetrics quality (bank marketing +0.034 to
        +0.041, adult +0.009 to +0.027) and lowered detection AUC, but lowered TSTR (bank -0.071
        and -0.019, adult -0.019 in the second run; benchmarks/README.md, "Private marginal
        calibration"). Not applied with ``privacy="strict"`` (the file would keep
        one value per ten rows of every number) or for the one-pass ``copula``.
    discrete_calibration : bool, default=True
        After training, add one offset per slot to the generator's logits of every discrete column
        and missing indicator, fitted so that the categories drawn in generated rows (ten per
        training row, within 2,000 and 20,000, drawn as ``sample`` draws them) occur with their
        training frequency (iterative proportional fitting of the mean softmax): the categorical
        counterpart of ``marginal_calibration``. What a row draws still depends on its other columns
        through the generator's logits; only each slot's overall rate is shifted. Applied on every
        column, the one a row's conditional vector names included (a short fit's generator may not
        follow it), except a column asked for with ``sample(conditions=...)`` (kept as asked). A share
        already within two standard errors of the training share (its sampling noise as an estimate
        from the table's rows) is left alone, and one outside is moved to that band's edge: the
        generator is not fitted to the table's own noise (on a table of 800 rows the band is several
        points wide; on one of 50,000 under one). The offsets are stored in the model file. With
        ``epsilon`` the training shares are the release's noisy counts and the band adds their
        noise (post-processing: no budget spent); not applied for the one-pass ``copula``. In its
        paired ablation (benchmarks/README.md, "Ablation: discrete calibration") it raised sdmetrics
        quality where the generator's shares were off (diabetes130 +0.029, adult +0.009), TSTR
        within noise; detection AUC fell on diabetes130 and rose on adult. At epsilon = 3 it raised
        quality on bank_marketing (+0.017) and adult (+0.013) and bank_marketing's TSTR (+0.019).
        False: the generator's own shares (before this parameter existed).
    dependence_calibration : bool, default=False
        With ``marginal_calibration``: also map the numbers' joint dependence onto the training
        one. Between its two halves (the generator's marginal, then the training one) the marginal
        calibration holds every number as a standard-normal score; this moves a row's scores
        together by the optimal-transport map between the Gaussians of the generator's score
        correlation and the training rows' (:mod:`synthgan.transform.dependence`), fitted on the
        same generated rows as the marginal calibration; each column's marginal stays the training
        one. Columns a generator draws more loosely related than the training rows
        (near-proportional sizes and weights) get their linear dependence back; the order of values
        within a column changes, the categories stay the generator's. The training correlation of
        the numbers' scores (a columns-by-columns matrix) is stored in the model file. Off
        wherever ``marginal_calibration`` is off, and with ``epsilon`` (it reads the rows'
        correlation). Not a default: in its paired ablation
        (benchmarks/README.md, "Ablation: dependence calibration") it raised sdmetrics quality on
        german_credit and TSTR on king_county_houses, but raised detection AUC and lowered TSTR on
        abalone, the near-collinear table it was built for.
    condition_on_modes : bool, default=False
        Training-by-sampling also conditions on the modes of numbers and datetimes (as CTAB-GAN
        does, Zhao et al., 2021): besides a discrete column's category, the conditional vector can
        name a mode of a continuous column (one with two or more modes), the real rows of a batch
        are drawn from that mode and the critic judges the other columns given it, so the
        generator is taught the columns' dependence on every mode, not only on the categories.
        Only for conditional models; not with ``epsilon`` (a private release has no per-mode
        counts), where it is ignored.
    learn_rounding : bool, default=True
        Round each number column's outputs to the grid its training values were recorded on,
        read from the data: whole numbers, a number of decimals (prices in cents: 0.01), or steps
        such as 0.005, 0.25 or 10 (the greatest common step of the values at the fewest decimals,
        at most six, that hold them all). Values that sit on a grid in the real table then sit on
        it in the synthetic one too (a column of 1.5 or 2 floors never gets 1.62). With
        ``epsilon`` only whole numbers are detected (the grid is read from every value). False:
        float columns are not rounded (integer columns always are).
    max_time : float or None, default=None
        Wall-clock budget in seconds for training; stops after the epoch that crosses it.
    validation_size : float or None, default=None
        Share of the rows held back from training; every ``validation_every`` epochs the fidelity
        of 5,000 generated rows against them (column shapes and pair trends, see
        :class:`synthgan.evaluation.FidelityScorer`) is logged as ``val_fidelity`` in ``history_``,
        which :class:`synthgan.training.EarlyStopping` can monitor.
    validation_every : int, default=1
        Epochs between validation scores.
    weight_average : float or None, default=0.999
        Keep an exponential moving average of the generator's weights with this decay and use it
        at the end of training (:class:`synthgan.training.WeightAverage`; about ``1 / (1 - decay)``
        steps are averaged): on adult and king_county_houses it raised sdmetrics quality by 0.026
        and 0.019 at equal time, TSTR within noise (benchmarks/README.md). None: the last step's
        generator.
    callbacks : list of synthgan.training.Callback or None, default=None
        Extra callbacks (e.g. ``Checkpoint``, ``EarlyStopping`` or your own); progress bar,
        time budget, validation and history are added from the other parameters.
    epsilon : float or None, default=None
        Train with differential privacy at this total epsilon (the unit is one row): the
        transformer's statistics are private releases and the critic is trained with DP-SGD
        (opacus), see :mod:`synthgan.privacy`. Training stops when the budget is spent, whatever
        ``epochs`` says; ``privacy_`` reports what was spent. Private training uses ``pac=1`` and
        ``loss="bce"`` (the values given for those two are not used) and only models with the
        ``private`` capability (``ctgan``); the ``"auto"`` defaults of ``epochs``,
        ``discriminator_dim`` and the learning rates take their private values.
    delta : float or None, default=None
        The delta of the guarantee; by default the largest power of ten not above 1 / (10 n_rows).
    max_grad_norm : float, default=1.0
        DP-SGD's per-row gradient clipping bound.
    noise_multiplier : float or None, default=None
        DP-SGD's noise (standard deviation over ``max_grad_norm``); by default the smallest that lets
        ``epochs`` epochs fit in the budget. When given, training stops once the budget is spent.
    statistics_share : float, default=0.2
        Share of ``epsilon`` spent on the transformer's statistics (ranges, histograms, levels);
        the rest goes to DP-SGD.
    public_bounds : dict or None, default=None
        ``{column: (low, high)}`` for number or date columns whose range is public knowledge (not
        estimated privately, so no budget is spent on it; values outside are clipped).
    public_categories : dict or None, default=None
        ``{column: [levels]}`` for discrete columns whose levels are public knowledge: each is a
        candidate however rare, and no threshold applies.
    constraints : list or None, default=None
        Rules every generated row satisfies (:mod:`synthgan.constraints`: ``Inequality``,
        ``Bounds``, ``FixedCombinations``, ``RowFilter``, or their JSON dicts). Each must hold in the
        training rows; they are enforced by transformation where possible, by rejection otherwise.
    metadata : Metadata, dict, str or Path, optional
        Column kinds, formats, bounds, declared categories, sensitive columns and constraints
        (:class:`synthgan.Metadata`, its dict or a JSON file); used instead of detection for the
        columns it names. Its constraints and bounds join ``constraints``.
    privacy : {None, "strict"}, default=None
        ``"strict"``: in every discrete column, levels held by fewer than ``rare_threshold``
        training rows are never learned, generated or stored (:mod:`synthgan.transform.rare`);
        without it this applies to the columns metadata marks ``sensitive``.
    rare_threshold : int, default=5
        The fewest training rows a level of a protected column needs to be kept.
    device : str, default="auto"
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or any torch device string.
    precision : {"float32", "bfloat16"}, default="float32"
        ``"bfloat16"`` runs each training step's forward passes (the gradient penalty's included)
        under ``torch.autocast`` with bfloat16, for speed on GPUs with bfloat16 matrix units; the
        weights, the optimizer state and sampling stay float32. Not with ``epsilon`` (opacus'
        per-sample gradients are computed in float32).
    verbose : bool, default=True
        Progress bar on stderr while fitting.
    random_state : int, numpy Generator or None, default=None
        Root of every random draw in fit and sample (see :mod:`synthgan.streams` for how the named
        streams derive from it); global random states are never touched.

    Attributes
    ----------
    transformer_ : DataTransformer
        Fitted encoder; ``transformer_.layout_`` is the table layout.
    model_ : TabularModel
        The trained model (see :mod:`synthgan.models`).
    history_ : DataFrame
        One row per epoch: ``epoch``, ``generator_loss``, ``critic_loss``, ``seconds`` and every key
        a callback logged (``val_fidelity`` with ``validation_size``).
    feature_names_in_ : ndarray of object
        Training column names, in order.
    n_features_in_ : int
        Number of training columns.
    timings_ : dict
        Wall-clock seconds of the transformer fit (``transformer_fit_s``) and of training (``training_s``).
    privacy_ : dict or None
        With ``epsilon``: ``epsilon`` (spent in all), ``delta``, ``target_epsilon``, the split
        (``epsilon_statistics``, ``epsilon_training``, ``delta_statistics``, ``delta_training``),
        ``noise_multiplier``, ``max_grad_norm``, ``steps``, ``sample_rate``, ``accountant`` and
        ``unit``; with ``target``, also the target predictor's ``target_noise_multiplier`` and
        ``target_steps``; with ``moment_weight > 0``, the moment release's
        ``moments_noise_multiplier`` (``epsilon_training`` composes all of them). None without
        privacy.

    Examples
    --------
    >>> from synthgan import SynthGAN, load_demo
    >>> real = load_demo()
    >>> synthetic = SynthGAN(epochs=5, random_state=0, verbose=False).fit(real).sample(100)
    >>> list(synthetic.columns) == list(real.columns)
    True
    """

    # the estimator's own parameters; each model class declares the ones it reads (``parameters``)
    _parameter_constraints: ClassVar[dict[str, P.Constraint]] = {
        "epochs": P.integer(1),
        "batch_size": P.integer(1),
        "log_frequency": P.boolean(),
        "max_modes": P.integer(1),
        "mode_separation": P.positive().or_none(),
        "bounded_mode_merging": P.boolean(),
        "max_categories": P.integer(2),
        "gmm_max_rows": P.integer(1),
        "numeric_encoding": P.one_of(("modes", "quantile")),
        "marginal_calibration": P.boolean(),
        "discrete_calibration": P.boolean(),
        "dependence_calibration": P.boolean(),
        "condition_on_modes": P.boolean(),
        "learn_rounding": P.boolean(),
        "max_time": P.positive().or_none(),
        "validation_size": P.fraction().or_none(),
        "validation_every": P.integer(1),
        "weight_average": P.fraction().or_none(),
        "epsilon": P.positive().or_none(),
        "delta": P.fraction().or_none(),
        "max_grad_norm": P.positive(),
        "noise_multiplier": P.positive().or_none(),
        "statistics_share": P.fraction(),
        "public_bounds": P.Constraint(lambda v: v is None or isinstance(v, Mapping), "None or a dict"),
        "public_categories": P.Constraint(lambda v: v is None or isinstance(v, Mapping), "None or a dict"),
        "callbacks": P.Constraint(_are_callbacks, "None or a list of synthgan.training.Callback objects"),
        "metadata": P.Constraint(lambda v: v is None or isinstance(v, (Metadata, Mapping, str, Path)),
                                 "None, a synthgan.Metadata, its dict or a JSON file path"),
        "privacy": P.Constraint(lambda v: v is None or v == "strict", "None or 'strict'"),
        "rare_threshold": P.integer(1),
        "constraints": P.Constraint(_are_constraints, "None or a list of synthgan.constraints objects (or their "
                                                      "JSON dicts)"),
        "precision": P.one_of(Strategy.PRECISIONS),
        "verbose": P.Constraint(lambda v: isinstance(v, (bool, np.bool_)), "True or False"),
        "random_state": P.Constraint(_is_seed, "None, a non-negative int or a numpy Generator"),
    }

    def __init__(self, model: str = "ctgan", epochs: int | str = "auto", batch_size: int = 500,
                 loss: str = "wgan-gp", embedding_dim: int = 128,
                 generator_dim: tuple[int, ...] = (256, 256), discriminator_dim: tuple[int, ...] | str = "auto",
                 generator_lr: float | str = "auto", discriminator_lr: float | str = "auto", weight_decay: float = 1e-6,
                 pac: int = 1, discriminator_dropout: float = 0.0, critic_steps: int = 1, generator_steps: int = 1,
                 critic_whitening: bool = True, target: str | None = None, target_weight: float = 1.0,
                 moment_weight: float | str = "auto", log_frequency: bool = True, max_modes: int = 10,
                 mode_separation: float | str | None = "auto", bounded_mode_merging: bool | str = "auto",
                 max_categories: int = 100, gmm_max_rows: int = 5000,
                 numeric_encoding: str = "modes",
                 marginal_calibration: bool | str = "auto", discrete_calibration: bool = True,
                 dependence_calibration: bool = False,
                 condition_on_modes: bool = False,
                 learn_rounding: bool = True, max_time: float | None = None,
                 validation_size: float | None = None, validation_every: int = 1,
                 weight_average: float | None = 0.999, callbacks: list[Callback] | None = None,
                 epsilon: float | None = None,
                 delta: float | None = None, max_grad_norm: float = 1.0, noise_multiplier: float | None = None,
                 statistics_share: float = 0.2, public_bounds: dict | None = None,
                 public_categories: dict | None = None, constraints: list[Constraint] | None = None,
                 metadata: Metadata | dict | str | Path | None = None, privacy: str | None = None,
                 rare_threshold: int = 5, device: str = "auto", precision: str = "float32", verbose: bool = True,
                 random_state: int | np.random.Generator | None = None):
        self.model = model
        self.epochs = epochs
        self.batch_size = batch_size
        self.loss = loss
        self.embedding_dim = embedding_dim
        self.generator_dim = generator_dim
        self.discriminator_dim = discriminator_dim
        self.generator_lr = generator_lr
        self.discriminator_lr = discriminator_lr
        self.weight_decay = weight_decay
        self.pac = pac
        self.discriminator_dropout = discriminator_dropout
        self.critic_steps = critic_steps
        self.generator_steps = generator_steps
        self.critic_whitening = critic_whitening
        self.target = target
        self.target_weight = target_weight
        self.moment_weight = moment_weight
        self.log_frequency = log_frequency
        self.max_modes = max_modes
        self.mode_separation = mode_separation
        self.bounded_mode_merging = bounded_mode_merging
        self.max_categories = max_categories
        self.gmm_max_rows = gmm_max_rows
        self.numeric_encoding = numeric_encoding
        self.marginal_calibration = marginal_calibration
        self.discrete_calibration = discrete_calibration
        self.dependence_calibration = dependence_calibration
        self.condition_on_modes = condition_on_modes
        self.learn_rounding = learn_rounding
        self.max_time = max_time
        self.validation_size = validation_size
        self.validation_every = validation_every
        self.weight_average = weight_average
        self.callbacks = callbacks
        self.epsilon = epsilon
        self.delta = delta
        self.max_grad_norm = max_grad_norm
        self.noise_multiplier = noise_multiplier
        self.statistics_share = statistics_share
        self.public_bounds = public_bounds
        self.public_categories = public_categories
        self.constraints = constraints
        self.metadata = metadata
        self.privacy = privacy
        self.rare_threshold = rare_threshold
        self.device = device
        self.precision = precision
        self.verbose = verbose
        self.random_state = random_state

    # ------------------------------------------------------------------ checks
    def _validate_params(self) -> None:
        P.validate(self, {"model": P.one_of(model_names())})
        constraints = {**self._parameter_constraints, **model_class(self.model).parameters}
        P.validate(self, {k: c.or_auto() if k in _AUTO else c for k, c in constraints.items()})
        if self.target is not None and "target" not in model_class(self.model).capabilities:
            able = [name for name in model_names() if "target" in model_class(name).capabilities]
            raise SynthGANError(f"model={self.model!r} has no auxiliary target loss; leave target=None or use "
                                f"model={able[0]!r}")
        if not P.is_auto(self.moment_weight) and self.moment_weight > 0 \
                and "moments" not in model_class(self.model).capabilities:  # "auto": off for such a model
            able = [name for name in model_names() if "moments" in model_class(name).capabilities]
            raise SynthGANError(f"model={self.model!r} has no generator to hold to the table's moments; set "
                                f"moment_weight=0 or use model={able[0]!r}")
        if self.epsilon is None and self._effective("moment_weight") > 0 and self.log_frequency \
                and "conditional" in model_class(self.model).capabilities:
            raise SynthGANError("moment_weight > 0 without epsilon needs log_frequency=False: training-by-sampling "
                                "draws the generator's conditions by log-frequency, so its batches' moments are not "
                                "the table's (a private fit draws them by the released counts)")
        if self.batch_size < self._effective("pac"):
            raise SynthGANError(f"batch_size ({self.batch_size}) must be at least pac ({self.pac})")
        if self.epsilon is None:
            given = [k for k in ("delta", "noise_multiplier", "public_bounds", "public_categories")
                     if getattr(self, k) is not None]
            if given:
                raise SynthGANError(f"{', '.join(given)} only apply to private training; set epsilon too "
                                    "(e.g. epsilon=1.0) or leave them out")
            return
        if "private" not in model_class(self.model).capabilities:
            able = [name for name in model_names() if "private" in model_class(name).capabilities]
            raise SynthGANError(f"model={self.model!r} cannot be trained with differential privacy (epsilon); "
                                f"use model={able[0]!r}" if able else "no registered model trains privately")
        if self.precision != "float32":
            raise SynthGANError(f"precision={self.precision!r} cannot be used with epsilon: opacus computes the "
                                "per-sample gradients that DP-SGD clips in float32; leave precision='float32'")
        if self.validation_size is not None:
            raise SynthGANError("validation_size cannot be used with epsilon: scoring held-back rows during "
                                "training is not covered by the privacy guarantee; leave validation_size=None")

    def _effective(self, name: str) -> Any:
        """A parameter's value as training uses it (private training fixes pac and loss; ``"auto"``
        resolves by whether the fit is private)."""
        if self.epsilon is not None and name in _PRIVATE_OVERRIDES:
            return _PRIVATE_OVERRIDES[name]
        value = getattr(self, name)
        if name in _AUTO and P.is_auto(value):
            return _AUTO[name][self.epsilon is not None]
        return value

    def _model_params(self) -> dict[str, Any]:
        return {k: self._effective(k) for k in self.get_params()}

    def _resolve_device(self) -> torch.device:
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        try:
            device = torch.device(self.device)
        except (RuntimeError, TypeError) as exc:
            raise SynthGANError(f"device {self.device!r} is not a torch device: {exc}") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise SynthGANError("device='cuda' was asked for but torch sees no CUDA GPU; use device='cpu'")
        if device.type not in ("cpu", "cuda"):
            try:
                torch.empty(1, device=device)
            except (RuntimeError, AssertionError, NotImplementedError) as exc:
                raise SynthGANError(f"device {str(device)!r} is not available here ({str(exc).splitlines()[0]}); "
                                    "use device='cpu' or 'auto'") from None
        return device

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(df) first")

    # ------------------------------------------------------------------ fit and its steps
    def fit(self, X: pd.DataFrame, y: None = None, discrete_columns: Iterable[str] | None = None,
            resume_from: str | Path | None = None) -> SynthGAN:
        """Learn the table ``X``.

        Parameters
        ----------
        X : DataFrame
            Training table with numeric, integer, boolean, categorical/string and datetime columns;
            missing values are allowed and modelled.
        y : None
            Ignored (present for pipeline compatibility).
        discrete_columns : iterable of str, optional
            Columns to treat as categorical whatever their dtype.
        resume_from : str or Path, optional
            A directory written by :class:`synthgan.training.Checkpoint` (its latest checkpoint is
            used) or one checkpoint file. Training continues after the checkpointed epoch up to
            ``epochs``, with the same weights, optimizer and random states, so the result equals an
            uninterrupted fit. The table and the parameters that shape training must be the ones of
            the checkpointed run.

        Returns
        -------
        self : SynthGAN
        """
        self._validate_params()
        if "one-pass" in model_class(self.model).capabilities:
            given = [name for name, value in (("callbacks", self.callbacks), ("validation_size", self.validation_size),
                                              ("resume_from", resume_from)) if value]
            if given:
                raise SynthGANError(f"model={self.model!r} is fitted in one pass, without epochs; {', '.join(given)} "
                                    "only apply to models trained in epochs (ctgan, wgan-gp)")
        if self.epsilon is not None and resume_from is not None:
            raise SynthGANError("resume_from cannot be used with epsilon: a private fit draws its noise and batches "
                                "from secret entropy that no checkpoint keeps; fit again from the start")
        checkpoint = read_checkpoint(resume_from) if resume_from is not None else None
        device = self._resolve_device()
        ctx = D.context()
        if ctx.distributed:  # started by torchrun: X is this process's share of the rows
            self._check_distributed()
            device = D.device_for(ctx, device)
            D.ensure_initialized(device)
        # one root entropy for every process (rank 0's, when random_state leaves it to chance)
        streams = RandomStreams(int(D.broadcast(self._entropy(checkpoint), ctx)), rank=ctx.rank)
        discrete_columns = [discrete_columns] if isinstance(discrete_columns, str) else discrete_columns
        discrete_columns = list(discrete_columns) if discrete_columns is not None else None
        metadata = with_text_dates(as_metadata(self.metadata), X, discrete_columns or ())
        if metadata is not None:
            if not isinstance(X, pd.DataFrame):
                raise DataError(f"fit expects a pandas DataFrame, got {type(X).__name__}")
            metadata.check(X)
            X = metadata.parse(X)
            discrete_columns = list(dict.fromkeys([*(discrete_columns or ()), *metadata.discrete_columns()])) or None
        if self.target is not None and (not isinstance(X, pd.DataFrame) or self.target not in X.columns):
            shown = ", ".join(map(repr, list(getattr(X, "columns", []))[:10]))
            raise DataError(f"target={self.target!r} is not a column of the training table (columns: {shown}); "
                            "name one of its columns or leave target=None")
        train, validation = self._split_validation(X, streams)
        train = self._protect_rare_levels(train, metadata, discrete_columns, streams)
        constraints = self._fit_constraints(train, metadata)
        modelled = constraints.transform(train) if constraints else train
        if constraints and discrete_columns is not None:  # columns merged into a combination are gone
            discrete_columns = [c for c in discrete_columns if c in modelled.columns or c not in train]

        budget = self._budget(train)
        # a private fit draws its statistics' noise, batches and DP-SGD noise from fresh secret entropy,
        # never from random_state (a known or guessed seed would let anyone replay the noise)
        secret = RandomStreams(secrets.randbits(63)) if budget is not None else streams
        started = time.perf_counter()
        transformer, encoded = self._fit_transformer(modelled, secret, discrete_columns, budget, metadata, ctx)
        transformer_seconds = time.perf_counter() - started
        if self.target is not None and not transformer.layout_.spans_of(self.target):
            raise DataError(f"target column {self.target!r} is not learned by the model (it is constant, generated "
                            "fresh as an identifier or personal data, or merged by a constraint); name it in "
                            "discrete_columns to model it, or leave target=None")
        if self.target is not None and budget is not None and \
                not any(span.role == "category" for span in transformer.layout_.spans_of(self.target)):
            raise DataError(f"target column {self.target!r} is a number; with epsilon the target must be discrete "
                            f"(its predictor's reference is its own predicted distribution): name it in "
                            "discrete_columns if its values are classes, or leave target=None")
        codes = transformer.category_codes(encoded)
        if budget is None:
            counts = exact_condition_counts(codes, transformer)
            spans = transformer.layout_.condition_spans  # pairs of values a user can ask for (not of modes)
            pairs = cond.observed_pairs(codes, [s.width for s in spans],
                                        [k for k, s in enumerate(spans) if s.role != "mode"])
        else:  # the noisy counts of the release; which categories occur together is not released
            counts, pairs = private_condition_counts(transformer), None
        local_counts = counts  # training-by-sampling draws this process's own rows
        if ctx.distributed:  # sampling after fit: every process's counts and category pairs
            counts, pairs = _combine_counts(counts, pairs, ctx, device)
        model = build_model(self.model, transformer.layout_, self._model_params(), device, transformer)
        if budget is not None:
            model.make_private()
        model.setup_training(streams)
        if getattr(model, "whitens_critic", False):
            model.fit_critic_view(_value_covariance(encoded, ctx, device))
        generation = _Generation(model, transformer, counts, device, constraints, metadata)
        started = time.perf_counter()
        privacy = None
        if "one-pass" in model.capabilities:
            model.fit_table(modelled, encoded)
            history: list[dict] = [{"epoch": 1, "seconds": time.perf_counter() - started}]
        else:
            history, strategy = self._train(model, modelled, validation, encoded, codes, local_counts, generation, streams,
                                            device, checkpoint, budget, secret, ctx)
            self._calibrate(generation, len(encoded), streams.numpy("calibration"))
            if budget is not None:
                privacy = self._privacy_report(budget, transformer, strategy)
                for record in history:  # these losses are measured on real rows without noise
                    record.pop("critic_loss", None)
                    record.pop("target_loss", None)
        self.timings_ = {"transformer_fit_s": transformer_seconds, "training_s": time.perf_counter() - started}
        self.privacy_ = privacy

        self.transformer_ = transformer
        self.constraints_ = constraints
        self.metadata_ = metadata
        self.processes_ = ctx.world_size
        self.model_ = model
        self.condition_counts_ = counts
        self.condition_pairs_ = pairs
        self._generation = generation
        self.history_ = _history_frame(history)
        self.feature_names_in_ = np.asarray(list(X.columns), dtype=object)
        self.n_features_in_ = X.shape[1]
        self.device_ = device
        self.entropy_ = streams.entropy
        self._sample_rng = streams.numpy("sampling")
        return self

    def _calibrate(self, generation: _Generation, n_train: int, rng: np.random.Generator) -> None:
        """After training: the discrete calibration (with ``epsilon``, towards the release's noisy
        counts: post-processing, no privacy spent), then the marginal calibration of the numbers
        (which categories are drawn moves the numbers too), each from generated rows only."""
        transformer = generation.transformer
        if self.discrete_calibration and "discrete-calibration" in generation.model.capabilities:
            release = transformer.release_
            generation.calibrate_discrete(n_train, rng, release.sigma if release is not None else 0.0)
        if transformer.calibration:
            total = _calibration_rows(n_train)
            transformer.fit_calibration((generation.encoded(min(_SAMPLE_CHUNK_ROWS, total - first), None, rng)
                                         for first in range(0, total, _SAMPLE_CHUNK_ROWS)), rng)

    def _train(self, model: TabularModel, train: pd.DataFrame, validation: pd.DataFrame | None, encoded: EncodedRows,
               codes: np.ndarray, counts: list, generation: _Generation, streams: RandomStreams,
               device: torch.device, checkpoint: dict | None, budget: PrivacyBudget | None,
               secret: RandomStreams, ctx: D.Context = D.Context()) -> tuple[list[dict], Strategy]:
        """Train a model through its phases with the trainer; returns the history records and the
        strategy that ran the updates."""
        transformer = generation.transformer
        batch_rows = self._batch_rows(len(train))
        epochs = self._epochs(len(encoded), batch_rows)
        strategy: Strategy = (D.DistributedStrategy(ctx, precision=self.precision) if ctx.distributed
                              else Strategy(precision=self.precision))
        releases = self._hold_to_moments(model, encoded, budget, secret, device, ctx)
        if budget is None:
            batches = BatchSampler(encoded, ConditionSampler(counts, codes, self.log_frequency)
                                   if model.conditional else None, device, streams.numpy("batches"))
        else:
            rate = batch_rows / len(encoded)
            batches = PoissonBatchSampler(encoded, codes, ConditionSampler(counts), rate, device,
                                          secret.numpy("batches"))
            steps_per_epoch = max(1, len(encoded) // batch_rows) * int(self._effective("critic_steps"))
            planned = epochs * steps_per_epoch
            strategy = DPStrategy(epsilon=budget.training_epsilon, delta=budget.training_delta,
                                  max_grad_norm=self.max_grad_norm, sample_rate=rate, expected_batch_size=batch_rows,
                                  planned_steps=planned, noise_multiplier=self.noise_multiplier,
                                  generator=secret.torch("privacy", device),
                                  shares={"target": PRIVATE_TARGET_SHARE} if model.predictor is not None else None,
                                  releases=releases)
        # the run's description hashes the encoded table: computed once, when first needed
        describe = functools.cache(lambda: self._describe_run(streams, encoded, device))
        trainer = Trainer(model, batches, TrainingPlan(epochs, batch_rows),
                          self._training_callbacks(validation, generation, streams, ctx), strategy=strategy,
                          describe=describe)
        if checkpoint is not None:
            self._check_resumable(checkpoint, describe(), ctx)
            trainer.load_state_dict(checkpoint)
        if isinstance(strategy, DPStrategy):  # its noise is set when the trainer sets it up
            logger.info("private training: noise multiplier %.3f, sampling rate %.4g, up to %d critic steps",
                        strategy.noise_multiplier, strategy.sample_rate, strategy.allowed)
        logger.info("fitting %s on %d rows x %d columns (%d encoded) on %s",
                    self.model, len(train), train.shape[1], transformer.layout_.dim, device)
        trainer.fit()
        return trainer.history.records, trainer.strategy

    def _hold_to_moments(self, model: TabularModel, encoded: EncodedRows, budget: PrivacyBudget | None,
                         secret: RandomStreams, device: torch.device, ctx: D.Context) -> dict[str, tuple[float, float]]:
        """With ``moment_weight > 0``: give the model the second moment of the training rows (every
        process's), or with a budget its Gaussian release (noise set by
        :data:`PRIVATE_MOMENT_SHARE` of the training budget, drawn from the secret stream); returns
        the release for the accountant (``{"moments": (noise_multiplier, share)}``), else ``{}``."""
        if not (self._effective("moment_weight") > 0 and "moments" in model.capabilities):
            return {}
        total = moment_sum(encoded, device)
        count = torch.tensor(float(len(encoded)), dtype=torch.float64, device=device)
        D.all_reduce_sum(total, ctx)
        D.all_reduce_sum(count, ctx)
        if budget is None:
            model.set_moment_target(total / count)
            return {}
        noise = release_noise(budget.training_epsilon, budget.training_delta, PRIVATE_MOMENT_SHARE)
        model.set_moment_target(release_moments(total, int(count), noise, secret.numpy("moments"),
                                                encoded.layout))
        return {"moments": (noise, PRIVATE_MOMENT_SHARE)}

    def _check_distributed(self) -> None:
        """Refuse what data-parallel training does not do yet, before any process does work."""
        refused = [name for name, value in (
            ("epsilon", self.epsilon), ("validation_size", self.validation_size), ("constraints", self.constraints),
            ("metadata", self.metadata), ("privacy", self.privacy)) if value]
        if "one-pass" in model_class(self.model).capabilities:
            refused.insert(0, f"model={self.model!r}")
        if refused:
            raise SynthGANError(f"{', '.join(refused)} cannot be used with torchrun (several processes) yet; "
                                "run that fit in one process")

    def _protect_rare_levels(self, train: pd.DataFrame, metadata: Metadata | None,
                             discrete_columns: list | None, streams: RandomStreams) -> pd.DataFrame:
        """The training rows without the rare levels of protected columns (``privacy="strict"``: every
        discrete column; else those metadata marks sensitive). A private fit needs no such step: its
        levels are released only above a noisy threshold."""
        sensitive = metadata.sensitive_columns() if metadata is not None else []
        if self.epsilon is not None or (self.privacy != "strict" and not sensitive) or \
                not isinstance(train, pd.DataFrame):
            return train
        forced = set(discrete_columns or ())
        declared = metadata.generated_kinds() if metadata is not None else {}
        candidates = list(train.columns) if self.privacy == "strict" else sensitive
        protected = []
        for name in candidates:
            if name not in train.columns:
                continue
            series = train[name]
            if identifier_kind(series, name in forced, declared) is None and \
                    column_kind(series, name in forced) == "categorical":
                protected.append(name)
        protected_train, replaced = protect_rare_levels(train, protected, self.rare_threshold,
                                                        streams.numpy("rare"))
        if replaced:
            logger.info("levels held by fewer than %d rows were replaced in: %s", self.rare_threshold,
                        ", ".join(f"{k!r} ({v})" for k, v in replaced.items()))
        return protected_train

    def _fit_constraints(self, train: pd.DataFrame, metadata: Metadata | None = None) -> Constraints | None:
        """The constraints checked on the training rows and fitted (None without constraints)."""
        items = list(self.constraints or [])
        if metadata is not None:
            items = [*metadata.constraints, *metadata.bound_constraints(), *items]
        if not items:
            return None
        constraints = Constraints(items)
        if self.epsilon is not None:
            stored = [c for c in constraints.items if isinstance(c, FixedCombinations)]
            if stored:
                raise SynthGANError(f"{stored[0]!r} stores the combinations seen in training, which epsilon does "
                                    "not cover; in private training use a RowFilter with the allowed combinations")
        if not isinstance(train, pd.DataFrame):
            raise DataError(f"fit expects a pandas DataFrame, got {type(train).__name__}")
        return constraints.fit(train)

    def _budget(self, train: pd.DataFrame) -> PrivacyBudget | None:
        if self.epsilon is None:
            return None
        delta = self.delta if self.delta is not None else default_delta(len(train))
        return PrivacyBudget(float(self.epsilon), float(delta), float(self.statistics_share))

    def _privacy_report(self, budget: PrivacyBudget, transformer: DataTransformer, strategy: Strategy) -> dict:
        release = transformer.release_
        training = strategy.report()  # type: ignore[attr-defined]
        return {"epsilon": release.epsilon + training["epsilon_training"],
                "delta": release.delta + training["delta_training"],
                "target_epsilon": budget.epsilon, "target_delta": budget.delta,
                "epsilon_statistics": release.epsilon, "delta_statistics": release.delta,
                "statistics_queries": release.queries, **training, "unit": "row",
                "pac": _PRIVATE_OVERRIDES["pac"], "loss": _PRIVATE_OVERRIDES["loss"]}

    def _entropy(self, checkpoint: dict | None) -> int:
        """Root entropy of this fit: the checkpointed run's when resuming (checked against random_state)."""
        if checkpoint is None:
            return root_entropy(self.random_state)
        saved = int(checkpoint["run"]["entropy"])
        if isinstance(self.random_state, Integral) and int(self.random_state) != saved:
            raise SynthGANError(f"the checkpoint was written by a fit with random_state={saved}, not "
                                f"{self.random_state}; resume with random_state={saved} (or None)")
        return saved

    def _split_validation(self, X: pd.DataFrame, streams: RandomStreams) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        """Training rows and held-back validation rows (None without ``validation_size``)."""
        if not isinstance(X, pd.DataFrame) or self.validation_size is None:
            return X, None
        held = int(round(self.validation_size * len(X)))
        if held < 1 or len(X) - held < 2:
            raise DataError(f"validation_size={self.validation_size} leaves {held} validation and "
                            f"{len(X) - held} training rows of {len(X)}; use a larger table or another share")
        order = streams.numpy("validation").permutation(len(X))
        return X.iloc[np.sort(order[held:])], X.iloc[np.sort(order[:held])]

    def _fit_transformer(self, train: pd.DataFrame, streams: RandomStreams, discrete_columns: Iterable[str] | None,
                         budget: PrivacyBudget | None = None, metadata: Metadata | None = None,
                         ctx: D.Context = D.Context()) -> tuple[DataTransformer, EncodedRows]:
        rng = streams.numpy("transform")
        exact = budget is None
        separation = self._effective("mode_separation")
        widening = (merge_widening(separation) if separation is not None and self._effective("bounded_mode_merging")
                    else None)
        calibrated = (self._effective("marginal_calibration") and self.privacy != "strict"
                      and "one-pass" not in model_class(self.model).capabilities)
        transformer = DataTransformer(self.max_modes, self.max_categories, self.gmm_max_rows,
                                      self.numeric_encoding, calibration=calibrated,
                                      condition_modes=(exact and self.condition_on_modes
                                                       and "conditional" in model_class(self.model).capabilities),
                                      mode_separation=separation, mode_widening=widening,
                                      learn_rounding=self.learn_rounding,
                                      dependence=exact and calibrated and self.dependence_calibration)
        private = None
        if budget is not None:
            bounds, levels = dict(self.public_bounds or {}), dict(self.public_categories or {})
            for name, entry in (metadata.columns.items() if metadata is not None else ()):
                if entry.bounds is not None and name in train.columns:  # declared bounds are public knowledge
                    bounds.setdefault(name, entry.bounds)
                if entry.categories is not None and name in train.columns:
                    levels.setdefault(name, entry.categories)
            private = functools.partial(release_statistics, epsilon=budget.statistics_epsilon,
                                        delta=budget.statistics_delta, public_bounds=bounds or None,
                                        public_categories=levels or None, max_modes=self.max_modes,
                                        mode_separation=separation, mode_widening=widening,
                                        calibration_targets=calibrated,
                                        quantile=self.numeric_encoding == "quantile",
                                        max_categories=self.max_categories, max_rows=self.gmm_max_rows)
        declared = {k: v for k, v in metadata.generated_kinds().items() if k in train.columns} if metadata else None
        if ctx.distributed:  # fitted once, on rank 0, from every process's rows, then the same everywhere
            rows = D.gather(_transformer_rows(train, max(self.gmm_max_rows, 20_000) // ctx.world_size, rng), ctx)
            if ctx.is_main:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", FutureWarning)
                    gathered = pd.concat(rows, ignore_index=True)
                transformer.fit(gathered, rng, discrete_columns, declared=declared)
            transformer = DataTransformer.from_json(D.broadcast(transformer.to_json() if ctx.is_main else None, ctx))
        else:
            transformer.fit(train, rng, discrete_columns, private=private, declared=declared)
        self._check_memory(transformer, len(train))
        if budget is not None:  # rows holding a level that was not released get a released one
            train = conform(train, transformer.specs_, transformer.states_, rng)
        return transformer, transformer.encode(train, rng)

    def _check_memory(self, transformer: DataTransformer, n_rows: int) -> None:
        """Refuse, before allocating, a fit whose encoded table and networks cannot fit in memory."""
        layout = transformer.layout_
        need = model_class(self.model).training_bytes(layout, self._model_params())
        compact = len(layout.tanh_index) * 4 + len(layout.onehot_spans) * slot_dtype(layout).itemsize
        need += n_rows * compact + n_rows * len(layout.condition_spans) * 8 * 2  # encoded rows, codes
        have = available_memory()
        if have is None or need <= 0.5 * have:  # activations, temporaries and the allocator need the rest
            return
        widest = sorted(((s.width, s.column) for s in layout.spans), reverse=True)[:3]
        raise DataError(f"this fit needs about {need / 2**30:.1f} GiB for its networks and encoded rows (the table "
                        f"encodes to {layout.dim} columns; widest: {', '.join(f'{c!r} ({w})' for w, c in widest)}), "
                        f"more than half of the {have / 2**30:.1f} GiB of memory available (activations need the "
                        "rest); lower max_categories, drop or merge wide categorical columns, or use smaller "
                        "generator_dim / discriminator_dim")

    def _epochs(self, n_rows: int, batch_rows: int) -> int:
        """Epochs to train: :meth:`_effective`'s, and with ``epsilon`` and ``"auto"`` at least enough
        for :data:`MIN_PRIVATE_STEPS` batches of ``batch_rows`` out of ``n_rows``."""
        epochs = int(self._effective("epochs"))
        if self.epsilon is not None and P.is_auto(self.epochs):
            epochs = max(epochs, math.ceil(MIN_PRIVATE_STEPS / max(1, n_rows // batch_rows)))
        return epochs

    def _batch_rows(self, n_rows: int) -> int:
        pac = self._effective("pac")
        batch = min(self.batch_size, n_rows) // pac * pac
        if batch == 0:
            raise DataError(f"the table has {n_rows} training rows, fewer than pac={pac}; "
                            f"pass more rows or set pac <= {n_rows}")
        return batch

    def _training_callbacks(self, validation: pd.DataFrame | None, generation: _Generation,
                            streams: RandomStreams, ctx: D.Context = D.Context()) -> list[Callback]:
        built: list[Callback] = []
        if self.verbose and ctx.is_main:  # only rank 0 shows progress (and writes checkpoints)
            built.append(ProgressBar())
        if self.max_time is not None:
            built.append(TimeBudget(self.max_time))
        if self.weight_average is not None:
            built.append(WeightAverage(self.weight_average))
        if validation is not None:
            rng = np.random.default_rng(streams.seed_sequence("validation").spawn(1)[0])
            built.append(ValidationScore(validation, lambda n, r: generation.rows(n, None, r), rng,
                                         _VALIDATION_ROWS, self.validation_every))
        return built + list(self.callbacks or [])  # every process runs a Checkpoint; rank 0 writes

    def _describe_run(self, streams: RandomStreams, encoded: EncodedRows, device: torch.device) -> dict:
        names = _RESUME_PARAMS + tuple(model_class(self.model).parameters)
        params = {k: _json_value(self._effective(k)) for k in names}  # as it runs ("auto" resolved)
        return {"entropy": streams.entropy, "params": params, "device_type": device.type,
                "data_sha256": encoded.sha256(), "rows": len(encoded)}

    @classmethod
    def _check_resumable(cls, checkpoint: dict, current: dict, ctx: D.Context) -> None:
        """Raise in every process if any process cannot continue the checkpointed run."""
        processes = checkpoint.get("processes") or [checkpoint]  # older checkpoints: one process
        problem = None
        if len(processes) != ctx.world_size:
            problem = (f"cannot resume: the checkpoint was written by {len(processes)} process(es) and this fit runs "
                       f"{ctx.world_size}; resume with the same number of processes (torchrun --nnodes and "
                       "--nproc-per-node as before), since each one continues its own random streams")
        else:
            try:
                cls._check_run(processes[ctx.rank]["run"], current)
            except SynthGANError as exc:
                problem = str(exc) if ctx.world_size == 1 else f"{exc} (process {ctx.rank})"
        problems = [p for p in D.gather(problem, ctx) if p is not None]
        if problems:
            raise SynthGANError(problems[0])

    @classmethod
    def _check_run(cls, saved: dict, current: dict) -> None:
        # a parameter added after the checkpoint was written ran as runs did before it existed
        defaults = {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items()}
        defaults.update(_INTRODUCED)
        before = {k: saved["params"].get(k, defaults.get(k)) for k in current["params"]}
        differ = [k for k in current["params"] if before[k] != current["params"][k]]
        if differ:
            shown = ", ".join(f"{k}={before[k]!r} (now {current['params'][k]!r})" for k in differ)
            raise SynthGANError(f"cannot resume: the checkpoint was trained with {shown}; use the same values")
        if saved["device_type"] != current["device_type"]:
            raise SynthGANError(f"cannot resume: the checkpoint was trained on {saved['device_type']}, this fit "
                                f"runs on {current['device_type']}; pass device={saved['device_type']!r}")
        if saved["data_sha256"] != current["data_sha256"]:
            raise SynthGANError(f"cannot resume: the training table differs from the checkpointed run's "
                                f"({current['rows']} vs {saved['rows']} encoded rows); pass the same table")

    # ------------------------------------------------------------------ sample
    def _rng_for_call(self, random_state: int | None) -> np.random.Generator:
        if random_state is None:
            return self._sample_rng
        if not _is_seed(random_state):
            raise SynthGANError(f"random_state must be None, a non-negative int or a numpy Generator, "
                                f"got {random_state!r}")
        return np.random.default_rng(random_state)

    def _generate(self, n: int, native: tuple[int, int] | None, rng: np.random.Generator) -> pd.DataFrame:
        return self._generation.rows(n, native, rng)

    def iter_samples(self, n: int, chunk_rows: int = 10_000, conditions: Mapping[Any, Any] | None = None,
                     random_state: int | None = None, id_offset: int = 0, max_rounds: int = _MAX_REJECTION_ROUNDS,
                     strict: bool = False) -> Iterator[pd.DataFrame]:
        """Yield ``n`` synthetic rows in chunks of at most ``chunk_rows`` (bounded memory).

        Parameters are as in :meth:`sample`; ``id_offset`` numbers generated identifier columns from
        that row on (for one table written by several calls, e.g. part files).
        """
        self._check_fitted()
        if not isinstance(n, Integral) or isinstance(n, bool) or n < 0:
            raise SynthGANError(f"the number of rows must be a non-negative integer, got {n!r}")
        if not isinstance(chunk_rows, Integral) or chunk_rows < 1:
            raise SynthGANError(f"chunk_rows must be a positive integer, got {chunk_rows!r}")
        if conditions is not None and not isinstance(conditions, Mapping):
            raise ConditionError(f"conditions must be a dict of column -> value, got {type(conditions).__name__}")
        conditions = dict(conditions or {})
        modelled = self.check_conditions(conditions)
        unseen = cond.unseen_combinations(modelled, self.transformer_, self.condition_pairs_)
        if unseen:
            warnings.warn(f"these conditions never occur together in the training rows: {'; '.join(unseen)}; "
                          "the rows returned are the model's extrapolation, not a pattern it has seen",
                          UserWarning, stacklevel=2)
        rng = self._rng_for_call(random_state)
        native = cond.native_condition(modelled, self.transformer_) if self.model_.conditional else None
        remaining = int(n)
        while remaining > 0:
            want = min(chunk_rows, remaining)
            if not conditions:
                chunk = self._generate(want, None, rng)
            else:
                chunk = self._generate_matching(want, conditions, native, rng, max_rounds, strict)
            self.transformer_.number_ids(chunk, id_offset + n - remaining)  # ids unique over the whole call
            remaining -= len(chunk)
            yield chunk
            if len(chunk) < want:  # the rejection budget ran out (a warning said so)
                return

    def parse_conditions(self, texts: Iterable[str]) -> dict:
        """Condition texts as the CLI takes them (``col=v``, repeated for any of several values,
        ``col>=v``, ``col>v``, ``col<=v``, ``col<v``) as a ``conditions`` dict, each value typed like
        its training column."""
        self._check_fitted()
        extra = self.constraints_.original_columns() if getattr(self, "constraints_", None) else None
        return cond.parse_conditions(texts, self.transformer_, extra)

    def check_conditions(self, conditions: Mapping[Any, Any]) -> dict:
        """Raise :class:`ConditionError` for conditions the model cannot meet; returns those the model
        learns as they are (the rest are matched on generated rows)."""
        modelled = self._modelled_conditions(dict(conditions))
        cond.check_conditions(modelled, self.transformer_)
        return modelled

    def _modelled_conditions(self, conditions: dict) -> dict:
        """The conditions on columns the model learns as they are; conditions on columns a constraint
        transforms are only matched on the generated rows (rejection)."""
        changed = self.constraints_.changes if getattr(self, "constraints_", None) else set()
        for column in conditions:
            if column in changed and column not in list(self.feature_names_in_):
                raise ConditionError(f"condition column {column!r} is not a training column")
        return {c: v for c, v in conditions.items() if c not in changed}

    def _generate_matching(self, n: int, conditions: Mapping[Any, Any], native: tuple[int, int] | None,
                           rng: np.random.Generator, max_rounds: int, strict: bool) -> pd.DataFrame:
        kept: list[pd.DataFrame] = []
        have, drawn = 0, 0
        for _ in range(max_rounds):
            batch = self._generate(max(2 * (n - have), 100), native, rng)
            drawn += len(batch)
            match = batch[cond.matches(batch, conditions)]
            kept.append(match)
            have += len(match)
            if have >= n:
                return pd.concat(kept, ignore_index=True).iloc[:n]
        message = (f"only {have} of {n} rows met the conditions {conditions} in {drawn} generated rows "
                   f"({max_rounds} rounds); the model rarely produces such rows. Relax the conditions, raise "
                   "max_rounds or train longer")
        if strict or have == 0:
            raise ConditionError(message)
        warnings.warn(message + f"; returning the {have} rows found", UserWarning, stacklevel=4)
        return pd.concat(kept, ignore_index=True)

    def sample(self, n: int, conditions: Mapping[Any, Any] | None = None,
               random_state: int | None = None, max_rounds: int = _MAX_REJECTION_ROUNDS,
               strict: bool = False) -> pd.DataFrame:
        """Generate exactly ``n`` synthetic rows.

        Parameters
        ----------
        n : int
            Number of rows.
        conditions : dict, optional
            ``{column: condition}``; every returned row meets them all. A condition is a value
            (``None``: missing), a list of values (any of them), or a range ``(low, high)`` with both
            ends included (``None`` for no bound; :class:`synthgan.transform.conditions.Range` for open
            ends) on a number or date column. Continuous columns need a range. A single category is
            asked of the conditional vector; everything else is found by rejection sampling.
        max_rounds : int, default=50
            Rejection-sampling budget: rounds of generation (each about twice the missing rows).
        strict : bool, default=False
            When the budget runs out: raise :class:`ConditionError` with the count found (True), or
            return the rows found, fewer than ``n``, with a warning (False; none found always raises).
        random_state : int, optional
            Seed for this call alone; by default calls continue one stream seeded at fit, so two
            models fitted with the same ``random_state`` return the same samples in the same order.

        Returns
        -------
        DataFrame with the training columns in training order and dtypes.
        """
        chunks = list(self.iter_samples(n, _SAMPLE_CHUNK_ROWS, conditions, random_state, max_rounds=max_rounds,
                                        strict=strict))
        if not chunks:
            return self._generate(0, None, self._rng_for_call(random_state))
        return pd.concat(chunks, ignore_index=True)

    def sample_remaining_columns(self, known: pd.DataFrame, max_rounds: int = _MAX_REJECTION_ROUNDS,
                                 random_state: int | None = None) -> pd.DataFrame:
        """One synthetic row per row of ``known``, holding ``known``'s values in its columns and
        generating the other columns given them.

        Rows with the same known values are generated together (one conditional sample per distinct
        combination). Known columns must be conditions the model can meet exactly (categories,
        integers, dates, missing values); a continuous column needs :meth:`sample` with a range.

        Raises
        ------
        ConditionError
            For unknown columns, unusable values, or a combination the model does not produce
            within ``max_rounds`` (the message gives the count found).
        """
        self._check_fitted()
        if not isinstance(known, pd.DataFrame):
            raise ConditionError(f"sample_remaining_columns expects a DataFrame of known values, "
                                 f"got {type(known).__name__}")
        unknown = [c for c in known.columns if c not in list(self.feature_names_in_)]
        if unknown:
            raise ConditionError(f"columns {unknown} are not training columns; known columns: "
                                 f"{list(self.feature_names_in_)}")
        if len(known) == 0:
            return self.sample(0)
        columns = list(known.columns)
        rng = self._rng_for_call(random_state)
        groups = known.reset_index(drop=True).groupby(columns, dropna=False, sort=False).indices
        pieces = []
        for combo, positions in groups.items():
            values = combo if isinstance(combo, tuple) else (combo,)
            conditions = {c: (None if cond.is_missing(v) else v) for c, v in zip(columns, values)}
            rows = self.sample(len(positions), conditions=conditions, max_rounds=max_rounds, strict=True,
                               random_state=int(rng.integers(2**31)))
            pieces.append(rows.set_axis(positions))
        return pd.concat(pieces).sort_index().reset_index(drop=True)  # every row meets its conditions exactly

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path, overwrite: bool = False) -> None:
        """Write the fitted model to ``path`` (a zip of JSON metadata and tensor weights).

        The file is written atomically; an existing file is kept unless ``overwrite=True``.
        Callbacks are not saved (they are objects, and only shape training). Under torchrun only
        rank 0 writes (every process holds the same weights).
        """
        self._check_fitted()
        if not D.context().is_main:
            logger.debug("rank %d does not write %s: rank 0 writes the model file", D.context().rank, path)
            return
        metadata = {
            "params": {k: _json_value(v) for k, v in self.get_params().items() if k not in _NOT_SAVED},
            "random_state": self.random_state if isinstance(self.random_state, Integral) else None,
            "entropy": self.entropy_,
            "transformer": self.transformer_.to_json(),
            "condition_counts": [c.tolist() for c in self.condition_counts_],
            "condition_pairs": self.condition_pairs_,
            "history": self.history_.to_dict(orient="list"),
            "feature_names": list(self.feature_names_in_),
            "privacy": getattr(self, "privacy_", None),
            "constraints": self.constraints_.to_json() if getattr(self, "constraints_", None) else None,
            "column_metadata": self.metadata_.to_dict() if getattr(self, "metadata_", None) is not None else None,
            "processes": getattr(self, "processes_", 1),
        }
        persistence.write_model(Path(path), metadata, self.model_.weights(), overwrite=overwrite)

    @classmethod
    def _checked_model(cls, metadata: dict, weights: dict[str, torch.Tensor],
                       device: str) -> tuple[SynthGAN, TabularModel]:
        """An unfitted estimator and its sampling model from checked metadata; raises on any mismatch
        before a network of the stored size is built."""
        params = {**_INTRODUCED, **metadata["params"]}  # a file from before a parameter: the value it ran with
        for key in ("generator_dim", "discriminator_dim"):
            if isinstance(params.get(key), list):
                params[key] = tuple(params[key])
        self = cls(**{**params, "device": device}, random_state=metadata.get("random_state"))
        self._validate_params()
        self.transformer_ = DataTransformer.from_json(metadata["transformer"])
        _check_counts(metadata["condition_counts"], self.transformer_)
        columns = self.transformer_.columns_
        self.constraints_ = None
        if metadata.get("constraints") is not None:
            self.constraints_ = Constraints.from_json(metadata["constraints"])
            if list(map(str, self.constraints_.modelled_columns_)) != list(map(str, columns)):
                raise ValueError("the constraints' modelled columns do not match the stored columns")
            columns = self.constraints_.columns_
        if list(map(str, metadata["feature_names"])) != list(map(str, columns)):
            raise ValueError("feature_names do not match the stored columns")
        self.metadata_ = None
        if metadata.get("column_metadata") is not None:
            self.metadata_ = self.metadata = Metadata.from_dict(metadata["column_metadata"])
        if self.constraints_ is not None:  # the user's own: those the metadata declared come first
            declared = len(self.metadata_.constraints) + len(self.metadata_.bound_constraints()) \
                if self.metadata_ is not None else 0
            self.constraints = list(self.constraints_.items[declared:]) or None
        with torch.device("meta"):  # shapes only: no memory is allocated
            probe = build_model(self.model, self.transformer_.layout_, self._model_params(), torch.device("meta"),
                                self.transformer_)
        expected = probe.weight_shapes()
        if OFFSETS_KEY in expected and OFFSETS_KEY not in weights:  # a file from before discrete calibration
            weights[OFFSETS_KEY] = torch.zeros(expected[OFFSETS_KEY])
        found = {k: tuple(v.shape) for k, v in weights.items()}
        if found != expected:
            wrong = sorted(set(found) ^ set(expected)) or [k for k in expected if found[k] != expected[k]]
            raise ValueError(f"the weights do not fit the stored parameters and columns (first mismatch: "
                             f"{wrong[0]!r})")
        self.device_ = self._resolve_device()
        return self, build_model(self.model, self.transformer_.layout_, self._model_params(), self.device_,
                                 self.transformer_)

    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> SynthGAN:
        """Read a model written by :meth:`save`; tensors are loaded with ``weights_only=True``.

        Only what sampling needs is built: the generator, no critic and no optimizers.
        """
        metadata, weights = persistence.read_model(Path(path))
        where = repr(str(path))
        try:
            self, model = cls._checked_model(metadata, weights, device)
        except (TypeError, KeyError, ValueError, AttributeError, IndexError) as exc:
            raise ModelFileError(f"{where} holds an invalid model description ({type(exc).__name__}: {exc}); "
                                 "it was not loaded") from None
        try:
            model.load_weights({k: v.to(self.device_) for k, v in weights.items()})
        except RuntimeError as exc:
            raise ModelFileError(f"{path}: weights do not match the stored layout ({exc})") from None
        self.model_ = model
        self.condition_counts_ = [np.asarray(c, dtype=np.int64) for c in metadata["condition_counts"]]
        self.condition_pairs_ = metadata.get("condition_pairs")
        self._generation = _Generation(model, self.transformer_, self.condition_counts_, self.device_,
                                       self.constraints_, self.metadata_)
        self.history_ = pd.DataFrame(metadata["history"])
        self.privacy_ = metadata.get("privacy")
        self.processes_ = int(metadata.get("processes", 1))
        self.saved_with_ = {k: metadata.get(k) for k in ("synthgan_version", "torch_version") if k in metadata}
        self.feature_names_in_ = np.asarray(metadata["feature_names"], dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        entropy = metadata.get("entropy")
        self.entropy_ = int(entropy) if entropy is not None else root_entropy(self.random_state)
        self._sample_rng = RandomStreams(self.entropy_).numpy("sampling")
        return self


def _transformer_rows(frame: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """What one process sends for the transformer fit: a row sample, plus a row for every level of a
    discrete column the sample misses and the rows holding each number column's minimum and
    maximum (so every level is known and every range is whole, whichever process holds them)."""
    picked = set(rng.choice(len(frame), size=min(n, len(frame)), replace=False).tolist())
    sample = frame.iloc[sorted(picked)]
    for name in frame.columns:
        series = frame[name]
        kind = column_kind(series)
        if kind in ("numeric", "integer", "datetime"):
            values = pd.Series(continuous_values(series, kind))
            if values.notna().any():
                picked.update((int(values.idxmin()), int(values.idxmax())))
            if series.isna().any():
                picked.add(int(np.flatnonzero(series.isna().to_numpy())[0]))
        else:
            seen = set(sample[name].astype(object).where(sample[name].notna(), None))
            first = pd.Series(np.arange(len(frame))).groupby(series.astype(object).where(series.notna(), None)
                                                             .to_numpy(), dropna=False).first()
            picked.update(int(i) for level, i in first.items() if (None if pd.isna(level) else level) not in seen)
    return frame.iloc[sorted(picked)]


def _value_covariance(encoded: EncodedRows, ctx: D.Context, device: torch.device) -> torch.Tensor:
    """Covariance of the encoded rows' scalar columns, over every process's rows (float64)."""
    values = torch.as_tensor(encoded.values, dtype=torch.float64, device=device)
    count = torch.tensor([float(len(values))], dtype=torch.float64, device=device)
    moments = torch.cat([count, values.sum(dim=0), (values.T @ values).flatten()])
    D.all_reduce_sum(moments, ctx)
    k = values.shape[1]
    n, total, products = moments[0], moments[1:k + 1], moments[k + 1:].view(k, k)
    return (products - torch.outer(total, total) / n) / (n - 1).clamp_min(1)


def _combine_counts(counts: list[np.ndarray], pairs: dict | None, ctx: D.Context,
                    device: torch.device) -> tuple[list[np.ndarray], dict | None]:
    """Training-by-sampling counts summed over processes; the category pairs seen by any process."""
    sizes = [len(c) for c in counts]
    flat = torch.as_tensor(np.concatenate(counts) if counts else np.zeros(0), dtype=torch.int64, device=device)
    D.all_reduce_sum(flat, ctx)
    summed = np.split(flat.cpu().numpy(), np.cumsum(sizes)[:-1]) if counts else []
    if pairs is not None:
        every = D.gather(pairs, ctx)
        pairs = {key: sorted(set().union(*(p[key] for p in every))) for key in pairs}
    return summed, pairs


def exact_condition_counts(codes: np.ndarray, transformer: DataTransformer) -> list[np.ndarray]:
    """Training count of every slot of each condition span (the non-private path)."""
    return [np.bincount(codes[:, k], minlength=s.width) for k, s in enumerate(transformer.layout_.condition_spans)]


def _check_counts(counts: list, transformer: DataTransformer) -> None:
    spans = transformer.layout_.condition_spans
    if len(counts) != len(spans) or any(len(c) != s.width for c, s in zip(counts, spans)):
        raise ValueError(f"condition_counts has {[len(c) for c in counts]} entries where the layout needs "
                         f"{[s.width for s in spans]}")


def _json_value(value: object) -> object:
    """A parameter value as JSON keeps it (tuples as lists, numpy scalars as Python numbers)."""
    if isinstance(value, tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, torch.device):
        return str(value)
    return value


def _history_frame(records: list[dict]) -> pd.DataFrame:
    """History records as a frame: the loop's own columns first, then every other key as first logged."""
    keys = [k for k in _HISTORY_LEAD if any(k in r for r in records)]
    for record in records:
        keys += [k for k in record if k not in keys]
    return pd.DataFrame(records, columns=keys)

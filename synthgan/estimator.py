"""``SynthGAN``: the scikit-learn style façade over transformer, model, trainer and sampler."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable, Iterator, Mapping
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator

from synthgan import persistence
from synthgan.conditional import ConditionSampler
from synthgan.errors import ConditionError, DataError, ModelFileError, NotFittedError, SynthGANError
from synthgan.models import base as model_base
from synthgan.models.base import ModelConfig, TabularGAN, build_model
from synthgan.trainer import Trainer, TrainingPlan
from synthgan.transform.categories import CategoryState
from synthgan.transform.transformer import DataTransformer

logger = logging.getLogger(__name__)

_MAX_REJECTION_ROUNDS = 50
_SAMPLE_CHUNK_ROWS = 50_000


def _seed_sequence(random_state: int | np.random.Generator | None) -> np.random.SeedSequence:
    if isinstance(random_state, np.random.Generator):
        return np.random.SeedSequence(int(random_state.integers(2**63)))
    return np.random.SeedSequence(random_state)


class SynthGAN(BaseEstimator):
    """Learn a mixed-type table and sample synthetic rows from it.

    Parameters
    ----------
    model : {"ctgan", "wgan-gp"}, default="ctgan"
        ``ctgan``: conditional generator with training-by-sampling and a PacGAN critic;
        ``wgan-gp``: unconditional Wasserstein GAN with gradient penalty.
    epochs : int, default=300
        Passes over the training rows.
    batch_size : int, default=500
        Rows per step; rounded down to a multiple of ``pac`` and capped at the table size.
    loss : {"wgan-gp", "bce"}, default="wgan-gp"
        Adversarial loss; ``bce`` is the vanilla (non-saturating) GAN loss.
    embedding_dim : int, default=128
        Size of the generator's noise input.
    generator_dim, discriminator_dim : tuple of int, default=(256, 256)
        Hidden layer widths of generator (residual) and critic.
    generator_lr, discriminator_lr : float, default=2e-4
        Adam learning rates.
    weight_decay : float, default=1e-6
        Adam weight decay of both networks.
    pac : int, default=10
        Rows the critic scores together (PacGAN).
    critic_steps : int, default=1
        Critic updates per generator update.
    log_frequency : bool, default=True
        Draw training conditions with log-frequency rather than frequency.
    max_modes : int, default=10
        Most Gaussian-mixture modes per continuous column.
    max_categories : int, default=100
        Widest one-hot per discrete column; rarer levels share one slot and are drawn with their
        training frequency.
    gmm_max_rows : int, default=5000
        Rows sampled to fit each column's mixture (speed).
    max_time : float or None, default=None
        Wall-clock budget in seconds for training; stops after the epoch that crosses it.
    device : str, default="auto"
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or any torch device string.
    verbose : bool, default=True
        Progress bar on stderr while fitting and sampling.
    random_state : int, numpy Generator or None, default=None
        Seed of every random draw in fit and sample; global random states are never touched.

    Attributes
    ----------
    transformer_ : DataTransformer
        Fitted encoder; ``transformer_.layout_`` is the table layout.
    model_ : object
        The trained model (see :mod:`synthgan.models`).
    history_ : DataFrame
        One row per epoch: ``epoch``, ``generator_loss``, ``critic_loss``, ``seconds``.
    feature_names_in_ : ndarray of object
        Training column names, in order.
    n_features_in_ : int
        Number of training columns.
    timings_ : dict
        Wall-clock seconds of the transformer fit (``transformer_fit_s``) and of training (``training_s``).

    Examples
    --------
    >>> from synthgan import SynthGAN, load_demo
    >>> real = load_demo()
    >>> synthetic = SynthGAN(epochs=5, random_state=0, verbose=False).fit(real).sample(100)
    >>> list(synthetic.columns) == list(real.columns)
    True
    """

    def __init__(self, model: str = "ctgan", epochs: int = 300, batch_size: int = 500,
                 loss: str = "wgan-gp", embedding_dim: int = 128,
                 generator_dim: tuple[int, ...] = (256, 256), discriminator_dim: tuple[int, ...] = (256, 256),
                 generator_lr: float = 2e-4, discriminator_lr: float = 2e-4, weight_decay: float = 1e-6,
                 pac: int = 10, critic_steps: int = 1, log_frequency: bool = True, max_modes: int = 10,
                 max_categories: int = 100, gmm_max_rows: int = 5000, max_time: float | None = None,
                 device: str = "auto", verbose: bool = True,
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
        self.critic_steps = critic_steps
        self.log_frequency = log_frequency
        self.max_modes = max_modes
        self.max_categories = max_categories
        self.gmm_max_rows = gmm_max_rows
        self.max_time = max_time
        self.device = device
        self.verbose = verbose
        self.random_state = random_state

    # ------------------------------------------------------------------ checks
    def _validate_params(self) -> None:
        def positive_int(name: str, minimum: int = 1) -> None:
            value = getattr(self, name)
            if not isinstance(value, Integral) or isinstance(value, bool) or value < minimum:
                raise SynthGANError(f"{name} must be an integer >= {minimum}, got {value!r}")

        def positive_real(name: str, allow_zero: bool = False) -> None:
            value = getattr(self, name)
            ok = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)
            if not ok or value < 0 or (value == 0 and not allow_zero):
                raise SynthGANError(f"{name} must be a {'non-negative' if allow_zero else 'positive'} "
                                    f"number, got {value!r}")

        if self.model not in model_base.model_names():
            raise SynthGANError(f"model must be one of {list(model_base.model_names())}, got {self.model!r}")
        if self.loss not in ("wgan-gp", "bce"):
            raise SynthGANError(f"loss must be 'wgan-gp' or 'bce', got {self.loss!r}")
        for name in ("epochs", "batch_size", "embedding_dim", "pac", "critic_steps", "max_modes",
                     "gmm_max_rows"):
            positive_int(name)
        positive_int("max_categories", 2)
        for name in ("generator_lr", "discriminator_lr"):
            positive_real(name)
        positive_real("weight_decay", allow_zero=True)
        if self.max_time is not None:
            positive_real("max_time")
        for name in ("generator_dim", "discriminator_dim"):
            dims = getattr(self, name)
            if not isinstance(dims, (tuple, list)) or not all(
                    isinstance(d, Integral) and not isinstance(d, bool) and d > 0 for d in dims):
                raise SynthGANError(f"{name} must be a tuple of positive integers, got {dims!r}")
        if self.batch_size < self.pac:
            raise SynthGANError(f"batch_size ({self.batch_size}) must be at least pac ({self.pac})")
        if not isinstance(self.random_state, (type(None), Integral, np.random.Generator)):
            raise SynthGANError(f"random_state must be None, an int or a numpy Generator, "
                                f"got {type(self.random_state).__name__}")

    def _resolve_device(self) -> torch.device:
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        try:
            device = torch.device(self.device)
        except (RuntimeError, TypeError) as exc:
            raise SynthGANError(f"device {self.device!r} is not a torch device: {exc}") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise SynthGANError("device='cuda' was asked for but torch sees no CUDA GPU; use device='cpu'")
        return device

    def _config(self) -> ModelConfig:
        return ModelConfig(embedding_dim=self.embedding_dim, generator_dim=tuple(self.generator_dim),
                           critic_dim=tuple(self.discriminator_dim), generator_lr=self.generator_lr,
                           critic_lr=self.discriminator_lr, weight_decay=self.weight_decay,
                           pac=self.pac, loss=self.loss)

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(df) first")

    # ------------------------------------------------------------------ fit
    def fit(self, X: pd.DataFrame, y: None = None, discrete_columns: Iterable[str] | None = None) -> SynthGAN:
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

        Returns
        -------
        self : SynthGAN
        """
        self._validate_params()
        device = self._resolve_device()
        seeds = _seed_sequence(self.random_state).spawn(4)
        transform_rng, train_rng, sample_rng = (np.random.default_rng(s) for s in seeds[:3])
        torch_seed = int(seeds[3].generate_state(1)[0])

        started = time.perf_counter()
        transformer = DataTransformer(self.max_modes, self.max_categories, self.gmm_max_rows)
        transformer.fit(X, transform_rng, discrete_columns)
        transformer_seconds = time.perf_counter() - started
        encoded = transformer.transform(X, transform_rng)
        layout = transformer.layout_
        codes = transformer.category_codes(encoded)
        counts = [np.bincount(codes[:, k], minlength=s.width) for k, s in enumerate(layout.condition_spans)]

        batch = min(self.batch_size, len(X)) // self.pac * self.pac
        if batch == 0:
            raise DataError(f"the table has {len(X)} rows, fewer than pac={self.pac}; "
                            f"pass more rows or set pac <= {len(X)}")
        model = build_model(self.model, layout, self._config(), device, torch_seed)
        trainer = Trainer(model, encoded, ConditionSampler(counts, codes, self.log_frequency), device, train_rng)
        logger.info("fitting %s on %d rows x %d columns (%d encoded) on %s",
                    self.model, len(X), X.shape[1], layout.dim, device)
        started = time.perf_counter()
        history = trainer.fit(TrainingPlan(self.epochs, batch, self.critic_steps, self.max_time, self.verbose))
        self.timings_ = {"transformer_fit_s": transformer_seconds, "training_s": time.perf_counter() - started}

        self.transformer_ = transformer
        self.model_ = model
        self.condition_counts_ = counts
        self._generation_sampler = ConditionSampler(counts)
        self.history_ = pd.DataFrame(history, columns=["epoch", "generator_loss", "critic_loss", "seconds"])
        self.feature_names_in_ = np.asarray(list(X.columns), dtype=object)
        self.n_features_in_ = X.shape[1]
        self.device_ = device
        self._sample_rng = sample_rng
        return self

    # ------------------------------------------------------------------ sample
    def _rng_for_call(self, random_state: int | None) -> np.random.Generator:
        return self._sample_rng if random_state is None else np.random.default_rng(random_state)

    def _native_condition(self, conditions: Mapping[Any, Any]) -> tuple[int, int] | None:
        """(span, slot) of the first condition the conditional vector can express, if any."""
        if not self.model_.conditional:
            return None
        layout = self.transformer_.layout_
        for k, span in enumerate(layout.condition_spans):
            if span.column not in conditions:
                continue
            value = _as_level(conditions[span.column])
            if span.role == "missing":
                if value is None:
                    return k, 1
                continue
            state = self.transformer_.states_[list(self.feature_names_in_).index(span.column)]
            if value in state.levels:
                return k, state.levels.index(value)
        return None

    def _check_conditions(self, conditions: Mapping[Any, Any]) -> None:
        if not isinstance(conditions, Mapping):
            raise ConditionError(f"conditions must be a dict of column -> value, got {type(conditions).__name__}")
        names = list(self.feature_names_in_)
        for column, value in conditions.items():
            if column not in names:
                raise ConditionError(f"condition column {column!r} is not a training column; "
                                     f"known columns: {names}")
            spec = self.transformer_.specs_[names.index(column)]
            state = self.transformer_.states_[names.index(column)]
            if _is_missing(value):
                if not spec.has_nulls:
                    raise ConditionError(f"column {column!r} had no missing values in training, "
                                         "so rows with it missing cannot be generated")
            elif isinstance(state, CategoryState):
                if _as_level(value) not in state.all_levels:
                    shown = list(state.all_levels[:20])
                    raise ConditionError(f"value {value!r} never occurs in column {column!r}; "
                                         f"choose one of {shown}{' ...' if len(state.all_levels) > 20 else ''}")
            else:
                try:
                    number = _condition_number(value, spec.kind)
                except (TypeError, ValueError):
                    raise ConditionError(f"value {value!r} for numeric column {column!r} is not a number") from None
                if not state.minimum <= number <= state.maximum:
                    raise ConditionError(f"value {value!r} for column {column!r} lies outside the training "
                                         f"range; choose a value in the observed range")

    def _generate(self, n: int, native: tuple[int, int] | None, rng: np.random.Generator) -> pd.DataFrame:
        sampler = self._generation_sampler
        device = self.device_
        if self.model_.conditional and sampler.n_spans:
            if native is None:
                entry = sampler.entry(*sampler.draw_empirical(n, rng))
            else:
                entry = sampler.entry(np.full(n, native[0]), np.full(n, native[1]))
            condition = torch.as_tensor(sampler.vectors(entry), device=device)
        else:
            condition = torch.zeros(n, 0, device=device)
        generator = torch.Generator(device=device).manual_seed(int(rng.integers(2**62)))
        rows = self.model_.generate(condition, generator).cpu().numpy()
        return self.transformer_.inverse_transform(rows, rng)

    def iter_samples(self, n: int, chunk_rows: int = 10_000, conditions: Mapping[Any, Any] | None = None,
                     random_state: int | None = None) -> Iterator[pd.DataFrame]:
        """Yield ``n`` synthetic rows in chunks of at most ``chunk_rows`` (bounded memory).

        Parameters are as in :meth:`sample`.
        """
        self._check_fitted()
        if not isinstance(n, Integral) or isinstance(n, bool) or n < 0:
            raise SynthGANError(f"the number of rows must be a non-negative integer, got {n!r}")
        if not isinstance(chunk_rows, Integral) or chunk_rows < 1:
            raise SynthGANError(f"chunk_rows must be a positive integer, got {chunk_rows!r}")
        conditions = dict(conditions or {})
        self._check_conditions(conditions)
        rng = self._rng_for_call(random_state)
        native = self._native_condition(conditions)
        remaining = int(n)
        while remaining > 0:
            want = min(chunk_rows, remaining)
            if not conditions:
                chunk = self._generate(want, None, rng)
            else:
                chunk = self._generate_matching(want, conditions, native, rng)
            remaining -= len(chunk)
            yield chunk

    def _generate_matching(self, n: int, conditions: Mapping[Any, Any], native: tuple[int, int] | None,
                           rng: np.random.Generator) -> pd.DataFrame:
        kept: list[pd.DataFrame] = []
        have, drawn = 0, 0
        for _ in range(_MAX_REJECTION_ROUNDS):
            batch = self._generate(max(2 * (n - have), 100), native, rng)
            drawn += len(batch)
            match = batch[_matches(batch, conditions)]
            kept.append(match)
            have += len(match)
            if have >= n:
                return pd.concat(kept, ignore_index=True).iloc[:n]
        raise ConditionError(f"only {have} of {drawn} generated rows met the conditions {conditions}; "
                             "the model almost never produces such rows. Relax the conditions or "
                             "train longer")

    def sample(self, n: int, conditions: Mapping[Any, Any] | None = None,
               random_state: int | None = None) -> pd.DataFrame:
        """Generate exactly ``n`` synthetic rows.

        Parameters
        ----------
        n : int
            Number of rows.
        conditions : dict, optional
            ``{column: value}``; every returned row has these values. A discrete column's value is
            requested through the conditional vector, other conditions by rejection sampling.
            ``None`` as a value asks for rows where the column is missing.
        random_state : int, optional
            Seed for this call alone; by default calls continue one stream seeded at fit, so two
            models fitted with the same ``random_state`` return the same samples in the same order.

        Returns
        -------
        DataFrame with the training columns in training order and dtypes.
        """
        chunks = list(self.iter_samples(n, _SAMPLE_CHUNK_ROWS, conditions, random_state))
        if not chunks:
            return self._generate(0, None, self._rng_for_call(random_state))
        return pd.concat(chunks, ignore_index=True)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path, overwrite: bool = False) -> None:
        """Write the fitted model to ``path`` (a zip of JSON metadata and tensor weights).

        The file is written atomically; an existing file is kept unless ``overwrite=True``.
        """
        self._check_fitted()
        metadata = {
            "params": {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.get_params().items()
                       if k != "random_state"},
            "random_state": self.random_state if isinstance(self.random_state, Integral) else None,
            "transformer": self.transformer_.to_json(),
            "condition_counts": [c.tolist() for c in self.condition_counts_],
            "history": self.history_.to_dict(orient="list"),
            "feature_names": list(self.feature_names_in_),
        }
        persistence.write_model(Path(path), metadata, self.model_.weights(), overwrite=overwrite)

    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> SynthGAN:
        """Read a model written by :meth:`save`; tensors are loaded with ``weights_only=True``."""
        metadata, weights = persistence.read_model(Path(path))
        params = dict(metadata["params"])
        for key in ("generator_dim", "discriminator_dim"):
            params[key] = tuple(params[key])
        params["device"] = device
        self = cls(**params, random_state=metadata["random_state"])
        self.transformer_ = DataTransformer.from_json(metadata["transformer"])
        self.device_ = self._resolve_device()
        model = build_model(self.model, self.transformer_.layout_, self._config(), self.device_, 0)
        try:
            model.load_weights({k: v.to(self.device_) for k, v in weights.items()})
        except RuntimeError as exc:
            raise ModelFileError(f"{path}: weights do not match the stored layout ({exc})") from None
        self.model_ = model
        self.condition_counts_ = [np.asarray(c, dtype=np.int64) for c in metadata["condition_counts"]]
        self._generation_sampler = ConditionSampler(self.condition_counts_)
        self.history_ = pd.DataFrame(metadata["history"])
        self.feature_names_in_ = np.asarray(metadata["feature_names"], dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        self._sample_rng = np.random.default_rng(_seed_sequence(self.random_state).spawn(4)[2])
        return self


def _is_missing(value: object) -> bool:
    return value is None or (pd.api.types.is_scalar(value) and bool(pd.isna(value)))


def _as_level(value: object) -> object:
    if _is_missing(value):
        return None
    return value.item() if isinstance(value, np.generic) else value


def _condition_number(value: object, kind: str) -> float:
    if kind == "datetime":
        stamp = pd.Timestamp(value)
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        return float(stamp.value)
    return float(value)  # type: ignore[arg-type]


def _matches(frame: pd.DataFrame, conditions: Mapping[Any, Any]) -> np.ndarray:
    keep = np.ones(len(frame), dtype=bool)
    for column, value in conditions.items():
        series = frame[column]
        keep &= series.isna().to_numpy() if _is_missing(value) else (series == value).fillna(False).to_numpy(bool)
    return keep

"""``synthgan`` command line: fit, sample, augment, evaluate."""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from synthgan._version import __version__
from synthgan.demo import demo_path
from synthgan.errors import SynthGANError
from synthgan.io import (atomic_path, check_output, is_stdio, overlap_writing, read_table, resolve_format,
                         table_format, write_table)
from synthgan.models import model_class, model_names
from synthgan.training.strategy import Strategy

logger = logging.getLogger("synthgan")
CHUNK_ROWS = 20_000
MAX_BALANCE_CLASSES = 100


class SynthGANGroup(click.Group):
    """Turns synthgan errors into one-line messages (a traceback only with --debug)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except SynthGANError as exc:
            if ctx.params.get("debug"):
                raise
            raise click.ClickException(str(exc)) from None
        except OSError as exc:  # disk full, permission denied, ...: the system's words, one line
            if ctx.params.get("debug"):
                raise
            where = f"{exc.filename}: " if exc.filename else ""
            raise click.ClickException(f"{where}{exc.strerror or exc}; nothing was written") from None


def _terminated(signum: int, frame) -> None:
    """SIGTERM ends the command like an error would: unfinished temporary outputs are removed."""
    sys.stderr.write(f"synthgan: stopped by {signal.Signals(signum).name}; unfinished output removed\n")
    raise SystemExit(128 + signum)


def run() -> None:
    """Console entry point: ``main`` with SIGTERM turned into a clean exit."""
    signal.signal(signal.SIGTERM, _terminated)
    main(prog_name="synthgan")


@click.group(cls=SynthGANGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="synthgan")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
def main(debug: bool) -> None:
    """Learn a table and generate synthetic rows.

    \b
    Examples:
      synthgan augment data.parquet --rows 50000
      synthgan fit data.csv -o model.synthgan --epochs 300
      synthgan sample model.synthgan --rows 1000000 -o synth.parquet
      synthgan evaluate real.parquet synth.parquet --report report.html
    """
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


class RegisteredModel(click.Choice):
    """``--model`` choices read from the model registry when the command runs, so every registered
    model (built-in or added by a plugin before the CLI runs) is offered and described."""

    def __init__(self) -> None:
        super().__init__([])

    @property
    def choices(self) -> tuple[str, ...]:
        return model_names()

    @choices.setter
    def choices(self, value) -> None:  # click's __init__ assigns it; the registry is the source
        pass


FORMAT_OPTION = click.option("--format", "fmt", type=click.Choice(["parquet", "csv", "csv.gz"]), default=None,
                             help="Table format of '-' (stdin/stdout) and of names without a known suffix.")


def _model_options(func):
    options = [
        click.option("--model", "model_name", type=RegisteredModel(), default="ctgan", show_default=True,
                     help="Model to train (`synthgan models` describes each)."),
        click.option("--epochs", type=click.IntRange(min=1), default=None,
                     help="Training epochs [default: 300; with --epsilon 20, or more on a small table: at least 1,440 "
                          "critic steps]."),
        click.option("--max-time", type=click.FloatRange(min=0, min_open=True), default=None,
                     help="Stop training after this many seconds."),
        click.option("--discrete", multiple=True, help="Treat this column as categorical (repeatable)."),
        click.option("--metadata", "metadata_path", type=click.Path(path_type=Path), default=None,
                     help="Column kinds, formats, bounds and constraints as JSON (`synthgan inspect -o` writes one)."),
        click.option("--privacy", "privacy_mode", type=click.Choice(["strict"]), default=None,
                     help="strict: levels held by fewer than 5 rows are never generated or stored."),
        click.option("--seed", type=click.IntRange(min=0), default=None,
                     help="Random seed (>= 0) for reproducible results."),
        click.option("--encoding", default=None,
                     help="Text encoding of a CSV input (default: UTF-8, else Latin-1)."),
        click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda."),
        click.option("--quiet", "-q", is_flag=True, help="No progress bars."),
        click.option("--force", is_flag=True, help="Overwrite an existing output file."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _fit(frame: pd.DataFrame, model_name: str, epochs: int | None, max_time: float | None, discrete: tuple[str, ...],
         seed: int | None, device: str, quiet: bool, metadata_path: Path | None = None,
         privacy_mode: str | None = None, target: str | None = None, callbacks: list | None = None,
         resume_from: Path | None = None, precision: str = "float32", **privacy: float | None):
    from synthgan.estimator import SynthGAN
    from synthgan.metadata import Metadata

    metadata = Metadata.load(metadata_path) if metadata_path is not None else None
    if not quiet:
        click.echo(f"fitting {model_name} on {len(frame):,} rows x {frame.shape[1]} columns", err=True)
    return SynthGAN(model=model_name, epochs="auto" if epochs is None else epochs, max_time=max_time, device=device,
                    verbose=not quiet, random_state=seed, metadata=metadata, privacy=privacy_mode, target=target,
                    callbacks=callbacks, precision=precision, **privacy).fit(
        frame, discrete_columns=list(discrete) or None, resume_from=resume_from)


def _changed_params(model) -> str:
    """``name=value`` for each parameter of a loaded model that differs from the defaults (the device
    and the seed, which are shown apart, left out)."""
    defaults = type(model)().get_params()
    return ", ".join(f"{k}={v!r}" for k, v in model.get_params().items()
                     if k not in ("device", "random_state", "metadata", "constraints") and v != defaults.get(k))


def _progress(chunks: Iterator[pd.DataFrame], total: int, quiet: bool, desc: str) -> Iterator[pd.DataFrame]:
    with tqdm(total=total, desc=desc, unit="row", disable=quiet, file=sys.stderr, leave=False) as bar:
        for chunk in chunks:
            bar.update(len(chunk))
            yield chunk


def _check_output(output: Path, force: bool, *inputs: Path | None, fmt: str | None = None) -> None:
    resolve_format(output, fmt)
    if not is_stdio(output):
        check_output(output, force, inputs)


@main.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="Model file to write (e.g. model.synthgan).")
@FORMAT_OPTION
@_model_options
@click.option("--epsilon", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Train with differential privacy at this epsilon (one row is the unit; see the README).")
@click.option("--delta", type=click.FloatRange(min=0, max=1, min_open=True, max_open=True), default=None,
              help="Delta of the privacy guarantee (default: a power of ten below 1/(10 rows)).")
@click.option("--max-grad-norm", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="Per-row gradient clipping bound of private training.")
@click.option("--target", default=None,
              help="Column a downstream model will predict: train with the auxiliary target loss on it.")
@click.option("--checkpoint", "checkpoint_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Write a checkpoint here every --checkpoint-every epochs, and resume from the latest one found "
                   "there (so a rerun, or torchrun --max-restarts, continues an interrupted fit).")
@click.option("--checkpoint-every", type=click.IntRange(min=1), default=1, show_default=True,
              help="Epochs between checkpoints.")
@click.option("--precision", type=click.Choice(list(Strategy.PRECISIONS)), default="float32", show_default=True,
              help="bfloat16: training steps under autocast (faster on GPUs with bfloat16 units).")
def fit(input_path: Path, output: Path, fmt: str | None, model_name: str, epochs: int | None, max_time: float | None,
        discrete: tuple[str, ...], metadata_path: Path | None, privacy_mode: str | None, seed: int | None,
        encoding: str | None, device: str, quiet: bool, force: bool, epsilon: float | None, delta: float | None,
        max_grad_norm: float, target: str | None, checkpoint_dir: Path | None, checkpoint_every: int,
        precision: str) -> None:
    """Fit a model on INPUT (.parquet, .csv, .csv.gz) and save it.

    \b
    Examples:
      synthgan fit data.csv -o model.synthgan --epochs 300 --seed 0
      synthgan fit data.csv -o private.synthgan --epsilon 1
      synthgan fit data.csv -o model.synthgan --metadata meta.json --privacy strict
      synthgan fit data.csv -o model.synthgan --target label
      synthgan fit big.parquet -o model.synthgan --checkpoint ckpt/   # rerun to continue
    """
    if is_stdio(output):
        raise SynthGANError("a model file cannot be written to standard output; give -o a file name")
    check_output(output, force, [input_path])
    privacy = {} if epsilon is None else {"epsilon": epsilon, "delta": delta, "max_grad_norm": max_grad_norm}
    from synthgan import distributed

    ctx = distributed.context()  # under torchrun each process reads only its share of the rows
    frame = read_table(input_path, encoding, fmt=fmt, shard=(ctx.rank, ctx.world_size) if ctx.distributed else None)
    callbacks, resume_from = None, None
    if checkpoint_dir is not None:
        from synthgan.training import Checkpoint, list_checkpoints

        callbacks = [Checkpoint(checkpoint_dir, every=checkpoint_every)]
        if checkpoint_dir.is_dir() and list_checkpoints(checkpoint_dir):
            resume_from = checkpoint_dir
            if not quiet and ctx.is_main:
                click.echo(f"resuming from the latest checkpoint in {checkpoint_dir}", err=True)
    model = _fit(frame, model_name, epochs, max_time, discrete, seed, device, quiet or not ctx.is_main,
                 metadata_path, privacy_mode, target, callbacks, resume_from, precision, **privacy)
    if ctx.is_main:  # rank 0 writes the model file and reports; the others wait for it
        model.save(output, overwrite=force)
    distributed.barrier(ctx)
    distributed.leave()
    if not ctx.is_main:
        return
    if model.privacy_ is not None:
        click.echo(_privacy_line(model.privacy_), err=True)
    if not quiet:
        click.echo(f"wrote {output}", err=True)


def _privacy_line(privacy: dict) -> str:
    return (f"differential privacy: epsilon {privacy['epsilon']:.3f} spent of {privacy['target_epsilon']:g} "
            f"(statistics {privacy['epsilon_statistics']:.3f}, training {privacy['epsilon_training']:.3f}), "
            f"delta {privacy['delta']:.3g}; {privacy['steps']} critic steps, noise multiplier "
            f"{privacy['noise_multiplier']:.3f}, sampling rate {privacy['sample_rate']:.4g}, per-row clip "
            f"{privacy['max_grad_norm']:g}"
            + (f"; {privacy['target_steps']} target predictor steps, noise multiplier "
               f"{privacy['target_noise_multiplier']:.3f}" if "target_steps" in privacy else "")
            + (f"; moment release noise multiplier {privacy['moments_noise_multiplier']:.3f}"
               if "moments_noise_multiplier" in privacy else ""))


@main.command()
@click.argument("model_path", metavar="MODEL", type=click.Path(path_type=Path))
@click.option("--rows", "-n", type=click.IntRange(min=1), required=True, help="Rows to generate.")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="Output table (.parquet, .csv, .csv.gz).")
@click.option("--condition", "-c", multiple=True,
              help="column=value, column>=value, column<value ... (repeatable; '=' twice on a column: either value).")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Random seed (>= 0) for this sampling run.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@click.option("--parts", type=click.IntRange(min=1), default=None,
              help="Write OUTPUT as a folder of this many parquet part files (resumable, see below).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes writing parts in parallel (with --parts).")
@FORMAT_OPTION
def sample(model_path: Path, rows: int, output: Path, condition: tuple[str, ...], seed: int | None,
           device: str, quiet: bool, force: bool, parts: int | None, workers: int, fmt: str | None) -> None:
    """Generate rows from a saved MODEL, streamed to the output in chunks.

    \b
    Examples:
      synthgan sample model.synthgan --rows 1000000 -o synth.parquet
      synthgan sample model.synthgan --rows 500 -o women.csv --condition sex=Female
      synthgan sample model.synthgan --rows 100 -o - --format csv | head
      synthgan sample model.synthgan --rows 1000000000 -o outdir/ --parts 200 --workers 2

    With --parts, each part has its own seed stream and is written atomically, a manifest is written
    last, and running the same command again skips the parts already complete.
    """
    from synthgan.estimator import SynthGAN

    if parts is not None:
        from synthgan.sampling import sample_parts

        if fmt not in (None, "parquet"):
            raise SynthGANError("--parts writes parquet part files; leave out --format or use --format parquet")
        manifest = sample_parts(model_path, rows, output, parts, seed=seed, conditions=condition, workers=workers,
                                device=device)
        if not quiet:
            click.echo(f"wrote {manifest['rows']:,} rows in {len(manifest['parts'])} parts to {output}", err=True)
        return

    _check_output(output, force, model_path, fmt=fmt)
    model = SynthGAN.load(model_path, device=device)
    conditions = model.parse_conditions(condition)
    chunks = model.iter_samples(rows, CHUNK_ROWS, conditions, random_state=seed)
    written = write_table(_progress(chunks, rows, quiet, "sample"), output, overwrite=force, fmt=fmt,
                          overlap=overlap_writing(model.device_))
    if not quiet:
        click.echo(f"wrote {written:,} rows to {output}", err=True)


def balance_counts(counts: pd.Series, rows: int) -> dict:
    """Rows to add per class so the classes end as even as ``rows`` allows (water filling)."""
    ordered = counts.sort_values()
    values = ordered.to_numpy(dtype=np.int64)
    level, budget = float(values[0]), rows
    for k in range(1, len(values) + 1):
        nxt = values[k] if k < len(values) else np.inf
        need = (nxt - level) * k
        if need >= budget:
            level += budget / k
            break
        budget -= need
        level = nxt
    add = np.maximum(np.floor(level) - values, 0).astype(np.int64)
    shortfall = rows - int(add.sum())
    for i in range(shortfall):  # leftovers from flooring go to the smallest classes first
        add[i % len(add)] += 1
    return {label: int(n) for label, n in zip(ordered.index, add) if n > 0}


@main.command()
@click.argument("input_path", metavar="[INPUT]", required=False, type=click.Path(path_type=Path))
@click.option("--demo", is_flag=True, help="Use the demo table shipped with synthgan as INPUT.")
@click.option("--rows", "-n", type=click.IntRange(min=1), required=True, help="Synthetic rows to add.")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Output table; default: INPUT's name with '.augmented' beside INPUT.")
@click.option("--synthetic-only", is_flag=True, help="Write only the synthetic rows.")
@click.option("--target", default=None, help="Class column (with --balance), or the column of --target-loss.")
@click.option("--balance", is_flag=True, help="Spend the synthetic rows on the rarest --target classes.")
@click.option("--target-loss", is_flag=True,
              help="Train with the auxiliary target loss on --target (for rows a model will learn --target from).")
@click.option("--mark-synthetic", is_flag=True, help="Add a boolean column is_synthetic (False for the real rows).")
@FORMAT_OPTION
@_model_options
def augment(input_path: Path | None, demo: bool, rows: int, output: Path | None, synthetic_only: bool,
            target: str | None, balance: bool, target_loss: bool, mark_synthetic: bool, fmt: str | None,
            model_name: str, epochs: int | None, max_time: float | None, discrete: tuple[str, ...],
            metadata_path: Path | None, privacy_mode: str | None, seed: int | None, encoding: str | None,
            device: str, quiet: bool, force: bool) -> None:
    """Fit on INPUT and write INPUT's rows plus --rows synthetic rows.

    \b
    Examples:
      synthgan augment data.parquet --rows 50000
      synthgan augment data.csv --rows 2000 --target label --balance -o balanced.csv
      synthgan augment data.csv --rows 2000 --target label --target-loss
      synthgan augment --demo --rows 50000 -o demo_augmented.parquet
      cat data.csv | synthgan augment - --format csv --rows 100 > augmented.csv
    """
    if demo == (input_path is not None):
        raise SynthGANError("give either an INPUT file or --demo")
    source = Path(demo_path()) if demo else input_path
    if output is None and is_stdio(source):
        output = source  # standard input in, standard output out
    elif output is None:
        suffix = "parquet" if source.is_dir() else table_format(source)
        base = source.name if source.is_dir() else source.name[: -len(suffix) - 1]
        output = (Path.cwd() if demo else source.parent) / f"{base}.augmented.{suffix}"
    _check_output(output, force, source, fmt=fmt)
    for flag, given in (("--balance", balance), ("--target-loss", target_loss)):
        if given and target is None:
            raise SynthGANError(f"{flag} needs --target COLUMN")
    real = read_table(source, encoding, fmt=fmt)
    if mark_synthetic and "is_synthetic" in real.columns:
        raise SynthGANError("the table already has a column 'is_synthetic'; rename it or leave out --mark-synthetic")
    if target is not None and target not in real.columns:
        raise SynthGANError(f"--target column {target!r} is not in the table; columns: {list(real.columns)}")
    if balance:  # the target is a class label whatever its dtype (an integer label has few levels)
        levels = real[target].nunique(dropna=False)
        if levels > MAX_BALANCE_CLASSES:
            raise SynthGANError(f"--balance needs a class column; --target {target!r} has {levels} distinct values")
        discrete = tuple(dict.fromkeys((*discrete, target)))
    model = _fit(real, model_name, epochs, max_time, discrete, seed, device, quiet, metadata_path, privacy_mode,
                 target if target_loss else None)

    def synthetic() -> Iterator[pd.DataFrame]:
        if balance:
            for label, n in balance_counts(real[target].value_counts(dropna=False), rows).items():
                yield from model.iter_samples(n, CHUNK_ROWS, {target: label})
        else:
            yield from model.iter_samples(rows, CHUNK_ROWS)

    def stream() -> Iterator[pd.DataFrame]:
        if not synthetic_only:
            yield real.assign(is_synthetic=False) if mark_synthetic else real
        for chunk in synthetic():
            yield chunk.assign(is_synthetic=True) if mark_synthetic else chunk

    total = rows + (0 if synthetic_only else len(real))
    written = write_table(_progress(stream(), total, quiet, "write"), output, overwrite=force, fmt=fmt,
                          overlap=overlap_writing(model.device_))
    if not quiet:
        click.echo(f"wrote {written:,} rows to {output}", err=True)


@main.command()
@click.argument("real_path", metavar="REAL", type=click.Path(path_type=Path))
@click.argument("synthetic_path", metavar="SYNTHETIC", type=click.Path(path_type=Path))
@click.option("--holdout", type=click.Path(path_type=Path), default=None,
              help="Real rows not used for training (enables utility and privacy baselines).")
@click.option("--target", default=None, help="Column to predict for the utility scores.")
@click.option("--report", type=click.Path(path_type=Path), default=None, help="Write an HTML report here.")
@click.option("--json", "json_path", type=click.Path(path_type=Path), default=None,
              help="Write the scores as JSON here.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed for the evaluators.")
@click.option("--encoding", default=None, help="Text encoding of CSV inputs (default: UTF-8, else Latin-1).")
@click.option("--force", is_flag=True, help="Overwrite existing report files.")
@click.option("--model", "model_path", type=click.Path(path_type=Path), default=None,
              help="The model file that made SYNTHETIC: its training history and parameters go into the report.")
@FORMAT_OPTION
def evaluate(real_path: Path, synthetic_path: Path, holdout: Path | None, target: str | None,
             report: Path | None, json_path: Path | None, seed: int, encoding: str | None, force: bool,
             model_path: Path | None, fmt: str | None) -> None:
    """Score SYNTHETIC against REAL: fidelity, utility (with --target) and privacy.

    \b
    Examples:
      synthgan evaluate real.parquet synth.parquet
      synthgan evaluate train.parquet synth.parquet --holdout test.parquet --target income --report r.html
      synthgan evaluate train.parquet synth.parquet --model model.synthgan --report r.html
    """
    from synthgan.evaluation import evaluate as run_evaluation

    if report is not None and json_path is not None and report.resolve() == json_path.resolve():
        raise SynthGANError("--report and --json name the same file; give two names")
    for path in (report, json_path):
        if path is not None:
            check_output(path, force, [real_path, synthetic_path, holdout, model_path])
    if sum(is_stdio(p) for p in (real_path, synthetic_path, holdout)) > 1:
        raise SynthGANError("only one input can be '-' (standard input)")
    real = read_table(real_path, encoding, fmt=fmt)
    synthetic = read_table(synthetic_path, encoding, fmt=fmt)
    held = read_table(holdout, encoding, fmt=fmt) if holdout is not None else None
    provenance = {"real_file": str(real_path), "synthetic_file": str(synthetic_path),
                  "holdout_file": None if holdout is None else str(holdout)}
    history = None
    if model_path is not None:
        from synthgan.estimator import SynthGAN

        fitted = SynthGAN.load(model_path, device="cpu")
        history = fitted.history_
        provenance.update(model_file=str(model_path), model=fitted.model, model_seed=fitted.random_state,
                          model_parameters=_changed_params(fitted) or "defaults")
    result = run_evaluation(real, synthetic, target=target, holdout=held, random_state=seed, history=history,
                            provenance=provenance)
    click.echo(result.summary())
    if json_path is not None:
        with atomic_path(json_path, overwrite=force) as tmp:
            tmp.write_text(result.to_json())
    if report is not None:
        result.write_html(report, real, synthetic, overwrite=force)
        click.echo(f"wrote {report}", err=True)


@main.command()
@click.argument("model_path", metavar="MODEL", type=click.Path(path_type=Path))
def info(model_path: Path) -> None:
    """Describe a saved MODEL: versions, parameters, columns and their kinds, training history.

    \b
    Example:
      synthgan info model.synthgan
    """
    from synthgan.estimator import SynthGAN

    model = SynthGAN.load(model_path, device="cpu")
    written = model.saved_with_
    click.echo(f"{model_path}: synthgan model '{model.model}' ({model_class(model.model).description})")
    click.echo(f"  written by synthgan {written.get('synthgan_version', '?')}, torch {written.get('torch_version', '?')}; "
               f"read by synthgan {__version__}")
    seed = model.random_state if model.random_state is not None else f"none (entropy {model.entropy_})"
    click.echo(f"  random_state: {seed}")
    if model.processes_ > 1:
        click.echo(f"  trained data-parallel on {model.processes_} processes (torchrun)")
    click.echo(f"  parameters (changed from the defaults): {_changed_params(model) or 'none'}")
    transformer = model.transformer_
    click.echo(f"  columns ({len(transformer.columns_)}, encoded width {transformer.layout_.dim}):")
    specs = {spec.name: spec for spec in transformer.specs_ + transformer.constants_ + transformer.generated_}
    states = dict(zip([spec.name for spec in transformer.specs_], transformer.states_))
    for name in transformer.columns_:
        spec = specs[name]
        if spec.constant:
            detail = f"constant {spec.value!r}"
        elif spec.generated is not None:
            detail = f"never learned, generated fresh as {spec.generated['kind']}"
        elif spec.continuous:
            detail = f"{states[name].n_modes} modes"
        else:
            detail = f"{len(states[name].all_levels)} levels"
        missing = ", with missing values" if spec.has_nulls else ""
        click.echo(f"    {name}: {spec.kind} ({spec.dtype}), {detail}{missing}")
    if model.metadata_ is not None:
        declared = ", ".join(f"{name} ({entry.kind})" for name, entry in model.metadata_.columns.items())
        click.echo(f"  metadata: {declared}")
    for constraint in (model.constraints_.items if model.constraints_ else ()):
        how = "by transformation" if constraint.transforms_ else "by rejection"
        click.echo(f"  constraint: {constraint!r}, enforced {how}")
    privacy = getattr(model, "privacy_", None)
    click.echo(f"  {_privacy_line(privacy)}" if privacy else "  differential privacy: none (trained on the exact rows)")
    history = model.history_
    if len(history):
        last = history.iloc[-1]
        losses = ", ".join(f"{k} {last[k]:.4f}" for k in history.columns if k.endswith("_loss"))
        click.echo(f"  training: {len(history)} epochs, {history['seconds'].sum():.1f} s; last epoch: {losses}")
        if "val_fidelity" in history and history["val_fidelity"].notna().any():
            best = history.loc[history["val_fidelity"].idxmax()]
            click.echo(f"  validation fidelity: best {best['val_fidelity']:.4f} at epoch {int(best['epoch'])}, "
                       f"last {history['val_fidelity'].dropna().iloc[-1]:.4f}")


@main.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@FORMAT_OPTION
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Also write the detected metadata as JSON (edit it, then pass it to fit --metadata).")
@click.option("--encoding", default=None, help="Text encoding of a CSV input (default: UTF-8, else Latin-1).")
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
def inspect(input_path: Path, fmt: str | None, output: Path | None, encoding: str | None, force: bool) -> None:
    """Print what synthgan detects in INPUT: each column's kind and why, and likely mis-types.

    \b
    Examples:
      synthgan inspect data.csv
      synthgan inspect data.csv -o meta.json && synthgan fit data.csv --metadata meta.json -o model.synthgan
    """
    import warnings

    from synthgan.metadata import Metadata

    if output is not None:
        check_output(output, force, [input_path])
    frame = read_table(input_path, encoding, fmt=fmt)
    with warnings.catch_warnings():  # the summary lists the warnings itself
        warnings.simplefilter("ignore")
        metadata = Metadata.detect(frame)
    click.echo(f"{input_path}: {len(frame):,} rows x {frame.shape[1]} columns")
    click.echo(metadata.summary())
    if output is not None:
        with atomic_path(output, overwrite=force) as tmp:
            tmp.write_text(metadata.to_json() + "\n")
        click.echo(f"wrote {output}", err=True)


@main.command()
def models() -> None:
    """List the registered models: name, description, capabilities and the parameters each reads.

    \b
    Example:
      synthgan models
    """
    for name in model_names():
        info = model_class(name).describe()
        click.echo(f"{name}: {info['description']}")
        click.echo(f"  capabilities: {', '.join(info['capabilities']) or 'none'}")
        for parameter, text in info["parameters"].items():
            click.echo(f"  {parameter}: {text}")


if __name__ == "__main__":  # pragma: no cover
    run()

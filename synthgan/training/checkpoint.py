"""Checkpoints: the whole training state written atomically every N epochs, and read back to resume.

A checkpoint file ``epoch-000012.ckpt`` holds the networks (generator and critic), the optimizer
states, every random stream used in training (each process's, under torchrun), the epoch, the
history, the callbacks' states and a description of the run (root entropy, parameters, data
fingerprint) that ``fit(resume_from=...)`` checks before continuing. Files are written to a
temporary name in the same directory and renamed, so a crash never leaves a half-written
checkpoint, and read with ``torch.load(weights_only=True)``, so a checkpoint can never run code.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from synthgan.errors import SynthGANError
from synthgan.training.callbacks import Callback

if TYPE_CHECKING:
    from synthgan.training.loop import TrainState

logger = logging.getLogger(__name__)

FORMAT = "synthgan-checkpoint"
FORMAT_VERSION = 1
_NAME = re.compile(r"^epoch-(\d+)\.ckpt$")


def checkpoint_name(epoch: int) -> str:
    return f"epoch-{epoch:06d}.ckpt"


def write_checkpoint(directory: Path, state: dict[str, Any]) -> Path:
    """Write ``state`` (a trainer state dict) into ``directory`` atomically; returns the file."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / checkpoint_name(int(state["epoch"]))
    handle, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    os.close(handle)
    try:
        torch.save({"format": FORMAT, "format_version": FORMAT_VERSION, **state}, tmp_name)
        os.replace(tmp_name, path)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return path


def list_checkpoints(directory: Path) -> list[tuple[int, Path]]:
    """``(epoch, path)`` of the checkpoints in ``directory``, oldest first."""
    found = []
    for path in directory.iterdir():
        match = _NAME.match(path.name)
        if match and path.is_file():
            found.append((int(match.group(1)), path))
    return sorted(found)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint file, or the latest checkpoint in a directory.

    Raises
    ------
    SynthGANError
        If there is no checkpoint there or the file is not a readable synthgan checkpoint.
    """
    path = Path(path)
    if path.is_dir():
        found = list_checkpoints(path)
        if not found:
            raise SynthGANError(f"no checkpoint (epoch-NNNNNN.ckpt) in {str(path)!r}; pass the directory a "
                                "Checkpoint callback wrote to, or one of its files")
        path = found[-1][1]
    elif not path.is_file():
        raise SynthGANError(f"checkpoint {str(path)!r} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt or unsafe files
        raise SynthGANError(f"{str(path)!r} is not a readable synthgan checkpoint ({exc})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise SynthGANError(f"{str(path)!r} is not a synthgan checkpoint")
    if state.get("format_version", 0) > FORMAT_VERSION:
        raise SynthGANError(f"{str(path)!r} was written by a newer synthgan; upgrade synthgan to resume from it")
    logger.info("read checkpoint %s (epoch %d)", path, state["epoch"])
    return state


class Checkpoint(Callback):
    """Write the training state to ``directory`` every ``every`` epochs.

    Parameters
    ----------
    directory : str or Path
        Created if needed. ``SynthGAN(...).fit(df, resume_from=directory)`` continues from the
        latest checkpoint in it.
    every : int, default=1
        Epochs between checkpoints.
    keep : int or None, default=2
        Newest checkpoints to keep in the directory; ``None`` keeps all.

    Under torchrun, give every process the same callback (as ``synthgan fit --checkpoint`` does):
    each epoch's checkpoint gathers every process's random states, and rank 0 writes the file, which
    every process reads to resume (so ``directory`` must be on a file system they share).
    """

    order = 20

    def __init__(self, directory: str | Path, every: int = 1, keep: int | None = 2):
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"Checkpoint every must be an integer >= 1, got {every!r}")
        if keep is not None and (not isinstance(keep, int) or keep < 1):
            raise ValueError(f"Checkpoint keep must be None or an integer >= 1, got {keep!r}")
        self.directory = directory
        self.every = every
        self.keep = keep

    def on_epoch_end(self, state: TrainState) -> None:
        if state.epoch % self.every:
            return
        saved = state.trainer.state_dict()  # under torchrun: every process's random states, gathered
        if state.trainer.strategy.rank != 0:  # only rank 0 writes
            return
        directory = Path(self.directory)
        written = write_checkpoint(directory, saved)
        logger.info("wrote checkpoint %s", written)
        if self.keep is not None:
            for _, old in list_checkpoints(directory)[: -self.keep]:
                old.unlink()

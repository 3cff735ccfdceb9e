"""Model files: a zip holding ``metadata.json`` and ``weights.pt`` (tensors only).

Weights are read back with ``torch.load(weights_only=True)`` onto the CPU, so a model file can
never run code on load, and a model trained on a GPU loads on a machine without one.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import torch

from synthgan._version import __version__
from synthgan.errors import ModelFileError
from synthgan.io import atomic_path

FORMAT = "synthgan-model"
FORMAT_VERSION = 1


def write_model(path: Path, metadata: dict, weights: dict[str, torch.Tensor], overwrite: bool = False) -> None:
    """Write ``metadata`` and ``weights`` to ``path`` atomically."""
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "synthgan_version": __version__}
    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu().contiguous() for k, v in weights.items()}, buffer)
    with atomic_path(path, overwrite=overwrite) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("metadata.json", json.dumps({**header, **metadata}, allow_nan=True))
            archive.writestr("weights.pt", buffer.getvalue())


def read_model(path: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """Return ``(metadata, weights)`` from a model file, with clear errors for bad files."""
    if not path.is_file():
        raise ModelFileError(f"model file {str(path)!r} does not exist")
    try:
        with zipfile.ZipFile(path) as archive:
            metadata = json.loads(archive.read("metadata.json"))
            raw = archive.read("weights.pt")
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{str(path)!r} is not a synthgan model file ({exc})") from None
    if metadata.get("format") != FORMAT:
        raise ModelFileError(f"{str(path)!r} is not a synthgan model file")
    if metadata.get("format_version", 0) > FORMAT_VERSION:
        raise ModelFileError(f"{str(path)!r} was written by a newer synthgan "
                             f"({metadata.get('synthgan_version')}); upgrade synthgan to load it")
    try:
        weights = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt or unsafe payloads
        raise ModelFileError(f"{str(path)!r}: weights cannot be loaded safely ({exc})") from None
    if not isinstance(weights, dict) or not all(isinstance(v, torch.Tensor) for v in weights.values()):
        raise ModelFileError(f"{str(path)!r}: weights.pt must hold a dict of tensors")
    return metadata, weights

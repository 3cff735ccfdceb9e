"""Sampling at scale: many rows into a folder of parquet part files, from parallel processes.

``sample_parts`` splits ``rows`` into ``parts`` near-equal parts. Part ``i`` draws from its own
stream ``SeedSequence(seed, spawn_key=(i,))`` (``seed``: the given one, else the model's root
entropy), so its rows depend only on the model, the seed and ``i``, not on which process wrote it
or in what order. Each part is written atomically as ``part-00000.parquet``; ``_plan.json`` is
written first and ``_manifest.json`` last. A rerun with the same plan skips the parts already
complete, so an interrupted job resumes where it stopped; a different plan in the same folder is
refused. pyarrow (and pandas) read the folder as one table (files starting with ``_`` are
ignored).
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from synthgan.errors import SynthGANError
from synthgan.io import atomic_path, overlap_writing, write_table

logger = logging.getLogger(__name__)

PLAN = "_plan.json"
MANIFEST = "_manifest.json"


def part_name(index: int) -> str:
    return f"part-{index:05d}.parquet"


def part_rows(rows: int, parts: int) -> list[int]:
    """Near-equal split of ``rows`` (the first ``rows % parts`` parts get one more)."""
    base, extra = divmod(rows, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def part_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence(seed, spawn_key=(index,)).generate_state(1, np.uint64)[0] >> np.uint64(1))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


def _complete(path: Path, rows: int) -> bool:
    try:
        return pq.ParquetFile(path).metadata.num_rows == rows
    except Exception:  # noqa: BLE001  (a damaged file is simply redone)
        return False


def threads_per_worker(workers: int) -> int:
    """torch threads for each of ``workers`` sampling processes: this process's own (the cores, or
    what ``OMP_NUM_THREADS`` / ``torch.set_num_threads`` set) shared out, at least one each. Every
    process otherwise starts one thread per core, and ``workers`` of them oversubscribe the cores
    (measured on 2 cores: 2 workers of 2 threads took twice as long as 1 worker; 2 workers of one
    thread each were as fast as 1 or a little faster, benchmarks/README.md)."""
    import torch

    return max(1, torch.get_num_threads() // workers)


def _write_parts(model_path: str, out_dir: str, indices: Sequence[int], plan: Mapping[str, Any],
                 device: str, chunk_rows: int, threads: int | None = None) -> list[int]:
    """Worker: load the model once and write the given parts; returns the parts it wrote. With
    ``threads``, torch in this process uses that many (a worker among several)."""
    import torch

    from synthgan.estimator import SynthGAN

    if threads is not None:
        torch.set_num_threads(threads)
    model = SynthGAN.load(model_path, device=device)
    conditions = model.parse_conditions(plan["conditions"])
    written = []
    for index in indices:
        entry = plan["parts"][index]
        target = Path(out_dir) / entry["file"]
        if target.exists() and _complete(target, entry["rows"]):
            continue
        if target.exists():  # parts are written atomically, so a wrong row count means a damaged file
            target.unlink()
        chunks = model.iter_samples(entry["rows"], chunk_rows, conditions, random_state=entry["seed"],
                                    id_offset=entry["first_row"])
        write_table(chunks, target, overlap=overlap_writing(model.device_))
        written.append(index)
        logger.info("wrote %s (%d rows)", target, entry["rows"])
    return written


def sample_parts(model_path: str | Path, rows: int, out_dir: str | Path, parts: int, seed: int | None = None,
                 conditions: Sequence[str] = (), workers: int = 1, device: str = "cpu",
                 chunk_rows: int = 20_000) -> dict:
    """Write ``rows`` synthetic rows as ``parts`` parquet files in ``out_dir``; returns the manifest.

    Parameters
    ----------
    model_path : path
        A saved model.
    rows, parts : int
        Total rows (exact) and number of part files.
    seed : int, optional
        Root of the parts' seeds; by default the model's own root entropy.
    conditions : sequence of str
        ``column=value`` conditions every row meets.
    workers : int
        Processes writing parts in parallel (each loads the model once, and uses its share of this
        process's torch threads: :func:`threads_per_worker`).
    """
    if not isinstance(parts, int) or parts < 1 or parts > rows:
        raise SynthGANError(f"parts must be between 1 and the number of rows ({rows}), got {parts}")
    if not isinstance(workers, int) or workers < 1:
        raise SynthGANError(f"workers must be a positive integer, got {workers}")
    model_path, out_dir = Path(model_path), Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise SynthGANError(f"{str(out_dir)!r} is a file; --parts writes into a folder")
    if not out_dir.parent.is_dir():
        raise SynthGANError(f"output folder {str(out_dir.parent)!r} does not exist; create it first")
    from synthgan.estimator import SynthGAN

    model = SynthGAN.load(model_path, device="cpu")  # checks the file and the conditions before any work
    model.check_conditions(model.parse_conditions(conditions))
    root = model.entropy_ if seed is None else int(seed)
    sizes = part_rows(rows, parts)
    plan = {"format": "synthgan-sample-parts", "model_sha256": _sha256(model_path), "rows": int(rows),
            "seed": root, "conditions": list(conditions),
            "parts": [{"file": part_name(i), "rows": n, "seed": part_seed(root, i), "first_row": first}
                      for i, (n, first) in enumerate(zip(sizes, np.cumsum([0] + sizes[:-1]).tolist()))]}
    out_dir.mkdir(exist_ok=True)
    plan_path = out_dir / PLAN
    if plan_path.exists():
        if json.loads(plan_path.read_text()) != plan:
            raise SynthGANError(f"{str(out_dir)!r} holds parts of another sampling run (other model, rows, parts, "
                                "seed or conditions); choose an empty folder")
    else:
        strangers = [p.name for p in out_dir.iterdir() if not p.name.startswith(".")]
        if strangers:
            raise SynthGANError(f"{str(out_dir)!r} is not empty ({strangers[:3]}); choose an empty or new folder")
        with atomic_path(plan_path) as tmp:
            tmp.write_text(json.dumps(plan, indent=1))
    todo = [i for i, entry in enumerate(plan["parts"]) if not _complete(out_dir / entry["file"], entry["rows"])]
    logger.info("%d of %d parts to write with %d worker(s)", len(todo), parts, workers)
    if workers == 1 or len(todo) <= 1:
        _write_parts(str(model_path), str(out_dir), todo, plan, device, chunk_rows)
    else:
        groups = [todo[k::workers] for k in range(min(workers, len(todo)))]
        threads = threads_per_worker(len(groups))
        context = multiprocessing.get_context("spawn")  # no fork after torch is loaded
        with ProcessPoolExecutor(len(groups), mp_context=context) as pool:
            for future in [pool.submit(_write_parts, str(model_path), str(out_dir), g, plan, device, chunk_rows,
                                       threads) for g in groups]:
                future.result()
    missing = [e["file"] for e in plan["parts"] if not _complete(out_dir / e["file"], e["rows"])]
    if missing:
        raise SynthGANError(f"parts {missing[:3]} were not written; run the same command again to finish them")
    manifest = {**plan, "complete": True}
    with atomic_path(out_dir / MANIFEST, overwrite=True) as tmp:
        tmp.write_text(json.dumps(manifest, indent=1))
    return manifest

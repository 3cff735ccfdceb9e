"""Data-parallel training (issue #10): 2 processes on gloo with batch b take the same step as one
process with the same 2b rows; the synced batch norm; contexts from torchrun's environment."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from synthgan.distributed import Context, DistributedStrategy, SyncedBatchNorm1d, barrier, context, leave
from synthgan.errors import SynthGANError
from synthgan.models.base import Batch, build_model
from synthgan.streams import RandomStreams
from synthgan.training.strategy import Strategy
from synthgan.transform.transformer import DataTransformer

B, WORLD, EMBED = 20, 2, 8  # rows per process, processes, noise width
PARAMS = dict(embedding_dim=EMBED, generator_dim=(16, 16), discriminator_dim=(16,), generator_lr=1e-2,
              discriminator_lr=1e-2, weight_decay=0.0, pac=2, discriminator_dropout=0.5, critic_steps=1,
              generator_steps=1, critic_whitening=False, target=None, target_weight=1.0, moment_weight=0.0)


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    group = rng.choice(["a", "b", "c"], 200)
    return pd.DataFrame({"x": np.where(group == "a", rng.normal(0, 1, 200), rng.normal(5, 1, 200)), "g": group})


def _transformer() -> DataTransformer:
    """The transformer of _frame(), the same on every process."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return DataTransformer().fit(_frame(), np.random.default_rng(0))


def _setup(loss: str, rank: int):
    """The same model, weights and global batch on every process; rank's share of noise and mixes."""
    transformer = _transformer()
    encoded = transformer.transform(_frame(), np.random.default_rng(0))
    model = build_model("ctgan", transformer.layout_, {**PARAMS, "loss": loss}, torch.device("cpu"), transformer)
    model.setup_training(RandomStreams(7, rank=rank))
    for layer in model.critic.modules():  # per-process dropout masks differ by design; off for the check
        if hasattr(layer, "p"):
            layer.p = 0.0
    rng = np.random.default_rng(1)
    rows = torch.as_tensor(encoded[rng.integers(len(encoded), size=WORLD * B)])
    condition = torch.zeros(WORLD * B, model.condition_dim)
    condition[torch.arange(WORLD * B), torch.as_tensor(rng.integers(model.condition_dim, size=WORLD * B))] = 1
    noise = [torch.randn(WORLD * B, EMBED, generator=torch.Generator().manual_seed(k)) for k in range(4)]
    return model, rows, condition, noise


def _step(loss: str, rank: int, world: int, strategy: Strategy) -> dict:
    """One critic step and one generator step on this process's share of the global batch."""
    model, rows, condition, noise = _setup(loss, rank)
    share = slice(rank * B, (rank + 1) * B) if world > 1 else slice(0, WORLD * B)
    calls = iter(range(len(noise)))

    def fake(cond, generator):  # fixed noise and no Gumbel draws, so every process sees its rows' share
        raw = model.generator(torch.cat([noise[next(calls)][share], cond], dim=1))
        return raw, model.activation(raw, model.config.tau, None)

    model._fake = fake
    # SGD, so weights compare like gradients: Adam's first step is lr * sign(gradient), which turns
    # float noise in zero gradients (a linear bias before batch norm) into full steps
    model.configure_optimizers = lambda: {name: torch.optim.SGD(net.parameters(), lr=0.5)
                                          for name, net in model.networks().items()}
    model.penalty_rng = torch.Generator().manual_seed(3)
    if world > 1 and rank > 0:  # rank r's mixes continue the one stream where rank r-1's end
        torch.rand(rank * B // PARAMS["pac"], 1, 1, generator=model.penalty_rng)
    strategy.setup(model)
    batch = Batch(rows[share], condition[share], condition[share])
    for phase in model.phases():
        strategy.run(phase, batch)
    return {name: {k: v.detach().clone() for k, v in net.state_dict().items()}
            for name, net in model.networks().items()}


@contextlib.contextmanager
def _group(rank: int, world: int, init: str) -> Iterator[Context]:
    """One spawned process's gloo group, left the way the CLI leaves it: every process waits for the
    others before leaving, so none closes its connections while a peer still reads from them."""
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    ctx = Context(rank, world, rank)
    try:
        yield ctx
        barrier(ctx)
    finally:
        leave()


def _worker(rank: int, world: int, init: str, loss: str, out: str) -> None:
    with _group(rank, world, init) as ctx:
        torch.save(_step(loss, rank, world, DistributedStrategy(ctx)), f"{out}.{rank}")


def _spawn(worker, tmp_path, *args) -> list:
    """``worker(rank, WORLD, rendezvous, *args, out)`` on WORLD spawned processes; what each rank saved."""
    out = str(tmp_path / "out")
    mp.start_processes(worker, args=(WORLD, f"file://{tmp_path / 'rendezvous'}", *args, out), nprocs=WORLD,
                       join=True, start_method="spawn")
    return [torch.load(f"{out}.{r}", weights_only=True) for r in range(WORLD)]


@pytest.mark.parametrize("loss", ["wgan-gp", "bce"])
def test_two_processes_with_batch_b_step_like_one_process_with_the_same_2b_rows(tmp_path, loss):
    ranks = _spawn(_worker, tmp_path, loss)
    reference = _step(loss, 0, 1, Strategy())
    initial = _setup(loss, 0)[0].networks()
    for name in ("generator", "critic"):
        for key, value in reference[name].items():
            assert torch.equal(ranks[0][name][key], ranks[1][name][key]), (name, key)  # processes agree exactly
            assert torch.allclose(ranks[0][name][key].double(), value.double(), atol=2e-5, rtol=1e-4), (name, key)
        moved = max((reference[name][k].float() - v.float()).abs().max().item()
                    for k, v in initial[name].state_dict().items() if v.is_floating_point())
        assert moved > 1e-3  # the step did something to compare


def _plain_worker(rank: int, world: int, init: str, out: str) -> None:
    """Without gradient averaging or synced statistics the processes do not agree (the test above can fail)."""
    with _group(rank, world, init):
        torch.save(_step("bce", rank, world, Strategy()), f"{out}.{rank}")


def test_without_the_distributed_strategy_the_processes_drift_apart(tmp_path):
    ranks = _spawn(_plain_worker, tmp_path)
    assert not torch.allclose(ranks[0]["generator"]["body.2.weight"], ranks[1]["generator"]["body.2.weight"])


def test_synced_batch_norm_is_batch_norm_in_one_process():
    torch.manual_seed(0)
    plain, synced = torch.nn.BatchNorm1d(5), SyncedBatchNorm1d(5)
    synced.load_state_dict(plain.state_dict())
    x = torch.randn(12, 5)
    assert torch.equal(plain(x), synced(x)) and torch.equal(plain.running_var, synced.running_var)


def test_context_reads_torchrun_environment(monkeypatch):
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(key, raising=False)
    assert context() == Context(0, 1, 0) and not context().distributed
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert context() == Context(1, 4, 1) and not context().is_main
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(SynthGANError, match="RANK=4 and WORLD_SIZE=4"):
        context()


def _torchrun(tmp_path, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(WORLD),
               "-m", "synthgan", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=240, env=env)


def test_torchrun_fit_reads_shards_trains_on_two_processes_and_is_reproducible(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from synthgan import SynthGAN

    frame = _frame()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "t.parquet", row_group_size=25)
    for name in ("a", "b"):
        done = _torchrun(tmp_path, "fit", "t.parquet", "-o", f"{name}.synthgan", "--epochs", "2", "--seed", "0",
                         "--quiet")
        assert done.returncode == 0, done.stderr[-3000:]
    first, second = SynthGAN.load(tmp_path / "a.synthgan"), SynthGAN.load(tmp_path / "b.synthgan")
    assert first.processes_ == 2
    assert first.sample(300, random_state=5).equals(second.sample(300, random_state=5))  # same seed, same processes
    assert int(first.condition_counts_[0].sum()) == len(frame)  # counts summed over both shards
    alone = SynthGAN(epochs=2, random_state=0, verbose=False).fit(frame)
    assert not alone.sample(300, random_state=5).equals(first.sample(300, random_state=5))


def _dying_worker(rank: int, world: int, init: str, out: str) -> None:
    import time

    from synthgan import distributed as D

    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world,
                            timeout=__import__("datetime").timedelta(seconds=20))
    if rank == 1:
        os._exit(3)  # a process that dies without a word
    started = time.perf_counter()
    try:
        D.broadcast({"transformer": 1}, Context(rank, world, rank), src=1)
        outcome = "no error"
    except Exception as exc:  # noqa: BLE001
        outcome = type(exc).__name__
    with open(out, "w") as handle:
        handle.write(f"{outcome} {time.perf_counter() - started:.1f}")


def test_a_dead_process_ends_the_others_with_an_error_not_a_hang(tmp_path):
    out = tmp_path / "outcome"
    context = mp.start_processes(_dying_worker, args=(WORLD, f"file://{tmp_path / 'rendezvous'}", str(out)),
                                 nprocs=WORLD, join=False, start_method="spawn")
    context.processes[0].join(90)
    for process in context.processes:
        if process.is_alive():
            process.kill()
    outcome, seconds = out.read_text().split()
    assert outcome != "no error" and float(seconds) < 60


def test_torchrun_fit_resumes_from_its_checkpoint_bit_identically(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from synthgan import SynthGAN
    from synthgan.training import read_checkpoint

    pq.write_table(pa.Table.from_pandas(_frame(), preserve_index=False), tmp_path / "t.parquet", row_group_size=25)
    common = ["--seed", "0", "--quiet"]
    for args in (["-o", "full.synthgan", "--epochs", "4"],
                 ["-o", "first.synthgan", "--epochs", "2", "--checkpoint", "ck"],  # interrupted after epoch 2
                 ["-o", "resumed.synthgan", "--epochs", "4", "--checkpoint", "ck"]):
        done = _torchrun(tmp_path, "fit", "t.parquet", *args, *common)
        assert done.returncode == 0, done.stderr[-3000:]
    state = read_checkpoint(tmp_path / "ck")
    assert state["epoch"] == 4 and len(state["processes"]) == WORLD
    noise = [part["model_random"]["noise"] for part in state["processes"]]
    assert not torch.equal(noise[0], noise[1])  # each process's own stream is kept
    full, resumed = SynthGAN.load(tmp_path / "full.synthgan"), SynthGAN.load(tmp_path / "resumed.synthgan")
    assert full.history_["epoch"].tolist() == resumed.history_["epoch"].tolist() == [1, 2, 3, 4]
    assert full.sample(300, random_state=5).equals(resumed.sample(300, random_state=5))
    first = SynthGAN.load(tmp_path / "first.synthgan")
    assert not first.sample(300, random_state=5).equals(full.sample(300, random_state=5))
    with pytest.raises(SynthGANError, match="written by 2 process"):  # one process cannot continue it
        SynthGAN(epochs=5, random_state=0, verbose=False).fit(_frame(), resume_from=tmp_path / "ck")


def _shard(rank: int) -> np.ndarray:
    """Unequal shards with different means, so one shard's covariance is not the whole table's."""
    rng = np.random.default_rng(10 + rank)
    return rng.normal(3.0 * rank, 1.0 + rank, size=(30 + 17 * rank, 3)) @ np.array([[1, .5, 0], [0, 1, 0], [0, 0, 2]])


def _covariance_worker(rank: int, world: int, init: str, out: str) -> None:
    from types import SimpleNamespace

    from synthgan.estimator import _value_covariance

    with _group(rank, world, init) as ctx:
        rows = SimpleNamespace(values=_shard(rank).astype(np.float32))
        torch.save(_value_covariance(rows, ctx, torch.device("cpu")), f"{out}.{rank}")


def test_the_critic_whitening_covariance_is_summed_over_every_process_rows(tmp_path):
    ranks = _spawn(_covariance_worker, tmp_path)
    whole = np.cov(np.concatenate([_shard(r).astype(np.float32) for r in range(WORLD)]).astype(np.float64),
                   rowvar=False)
    for rank, got in enumerate(ranks):
        assert torch.allclose(got, torch.as_tensor(whole), rtol=1e-9, atol=1e-9), rank
        alone = np.cov(_shard(rank).astype(np.float32).astype(np.float64), rowvar=False)
        assert not np.allclose(alone, whole, atol=0.1)  # a shard's own covariance would fail the check above


def _moment_setup():
    """The model and encoded rows of _frame(), with the moment term on."""
    transformer = _transformer()
    encoded = transformer.encode(_frame(), np.random.default_rng(0))
    model = build_model("ctgan", transformer.layout_, {**PARAMS, "loss": "bce", "moment_weight": 1.0},
                        torch.device("cpu"), transformer)
    return model, encoded


def _rows(encoded, keep: np.ndarray):
    from synthgan.transform.encoded import EncodedRows

    return EncodedRows(encoded.layout, encoded.values[keep], encoded.slots[keep])


def _moment_worker(rank: int, world: int, init: str, out: str) -> None:
    from synthgan import SynthGAN

    with _group(rank, world, init) as ctx:
        model, encoded = _moment_setup()
        third = np.arange(len(encoded)) % 3 == 0  # unequal shards
        shard = _rows(encoded, third if rank == 0 else ~third)
        releases = SynthGAN(moment_weight=1.0, log_frequency=False)._hold_to_moments(
            model, shard, None, RandomStreams(0), torch.device("cpu"), ctx)
        assert releases == {}
        torch.save(model.moment_term.target, f"{out}.{rank}")


def test_the_moment_target_is_summed_over_every_process_rows(tmp_path):
    from synthgan.models.moments import MomentTerm, moment_sum

    ranks = _spawn(_moment_worker, tmp_path)
    model, encoded = _moment_setup()
    whole = MomentTerm(moment_sum(encoded) / len(encoded), model.layout).target
    third = np.arange(len(encoded)) % 3 == 0
    alone = MomentTerm(moment_sum(_rows(encoded, third)) / int(third.sum()), model.layout).target
    assert not torch.allclose(alone, whole, atol=1e-3)  # one shard's moments would fail the check below
    for rank, got in enumerate(ranks):
        assert torch.allclose(got, whole, rtol=1e-6, atol=1e-7), rank

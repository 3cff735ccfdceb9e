"""Data-parallel training on PyTorch's own engine (``torch.distributed``, launched by ``torchrun``).

A process started by ``torchrun`` finds ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` in its
environment; :func:`context` reads them and :func:`ensure_initialized` joins the process group
(``gloo`` on CPU, ``nccl`` on GPU, each process on ``cuda:LOCAL_RANK``) with a bounded timeout,
so a process that dies ends the others with an error instead of a hang. A single process (no
``WORLD_SIZE``, or 1) is rank 0 of a world of one and behaves exactly as without this module.

What is shared and how (see :class:`DistributedStrategy` and ``SynthGAN.fit``):

* each process trains on its own rows (its shard); batches, noise, dropout and penalty draws come
  from per-process streams ``(seed, rank)`` (:mod:`synthgan.streams`);
* the transformer is fitted once, on rank 0, from a row sample of every shard plus every shard's
  category levels, then broadcast; training-by-sampling's category counts are summed;
* after every backward, gradients of the network being trained are averaged across processes in
  one flat all-reduce; the generator's batch normalization uses the statistics of the whole
  global batch (:class:`SyncedBatchNorm1d`), so ``N`` processes with batch ``b`` take the same step
  as one process with the same ``N * b`` rows;
* only rank 0 logs, shows progress, writes checkpoints and the model file.
"""

from __future__ import annotations

import atexit
import datetime
import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from synthgan.errors import SynthGANError
from synthgan.models.base import TabularModel
from synthgan.training.strategy import Strategy

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Context:
    """Where this process stands: its rank, the number of processes and its local GPU index."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def context() -> Context:
    """The context of this process, from torchrun's environment variables (or the process group)."""
    if dist.is_available() and dist.is_initialized():
        return Context(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError as exc:
        raise SynthGANError(f"RANK, WORLD_SIZE and LOCAL_RANK must be integers ({exc}); start the job with "
                            "torchrun") from None
    if world < 1 or not 0 <= rank < world:
        raise SynthGANError(f"RANK={rank} and WORLD_SIZE={world} do not fit together; start the job with torchrun")
    return Context(rank, world, local)


def ensure_initialized(device: torch.device, timeout_s: float = DEFAULT_TIMEOUT_S) -> Context:
    """Join the process group if this is a multi-process run and it is not joined yet."""
    ctx = context()
    if not ctx.distributed or dist.is_initialized():
        return ctx
    if not dist.is_available():
        raise SynthGANError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    try:
        dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_s))
    except (RuntimeError, ValueError) as exc:
        raise SynthGANError(f"could not join the process group ({backend}, rank {ctx.rank} of {ctx.world_size}): "
                            f"{str(exc).splitlines()[0]}; start every process with torchrun") from None
    atexit.register(leave)  # a group left undestroyed at exit can abort the process in its C++ threads
    logger.info("rank %d of %d joined the %s process group", ctx.rank, ctx.world_size, backend)
    return ctx


def leave() -> None:
    """Leave the process group (every process, after its last collective)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier(ctx: Context) -> None:
    """Wait for every process (e.g. before exiting, so none leaves while another still works)."""
    if ctx.distributed and dist.is_initialized():
        dist.barrier()


def device_for(ctx: Context, requested: torch.device) -> torch.device:
    """Each process on its own GPU (``cuda:LOCAL_RANK``) when CUDA is asked for."""
    if ctx.distributed and requested.type == "cuda":
        return torch.device("cuda", ctx.local_rank)
    return requested


def broadcast(obj: object, ctx: Context, src: int = 0) -> object:
    """``obj`` of rank ``src`` on every rank (pickled by torch.distributed between our own processes)."""
    if not ctx.distributed:
        return obj
    holder = [obj if ctx.rank == src else None]
    dist.broadcast_object_list(holder, src=src)
    return holder[0]


def gather(obj: object, ctx: Context) -> list:
    """Every rank's ``obj``, in rank order, on every rank."""
    if not ctx.distributed:
        return [obj]
    out: list = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def all_reduce_sum(tensor: torch.Tensor, ctx: Context) -> torch.Tensor:
    if ctx.distributed:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def flat_mean_(tensors: list[torch.Tensor], world_size: int) -> None:
    """Average ``tensors`` in place across processes with one all-reduce of their concatenation."""
    if not tensors:
        return
    flat = torch.cat([t.reshape(-1) for t in tensors])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= world_size
    offset = 0
    for tensor in tensors:
        size = tensor.numel()
        tensor.copy_(flat[offset: offset + size].view_as(tensor))
        offset += size


class _AllReduceSum(torch.autograd.Function):
    """Sum over processes, differentiable: every process's output depends on every input, so the
    gradient of a local input is the sum of all processes' output gradients."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:  # noqa: ARG004
        out = tensor.clone()
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # noqa: ARG004
        out = grad.clone()
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
        return out


class SyncedBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm1d whose training statistics are those of the whole global batch: the per-process
    sums and sums of squares are all-reduced (differentiably, so gradients flow through them), on
    any backend including gloo on CPU (where ``torch.nn.SyncBatchNorm`` does not run). The same
    parameters and buffers as ``nn.BatchNorm1d``; outside a multi-process group it is one."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        count = torch.tensor([float(x.shape[0])], device=x.device, dtype=x.dtype)
        stats = _AllReduceSum.apply(torch.cat([x.sum(0), (x * x).sum(0), count]))
        n = stats[-1]
        mean = stats[: x.shape[1]] / n
        var = stats[x.shape[1]: 2 * x.shape[1]] / n - mean * mean
        if self.track_running_stats and self.running_mean is not None:
            with torch.no_grad():
                self.num_batches_tracked += 1
                momentum = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - momentum).add_(momentum * mean.detach())
                self.running_var.mul_(1 - momentum).add_(momentum * var.detach() * n / (n - 1))
        out = (x - mean) / torch.sqrt(var + self.eps)
        return out * self.weight + self.bias if self.affine else out


def sync_batch_norm(module: nn.Module) -> nn.Module:
    """Make every ``BatchNorm1d`` of ``module`` a :class:`SyncedBatchNorm1d` (in place; weights kept)."""
    for layer in module.modules():
        if type(layer) is nn.BatchNorm1d:
            layer.__class__ = SyncedBatchNorm1d
    return module


class DistributedStrategy(Strategy):
    """Plain optimization whose gradients are averaged across processes before every step.

    The networks are not wrapped in ``DistributedDataParallel``: the gradient penalty's double
    backward (``autograd.grad(create_graph=True)``) does not go through DDP's hooks, so the
    gradients of the phase's network are averaged explicitly, in one flat all-reduce, after its
    backward. Every process starts from the same weights (the shared ``init`` stream), so the
    averaged steps keep them equal; :meth:`setup` checks it once.
    """

    def __init__(self, ctx: Context, max_grad_norm: float | None = None, precision: str = "float32"):
        super().__init__(max_grad_norm, precision)
        self.ctx = ctx

    def setup(self, model: TabularModel) -> None:
        super().setup(model)
        for name, net in self.networks.items():
            sync_batch_norm(net)
            flat = torch.cat([p.detach().reshape(-1) for p in net.parameters()]).double()
            total = flat.clone()
            dist.all_reduce(total)
            if not torch.allclose(total / self.ctx.world_size, flat):
                raise SynthGANError(f"the {name} weights differ across processes at the start; every process "
                                    "must be given the same random_state")

    def agree(self, value: float, how: str) -> float:
        op = {"min": dist.ReduceOp.MIN, "max": dist.ReduceOp.MAX, "mean": dist.ReduceOp.SUM}[how]
        tensor = torch.tensor([float(value)], dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor, op=op)
        return tensor.item() / (self.ctx.world_size if how == "mean" else 1)

    @property
    def device(self) -> torch.device:
        return next(iter(self._parameters.values()))[0].device

    @property
    def rank(self) -> int:
        return self.ctx.rank

    def gather(self, value: object) -> list:
        return gather(value, self.ctx)

    def synchronize(self, name: str) -> None:
        grads = [p.grad for p in self._parameters[name] if p.grad is not None]
        flat_mean_(grads, self.ctx.world_size)

"""Data-parallel helpers for `torchrun`: the process group, this rank's device, and the few collectives
the training loop needs (broadcast from rank 0, sums across ranks, gathers to rank 0).

Without torchrun (no WORLD_SIZE in the environment, or WORLD_SIZE=1) everything here is the identity:
one process, rank 0, CPU, no process group, so single-process runs are unchanged.
Under `torchrun --nproc_per_node=N`, `setup()` joins the group torchrun describes in the environment
(MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE, LOCAL_RANK): NCCL with one GPU per rank (cuda:LOCAL_RANK)
when CUDA is available, else gloo on CPU.
"""
from __future__ import annotations

import contextlib
import os
import random
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence, TypeVar

import numpy as np
import torch

from neuromap.errors import NeuromapError

T = TypeVar("T")


@dataclass(frozen=True)
class Context:
    """Where this process stands: its rank among `world_size` processes and the device it computes on."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    backend: str | None = None  # None: no process group (one process)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1


_CONTEXT = Context()


def context() -> Context:
    """This process's Context (one process on CPU unless `setup()` joined a group)."""
    return _CONTEXT


@contextlib.contextmanager
def alone() -> Iterator[Context]:
    """Run the body as one process on CPU (rank 0 of 1, no collectives), for work one rank does for all
    (the conversion init's ReLU twin); the group's Context is back afterwards."""
    global _CONTEXT
    saved = _CONTEXT
    _CONTEXT = Context()
    try:
        yield _CONTEXT
    finally:
        _CONTEXT = saved


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise NeuromapError(f"environment variable {name}={text!r} is not an integer; launch with torchrun") from None


def setup(device: str = "auto") -> Context:
    """Join the process group torchrun's environment describes (idempotent). `device`: "auto" computes on
    a GPU (cuda:LOCAL_RANK, NCCL) when CUDA is available, else on CPU (gloo); "cpu" or "cuda" force one."""
    global _CONTEXT
    if _CONTEXT.active:
        return _CONTEXT
    if device not in ("auto", "cpu", "cuda"):
        raise NeuromapError(f"device must be auto, cpu or cuda, got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise NeuromapError("--device cuda: this torch build sees no CUDA GPU; use --device cpu")
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    world = _env_int("WORLD_SIZE", 1)
    rank, local_rank = _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
    if use_cuda:
        if local_rank >= torch.cuda.device_count():
            raise NeuromapError(f"LOCAL_RANK {local_rank} has no GPU ({torch.cuda.device_count()} visible); "
                                f"use --nproc_per_node {torch.cuda.device_count()} or fewer")
        dev = torch.device("cuda", local_rank)
        torch.cuda.set_device(dev)
    else:
        dev = torch.device("cpu")
    if world <= 1:
        _CONTEXT = Context(device=dev)
        return _CONTEXT
    import torch.distributed as dist

    backend = "nccl" if use_cuda else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, rank=rank, world_size=world)
    _CONTEXT = Context(rank=rank, world_size=world, local_rank=local_rank, device=dev, backend=backend)
    return _CONTEXT


def shutdown() -> None:
    """Leave the process group (if joined); back to one process."""
    global _CONTEXT
    if _CONTEXT.active:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
    _CONTEXT = Context()


def barrier() -> None:
    if _CONTEXT.active:
        import torch.distributed as dist

        dist.barrier()


def broadcast_object(obj: T) -> T:
    """Rank 0's `obj` on every rank (picklable; only this run's own ranks exchange it)."""
    if not _CONTEXT.active:
        return obj
    import torch.distributed as dist

    box = [obj if _CONTEXT.is_main else None]
    dist.broadcast_object_list(box, src=0, device=_CONTEXT.device if _CONTEXT.backend == "nccl" else None)
    return box[0]  # type: ignore[return-value]


def on_main(fn: Callable[[], T]) -> T:
    """Run `fn` on rank 0 only and hand its result to every rank; a NeuromapError it raises is raised on
    every rank (so no rank waits in a collective for a rank that stopped)."""
    if not _CONTEXT.active:
        return fn()
    result, error = None, None
    if _CONTEXT.is_main:
        try:
            result = fn()
        except NeuromapError as exc:
            error = str(exc)
    result, error = broadcast_object((result, error))
    if error is not None:
        raise NeuromapError(error)
    return result  # type: ignore[return-value]


def broadcast_module(model: torch.nn.Module) -> None:
    """Copy rank 0's state (parameters and persistent buffers: what the state dict holds) into every
    rank's `model` (same architecture), in place. Non-persistent buffers, such as SLAYER's neuron
    states shaped by the last batch, are left alone."""
    if not _CONTEXT.active:
        return
    import torch.distributed as dist

    with torch.no_grad():
        for tensor in model.state_dict(keep_vars=True).values():
            dist.broadcast(tensor.data, src=0)


def sum_across(values: Sequence[float]) -> list[float]:
    """Element-wise sum of `values` over all ranks (float64), on every rank."""
    if not _CONTEXT.active:
        return [float(v) for v in values]
    import torch.distributed as dist

    t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=_CONTEXT.device)
    dist.all_reduce(t)
    return [float(v) for v in t.cpu()]


def all_gather(obj: T) -> list[T]:
    """Every rank's `obj`, in rank order, on every rank."""
    if not _CONTEXT.active:
        return [obj]
    import torch.distributed as dist

    out: list[Any] = [None] * _CONTEXT.world_size
    dist.all_gather_object(out, obj)
    return out


def shard(indices: torch.Tensor) -> torch.Tensor:
    """This rank's share of one global minibatch, interleaved like torch's DistributedSampler
    (rank r takes positions r, r + W, r + 2W, ...): over a seeded permutation cut into global batches of B,
    the ranks together see exactly the batches one process sees."""
    if not _CONTEXT.active:
        return indices
    return indices[_CONTEXT.rank::_CONTEXT.world_size]


def span(n: int) -> tuple[int, int]:
    """This rank's contiguous slice [lo, hi) of n items (evaluation: predictions gathered in order)."""
    per = -(-n // _CONTEXT.world_size)
    lo = min(n, _CONTEXT.rank * per)
    return lo, min(n, lo + per)


def rng_state() -> dict[str, Any]:
    """This process's global RNG states (Python, NumPy, torch CPU and, if used, CUDA) as tensors and plain
    values, so a checkpoint holding them loads with weights_only=True."""
    version, keys, gauss = random.getstate()
    name, mt, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": [int(version), list(keys), gauss],
        "numpy": {"name": str(name), "keys": torch.from_numpy(np.asarray(mt, dtype=np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if _CONTEXT.device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(_CONTEXT.device)
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what rng_state() returned."""
    version, keys, gauss = state["python"]
    random.setstate((int(version), tuple(int(k) for k in keys), gauss))
    npst = state["numpy"]
    np.random.set_state((npst["name"], npst["keys"].numpy().astype(np.uint32), int(npst["pos"]),
                         int(npst["has_gauss"]), float(npst["cached_gaussian"])))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and _CONTEXT.device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], _CONTEXT.device)


def gather_rng_states() -> list[dict[str, Any]]:
    """Every rank's rng_state(), in rank order (all ranks call it; rank 0 saves the list)."""
    if not _CONTEXT.active:
        return [rng_state()]
    import torch.distributed as dist

    out: list[Any] = [None] * _CONTEXT.world_size
    # all_gather_object rather than gather_object: NCCL has no gather, and the states are small
    dist.all_gather_object(out, rng_state())
    return out


def rank_seed(seed: int) -> int:
    """A seed for this rank's own random streams (rank 0 keeps `seed`, so one process is unchanged)."""
    if _CONTEXT.rank == 0:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), _CONTEXT.rank]).generate_state(1)[0])


def sum_hook(state, bucket):  # type: ignore[no-untyped-def]
    """DDP communication hook: sum the gradients over ranks instead of averaging them. The losses are
    sums over each rank's samples, so the sum is the gradient one process gets from the whole batch.
    (No annotations: DDP checks them against its own types, which postponed annotations turn into text.)"""
    import torch.distributed as dist

    fut = dist.all_reduce(bucket.buffer(), async_op=True).get_future()
    return fut.then(lambda f: f.value()[0])


def wrap(model: torch.nn.Module) -> torch.nn.Module:
    """`model` wrapped in DistributedDataParallel with summed gradients (the model itself when one process).
    Call after every rank holds the same weights: DDP also broadcasts rank 0's at construction."""
    if not _CONTEXT.active:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [_CONTEXT.device.index] if _CONTEXT.device.type == "cuda" else None
    ddp = DistributedDataParallel(model, device_ids=ids, broadcast_buffers=False)
    ddp.register_comm_hook(None, sum_hook)
    return ddp


def average_buffers(model: torch.nn.Module) -> None:
    """Average every floating-point buffer (running statistics of batch normalisation) over the ranks, so
    every rank folds and saves the same statistics; each rank saw only its share of each batch."""
    if not _CONTEXT.active:
        return
    import torch.distributed as dist

    with torch.no_grad():
        for tensor in model.state_dict(keep_vars=True).values():  # persistent ones: not the neuron states
            if not isinstance(tensor, torch.nn.Parameter) and tensor.is_floating_point():
                dist.all_reduce(tensor.data)
                tensor.data.div_(_CONTEXT.world_size)


def _synced_batchnorm_forward(self: torch.nn.modules.batchnorm._BatchNorm, x: torch.Tensor) -> torch.Tensor:
    """BatchNorm's training forward with statistics over the whole global batch (every rank's share):
    mean, then variance about it, each summed over the ranks by a differentiable all-reduce. Works on
    gloo (CPU) and NCCL alike; torch.nn.SyncBatchNorm is GPU-only. Eval mode: the plain forward."""
    if not self.training:
        return type(self).forward(self, x)
    from torch.distributed.nn.functional import all_reduce

    xf = x.float()
    dims = [0] + list(range(2, x.dim()))
    shape = [1, x.shape[1]] + [1] * (x.dim() - 2)
    count = float(x.numel() // x.shape[1])
    sums = all_reduce(torch.cat([xf.sum(dims), xf.new_tensor([count])]))
    total = sums[-1]
    mean = sums[:-1] / total
    centred = xf - mean.reshape(shape)
    var = all_reduce((centred * centred).sum(dims)) / total
    y = centred * torch.rsqrt(var.reshape(shape) + self.eps)
    if self.affine:
        y = y * self.weight.reshape(shape) + self.bias.reshape(shape)
    if self.track_running_stats:
        with torch.no_grad():
            self.num_batches_tracked.add_(1)
            m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
            n = float(total)
            self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
            self.running_var.mul_(1 - m).add_(var.detach() * (n / max(n - 1.0, 1.0)), alpha=m)
    return y.to(x.dtype)


def sync_batchnorm(model: torch.nn.Module) -> None:
    """Make every BatchNorm layer of `model` normalise over the global batch while training (in place:
    same modules, parameters and state dict), so N ranks train as one process does. No-op alone."""
    if not _CONTEXT.active:
        return
    import types

    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.forward = types.MethodType(_synced_batchnorm_forward, m)  # type: ignore[method-assign]


def unsync_batchnorm(model: torch.nn.Module) -> None:
    """Undo sync_batchnorm (the layers' own forward again)."""
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and "forward" in vars(m):
            del m.forward


def require_one_process(cli: str) -> None:
    """Refuse to run `cli` as several torchrun ranks (they would each redo and rewrite the same work)."""
    world = _env_int("WORLD_SIZE", 1)
    if world > 1:
        raise NeuromapError(f"{cli} runs in one process, not under torchrun (WORLD_SIZE={world}); train the "
                            f"runs it needs with `torchrun ... -m neuromap.train` first (docs/training.md)")

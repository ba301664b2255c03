"""Data-parallel training over processes started by ``torchrun``.

``torch.distributed`` reads rank and world size from the environment that
``torchrun`` sets. GAN steps use each network in several roles per step (D
frozen inside G's update, C and D sharing a backbone), which
``DistributedDataParallel``'s autograd hooks pair badly with; so each
optimiser step averages its own parameters' gradients with one bucketed
all-reduce, which is what DDP does, at a point we control.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import torch
import torch.distributed as dist
from torch import nn


def launched_by_torchrun() -> bool:
    """Whether this process is one of several started by ``torchrun``."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def launch_rank() -> int:
    """The rank ``torchrun`` gave this process (``RANK``; 0 when not launched by it).

    Known before the process group is joined, e.g. to keep ranks other than 0 quiet.
    """
    return int(os.environ.get("RANK", "0")) if launched_by_torchrun() else 0


def rank() -> int:
    """The rank of this process in the joined group (0 without one)."""
    return dist.get_rank() if dist.is_initialized() else 0


def world_size() -> int:
    """The number of processes in the joined group (1 without one)."""
    return dist.get_world_size() if dist.is_initialized() else 1


def stream_seed(seed: int, index: int, step: int = 0) -> int:
    """The seed of a trainer's random generator number ``index``, on this process.

    It differs between processes (each draws its own batches and noise), and for a
    stream started anew at ``step`` (ranks other than 0 on resume: the checkpoint holds
    rank 0's streams only).
    """
    return seed * 1000 + index * 7919 + rank() + step * 104_729


def collective_device() -> torch.device:
    """Where the group's tensors live: the current CUDA device under NCCL, else the CPU."""
    if dist.is_initialized() and dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def mean_over_processes(values: torch.Tensor) -> torch.Tensor:
    """The element-wise mean of ``values`` over all processes (one all-reduce).

    Every process of the group must call it at the same point with a tensor of the
    same shape; without a group it returns ``values`` unchanged.
    """
    size = world_size()
    if size == 1:
        return values
    total = values.clone()
    dist.all_reduce(total, op=dist.ReduceOp.SUM)
    return total / size


def sum_over_processes_(values: torch.Tensor) -> torch.Tensor:
    """Replace ``values`` in place by their element-wise sum over all processes.

    One all-reduce; every process of the group must call it at the same point with a
    tensor of the same shape. Without a group (or with one process) nothing is called
    and ``values`` is returned untouched.

    Returns:
        ``values``, now the sum.

    """
    if world_size() > 1:
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def broadcast_from_main(*tensors: torch.Tensor) -> None:
    """Overwrite ``tensors`` in place with rank 0's values, on every process.

    Every process of the group must call it at the same point with tensors of the same
    shapes; without a group (or with one process) it does nothing.
    """
    if world_size() > 1:
        for tensor in tensors:
            dist.broadcast(tensor, src=0)


def init_distributed(device: torch.device) -> tuple[int, int]:
    """Join the process group if launched by ``torchrun``; return ``(rank, world_size)``.

    A group the caller has already joined is used as it is.
    """
    global _joined_here
    if launched_by_torchrun() and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
        _joined_here = True
    return rank(), world_size()


#: Whether :func:`init_distributed` created the process group (and so leaves it).
_joined_here = False


def leave_distributed() -> None:
    """Leave the process group that :func:`init_distributed` joined, all ranks together.

    A barrier, then ``destroy_process_group``: PyTorch asks every process to destroy its
    groups before it exits, and a rank that exits while another still tears its Gloo
    connections down can abort that one. Call it on every rank once training is done;
    a group the caller joined itself is left to the caller.
    """
    global _joined_here
    if _joined_here and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
    _joined_here = False


def local_device(device: torch.device) -> torch.device:
    """Pin CUDA processes to ``cuda:LOCAL_RANK`` under torchrun."""
    if device.type == "cuda" and launched_by_torchrun() and device.index is None:
        index = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(index)
        return torch.device("cuda", index)
    return device


def broadcast_module(module: nn.Module) -> None:
    """Copy rank 0's parameters and buffers to every process."""
    broadcast_from_main(*(t.data for t in [*module.parameters(), *module.buffers()]))


def average_gradients(params: Iterable[torch.Tensor]) -> None:
    """Average the gradients of ``params`` over all processes (one flat all-reduce)."""
    if not (dist.is_initialized() and dist.get_world_size() > 1):
        return
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= dist.get_world_size()
    offset = 0
    for g in grads:
        n = g.numel()
        g.copy_(flat[offset : offset + n].view_as(g))
        offset += n

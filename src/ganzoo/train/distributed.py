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


def init_distributed(device: torch.device) -> tuple[int, int]:
    """Join the process group if launched by ``torchrun``; return ``(rank, world_size)``."""
    if not launched_by_torchrun():
        return 0, 1
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
    return dist.get_rank(), dist.get_world_size()


def local_device(device: torch.device) -> torch.device:
    """Pin CUDA processes to ``cuda:LOCAL_RANK`` under torchrun."""
    if device.type == "cuda" and launched_by_torchrun() and device.index is None:
        index = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(index)
        return torch.device("cuda", index)
    return device


def broadcast_module(module: nn.Module) -> None:
    """Copy rank 0's parameters and buffers to every process."""
    if dist.is_initialized() and dist.get_world_size() > 1:
        for tensor in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(tensor.data, src=0)


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

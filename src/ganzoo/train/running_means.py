"""The training metrics between two log points: summed on the device, averaged when logged.

A step's metrics are detached scalar tensors; :class:`RunningMeans` adds them up on the
training device (no host sync per step) and :meth:`RunningMeans.flush` turns the sums
into means when the loop logs. Under ``torchrun`` the flush is also the one place where
the processes agree: the sums of every process are averaged with one all-reduce, so the
logged losses are the mean over all processes (and every process sees the same numbers,
so the NaN guard stops all of them together), and a vote rides along in the same
all-reduce (the loop's "out of time").
"""

from __future__ import annotations

import torch

from ganzoo import distributed


class RunningMeans:
    """Per-metric sums on the device since the last log point, and their count."""

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.count = 0

    def add(self, metrics: dict[str, torch.Tensor]) -> None:
        """Add one step's metrics (detached scalar tensors) to the sums."""
        for name, value in metrics.items():
            value = value.detach().float()
            self.sums[name] = self.sums[name] + value if name in self.sums else value.clone()
        self.count += 1

    def flush(self, *, over_processes: bool = True, vote: bool = False) -> tuple[dict, bool]:
        """The means since the last flush, and whether any process voted; then start over.

        Args:
            over_processes: average over the ``torchrun`` processes too (one
                all-reduce, which every process must reach at the same step). ``False``
                gives this process's own means, for a stop that the others may not share.
            vote: this process's vote (e.g. "out of time"), or-ed over the processes.

        Returns:
            ``({name: mean}, any_vote)``; the means are empty when nothing was added.

        """
        names = list(self.sums)
        count = max(self.count, 1)
        device = next(iter(self.sums.values())).device if self.sums else None
        parts = [torch.stack([self.sums[n] for n in names]) / count] if names else []
        self.sums, self.count = {}, 0
        if not (over_processes and distributed.world_size() > 1):
            means = torch.cat(parts).tolist() if parts else []
            return dict(zip(names, means, strict=True)), vote
        flag = torch.full((1,), float(vote), device=device or distributed.collective_device())
        values = distributed.mean_over_processes(torch.cat([*parts, flag])).tolist()
        return dict(zip(names, values[:-1], strict=True)), values[-1] > 0

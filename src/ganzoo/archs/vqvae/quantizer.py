"""Vector quantisation: the bottleneck of a VQ-VAE (van den Oord et al. 2017).

:class:`VectorQuantizer` replaces every vector ``z_e`` of a channels-first grid
``(N, d, H, W)`` by its nearest code ``e_k`` of a codebook of ``K`` codes (squared L2),
copies the decoder's gradient straight through to the encoder
(``z_q = z_e + sg[e_k − z_e]``), and returns the two VQ loss terms of the paper:

* the codebook loss ``‖sg[z_e] − e‖²``, which moves the codes toward the encoder
  outputs assigned to them;
* the commitment loss ``β ‖z_e − sg[e]‖²`` (β = 0.25), which keeps the encoder's
  outputs close to their codes.

Both are means over every element, as in the paper's reference implementation
(sonnet). Distances, code choice and losses are computed in fp32 even under
``torch.autocast``: in bf16 the ``−2 z·e`` term is rounded enough to change which code
is nearest.

Options beyond the paper, for a recommended recipe:

* **EMA codebook** (``ema_decay``; the paper's appendix and sonnet's
  ``VectorQuantizerEMA``): the codes are exponential moving averages of the encoder
  outputs assigned to them, with Laplace-smoothed cluster sizes, updated in every
  training-mode forward. The codebook is then a buffer, not a parameter, and the
  codebook loss is reported but must not be added to the objective
  (:attr:`VQOutput.loss` leaves it out).
* **Dead-code restarts** (:meth:`VectorQuantizer.restart_dead_codes`; Dhariwal et al.
  2020, Jukebox): codes whose moving-average usage falls under ``dead_code_threshold``
  are moved onto random encoder outputs of the current batch.
* **k-means initialisation** (:meth:`VectorQuantizer.init_from`; Łańcucki et al. 2020):
  the codebook starts from Lloyd's k-means on a batch of encoder outputs.

Under a process group of several processes (``torchrun``), every process applies the
same codebook updates, as if the processes' batches were one: each training-mode forward
sums the usage counts and (EMA) the per-code sums of encoder outputs over the processes
before updating, so all of them must run it together; k-means initialisation and
dead-code restarts run on rank 0, from its batch, and rank 0's codebook and usage state
are broadcast. In one process nothing is exchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganzoo import distributed
from ganzoo.errors import GanzooError

#: Decay of the usage average (``cluster_size``) when the codebook is trained by gradient.
USAGE_DECAY = 0.99


@dataclass
class VQOutput:
    """What :class:`VectorQuantizer` returns.

    Attributes:
        z_q: quantised vectors ``(N, d, H, W)`` in the input's dtype; their value is the
            nearest code, their gradient goes straight through to ``z_e``.
        indices: code indices ``(N, H, W)``, ``torch.long``.
        codebook_loss: ``mean ‖sg[z_e] − e‖²`` (fp32 scalar); no gradient with an EMA codebook.
        commitment_loss: ``β · mean ‖z_e − sg[e]‖²`` (fp32 scalar; β included).
        perplexity: ``exp(H(p))`` of the batch's code frequencies ``p`` (from 1 to K).
        used_codes: number of distinct codes in the batch (long scalar).
        loss: the quantiser's term of the objective: codebook + commitment loss, or the
            commitment loss alone with an EMA codebook.

    """

    z_q: torch.Tensor
    indices: torch.Tensor
    codebook_loss: torch.Tensor
    commitment_loss: torch.Tensor
    perplexity: torch.Tensor
    used_codes: torch.Tensor
    loss: torch.Tensor


def _check_number(
    name: str, value: object, low: float, high: float, open_low: bool = False
) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = (low < value if open_low else low <= value) and value <= high  # type: ignore[operator]
    if not ok:
        bracket = "(" if open_low else "["
        raise GanzooError(f"{name} must be a number in {bracket}{low}, {high}], got {value!r}")


class VectorQuantizer(nn.Module):
    """Nearest-code quantiser with a straight-through gradient (van den Oord et al. 2017).

    Works on channels-first grids ``(N, d, H, W)``. In training mode every forward also
    updates ``cluster_size``, a moving average of how many vectors of a batch each code
    receives (the decay is ``ema_decay``, or 0.99 without an EMA codebook); with
    ``ema_decay`` it also moves the codes (see the module docstring). Every piece of state
    is a parameter or buffer, so ``state_dict`` round-trips it.

    Args:
        num_codes: ``K``, the number of codes.
        code_dim: ``d``, the size of each code (the encoder's output channels).
        beta: weight β of the commitment loss (0.25 in the paper).
        ema_decay: ``None`` to train the codebook by gradient through the codebook
            loss; a decay in ``(0, 1)`` (0.99 in the paper) for EMA updates.
        eps: Laplace smoothing of the EMA cluster sizes.
        dead_code_threshold: a code whose ``cluster_size`` is under this is dead for
            :meth:`restart_dead_codes` (Jukebox uses 1: less than one vector per batch).

    Raises:
        GanzooError: for a size or rate out of range.

    """

    codebook: torch.Tensor
    cluster_size: torch.Tensor
    ema_weight: torch.Tensor

    def __init__(
        self,
        num_codes: int,
        code_dim: int,
        beta: float = 0.25,
        ema_decay: float | None = None,
        eps: float = 1e-5,
        dead_code_threshold: float = 1.0,
    ) -> None:
        super().__init__()
        for name, value in (("num_codes", num_codes), ("code_dim", code_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65536:
                raise GanzooError(f"{name} must be an integer in [1, 65536], got {value!r}")
        _check_number("beta", beta, 0.0, 100.0)
        if ema_decay is not None:
            _check_number("ema_decay", ema_decay, 0.0, 1.0, open_low=True)
            if ema_decay >= 1.0:
                raise GanzooError(f"ema_decay must be below 1 (or None), got {ema_decay!r}")
        _check_number("eps", eps, 0.0, 1.0, open_low=True)
        _check_number("dead_code_threshold", dead_code_threshold, 0.0, 1e9)
        self.num_codes = num_codes
        self.code_dim = code_dim
        self.beta = float(beta)
        self.ema_decay = None if ema_decay is None else float(ema_decay)
        self.eps = float(eps)
        self.dead_code_threshold = float(dead_code_threshold)
        weight = torch.empty(num_codes, code_dim).uniform_(-1.0 / num_codes, 1.0 / num_codes)
        if self.ema_decay is None:
            self.codebook = nn.Parameter(weight)
        else:
            self.register_buffer("codebook", weight)
            # Σ of assigned vectors; codebook = ema_weight / smoothed cluster_size.
            self.register_buffer("ema_weight", weight.clone())
        # Starts at a pseudo-count of one vector per code, so that before any data the EMA
        # codebook is exactly the initial one.
        self.register_buffer("cluster_size", torch.ones(num_codes))

    def extra_repr(self) -> str:
        """Sizes and options, for ``print(model)``."""
        ema = f", ema_decay={self.ema_decay}" if self.ema_decay is not None else ""
        return f"num_codes={self.num_codes}, code_dim={self.code_dim}, beta={self.beta}{ema}"

    @property
    def uses_ema(self) -> bool:
        """Whether the codebook is updated by moving averages instead of gradients."""
        return self.ema_decay is not None

    # ------------------------------------------------------------------ assignment
    def _flatten(self, z_e: torch.Tensor) -> torch.Tensor:
        """``(N, d, H, W)`` → fp32 ``(N·H·W, d)``, checking the shape."""
        if z_e.dim() != 4 or z_e.shape[1] != self.code_dim:
            raise GanzooError(
                f"the quantiser expects encoder outputs (N, {self.code_dim}, H, W), "
                f"got {tuple(z_e.shape)}"
            )
        return z_e.permute(0, 2, 3, 1).reshape(-1, self.code_dim).float()

    @staticmethod
    def _nearest(flat: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """Index of the nearest code for each row: ``argmin ‖z‖² − 2 z·e + ‖e‖²`` in fp32."""
        with torch.no_grad(), torch.autocast(device_type=flat.device.type, enabled=False):
            flat, codes = flat.float(), codes.float()
            squared = flat.pow(2).sum(1, keepdim=True) + codes.pow(2).sum(1)
            distances = torch.addmm(squared, flat, codes.t(), alpha=-2.0)
            return distances.argmin(dim=1)

    def encode(self, z_e: torch.Tensor) -> torch.Tensor:
        """Nearest-code indices ``(N, H, W)`` of encoder outputs ``(N, d, H, W)``; no updates."""
        flat = self._flatten(z_e)
        n, _, h, w = z_e.shape
        return self._nearest(flat, self.codebook).view(n, h, w)

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """The codes ``(N, d, H, W)`` of a grid of indices ``(N, H, W)``.

        Raises:
            GanzooError: for indices that are not integers in ``[0, num_codes)`` on a 3-D grid.

        """
        if indices.dtype.is_floating_point or indices.dtype == torch.bool or indices.dim() != 3:
            raise GanzooError(
                f"codes must be an integer grid (N, H, W), got {indices.dtype} "
                f"{tuple(indices.shape)}"
            )
        if indices.numel() and (int(indices.min()) < 0 or int(indices.max()) >= self.num_codes):
            raise GanzooError(
                f"codes must lie in [0, {self.num_codes}), got values from "
                f"{int(indices.min())} to {int(indices.max())}"
            )
        return F.embedding(indices.long(), self.codebook).permute(0, 3, 1, 2).contiguous()

    # ------------------------------------------------------------------ forward
    def forward(self, z_e: torch.Tensor) -> VQOutput:
        """Quantise encoder outputs ``(N, d, H, W)``; see :class:`VQOutput`.

        In training mode the usage average (and, with ``ema_decay``, the codebook) is
        updated from this batch after the codes are chosen.
        """
        flat = self._flatten(z_e)
        n, _, h, w = z_e.shape
        with torch.autocast(device_type=z_e.device.type, enabled=False):
            codebook = self.codebook.float()
            indices = self._nearest(flat, codebook)
            chosen = F.embedding(indices, codebook)
            codebook_loss = F.mse_loss(chosen, flat.detach())
            commitment_loss = self.beta * F.mse_loss(flat, chosen.detach())
            z_q = flat + (chosen - flat).detach()
            counts = torch.bincount(indices, minlength=self.num_codes).float()
            probs = counts / counts.sum().clamp_min(1.0)
            perplexity = torch.exp(-torch.special.xlogy(probs, probs).sum())
            used_codes = (counts > 0).sum()
            if self.training:
                self._update_statistics(flat.detach(), indices, counts)
        z_q = z_q.view(n, h, w, self.code_dim).permute(0, 3, 1, 2).to(z_e.dtype)
        loss = commitment_loss if self.uses_ema else codebook_loss + commitment_loss
        return VQOutput(
            z_q=z_q,
            indices=indices.view(n, h, w),
            codebook_loss=codebook_loss,
            commitment_loss=commitment_loss,
            perplexity=perplexity,
            used_codes=used_codes,
            loss=loss,
        )

    @torch.no_grad()
    def _update_statistics(
        self, flat: torch.Tensor, indices: torch.Tensor, counts: torch.Tensor
    ) -> None:
        """Move ``cluster_size`` (and the EMA codebook) toward this batch's assignments.

        EMA update (sonnet's ``VectorQuantizerEMA``): ``N_k ← γ N_k + (1 − γ) n_k``,
        ``m_k ← γ m_k + (1 − γ) Σ_{i: k(i)=k} z_i``, ``e_k = m_k / Ñ_k`` with the
        Laplace-smoothed ``Ñ_k = (N_k + ε) / (Σ N + K ε) · Σ N``. Under a process group
        ``n_k`` and the sums are those of all processes' batches (one all-reduce).
        """
        decay = self.ema_decay if self.ema_decay is not None else USAGE_DECAY
        sums = None
        if self.ema_decay is not None:
            sums = torch.zeros(self.num_codes, self.code_dim, device=flat.device, dtype=flat.dtype)
            sums.index_add_(0, indices, flat)
        if distributed.world_size() > 1:
            counts, sums = _sum_over_processes(counts, sums)
        self.cluster_size.mul_(decay).add_(counts.to(self.cluster_size), alpha=1.0 - decay)
        if sums is None:
            return
        self.ema_weight.mul_(decay).add_(sums.to(self.ema_weight), alpha=1.0 - decay)
        sizes = self.cluster_size.float()
        total = sizes.sum()
        smoothed = (sizes + self.eps) / (total + self.num_codes * self.eps) * total
        self.codebook.copy_(self.ema_weight.float() / smoothed.unsqueeze(1))

    # ------------------------------------------------------------------ codebook surgery
    def _set_codes(self, which: torch.Tensor, vectors: torch.Tensor, count: float) -> None:
        """Put ``vectors`` at codes ``which`` with a fresh usage count (EMA state included)."""
        self.codebook.data[which] = vectors.to(self.codebook.dtype)
        self.cluster_size[which] = count
        if self.ema_decay is not None:
            self.ema_weight[which] = (vectors * count).to(self.ema_weight.dtype)

    def _broadcast_codes(self) -> None:
        """Give every process rank 0's codebook and usage state (nothing in one process)."""
        state = [self.codebook.data, self.cluster_size]
        if self.ema_decay is not None:
            state.append(self.ema_weight)
        distributed.broadcast_from_main(*state)

    @staticmethod
    def _draw(
        total: int, k: int, generator: torch.Generator | None, device: torch.device
    ) -> torch.Tensor:
        """``k`` row indices of ``total``: distinct when possible, else with replacement."""
        where = generator.device if generator is not None else device
        if total >= k:
            picked = torch.randperm(total, generator=generator, device=where)[:k]
        else:
            picked = torch.randint(total, (k,), generator=generator, device=where)
        return picked.to(device)

    @torch.no_grad()
    def restart_dead_codes(
        self, z_e: torch.Tensor, generator: torch.Generator | None = None
    ) -> int:
        """Move every dead code onto a random encoder output of this batch (Jukebox's restarts).

        A code is dead when its usage average ``cluster_size`` is under
        ``dead_code_threshold``. Each dead code becomes a distinct randomly chosen vector
        of ``z_e`` (repeated only if the batch has fewer vectors than dead codes), and its
        usage restarts at ``max(threshold, 1)`` so it is not restarted again before it has
        had a chance. Call it after the optimiser step; with a gradient-trained codebook the
        optimiser's moments for those codes are left as they are.

        Under a process group every process must call it together: the usage averages
        (summed over the processes by :meth:`forward`) say which codes are dead, rank 0
        picks their new vectors from its ``z_e``, and its codebook and usage state are
        broadcast.

        Args:
            z_e: recent encoder outputs ``(N, d, H, W)`` (any dtype; detached here).
            generator: random generator for the choice; ``None`` uses the global one. The
                same generator state gives the same restarts.

        Returns:
            How many codes were restarted.

        """
        dead = torch.nonzero(self.cluster_size < self.dead_code_threshold).squeeze(1)
        if distributed.world_size() > 1:  # one broadcast, even with no dead code
            flat = self._flatten(z_e.detach())
            if distributed.rank() == 0 and dead.numel() > 0 and flat.shape[0] > 0:
                self._restart(dead, flat, generator)
            self._broadcast_codes()
            return int(dead.numel())
        if dead.numel() == 0:
            return 0
        flat = self._flatten(z_e.detach())
        if flat.shape[0] == 0:
            return 0
        self._restart(dead, flat, generator)
        return int(dead.numel())

    def _restart(
        self, dead: torch.Tensor, flat: torch.Tensor, generator: torch.Generator | None
    ) -> None:
        """Put codes ``dead`` on distinct random rows of ``flat`` (:meth:`restart_dead_codes`)."""
        picked = self._draw(flat.shape[0], dead.numel(), generator, flat.device)
        self._set_codes(dead, flat[picked], max(self.dead_code_threshold, 1.0))

    @torch.no_grad()
    def init_from(
        self, z_e: torch.Tensor, iters: int = 10, generator: torch.Generator | None = None
    ) -> None:
        """Initialise the codebook by k-means (Lloyd) on a batch of encoder outputs.

        Centres start by k-means++ seeding (Arthur & Vassilvitskii 2007: each next centre
        is a vector of the batch drawn with probability proportional to its squared
        distance to the nearest centre so far), so distinct clusters get distinct codes; a
        centre whose cluster empties keeps its place. Usage averages restart at one per
        code, as for a new quantiser. Under a process group every process must call it
        together: rank 0 runs k-means on its ``z_e`` and its codebook is broadcast.

        Args:
            z_e: encoder outputs ``(N, d, H, W)``.
            iters: Lloyd iterations (0 keeps the random vectors).
            generator: random generator for the starting centres; ``None``: the global one.

        Raises:
            GanzooError: for a negative ``iters`` or an empty batch.

        """
        if isinstance(iters, bool) or not isinstance(iters, int) or iters < 0:
            raise GanzooError(f"iters must be a non-negative integer, got {iters!r}")
        flat = self._flatten(z_e.detach())
        if flat.shape[0] == 0:
            raise GanzooError("k-means initialisation needs at least one encoder output")
        if distributed.rank() == 0:
            self._kmeans(flat, iters, generator)
        self._broadcast_codes()

    def _kmeans(self, flat: torch.Tensor, iters: int, generator: torch.Generator | None) -> None:
        """Lloyd's k-means from k-means++ seeds on rows ``flat``, made the codebook."""
        centres = _kmeans_plus_plus(flat, self.num_codes, generator)
        for _ in range(iters):
            assigned = self._nearest(flat, centres)
            counts = torch.bincount(assigned, minlength=self.num_codes)
            sums = torch.zeros_like(centres).index_add_(0, assigned, flat)
            filled = counts > 0
            centres[filled] = sums[filled] / counts[filled].unsqueeze(1).to(sums.dtype)
        self._set_codes(torch.arange(self.num_codes, device=flat.device), centres, 1.0)


def _sum_over_processes(
    counts: torch.Tensor, sums: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``counts`` ``(K,)`` and ``sums`` ``(K, d)`` summed over all processes (one all-reduce)."""
    if sums is None:
        return distributed.sum_over_processes_(counts.clone()), None
    both = torch.cat([counts.to(sums.dtype).unsqueeze(1), sums], dim=1)
    distributed.sum_over_processes_(both)
    return both[:, 0].to(counts.dtype), both[:, 1:]


def _kmeans_plus_plus(
    flat: torch.Tensor, k: int, generator: torch.Generator | None
) -> torch.Tensor:
    """``k`` starting centres drawn from the rows of ``flat`` by k-means++ seeding."""
    where = generator.device if generator is not None else flat.device
    first = torch.randint(flat.shape[0], (1,), generator=generator, device=where)
    centres = flat.new_empty(k, flat.shape[1])
    centres[0] = flat[first.to(flat.device)][0]
    closest = (flat - centres[0]).pow(2).sum(1)
    for i in range(1, k):
        # the tiny floor keeps the draw defined once every vector sits on a centre
        weights = (closest + 1e-20).to(where)
        picked = torch.multinomial(weights, 1, generator=generator).to(flat.device)
        centres[i] = flat[picked][0]
        closest = torch.minimum(closest, (flat - centres[i]).pow(2).sum(1))
    return centres

"""Gated PixelCNN: an autoregressive prior over a grid of discrete codes.

The prior of a VQ-VAE (van den Oord et al. 2017, "Neural Discrete Representation
Learning") is a gated PixelCNN (van den Oord et al. 2016, "Conditional Image
Generation with PixelCNN Decoders", arXiv:1606.05328) over the encoder's integer
code grid. It factorises ``p(z) = Π_i p(z_i | z_<i)`` in raster order (row by row,
left to right) and outputs, for every position, logits over the ``K`` codes.

Causality comes from shifted, cropped convolutions rather than weight masks:

* the **vertical stack** convolves with a ``(k//2 + 1) × k`` kernel padded above and
  on both sides, so its feature at row ``r`` sees input rows ``r - k//2 … r`` (all
  columns in reach). Before it reaches the horizontal stack it is **shifted down by
  one row**, so the feature used at row ``r`` depends only on rows ``< r``;
* the **horizontal stack** convolves with a ``1 × (k//2 + 1)`` kernel padded on the
  left, so its feature at column ``c`` sees columns ``c - k//2 … c`` of its row. The
  first layer is mask type ``A``: its kernel is one column narrower and ends at
  ``c - 1``, so the current position is excluded, and it has no residual connection
  (its input is the embedding of the current code). Later layers are type ``B``.

Each layer gates its pre-activations ``a`` as ``tanh(a₁) ⊙ σ(a₂)``; the vertical
pre-activations feed the horizontal ones through a 1×1 convolution, and an optional
class embedding adds a per-layer bias to both (class-conditional prior). The
horizontal stack is residual. Together the two stacks see every earlier position
within reach: there is no blind spot.

Suggested sizes for the two bundled VQ-VAE priors (kernel 3, unconditional):

| preset                       | grid, K  | hidden | layers | parameters |
|------------------------------|----------|--------|--------|-----------:|
| ``PRIOR_PRESETS["mnist"]``   | 7×7, 64  | 64     | 8      |    695,936 |
| ``PRIOR_PRESETS["cifar10"]`` | 8×8, 512 | 64     | 12     |  1,099,584 |

Together 1.80M parameters (3.6 MB in fp16), which leaves about 2.4M for the two
VQ-VAEs within the 8 MiB (fp16) budget of the bundled models. A wider CIFAR-10 prior
(hidden 80, 12 layers: 1,695,632; hidden 128: 4.25M) fits only beside smaller
VQ-VAEs. With kernel 3 each layer's reach grows one row up and one column each way,
so 8 layers cover a 7×7 grid and 12 cover 8×8 with margin.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganzoo.config import check_fields, check_range
from ganzoo.errors import GanzooError

__all__ = ["PRIOR_PRESETS", "GatedLayer", "GatedPixelCNN", "GatedPixelCNNConfig"]


@dataclass
class GatedPixelCNNConfig:
    """Configuration of a gated PixelCNN prior (defaults: the MNIST 7×7, K=64 prior).

    Attributes:
        num_codes: ``K``, the number of discrete codes (the VQ-VAE's codebook size).
        hidden_channels: channels of both stacks (and of the code embedding).
        num_layers: gated layers; the first is mask type ``A``, the others ``B``.
        kernel_size: odd side ``k`` of the convolutions (the vertical kernel is
            ``(k//2 + 1) × k``, the horizontal ``1 × (k//2 + 1)``).
        num_classes: number of classes for a class-conditional prior, ``None`` for an
            unconditional one.
        dropout: dropout on the gated horizontal features while training (0: none).

    """

    num_codes: int = 64
    hidden_channels: int = 64
    num_layers: int = 8
    kernel_size: int = 3
    num_classes: int | None = None
    dropout: float = 0.0

    def validate(self) -> None:
        """Check types and sizes before any network is built.

        Raises:
            GanzooError: one line naming the field and its allowed values.

        """
        check_fields(type(self), dataclasses.asdict(self))
        check_range(self, "num_codes", 2, 65536)
        check_range(self, "hidden_channels", 1, 4096)
        check_range(self, "num_layers", 1, 256)
        k = self.kernel_size
        if not (3 <= k <= 15 and k % 2 == 1):
            raise GanzooError(f"kernel_size must be odd and in [3, 15], got {k}")
        if self.num_classes is not None:
            check_range(self, "num_classes", 1, 1_000_000)
        check_range(self, "dropout", 0.0, 1.0, high_open=True)


PRIOR_PRESETS: dict[str, GatedPixelCNNConfig] = {
    "mnist": GatedPixelCNNConfig(num_codes=64, hidden_channels=64, num_layers=8),
    "cifar10": GatedPixelCNNConfig(num_codes=512, hidden_channels=64, num_layers=12),
}
"""Suggested priors for the bundled VQ-VAEs (copy with ``dataclasses.replace``)."""


def _down_shift(x: torch.Tensor) -> torch.Tensor:
    """Shift a feature map one row down (zeros enter at the top row)."""
    return F.pad(x, (0, 0, 1, 0))[:, :, :-1, :]


class GatedLayer(nn.Module):
    """One gated PixelCNN layer with a vertical and a horizontal stack.

    Args:
        channels: channels of both stacks.
        kernel_size: odd kernel side ``k``.
        mask_type: ``"A"`` (first layer: the horizontal stack excludes the current
            position and has no residual) or ``"B"`` (includes it, residual).
        num_classes: classes of the conditional bias, or ``None``.
        dropout: dropout on the gated horizontal features.

    """

    def __init__(
        self,
        channels: int,
        kernel_size: int,
        mask_type: str,
        num_classes: int | None = None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if mask_type not in ("A", "B"):
            raise GanzooError(f"mask_type must be 'A' or 'B', got {mask_type!r}")
        half = kernel_size // 2
        self.half = half
        self.mask_type = mask_type
        self.vertical = nn.Conv2d(channels, 2 * channels, (half + 1, kernel_size))
        width = half if mask_type == "A" else half + 1
        self.horizontal = nn.Conv2d(channels, 2 * channels, (1, width))
        self.v_to_h = nn.Conv2d(2 * channels, 2 * channels, 1)
        self.h_out = nn.Conv2d(channels, channels, 1)
        self.dropout = nn.Dropout(dropout)
        self.class_bias = (
            nn.Embedding(num_classes, 2 * channels) if num_classes is not None else None
        )

    @staticmethod
    def _gate(a: torch.Tensor) -> torch.Tensor:
        first, second = a.chunk(2, dim=1)
        return torch.tanh(first) * torch.sigmoid(second)

    def forward(
        self, v: torch.Tensor, h: torch.Tensor, class_labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Apply the layer.

        Args:
            v: vertical stack input ``(N, C, H, W)``; its row ``r`` may depend on rows ``≤ r``.
            h: horizontal stack input ``(N, C, H, W)``.
            class_labels: ``(N,)`` class indices when the layer is conditional.

        Returns:
            ``(v_out, h_out, link)``: the new vertical and horizontal features and the
            down-shifted vertical pre-activations fed to the horizontal stack (its row
            ``r`` depends only on input rows ``< r``).

        """
        half = self.half
        v_pre = self.vertical(F.pad(v, (half, half, half, 0)))
        h_pad = half  # type A: kernel width ``half`` ending at c - 1; type B: ending at c
        h_pre = self.horizontal(F.pad(h, (h_pad, 0, 0, 0)))
        if self.mask_type == "A":
            h_pre = h_pre[:, :, :, : h.shape[-1]]
        link = _down_shift(v_pre)
        h_pre = h_pre + self.v_to_h(link)
        if self.class_bias is not None and class_labels is not None:
            bias = self.class_bias(class_labels)[:, :, None, None]
            v_pre = v_pre + bias
            h_pre = h_pre + bias
        v_out = self._gate(v_pre)
        h_new = self.h_out(self.dropout(self._gate(h_pre)))
        h_out = h_new if self.mask_type == "A" else h + h_new
        return v_out, h_out, link


class GatedPixelCNN(nn.Module):
    """Gated PixelCNN over a grid of discrete codes (van den Oord et al. 2016).

    ``forward(codes)`` maps long codes ``(N, H, W)`` in ``[0, K)`` to logits
    ``(N, K, H, W)``; the logits at a position depend only on the codes before it in
    raster order. Works for any grid size.

    Args:
        config: the configuration (validated here).

    Examples:
        >>> prior = GatedPixelCNN(GatedPixelCNNConfig(num_codes=16, hidden_channels=8,
        ...                                           num_layers=2))
        >>> codes = prior.sample(4, 7, 7, generator=torch.Generator().manual_seed(0))
        >>> prior.bits_per_dim(codes).shape
        torch.Size([])

    """

    def __init__(self, config: GatedPixelCNNConfig | None = None) -> None:
        super().__init__()
        config = config if config is not None else GatedPixelCNNConfig()
        config.validate()
        self.config = config
        c = config.hidden_channels
        self.embedding = nn.Embedding(config.num_codes, c)
        self.layers = nn.ModuleList(
            GatedLayer(
                c,
                config.kernel_size,
                "A" if i == 0 else "B",
                num_classes=config.num_classes,
                dropout=config.dropout,
            )
            for i in range(config.num_layers)
        )
        self.head = nn.Sequential(
            nn.ReLU(), nn.Conv2d(c, c, 1), nn.ReLU(), nn.Conv2d(c, config.num_codes, 1)
        )

    # ------------------------------------------------------------------ checks

    def _check_codes(self, codes: torch.Tensor) -> None:
        if not isinstance(codes, torch.Tensor) or codes.dim() != 3:
            shape = tuple(codes.shape) if isinstance(codes, torch.Tensor) else type(codes).__name__
            raise GanzooError(f"codes must be a (N, H, W) integer tensor, got {shape}")
        if codes.dtype.is_floating_point or codes.dtype.is_complex or codes.dtype == torch.bool:
            raise GanzooError(f"codes must be an integer tensor, got {codes.dtype}")
        if codes.numel():
            low, high = (int(x) for x in torch.stack(torch.aminmax(codes)).tolist())
            if low < 0 or high >= self.config.num_codes:
                raise GanzooError(
                    f"codes must be in [0, {self.config.num_codes}), got values in "
                    f"[{low}, {high}]; was the prior built for this codebook size?"
                )

    def _check_labels(self, class_labels: torch.Tensor | None, n: int) -> torch.Tensor | None:
        classes = self.config.num_classes
        if classes is None:
            if class_labels is not None:
                raise GanzooError(
                    "this prior is unconditional (num_classes is None); do not pass class_labels"
                )
            return None
        if class_labels is None:
            raise GanzooError(
                f"this prior is class-conditional (num_classes={classes}); pass class_labels"
            )
        labels = torch.as_tensor(class_labels, device=self.embedding.weight.device)
        if labels.dim() == 0:
            labels = labels.expand(n)
        if labels.shape != (n,) or labels.dtype.is_floating_point or labels.dtype == torch.bool:
            raise GanzooError(
                f"class_labels must be {n} integer class indices, got {tuple(labels.shape)} "
                f"{labels.dtype}"
            )
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= classes):
            raise GanzooError(f"class_labels must be in [0, {classes})")
        return labels.long()

    # ------------------------------------------------------------------ network

    def stacks(
        self, codes: torch.Tensor, class_labels: torch.Tensor | None = None
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per-layer features of both stacks, for inspection and tests.

        Args:
            codes: long codes ``(N, H, W)`` in ``[0, K)``.
            class_labels: ``(N,)`` class indices for a conditional prior (or one int).

        Returns:
            For each layer, ``(link, h)``: the down-shifted vertical pre-activations
            that layer feeds the horizontal stack (row ``r`` depends only on rows
            ``< r``) and the layer's horizontal output (position ``p`` depends only on
            positions before ``p`` in raster order).

        """
        return self._run(codes, class_labels)[1]

    def _run(
        self, codes: torch.Tensor, class_labels: torch.Tensor | None
    ) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
        self._check_codes(codes)
        labels = self._check_labels(class_labels, codes.shape[0])
        x = self.embedding(codes.long()).permute(0, 3, 1, 2)
        v, h = x, x
        features = []
        for layer in self.layers:
            v, h, link = layer(v, h, labels)
            features.append((link, h))
        return self.head(h), features

    def forward(
        self, codes: torch.Tensor, class_labels: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits over the codes at every position.

        Args:
            codes: long codes ``(N, H, W)`` in ``[0, K)``.
            class_labels: ``(N,)`` class indices (or one int) for a conditional prior;
                must be ``None`` for an unconditional one.

        Returns:
            Logits ``(N, K, H, W)``; those at ``(r, c)`` depend only on codes before
            ``(r, c)`` in raster order.

        Raises:
            GanzooError: for codes of the wrong shape, type or range, or labels that do
                not match the configuration.

        """
        return self._run(codes, class_labels)[0]

    # ------------------------------------------------------------------ likelihood

    def log_prob(
        self, codes: torch.Tensor, class_labels: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Log-likelihood ``log p(codes)`` of each grid, in nats.

        Args:
            codes: long codes ``(N, H, W)`` in ``[0, K)``.
            class_labels: class indices for a conditional prior.

        Returns:
            ``(N,)``: the sum over positions of ``log p(z_i | z_<i)`` (cross-entropy on
            the logits, no softmax first).

        """
        logits = self(codes, class_labels)
        ce = F.cross_entropy(logits, codes.long(), reduction="none")
        return -ce.flatten(1).sum(dim=1)

    def nll(self, codes: torch.Tensor, class_labels: torch.Tensor | None = None) -> torch.Tensor:
        """Mean negative log-likelihood per code, in nats: the prior's training loss.

        Args:
            codes: long codes ``(N, H, W)`` in ``[0, K)``.
            class_labels: class indices for a conditional prior.

        Returns:
            A scalar: ``F.cross_entropy(logits, codes)`` averaged over every position.

        """
        return F.cross_entropy(self(codes, class_labels), codes.long())

    def bits_per_dim(
        self, codes: torch.Tensor, class_labels: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Mean negative log-likelihood per code in bits: :meth:`nll` ``/ ln 2``.

        Args:
            codes: long codes ``(N, H, W)`` in ``[0, K)``.
            class_labels: class indices for a conditional prior.

        Returns:
            A scalar; ``log2(K)`` for a uniform prior.

        """
        return self.nll(codes, class_labels) / math.log(2.0)

    # ------------------------------------------------------------------ sampling

    @torch.no_grad()
    def sample(
        self,
        n: int,
        height: int,
        width: int,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        temperature: float = 1.0,
        class_labels: torch.Tensor | Sequence[int] | int | None = None,
    ) -> torch.Tensor:
        """Draw code grids by ancestral sampling in raster order.

        The model is put in eval mode for the duration and its mode restored after.

        Args:
            n: number of grids.
            height: grid rows.
            width: grid columns.
            generator: random generator; the same seed gives the same codes. Draws
                happen on the generator's device (a CPU generator works with a model on
                any device). ``None`` uses the global generator.
            device: where to put the returned codes (default: where the weights are).
                The network runs where its weights are; they are not moved.
            temperature: divides the logits before sampling (``< 1`` sharper).
            class_labels: ``n`` class indices, or one for all, for a conditional prior.

        Returns:
            Long codes ``(n, height, width)`` in ``[0, K)``, on ``device``.

        Raises:
            GanzooError: for a non-positive count, size or temperature, or labels that
                do not match the configuration.

        """
        for name, value in (("n", n), ("height", height), ("width", width)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise GanzooError(f"{name} must be a positive integer, got {value!r}")
        if not (isinstance(temperature, int | float) and 0 < temperature < math.inf):
            raise GanzooError(f"temperature must be a positive number, got {temperature!r}")
        net_device = self.embedding.weight.device
        labels = self._check_labels(class_labels, n)  # type: ignore[arg-type]
        draw_device = generator.device if generator is not None else net_device
        codes = torch.zeros(n, height, width, dtype=torch.long, device=net_device)
        was_training = self.training
        self.eval()
        try:
            for r in range(height):
                for c in range(width):
                    logits = self(codes, labels)[:, :, r, c].float() / temperature
                    probs = torch.softmax(logits, dim=1).to(draw_device)
                    drawn = torch.multinomial(probs, 1, generator=generator).squeeze(1)
                    codes[:, r, c] = drawn.to(net_device)
        finally:
            self.train(was_training)
        return codes if device is None else codes.to(device)

"""Losses as pure functions of tensors, each with its formula and paper.

Everything that involves a probability is computed from logits in log space
(``softplus``, ``logsumexp``): no ``exp`` of a logit, no ``log`` of a probability, and
no softmax before a cross-entropy.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F


# ------------------------------------------------------------------ the "stacked" discriminator
def real_fake_logit(class_logits: torch.Tensor) -> torch.Tensor:
    """Logit of the SGAN discriminator: ``logit D(x) = logsumexp_k l_k(x)``.

    With ``Z = Σ_k exp(l_k)``, ``D(x) = Z / (Z + 1) = sigmoid(log Z)`` (Salimans et al. 2016,
    §5), so ``log Z`` is D's logit. Computed with ``logsumexp``; never exponentiates.
    """
    return torch.logsumexp(class_logits.float(), dim=1)


def log_d_real(class_logits: torch.Tensor) -> torch.Tensor:
    """``log D(x) = -softplus(-logsumexp(l))`` per sample."""
    return -F.softplus(-real_fake_logit(class_logits))


def log_one_minus_d(class_logits: torch.Tensor) -> torch.Tensor:
    """``log(1 - D(x)) = -softplus(logsumexp(l))`` per sample."""
    return -F.softplus(real_fake_logit(class_logits))


def d_probability(class_logits: torch.Tensor) -> torch.Tensor:
    """``D(x) = Z / (Z + 1)``, evaluated as ``exp(log D(x))`` so large logits cannot overflow."""
    return log_d_real(class_logits).exp()


def discriminator_real_loss(class_logits: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of real images labeled 1: ``mean(-log D(x))``."""
    return -log_d_real(class_logits).mean()


def discriminator_fake_loss(class_logits: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of generated images labeled 0: ``mean(-log(1 - D(G(z))))``."""
    return -log_one_minus_d(class_logits).mean()


def generator_loss(class_logits_fake: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss (Goodfellow et al. 2014): ``mean(-log D(G(z)))``.

    The fakes are labeled 1 and D is not updated.
    """
    return -log_d_real(class_logits_fake).mean()


def classification_loss(class_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the classifier head, from raw logits (no softmax before it)."""
    return F.cross_entropy(class_logits.float(), labels)


def feature_matching_loss(real_features: torch.Tensor, fake_features: torch.Tensor) -> torch.Tensor:
    """Feature matching (Salimans et al. 2016, §3.1): ``‖E f(x) − E f(G(z))‖²``.

    The mean over the batch of an intermediate discriminator layer on real images is
    matched by the generator's; gradients flow only into the generator's side.
    """
    real_mean = real_features.detach().float().mean(dim=0)
    fake_mean = fake_features.float().mean(dim=0)
    return (real_mean - fake_mean).pow(2).mean()


def pseudo_label_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, threshold: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Confidence-masked pseudo-labels (FixMatch, Sohn et al. 2020) on raw logits.

    The teacher's arg-max class is the target of the student's cross-entropy wherever the
    teacher's softmax probability reaches ``threshold``; other images contribute zero.
    The loss is averaged over all images (masked ones included), as in FixMatch. No
    gradient reaches the teacher.

    Returns:
        ``(loss, fraction of images above the threshold)``.

    """
    with torch.no_grad():
        log_p = torch.log_softmax(teacher_logits.float(), dim=1)
        confidence, target = log_p.max(dim=1)
        mask = (confidence >= math.log(threshold)).float()
    per_image = F.cross_entropy(student_logits.float(), target, reduction="none")
    return (per_image * mask).mean(), mask.mean()


def conditional_entropy(class_logits: torch.Tensor) -> torch.Tensor:
    """Mean entropy ``H(p(y|x)) = −Σ_k p_k log p_k`` of the class posterior (nats).

    Entropy minimisation on unlabeled images (Grandvalet & Bengio 2005; Dai et al. 2017
    add it to the semi-supervised GAN) pushes decision boundaries into low-density
    regions. Computed from ``log_softmax`` of the raw logits, so huge logits stay finite.
    """
    log_p = torch.log_softmax(class_logits.float(), dim=1)
    return -(log_p.exp() * log_p).sum(dim=1).mean()


def marginal_entropy(class_logits: torch.Tensor) -> torch.Tensor:
    """Entropy ``H(E_x p(y|x))`` of the batch's mean class posterior (nats).

    Maximised beside :func:`conditional_entropy`, it keeps the classes in use balanced:
    confident predictions that all fall in a few classes score low (Krause et al. 2010's
    regularised information maximisation; Springenberg 2016's CatGAN). The mean is taken
    in log space (``logsumexp`` of ``log_softmax``), so huge logits stay finite.
    """
    log_p = torch.log_softmax(class_logits.float(), dim=1)
    log_mean = torch.logsumexp(log_p, dim=0) - math.log(log_p.shape[0])
    return -(log_mean.exp() * log_mean).sum()


# ------------------------------------------------------------------ unconditional GANs
def bce_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """DCGAN discriminator loss from raw logits (Goodfellow et al. 2014; Radford et al. 2016).

    ``−mean log D(x) − mean log(1 − D(G(z)))`` with ``D = sigmoid(logit)``, i.e.
    ``mean softplus(−l_real) + mean softplus(l_fake)``: no sigmoid is ever taken, so
    saturated logits give finite losses and gradients.
    """
    return F.softplus(-real_logits.float()).mean() + F.softplus(fake_logits.float()).mean()


def bce_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss from raw logits: ``−mean log D(G(z)) = mean softplus(−l)``."""
    return F.softplus(-fake_logits.float()).mean()


def wasserstein_critic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """WGAN critic loss (Arjovsky et al. 2017): ``mean D(G(z)) − mean D(x)``.

    Minimising it maximises the critic's estimate of the Wasserstein-1 distance; the
    critic must be kept (approximately) 1-Lipschitz, by weight clipping
    (:func:`ganzoo.nn.constraints.clip_weights_`) or a gradient penalty (:func:`gradient_penalty`).
    """
    return fake_scores.float().mean() - real_scores.float().mean()


def wasserstein_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """WGAN generator loss: ``−mean D(G(z))``."""
    return -fake_scores.float().mean()


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """WGAN-GP penalty (Gulrajani et al. 2017, Algorithm 1): ``E[(‖∇_x̂ D(x̂)‖₂ − 1)²]``.

    ``x̂ = x + α (x̃ − x)`` with one ``α ~ U[0, 1]`` per sample (the course report drew
    it from N(0, 1), a bug). The norm is taken per sample over every channel and pixel
    (any channel count), and the penalty is averaged over the batch; the graph is kept
    (``create_graph``) so the penalty trains the critic. Computed in fp32.
    """
    real, fake = real.detach().float(), fake.detach().float()
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    alpha = torch.rand(shape, generator=generator, device=real.device, dtype=real.dtype)
    mixed = (real + alpha * (fake - real)).requires_grad_(True)
    scores = critic(mixed).float()
    (grad,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
    norms = grad.flatten(1).norm(2, dim=1)
    return (norms - 1.0).pow(2).mean()


# ------------------------------------------------------------------ VAE
def kl_to_standard_normal(mu: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
    """``KL(N(μ, σ²) ‖ N(0, I))`` summed over latent dimensions, averaged over the batch.

    ``= ½ Σ (μ² + σ² − 1 − 2 log σ)`` (Kingma & Welling 2014, appendix B).
    """
    mu, log_sigma = mu.float(), log_sigma.float()
    kl = 0.5 * (mu.pow(2) + torch.exp(2 * log_sigma) - 1.0 - 2 * log_sigma)
    return kl.sum(dim=1).mean()


def reparameterize(
    mu: torch.Tensor, log_sigma: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """``z = μ + σ·ε`` with ``ε ~ N(0, I)`` (the reparameterisation trick)."""
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + torch.exp(log_sigma) * eps


def gaussian_nll(x: torch.Tensor, reconstruction: torch.Tensor) -> torch.Tensor:
    """``−log p(x|z)`` under a unit-variance Gaussian, up to a constant: ``½‖x − x̃‖²``.

    Summed over pixels (or features), averaged over the batch; it serves both Larsen
    et al.'s pixel likelihood and their discriminator-feature likelihood.
    """
    diff = (x.float() - reconstruction.float()).flatten(1)
    return 0.5 * diff.pow(2).sum(dim=1).mean()


# ------------------------------------------------------------------ VQ-VAE
def vq_mse_reconstruction(
    x_hat: torch.Tensor, x: torch.Tensor, data_variance: float | torch.Tensor
) -> torch.Tensor:
    """VQ-VAE reconstruction loss ``mean((x̂ − x)²) / Var[x_train]`` (van den Oord et al. 2017).

    The mean squared error over every pixel, divided by the variance of the training
    data (as in the paper's reference implementation), so that the loss does not depend on
    the data's scale and weighs against the VQ terms the same way on any data set.

    Args:
        x_hat: reconstructions.
        x: the images, in the same value range.
        data_variance: variance of the training images in that range (a positive
            number or a scalar tensor).

    Raises:
        GanzooError: for a variance given as a number that is not positive and finite.

    """
    if isinstance(data_variance, int | float) and not (0 < data_variance < math.inf):
        from ganzoo.errors import GanzooError

        raise GanzooError(
            f"data_variance must be a positive number (the training images' variance), "
            f"got {data_variance!r}"
        )
    return F.mse_loss(x_hat.float(), x.float()) / data_variance


def bernoulli_nll(logits: torch.Tensor, x01: torch.Tensor) -> torch.Tensor:
    """Bernoulli negative log-likelihood ``−Σ_pixels [x log σ(l) + (1 − x) log(1 − σ(l))]``.

    Binary cross-entropy summed over the pixels of each image and averaged over the batch
    (the VQ-VAE report's second reconstruction loss), computed from the decoder's raw
    logits by ``binary_cross_entropy_with_logits``: no sigmoid is taken first, so saturated
    logits stay finite. Targets ``x01`` are pixel intensities in ``[0, 1]`` (grey levels
    act as soft labels).
    """
    per_pixel = F.binary_cross_entropy_with_logits(logits.float(), x01.float(), reduction="none")
    return per_pixel.flatten(1).sum(dim=1).mean()

"""Numerical traps of the losses, each checked against a float64/Decimal reference."""

import math
from decimal import Decimal, getcontext

import pytest
import torch
import torch.nn.functional as F

from ganzoo import losses

getcontext().prec = 60


def _reference_d(row):
    z = sum(Decimal(float(v)).exp() for v in row)
    return z / (z + 1)


LOGITS = torch.tensor(
    [
        [0.0] * 10,
        [-3.0, 2.0, 0.5, 1.0, -1.0, 0.0, 4.0, -2.0, 0.3, 1.5],
        [100.0] + [0.0] * 9,
        [500.0, 499.0] + [-500.0] * 8,
        [-100.0] * 10,
        [-1000.0] * 10,
        [88.0, 89.0, 90.0] + [0.0] * 7,
    ]
)


def test_d_probability_matches_decimal_reference_even_for_large_logits():
    got = losses.d_probability(LOGITS).double()
    for row, value in zip(LOGITS.tolist(), got.tolist(), strict=True):
        assert value == pytest.approx(float(_reference_d(row)), rel=1e-6, abs=1e-30)
    naive = torch.exp(LOGITS).sum(1) / (torch.exp(LOGITS).sum(1) + 1)
    assert torch.isnan(naive).any()  # the trap that log space avoids


def test_log_d_and_log_one_minus_d_match_reference():
    log_d = losses.log_d_real(LOGITS).double()
    log_1md = losses.log_one_minus_d(LOGITS).double()
    for row, a, b in zip(LOGITS.tolist(), log_d.tolist(), log_1md.tolist(), strict=True):
        z = sum(Decimal(float(v)).exp() for v in row)
        assert a == pytest.approx(float((z / (z + 1)).ln()), rel=1e-5, abs=1e-6)
        assert b == pytest.approx(float(-(z + 1).ln()), rel=1e-5, abs=1e-6)
    assert torch.isfinite(log_d).all() and torch.isfinite(log_1md).all()


def test_random_logits_against_float64_reference():
    logits = torch.randn(256, 10, generator=torch.Generator().manual_seed(0)) * 30
    z = torch.exp(logits.double()).sum(1)
    assert torch.allclose(losses.d_probability(logits).double(), z / (z + 1), rtol=1e-5, atol=1e-7)


def test_gan_losses_have_finite_gradients_at_extreme_logits():
    logits = LOGITS.clone().requires_grad_(True)
    total = (
        losses.discriminator_real_loss(logits)
        + losses.discriminator_fake_loss(logits)
        + losses.generator_loss(logits)
    )
    total.backward()
    assert torch.isfinite(total) and torch.isfinite(logits.grad).all()


def test_discriminator_losses_are_binary_cross_entropy():
    logits = torch.randn(16, 10, generator=torch.Generator().manual_seed(1))
    d = losses.d_probability(logits)
    ones, zeros = torch.ones(16), torch.zeros(16)
    assert torch.allclose(losses.discriminator_real_loss(logits), F.binary_cross_entropy(d, ones))
    assert torch.allclose(losses.discriminator_fake_loss(logits), F.binary_cross_entropy(d, zeros))
    assert torch.allclose(losses.generator_loss(logits), F.binary_cross_entropy(d, ones))


def test_classification_loss_takes_raw_logits_not_probabilities():
    logits = torch.tensor([[200.0, 0.0, -200.0], [0.0, 1.0, 2.0]])
    labels = torch.tensor([2, 0])
    got = losses.classification_loss(logits, labels)
    expected = -(torch.log_softmax(logits.double(), 1)[[0, 1], labels]).mean()
    assert torch.isfinite(got) and got.double().item() == pytest.approx(expected.item(), rel=1e-6)
    softmax_first = F.cross_entropy(logits.softmax(1), labels)  # the trap
    assert abs(softmax_first.item() - got.item()) > 1.0


def test_feature_matching_pulls_only_the_generator_side():
    real = torch.randn(8, 5, requires_grad=True)
    fake = torch.randn(8, 5, requires_grad=True)
    loss = losses.feature_matching_loss(real, fake)
    assert loss.item() == pytest.approx((real.mean(0) - fake.mean(0)).pow(2).mean().item())
    loss.backward()
    assert real.grad is None and fake.grad is not None


def test_kl_matches_torch_distributions():
    mu = torch.randn(6, 2)
    log_sigma = torch.randn(6, 2) * 0.5
    q = torch.distributions.Normal(mu, log_sigma.exp())
    p = torch.distributions.Normal(torch.zeros(2), torch.ones(2))
    expected = torch.distributions.kl_divergence(q, p).sum(1).mean()
    assert torch.allclose(losses.kl_to_standard_normal(mu, log_sigma), expected, atol=1e-6)


def test_gaussian_nll_is_half_squared_error_summed_over_pixels():
    x, y = torch.zeros(2, 1, 2, 2), torch.ones(2, 1, 2, 2)
    assert losses.gaussian_nll(x, y).item() == pytest.approx(2.0)


def test_reparameterize_uses_the_generator():
    mu, log_sigma = torch.zeros(3, 2), torch.zeros(3, 2)
    a = losses.reparameterize(mu, log_sigma, torch.Generator().manual_seed(5))
    b = losses.reparameterize(mu, log_sigma, torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and a.std() > 0


def test_pseudo_labels_use_only_confident_teacher_predictions():
    teacher = torch.tensor([[10.0, 0.0, 0.0], [0.2, 0.1, 0.0]], requires_grad=True)
    student = torch.tensor([[0.0, 3.0, 0.0], [0.0, 0.0, 5.0]], requires_grad=True)
    loss, confident = losses.pseudo_label_loss(student, teacher, threshold=0.95)
    assert confident.item() == 0.5  # only the first image's teacher is confident
    expected = F.cross_entropy(student[:1], torch.tensor([0])) / 2  # averaged over both
    assert torch.allclose(loss, expected)
    loss.backward()
    assert teacher.grad is None  # no gradient into the teacher
    assert student.grad[1].abs().sum() == 0  # the unconfident image contributes nothing


def test_pseudo_labels_are_stable_for_huge_logits():
    teacher = torch.tensor([[1e4, -1e4, 0.0]])
    student = torch.tensor([[-1e4, 1e4, 0.0]], requires_grad=True)
    loss, confident = losses.pseudo_label_loss(student, teacher, threshold=0.95)
    assert confident.item() == 1.0 and torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(student.grad).all()


def test_conditional_entropy_matches_a_float64_reference_and_survives_huge_logits():
    logits = torch.randn(16, 10) * 5
    p = torch.softmax(logits.double(), dim=1)
    reference = -(p * p.log()).sum(dim=1).mean()
    assert torch.allclose(losses.conditional_entropy(logits).double(), reference, atol=1e-5)
    # Uniform logits: log 10; one huge logit: ~0, and finite gradients either way.
    assert math.isclose(
        float(losses.conditional_entropy(torch.zeros(2, 10))), math.log(10), rel_tol=1e-6
    )
    huge = torch.tensor([[1e4] + [0.0] * 9, [-1e4] * 5 + [1e4] * 5], requires_grad=True)
    value = losses.conditional_entropy(huge)
    value.backward()
    value = value.detach()
    assert math.isfinite(float(value)) and torch.isfinite(huge.grad).all()
    assert float(value) < math.log(5) / 2 + 1e-4


def test_marginal_entropy_matches_a_float64_reference_and_scores_merged_classes_low():
    logits = torch.randn(32, 10) * 4
    mean_p = torch.softmax(logits.double(), dim=1).mean(dim=0)
    reference = -(mean_p * mean_p.log()).sum()
    assert torch.allclose(losses.marginal_entropy(logits).double(), reference, atol=1e-5)
    # Confident and balanced over 10 classes: log 10. Confident but all in 2 classes: log 2.
    balanced = torch.eye(10).repeat(3, 1) * 1e4
    merged = torch.eye(10)[torch.arange(30) % 2] * 1e4
    assert math.isclose(float(losses.marginal_entropy(balanced)), math.log(10), rel_tol=1e-5)
    assert math.isclose(float(losses.marginal_entropy(merged)), math.log(2), rel_tol=1e-5)
    huge = (torch.eye(10)[torch.arange(6) % 3] * 1e4).requires_grad_()
    losses.marginal_entropy(huge).backward()
    assert torch.isfinite(huge.grad).all()

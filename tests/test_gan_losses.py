"""GAN losses and weight constraints: hand computations and the numerical traps."""

import pytest
import torch
from torch import nn

from ganzoo import losses
from ganzoo.errors import GanzooError
from ganzoo.nn.constraints import clip_weights_
from ganzoo.nn.diffaugment import diff_augment, parse_policy


def test_bce_losses_match_the_formula_and_stay_finite_at_huge_logits():
    real = torch.tensor([0.3, -1.2, 2.0])
    fake = torch.tensor([-0.5, 0.7, 1.5])
    expected_d = -torch.log(torch.sigmoid(real)).mean() - torch.log(1 - torch.sigmoid(fake)).mean()
    torch.testing.assert_close(losses.bce_discriminator_loss(real, fake), expected_d)
    expected_g = -torch.log(torch.sigmoid(fake)).mean()
    torch.testing.assert_close(losses.bce_generator_loss(fake), expected_g)
    huge = torch.tensor([-1e4, 1e4], requires_grad=True)
    loss = losses.bce_discriminator_loss(huge, huge) + losses.bce_generator_loss(huge)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(huge.grad).all()


def test_wasserstein_losses_match_the_formula():
    real = torch.tensor([1.0, 2.0, 3.0])
    fake = torch.tensor([0.5, -0.5])
    assert losses.wasserstein_critic_loss(real, fake).item() == pytest.approx(0.0 - 2.0)
    assert losses.wasserstein_generator_loss(fake).item() == pytest.approx(0.0)


def test_gradient_penalty_equals_hand_computation_on_a_linear_critic():
    critic = nn.Sequential(nn.Flatten(), nn.Linear(2 * 3 * 3, 1))
    real, fake = torch.randn(5, 2, 3, 3), torch.randn(5, 2, 3, 3)
    penalty = losses.gradient_penalty(lambda x: critic(x).squeeze(1), real, fake)
    # D(x) = w·x + b: the gradient is w for every sample and every alpha
    expected = (critic[1].weight.norm() - 1) ** 2
    torch.testing.assert_close(penalty, expected)


def test_gradient_penalty_is_per_sample_with_uniform_alpha():
    def critic(x):  # D(x) = sum(x^2): the gradient 2 x_hat differs per sample
        return x.pow(2).flatten(1).sum(1)

    real, fake = torch.randn(6, 3, 4, 4), torch.randn(6, 3, 4, 4)
    penalty = losses.gradient_penalty(critic, real, fake, torch.Generator().manual_seed(3))
    alpha = torch.rand((6, 1, 1, 1), generator=torch.Generator().manual_seed(3))
    mixed = real + alpha * (fake - real)
    per_sample = torch.stack([(2 * m).norm() for m in mixed])  # one norm per sample
    torch.testing.assert_close(penalty, ((per_sample - 1) ** 2).mean())
    assert ((alpha >= 0) & (alpha <= 1)).all()
    whole_batch_norm = ((2 * mixed).norm() - 1) ** 2  # the classic bug: one norm for the batch
    assert not torch.allclose(penalty, whole_batch_norm)


def test_gradient_penalty_trains_the_critic():
    critic = nn.Sequential(nn.Flatten(), nn.Linear(4, 1, bias=False))
    with torch.no_grad():
        critic[1].weight.fill_(2.0)
    penalty = losses.gradient_penalty(
        lambda x: critic(x).squeeze(1), torch.zeros(3, 1, 2, 2), torch.ones(3, 1, 2, 2)
    )
    (grad,) = torch.autograd.grad(penalty, critic[1].weight)
    # d/dw (|w| - 1)^2 = 2 (|w| - 1) w / |w| with |w| = 4
    torch.testing.assert_close(grad, torch.full((1, 4), 2 * 3 * 2.0 / 4))


def test_clipping_puts_every_critic_weight_in_range():
    critic = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8), nn.Linear(8, 1))
    with torch.no_grad():
        for p in critic.parameters():
            p.normal_(0, 1)
    clip_weights_(critic, 0.01)
    assert all(p.abs().max() <= 0.01 for p in critic.parameters())
    assert any((p.abs() == 0.01).any() for p in critic.parameters())


def test_diffaugment_off_changes_nothing_and_on_is_reproducible_and_differentiable():
    x = (torch.rand(4, 3, 16, 16) * 2 - 1).requires_grad_(True)
    assert diff_augment(x, "") is x
    policy = "color,translation,cutout"
    a = diff_augment(x, policy, torch.Generator().manual_seed(0))
    b = diff_augment(x, policy, torch.Generator().manual_seed(0))
    torch.testing.assert_close(a, b)
    assert not torch.equal(a, x)
    a.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_diffaugment_translation_shifts_with_zero_fill_and_cutout_zeroes_a_square():
    x = torch.ones(8, 1, 16, 16)
    shifted = diff_augment(x, "translation", torch.Generator().manual_seed(1))
    zeros = (shifted == 0).float().mean(dim=(1, 2, 3))
    assert (zeros <= 1 - (14 / 16) ** 2 + 1e-6).all() and (zeros > 0).any()
    cut = diff_augment(x, "cutout", torch.Generator().manual_seed(1))
    zeroed = (cut == 0).sum(dim=(1, 2, 3))
    assert (zeroed <= 64).all() and (zeroed > 0).all()


def test_unknown_diffaugment_policy_is_one_line_error():
    with pytest.raises(GanzooError, match="did you mean|choose from"):
        parse_policy("color,flip")

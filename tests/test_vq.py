"""The vector quantiser (ganzoo.archs.vqvae.quantizer) and the VQ-VAE losses, by hand."""

import math

import pytest
import torch
import torch.nn.functional as F

from ganzoo import losses
from ganzoo.archs.vqvae.quantizer import USAGE_DECAY, VectorQuantizer
from ganzoo.errors import GanzooError


def _quantizer(codes, **options):
    codes = torch.as_tensor(codes, dtype=torch.float32)
    vq = VectorQuantizer(codes.shape[0], codes.shape[1], **options)
    with torch.no_grad():
        vq.codebook.copy_(codes)
        if vq.uses_ema:
            vq.ema_weight.copy_(codes * vq.cluster_size.unsqueeze(1))
    return vq


def _grid(vectors, h, w):
    """``(N·h·w, d)`` rows in raster order → a channels-first grid ``(N, d, h, w)``."""
    vectors = torch.as_tensor(vectors, dtype=torch.float32)
    return vectors.view(-1, h, w, vectors.shape[1]).permute(0, 3, 1, 2).contiguous()


def test_code_assignment_equals_brute_force_nearest_neighbour():
    g = torch.Generator().manual_seed(0)
    vq = _quantizer(torch.randn(32, 8, generator=g))
    z_e = torch.randn(16, 8, 6, 5, generator=g) * 1.5
    flat = z_e.permute(0, 2, 3, 1).reshape(-1, 8).double()
    reference = torch.cdist(flat, vq.codebook.double()).argmin(dim=1).view(16, 6, 5)
    out = vq(z_e)
    assert out.indices.dtype == torch.long and out.indices.shape == (16, 6, 5)
    assert torch.equal(out.indices, reference)
    assert torch.equal(vq.encode(z_e), reference)
    assert len(reference.unique()) > 10  # a real test of the choice, not one code everywhere


def test_z_q_is_the_code_and_the_gradient_goes_straight_through():
    g = torch.Generator().manual_seed(1)
    vq = _quantizer(torch.randn(8, 4, generator=g))
    z_e = torch.randn(2, 4, 3, 3, generator=g, requires_grad=True)
    out = vq(z_e)
    torch.testing.assert_close(out.z_q, vq.lookup(out.indices), rtol=0, atol=1e-6)
    weights = torch.randn(out.z_q.shape, generator=g)
    (grad,) = torch.autograd.grad((out.z_q * weights).sum(), z_e)
    assert torch.equal(grad, weights)  # dz_q/dz_e = I


def test_loss_terms_equal_a_hand_computation():
    vq = _quantizer([[0.0, 0.0], [1.0, 1.0]], beta=0.25)
    z_e = _grid([[0.2, -0.1], [0.9, 1.4]], 1, 2).requires_grad_(True)
    out = vq(z_e)
    assert out.indices.tolist() == [[[0, 1]]]
    # squared errors: (0.2² + 0.1²) + (0.1² + 0.4²) = 0.22, mean over 4 elements
    assert out.codebook_loss.item() == pytest.approx(0.055, abs=1e-7)
    assert out.commitment_loss.item() == pytest.approx(0.25 * 0.055, abs=1e-7)
    assert out.loss.item() == pytest.approx(1.25 * 0.055, abs=1e-7)
    assert out.perplexity.item() == pytest.approx(2.0, abs=1e-6)
    assert out.used_codes.item() == 2
    # the codebook loss moves only the codes, the commitment loss only the encoder
    code_grad, z_grad = torch.autograd.grad(
        out.codebook_loss, [vq.codebook, z_e], retain_graph=True, allow_unused=True
    )
    expected = torch.tensor([[-0.2, 0.1], [0.1, -0.4]]) * 2 / 4  # d mean(e − z)² / de
    torch.testing.assert_close(code_grad, expected)
    assert z_grad is None  # sg[z_e]
    code_grad, z_grad = torch.autograd.grad(
        out.commitment_loss, [vq.codebook, z_e], allow_unused=True
    )
    expected_z = 0.25 * 2 / 4 * _grid([[0.2, -0.1], [-0.1, 0.4]], 1, 2)
    torch.testing.assert_close(z_grad, expected_z)
    assert code_grad is None  # sg[e]


def test_perplexity_and_used_codes_count_the_batch_frequencies():
    vq = _quantizer([[0.0], [10.0], [20.0], [30.0]])
    out = vq(_grid([[0.0], [0.1], [0.2], [10.0]], 1, 4))  # frequencies 3/4, 1/4, 0, 0
    entropy = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert out.perplexity.item() == pytest.approx(math.exp(entropy), rel=1e-6)
    assert out.used_codes.item() == 2


def test_under_bf16_autocast_codes_are_chosen_in_fp32():
    g = torch.Generator().manual_seed(0)
    vq = _quantizer(torch.randn(64, 16, generator=g))
    z_e = torch.randn(64, 16, 8, 8, generator=g).bfloat16()
    reference = vq.encode(z_e.float())
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = vq(z_e)
        encoded = vq.encode(z_e)
        # the trap: the same distances left to autocast pick other codes
        flat = z_e.permute(0, 2, 3, 1).reshape(-1, 16).float()
        naive = (flat.pow(2).sum(1, keepdim=True) + vq.codebook.pow(2).sum(1)) - 2 * (
            flat @ vq.codebook.t()
        )
    assert not torch.equal(naive.argmin(1).view_as(reference), reference)
    assert torch.equal(out.indices, reference) and torch.equal(encoded, reference)
    assert out.z_q.dtype == torch.bfloat16 and torch.isfinite(out.z_q.float()).all()
    for value in (out.codebook_loss, out.commitment_loss, out.perplexity):
        assert value.dtype == torch.float32 and torch.isfinite(value)


def test_usage_average_is_updated_in_training_mode_only():
    vq = _quantizer([[0.0], [10.0]])
    z_e = _grid([[0.0], [0.5], [9.0]], 1, 3)
    vq.eval()
    vq(z_e)
    assert vq.cluster_size.tolist() == [1.0, 1.0]
    vq.train()
    vq(z_e)
    expected = [USAGE_DECAY + (1 - USAGE_DECAY) * 2, USAGE_DECAY + (1 - USAGE_DECAY) * 1]
    assert vq.cluster_size.tolist() == pytest.approx(expected)


def test_ema_update_moves_codes_to_the_moving_average_of_their_vectors():
    eps = 1e-5
    vq = _quantizer([[-5.0, -5.0], [2.0, 2.0]], ema_decay=0.5, eps=eps).train()
    assert isinstance(vq.codebook, torch.Tensor) and not vq.codebook.requires_grad
    assert "codebook" not in dict(vq.named_parameters())
    out = vq(_grid([[3.0, 3.0], [5.0, 5.0]], 1, 2))  # both nearest to code 1, mean (4, 4)
    assert out.indices.tolist() == [[[1, 1]]]
    # N = ½·1 + ½·n: (0.5, 1.5); m = ½·e·1 + ½·Σz: (-2.5, -2.5), (5, 5)
    sizes = torch.tensor([0.5, 1.5])
    torch.testing.assert_close(vq.cluster_size, sizes)
    torch.testing.assert_close(vq.ema_weight, torch.tensor([[-2.5, -2.5], [5.0, 5.0]]))
    total = sizes.sum()
    smoothed = (sizes + eps) / (total + 2 * eps) * total
    expected = torch.tensor([[-2.5, -2.5], [5.0, 5.0]]) / smoothed.unsqueeze(1)
    torch.testing.assert_close(vq.codebook, expected)
    assert 2.0 < vq.codebook[1, 0].item() < 4.0  # code 1 moved toward its vectors' mean
    assert vq.codebook[0, 0].item() == pytest.approx(-5.0, rel=1e-4)  # unused code stays
    # with EMA the codebook loss is reported but is not part of the objective
    assert not out.codebook_loss.requires_grad
    assert out.loss is out.commitment_loss


def test_ema_codebook_does_not_move_in_eval_mode():
    vq = _quantizer([[-5.0, -5.0], [2.0, 2.0]], ema_decay=0.5).eval()
    before = vq.codebook.clone()
    vq(_grid([[3.0, 3.0], [5.0, 5.0]], 1, 2))
    assert torch.equal(vq.codebook, before)


def _collapsed(seed=0, **options):
    """A quantiser whose data all falls on codes 0 and 1; codes 2..7 are far away."""
    g = torch.Generator().manual_seed(seed)
    codes = torch.cat([torch.tensor([[0.0, 0.0], [1.0, 1.0]]), torch.full((6, 2), 100.0)])
    vq = _quantizer(codes, **options).train()
    z_e = torch.rand(4, 2, 5, 5, generator=g)
    for _ in range(3):
        vq(z_e)
    return vq, z_e


@pytest.mark.parametrize("ema_decay", [None, 0.9])
def test_dead_codes_are_restarted_onto_encoder_outputs(ema_decay):
    vq, z_e = _collapsed(ema_decay=ema_decay)
    assert (vq.cluster_size[2:] < 1.0).all() and (vq.cluster_size[:2] > 1.0).all()
    live = vq.codebook[:2].clone()
    restarted = vq.restart_dead_codes(z_e, generator=torch.Generator().manual_seed(0))
    assert restarted == 6
    assert torch.equal(vq.codebook[:2], live)  # live codes untouched
    flat = z_e.permute(0, 2, 3, 1).reshape(-1, 2)
    for code in vq.codebook[2:]:
        assert (flat == code).all(dim=1).any()  # each is one of the batch's vectors
    assert len({tuple(c.tolist()) for c in vq.codebook[2:]}) == 6  # distinct ones
    assert vq.cluster_size[2:].tolist() == [1.0] * 6
    if ema_decay is not None:
        torch.testing.assert_close(vq.ema_weight[2:], vq.codebook[2:])
    assert vq(z_e).used_codes.item() > 2  # the restarted codes now take vectors
    assert vq.restart_dead_codes(z_e) == 0  # nothing is dead any more


def test_restarts_are_reproducible_with_a_generator_or_the_global_seed():
    results = []
    for seed in (3, 3, 4):
        vq, z_e = _collapsed()
        vq.restart_dead_codes(z_e, generator=torch.Generator().manual_seed(seed))
        results.append(vq.codebook.clone())
    assert torch.equal(results[0], results[1]) and not torch.equal(results[0], results[2])
    globals_ = []
    for _ in range(2):
        vq, z_e = _collapsed()
        torch.manual_seed(7)
        vq.restart_dead_codes(z_e)
        globals_.append(vq.codebook.clone())
    assert torch.equal(globals_[0], globals_[1])


def test_kmeans_initialisation_puts_a_code_on_every_cluster():
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[-10.0, -10.0], [-10.0, 10.0], [10.0, -10.0], [10.0, 10.0]])
    vectors = centres.repeat_interleave(50, dim=0) + 0.1 * torch.randn(200, 2, generator=g)
    z_e = _grid(vectors, 10, 10)
    torch.manual_seed(0)
    vq = VectorQuantizer(4, 2)
    distance = torch.cdist(vq.codebook.detach(), centres).min(dim=1).values
    assert (distance > 9).all()  # the default codebook sits near the origin
    vq.cluster_size.fill_(0.0)
    vq.init_from(z_e, iters=10, generator=torch.Generator().manual_seed(0))
    assert vq.cluster_size.tolist() == [1.0] * 4  # usage restarts with the codebook
    assert vq(z_e).used_codes.item() == 4
    distance = torch.cdist(vq.codebook.detach(), centres).min(dim=1).values
    assert (distance < 0.1).all()


def test_kmeans_initialisation_sets_the_ema_state_too():
    z_e = torch.randn(2, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    vq = VectorQuantizer(5, 3, ema_decay=0.99)
    vq.init_from(z_e, iters=3)
    torch.testing.assert_close(vq.ema_weight, vq.codebook)  # ema_weight = codebook · 1
    assert vq(z_e).used_codes.item() == 5


def test_lookup_gives_channels_first_codes_and_refuses_bad_indices():
    vq = _quantizer([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]])
    indices = torch.tensor([[[0, 2], [1, 1]]])
    codes = vq.lookup(indices)
    assert codes.shape == (1, 2, 2, 2)
    assert codes[0, :, 0, 1].tolist() == [4.0, 5.0]
    for bad in (torch.tensor([[[0, 3]]]), torch.tensor([[[-1, 0]]]), torch.zeros(1, 2, 2)):
        with pytest.raises(GanzooError) as info:
            vq.lookup(bad)
        assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"num_codes": 0}, "num_codes"),
        ({"code_dim": 2.5}, "code_dim"),
        ({"beta": -1.0}, "beta"),
        ({"beta": float("nan")}, "beta"),
        ({"ema_decay": 1.0}, "ema_decay"),
        ({"ema_decay": 0.0}, "ema_decay"),
        ({"eps": 0.0}, "eps"),
        ({"dead_code_threshold": -1.0}, "dead_code_threshold"),
    ],
)
def test_bad_quantizer_arguments_are_one_line_errors(options, match):
    arguments = {"num_codes": 4, "code_dim": 2, **options}
    with pytest.raises(GanzooError, match=match) as info:
        VectorQuantizer(**arguments)
    assert "\n" not in str(info.value)


def test_encoder_outputs_of_the_wrong_size_are_a_one_line_error():
    vq = VectorQuantizer(4, 3)
    with pytest.raises(GanzooError, match=r"\(N, 3, H, W\)"):
        vq(torch.zeros(1, 2, 4, 4))


def test_state_dict_round_trips_the_ema_statistics():
    vq, z_e = _collapsed(ema_decay=0.9)
    state = vq.state_dict()
    assert set(state) == {"codebook", "ema_weight", "cluster_size"}
    fresh = VectorQuantizer(8, 2, ema_decay=0.9)
    fresh.load_state_dict(state, strict=True)
    for name, value in state.items():
        assert torch.equal(fresh.state_dict()[name], value)
    fresh.train()
    vq(z_e), fresh(z_e)
    assert torch.equal(fresh.codebook, vq.codebook)
    assert set(VectorQuantizer(8, 2).state_dict()) == {"codebook", "cluster_size"}


# ------------------------------------------------------------------ reconstruction losses
def test_vq_mse_reconstruction_divides_the_mse_by_the_data_variance():
    x_hat = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    x = torch.ones(2, 2)
    assert losses.vq_mse_reconstruction(x_hat, x, 2.0).item() == pytest.approx(3.5 / 2.0)
    assert losses.vq_mse_reconstruction(x_hat, x, torch.tensor(0.5)).item() == pytest.approx(7.0)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(GanzooError, match="data_variance"):
            losses.vq_mse_reconstruction(x_hat, x, bad)


def test_bernoulli_nll_sums_over_pixels_and_averages_over_images():
    logits = torch.tensor([[[[0.0, 2.0]]], [[[-1.0, 3.0]]]])  # (2, 1, 1, 2)
    x01 = torch.tensor([[[[1.0, 0.0]]], [[[0.5, 1.0]]]])

    def softplus(v):
        return math.log1p(math.exp(v))

    first = softplus(-0.0) + softplus(2.0)  # −log σ(0) − log(1 − σ(2))
    second = 0.5 * softplus(1.0) + 0.5 * softplus(-1.0) + softplus(-3.0)
    got = losses.bernoulli_nll(logits, x01).item()
    assert got == pytest.approx((first + second) / 2, rel=1e-6)


def test_bernoulli_nll_works_on_logits_so_saturated_ones_stay_exact():
    logits, target = torch.tensor([[200.0, -300.0]]), torch.tensor([[0.0, 1.0]])
    assert losses.bernoulli_nll(logits, target).item() == pytest.approx(500.0)
    # the trap: a sigmoid first saturates, and torch's BCE then clamps each log at -100
    assert F.binary_cross_entropy(torch.sigmoid(logits), target, reduction="sum").item() == 200.0

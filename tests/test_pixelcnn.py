"""The gated PixelCNN prior over code grids: causality, likelihood, sampling, config."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

import ganzoo.archs.vqvae.prior as pixelcnn
from ganzoo.archs.vqvae.prior import PRIOR_PRESETS, GatedLayer, GatedPixelCNN, GatedPixelCNNConfig
from ganzoo.errors import GanzooError

H, W, K = 5, 6, 11  # a non-square grid catches a transposed shift


def tiny(**overrides) -> GatedPixelCNN:
    torch.manual_seed(0)
    config = GatedPixelCNNConfig(num_codes=K, hidden_channels=8, num_layers=6, **overrides)
    return GatedPixelCNN(config).double()


def random_codes(n: int = 2, seed: int = 1, h: int = H, w: int = W) -> torch.Tensor:
    return torch.randint(0, K, (n, h, w), generator=torch.Generator().manual_seed(seed))


def earlier(r: int, c: int, h: int = H, w: int = W) -> torch.Tensor:
    """Positions strictly before (r, c) in raster order."""
    index = torch.arange(h * w).reshape(h, w)
    return index < r * w + c


def dependence(model: GatedPixelCNN, codes: torch.Tensor, outputs) -> dict:
    """{(name, r, c): (N, H, W) bool map of embedding positions the output at (r, c) of sample 0
    depends on}, by autograd of that output w.r.t. the code embedding."""
    captured = {}
    handle = model.embedding.register_forward_hook(lambda m, i, o: captured.update(emb=o))
    try:
        named = outputs(model, codes)
    finally:
        handle.remove()
    emb = captured["emb"]
    maps = {}
    for name, out in named.items():
        for r in range(out.shape[2]):
            for c in range(out.shape[3]):
                (grad,) = torch.autograd.grad(out[0, :, r, c].sum(), emb, retain_graph=True)
                maps[name, r, c] = grad.abs().sum(-1) > 0
    return maps


def logits_only(model, codes):
    return {"logits": model(codes)}


def per_layer(model, codes):
    named = {}
    for i, (link, h) in enumerate(model.stacks(codes)):
        named[f"link{i}"] = link
        named[f"h{i}"] = h
    return named


def causality_violations(maps: dict) -> list:
    """Outputs that see their own position or a later one, or another sample of the batch."""
    bad = []
    for (name, r, c), dep in maps.items():
        if name.startswith("link"):
            allowed = torch.arange(H)[:, None].expand(H, W) < r  # rows above only
        else:
            allowed = earlier(r, c)
        if (dep[0] & ~allowed).any() or dep[1:].any():
            bad.append((name, r, c))
    return bad


# ---------------------------------------------------------------- causality


def test_logits_depend_on_exactly_the_earlier_positions():
    # Causal (nothing at or after p) and no blind spot (everything before p is seen).
    maps = dependence(tiny(), random_codes(), logits_only)
    for (_, r, c), dep in maps.items():
        assert torch.equal(dep[0], earlier(r, c)), (r, c)
        assert not dep[1:].any()


def test_each_layer_of_both_stacks_is_causal():
    maps = dependence(tiny(), random_codes(), per_layer)
    assert causality_violations(maps) == []
    for (name, r, c), dep in maps.items():
        if name.startswith("link") and r > 0:
            assert dep[0, r - 1, c], "the vertical link must see the row just above"
        if name.startswith("link") and r == 0:
            assert not dep.any(), "the top row's vertical link sees nothing"
        if name.startswith("h") and (r, c) != (0, 0):
            assert dep[0].any()


def test_causality_check_catches_a_type_b_first_layer():
    model = tiny()
    model.layers[0] = GatedLayer(8, 3, "B").double()  # would see the current position
    maps = dependence(model, random_codes(), per_layer)
    assert ("h0", 2, 3) in causality_violations(maps)


def test_causality_check_catches_a_missing_down_shift(monkeypatch):
    monkeypatch.setattr(pixelcnn, "_down_shift", lambda x: x)
    maps = dependence(tiny(), random_codes(), per_layer)
    assert ("link0", 2, 3) in causality_violations(maps)


def test_perturbing_later_positions_leaves_earlier_logits_unchanged():
    model = tiny().eval()
    codes = random_codes(n=1)
    base = model(codes)
    for p in range(H * W):
        r, c = divmod(p, W)
        changed = codes.clone().flatten()
        later = changed[p + 1 :]
        changed[p + 1 :] = (later + 1 + torch.randint(0, K - 1, later.shape)) % K
        out = model(changed.reshape(1, H, W))
        seen = torch.arange(H * W).reshape(H, W) <= p  # p and every position before it
        torch.testing.assert_close(out[0][:, seen], base[0][:, seen], rtol=0, atol=1e-12)
        own = codes.clone()
        own[0, r, c] = (own[0, r, c] + 1) % K
        out = model(own)
        torch.testing.assert_close(out[0, :, r, c], base[0, :, r, c], rtol=0, atol=1e-12)
        if p + 1 < H * W:  # and the next position does see it
            nr, nc = divmod(p + 1, W)
            assert not torch.allclose(out[0, :, nr, nc], base[0, :, nr, nc])


def test_no_blind_spot_eight_layers_see_all_of_a_7x7_grid():
    # The MNIST preset's depth and kernel: every output sees every earlier code, including
    # the up-right ones a single masked stack misses (its blind spot).
    torch.manual_seed(0)
    config = GatedPixelCNNConfig(num_codes=K, hidden_channels=8, num_layers=8)
    model = GatedPixelCNN(config).double()
    maps = dependence(model, random_codes(h=7, w=7), logits_only)
    assert maps["logits", 6, 6][0, 0, 6]  # bottom-right sees top-right
    assert maps["logits", 3, 2][0, 0, 6]  # a middle position sees the far upper right
    for (_, r, c), dep in maps.items():
        assert torch.equal(dep[0], earlier(r, c, 7, 7)), (r, c)


# ---------------------------------------------------------------- shapes, likelihood


def test_logits_shape():
    model = tiny()
    assert model(random_codes(n=3)).shape == (3, K, H, W)


def test_nll_equals_hand_cross_entropy():
    model = tiny()
    codes = random_codes(n=3)
    logits = model(codes)
    log_softmax = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    hand = -log_softmax.gather(1, codes[:, None]).mean()
    torch.testing.assert_close(model.nll(codes), hand)
    per_grid = log_softmax.gather(1, codes[:, None]).flatten(1).sum(1)
    torch.testing.assert_close(model.log_prob(codes), per_grid)


def test_bits_per_dim_is_nll_over_ln2_and_log2_k_when_uniform():
    model = tiny()
    codes = random_codes()
    torch.testing.assert_close(model.bits_per_dim(codes), model.nll(codes) / math.log(2))
    with torch.no_grad():
        model.head[-1].weight.zero_()
        model.head[-1].bias.zero_()
    torch.testing.assert_close(
        model.bits_per_dim(codes), torch.tensor(math.log2(K), dtype=torch.float64)
    )


def test_tiny_overfit_lowers_nll():
    torch.manual_seed(0)
    model = GatedPixelCNN(GatedPixelCNNConfig(num_codes=8, hidden_channels=16, num_layers=3))
    codes = torch.randint(0, 8, (1, 4, 4), generator=torch.Generator().manual_seed(3))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = model.nll(codes).item()
    for _ in range(40):
        optimizer.zero_grad()
        loss = model.nll(codes)
        loss.backward()
        optimizer.step()
    assert model.nll(codes).item() < 0.3 * first


# ---------------------------------------------------------------- sampling


def test_sampling_is_deterministic_per_seed_and_in_range():
    model = tiny()
    a = model.sample(3, 4, 5, generator=torch.Generator().manual_seed(0))
    b = model.sample(3, 4, 5, generator=torch.Generator().manual_seed(0))
    c = model.sample(3, 4, 5, generator=torch.Generator().manual_seed(1))
    assert a.shape == (3, 4, 5) and a.dtype == torch.long
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert int(a.min()) >= 0 and int(a.max()) < K


def test_sampling_at_low_temperature_is_greedy_raster_decoding():
    model = tiny()
    sampled = model.sample(2, 3, 4, generator=torch.Generator().manual_seed(0), temperature=1e-6)
    greedy = torch.zeros(2, 3, 4, dtype=torch.long)
    with torch.no_grad():
        for r in range(3):
            for c in range(4):
                greedy[:, r, c] = model(greedy)[:, :, r, c].argmax(1)
    assert torch.equal(sampled, greedy)


@pytest.mark.parametrize("training", [True, False])
def test_sampling_runs_in_eval_and_restores_mode(training):
    model = tiny(dropout=0.5)
    model.train(training)
    modes = []
    handle = model.register_forward_pre_hook(lambda m, i: modes.append(m.training))
    a = model.sample(2, 3, 3, generator=torch.Generator().manual_seed(0))
    handle.remove()
    b = model.sample(2, 3, 3, generator=torch.Generator().manual_seed(0))
    assert modes and not any(modes)
    assert model.training is training
    assert torch.equal(a, b)  # no dropout noise while sampling


def test_sample_returns_codes_on_the_requested_device():
    model = tiny()
    codes = model.sample(1, 2, 2, generator=torch.Generator().manual_seed(0), device="cpu")
    assert codes.device == torch.device("cpu")


# ---------------------------------------------------------------- class conditioning


def test_class_conditioning_changes_logits_and_samples():
    model = tiny(num_classes=3)
    with torch.no_grad():  # a fresh embedding is random already; make the effect large
        for layer in model.layers:
            layer.class_bias.weight.mul_(3)
    codes = random_codes()
    a = model(codes, torch.tensor([0, 0]))
    b = model(codes, torch.tensor([1, 1]))
    assert not torch.allclose(a, b)
    torch.testing.assert_close(model(codes, 1), b)  # one int is broadcast
    g = torch.Generator
    s0 = model.sample(4, 3, 3, generator=g().manual_seed(0), class_labels=0)
    s1 = model.sample(4, 3, 3, generator=g().manual_seed(0), class_labels=[1, 1, 1, 1])
    assert not torch.equal(s0, s1)


def test_class_conditional_model_stays_causal():
    maps = dependence(tiny(num_classes=2), random_codes(), lambda m, x: {"l": m(x, [0, 1])})
    for (_, r, c), dep in maps.items():
        assert torch.equal(dep[0], earlier(r, c))


def one_line_error(call, *words):
    with pytest.raises(GanzooError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message
    return message


def test_label_mismatches_are_one_line_errors():
    conditional, plain = tiny(num_classes=3), tiny()
    codes = random_codes()
    one_line_error(lambda: conditional(codes), "class-conditional", "class_labels")
    one_line_error(lambda: plain(codes, torch.tensor([0, 1])), "unconditional")
    one_line_error(lambda: conditional(codes, torch.tensor([0, 3])), "[0, 3)")
    one_line_error(lambda: conditional(codes, torch.tensor([0, 1, 2])), "2 integer")
    one_line_error(lambda: conditional(codes, torch.tensor([0.0, 1.0])), "integer")
    one_line_error(lambda: conditional.sample(2, 2, 2), "class_labels")


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("num_codes", 1),
        ("num_codes", "64"),
        ("hidden_channels", 0),
        ("hidden_channels", True),
        ("num_layers", 0),
        ("kernel_size", 4),
        ("kernel_size", 1),
        ("num_classes", 0),
        ("dropout", 1.0),
        ("dropout", float("nan")),
    ],
)
def test_bad_config_is_a_one_line_error_naming_the_field(field, value):
    config = dataclasses.replace(GatedPixelCNNConfig(), **{field: value})
    one_line_error(lambda: GatedPixelCNN(config), field)


def test_bad_codes_are_one_line_errors():
    model = tiny()
    one_line_error(lambda: model(torch.zeros(2, H, W)), "integer")
    one_line_error(lambda: model(torch.zeros(H, W, dtype=torch.long)), "(N, H, W)")
    one_line_error(lambda: model(torch.full((1, H, W), K)), f"[0, {K})")
    one_line_error(lambda: model.nll(torch.full((1, H, W), -1)), f"[0, {K})")


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"n": 0}, "n must"),
        ({"height": -1}, "height"),
        ({"width": 2.0}, "width"),
        ({"temperature": 0.0}, "temperature"),
        ({"temperature": float("nan")}, "temperature"),
    ],
)
def test_bad_sample_arguments_are_one_line_errors(kwargs, word):
    model = tiny()
    args = {"n": 1, "height": 2, "width": 2, **kwargs}
    one_line_error(lambda: model.sample(**args), word)


# ---------------------------------------------------------------- presets


def test_preset_parameter_counts_match_the_docstring_and_fit_the_budget():
    counts = {
        name: sum(p.numel() for p in GatedPixelCNN(config).parameters())
        for name, config in PRIOR_PRESETS.items()
    }
    assert counts == {"mnist": 695_936, "cifar10": 1_099_584}
    assert sum(counts.values()) <= 2_000_000
    for count in counts.values():
        assert f"{count:,}" in pixelcnn.__doc__


def test_logits_are_float_and_loss_uses_cross_entropy_on_logits():
    model = GatedPixelCNN(GatedPixelCNNConfig(num_codes=K, hidden_channels=4, num_layers=1))
    codes = random_codes()
    logits = model(codes)
    assert logits.dtype == torch.float32
    torch.testing.assert_close(model.nll(codes), F.cross_entropy(logits, codes))

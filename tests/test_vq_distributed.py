"""The VQ-VAE codebook under several processes (Gloo on the CPU): one codebook for all.

Two processes, each with its own random encoder outputs, run EMA updates, k-means
initialisation and dead-code restarts, then a few steps of the autoencoder trainer with
the ``best`` options; afterwards every codebook and EMA buffer must be the same on both
ranks, and one EMA update must equal the update of one process on both batches.
"""

import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from ganzoo import create_model
from ganzoo.archs.vqvae.quantizer import VectorQuantizer
from ganzoo.archs.vqvae.train import VQVAETrainer
from mnist_fixtures import synthetic_digits

pytestmark = pytest.mark.xdist_group("torchrun")

WORLD = 2
STATE = ("codebook", "ema_weight", "cluster_size")


def _quantizer(ema_decay=0.9, threshold=1.0):
    torch.manual_seed(0)  # the same starting codebook on every rank, as after a broadcast
    return VectorQuantizer(16, 3, ema_decay=ema_decay, dead_code_threshold=threshold)


def _batch(rank, step):
    """Encoder outputs ``(2, 3, 4, 4)`` of one rank at one step: different on every rank."""
    return torch.randn(2, 3, 4, 4, generator=torch.Generator().manual_seed(100 * step + rank))


def _state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _worker(rank, init_file, out):
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        results = {}
        # one EMA update, from each rank's own batch
        q = _quantizer().train()
        q(_batch(rank, 0))
        results["ema"] = _state(q)
        # k-means from each rank's own batch and generator, then EMA steps and restarts
        q.init_from(_batch(rank, 1), iters=3, generator=torch.Generator().manual_seed(rank))
        results["kmeans"] = _state(q)
        q.dead_code_threshold = 3.0
        restarted = []
        for step in range(2, 5):
            z_e = _batch(rank, step)
            q(z_e)
            restarted.append(q.restart_dead_codes(z_e, torch.Generator().manual_seed(rank)))
        results["restarts"] = _state(q)
        results["restarted"] = torch.tensor(restarted)
        # a gradient-trained codebook: usage averages and restarts
        g = _quantizer(ema_decay=None, threshold=3.0).train()
        for step in range(2, 4):
            g(_batch(rank, step))
            g.restart_dead_codes(_batch(rank, step), torch.Generator().manual_seed(rank))
        results["gradient"] = _state(g)
        # the trainer with the best recipe's options, on each rank's own images
        torch.manual_seed(0)
        model = create_model("vqvae", dead_code_threshold=2.0)
        options = {"device": "cpu", "quiet": True, "batch_size": 4, "log_every": 1}
        options |= {"sample_every": 0, "steps": 2, "codebook_ema": 0.9}
        options |= {"kmeans_init_batches": 2, "kmeans_iters": 2, "restart_every": 1}
        config = VQVAETrainer.config_class(**options)
        trainer = VQVAETrainer(model, synthetic_digits(2, seed=10 + rank), config)
        trainer.fit()
        results["trainer"] = _state(model.quantizer)
        torch.save(results, os.path.join(out, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    """What each of two processes ended with: ``[rank 0's results, rank 1's results]``."""
    tmp = tmp_path_factory.mktemp("vq_ddp")
    mp.spawn(_worker, args=(str(tmp / "init"), str(tmp)), nprocs=WORLD, join=True)
    return [torch.load(tmp / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]


@pytest.mark.parametrize("phase", ["ema", "kmeans", "restarts", "gradient", "trainer"])
def test_every_rank_ends_with_the_same_codebook_and_ema_buffers(ranks, phase):
    first, second = ranks[0][phase], ranks[1][phase]
    assert set(first) == set(second) and set(first) >= {"codebook", "cluster_size"}
    for name in first:
        assert torch.equal(first[name], second[name]), f"{phase}: {name} differs between ranks"


def test_an_ema_update_equals_one_process_on_both_batches(ranks):
    single = _quantizer().train()
    single(torch.cat([_batch(r, 0) for r in range(WORLD)]))
    for name, value in _state(single).items():
        torch.testing.assert_close(ranks[0]["ema"][name], value, rtol=1e-5, atol=1e-6)
    alone = _quantizer().train()
    alone(_batch(0, 0))
    assert not torch.allclose(alone.codebook, single.codebook)  # the other batch mattered


def test_kmeans_and_restarts_take_rank_0s_choice(ranks):
    single = _quantizer()
    single.init_from(_batch(0, 1), iters=3, generator=torch.Generator().manual_seed(0))
    for name, value in _state(single).items():
        torch.testing.assert_close(ranks[0]["kmeans"][name], value)
    restarted = ranks[0]["restarted"]
    assert torch.equal(restarted, ranks[1]["restarted"]) and restarted.sum() > 0

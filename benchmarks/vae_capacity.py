"""Can the VAE-GAN's VAE keep the digits apart on its own? The VAE trained without the GAN.

Trains only the encoder and decoder of a ``vaegan`` preset on MNIST (the ELBO: the
pixel likelihood plus the KL term, Adam with the report's betas, batches of 50 like the
VAE-GAN's half batches), then reads its reconstructions of 2,000 test images and 2,000
decoded prior samples with the independent MNIST classifier (as
``benchmarks/vaegan_diagnosis.py`` does for a trained VAE-GAN). If the VAE alone cannot
reconstruct the digits as themselves, no GAN term on top will make its samples right.

    OMP_NUM_THREADS=1 python benchmarks/vae_capacity.py --preset report --lr 2e-4 \
        --data-root ../shared/data
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import torch

import ganzoo
from ganzoo import losses
from ganzoo.data import load_dataset
from ganzoo.metrics.features import load_feature
from ganzoo.metrics.sample_quality import CLASSIFIER

sys.path.insert(0, str(Path(__file__).parent))
from vaegan_diagnosis import read_digits, reading  # noqa: E402  (its readings, not a copy)


def main() -> None:
    """Train the VAE alone, read its reconstructions and samples, print the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="report")
    parser.add_argument("--hidden", type=int, nargs="+", default=None, help="override")
    parser.add_argument("--latent-dim", type=int, default=None, help="override")
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--kl-weight", type=float, default=1.0)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-root", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    overrides = {"hidden": tuple(args.hidden)} if args.hidden else {}
    if args.latent_dim:
        overrides["latent_dim"] = args.latent_dim
    model = ganzoo.create_model("vaegan", preset=args.preset, **overrides)
    train = load_dataset("mnist", "train", root=args.data_root)
    test = load_dataset("mnist", "test", root=args.data_root)
    x_train = train.images.float() / 127.5 - 1.0
    x_test, y_test = test.images[:2000].float() / 127.5 - 1.0, test.labels[:2000]
    params = [*model.encoder.parameters(), *model.decoder.parameters()]
    optimizer = torch.optim.Adam(params, lr=args.lr, betas=(0.5, 0.999))
    start = time.perf_counter()
    for _ in range(args.steps):
        x = x_train[torch.randint(0, len(x_train), (args.batch_size,))]
        mu, log_sigma = model.encoder(x)
        rec = model.decoder(losses.reparameterize(mu, log_sigma))
        kl = losses.kl_to_standard_normal(mu, log_sigma)
        loss = losses.gaussian_nll(x, rec) + args.kl_weight * kl
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    seconds = time.perf_counter() - start
    classifier = load_feature(CLASSIFIER, "cpu")
    with torch.inference_mode():
        mu, log_sigma = model.encoder(x_test)
        rec = model.decoder(mu)
        z = torch.randn(2000, mu.shape[1], generator=torch.Generator().manual_seed(args.seed))
        rec_logits = read_digits(classifier, rec)
        prior_logits = read_digits(classifier, model.decoder(z))
        result = {
            "benchmark": "vae_capacity",
            "command": "OMP_NUM_THREADS=1 python benchmarks/vae_capacity.py "
            + shlex.join(sys.argv[1:]),
            "config": vars(args),
            "test_mse": float((rec - x_test).pow(2).mean()),
            "test_kl": float(losses.kl_to_standard_normal(mu, log_sigma)),
            "reconstructions": {
                **reading(rec_logits),
                "agreement": float((rec_logits.argmax(1) == y_test).double().mean()),
            },
            "prior_samples": reading(prior_logits),
            "seconds": round(seconds, 1),
            "torch": torch.__version__,
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

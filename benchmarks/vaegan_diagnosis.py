"""Where a VAE-GAN's samples go wrong: prior samples against reconstructions, latent, D.

Reads a VAE-GAN (a bundled name or a run folder) with the independent MNIST classifier
(``mnist-classifier``) and measures, on MNIST test images and on samples of the prior:

- ``prior_samples``: confidence, class shares and KL from uniform of decoded prior samples
  (what ``ganzoo sample`` shows);
- ``reconstructions``: the same for the reconstructions of test images (decoded mean
  codes), and ``agreement``: the share read as the test image's own label. If the
  reconstructions keep every class but the prior samples do not, the prior falls where
  the encoder put no data (or the decoder was pushed off the data by D); if the
  reconstructions lose classes too, the latent itself merges them;
- ``latent``: the aggregated posterior's mean and standard deviation per latent
  dimension, and ``prior_latent_shares``: for each prior sample, the label of the
  nearest encoded test image (the class the prior "asks for") — uneven shares here mean
  the encoder's layout, under the KL weight, gives classes unequal prior mass;
- ``dead_units``: hidden units of the encoder and decoder never active on these images
  (a ReLU unit of the 8- and 16-wide layers that dies takes a share of the code with it);
- ``discriminator``: D's mean probability of "real" on real test images,
  reconstructions and prior samples.

Run:
    python benchmarks/vaegan_diagnosis.py vaegan-mnist-100 --data-root ../shared/data \
        --out benchmarks/results/vaegan_diagnosis_bundled.json
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path
from typing import Any

import torch

import ganzoo
from ganzoo import losses
from ganzoo.data import load_dataset
from ganzoo.io.images import to_uint8
from ganzoo.metrics.features import load_feature
from ganzoo.metrics.sample_quality import CLASSIFIER, balance, confidence


def read_digits(classifier: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Class logits of [-1, 1] images, quantised like a saved PNG first."""
    return classifier.logits(to_uint8(images, (-1.0, 1.0))).double()


def dead_units(stack: torch.nn.Sequential, x: torch.Tensor) -> list[int]:
    """For each hidden activation of ``stack``: how many units are never positive on ``x``."""
    dead, h = [], x
    for layer in stack:
        h = layer(h)
        if isinstance(layer, torch.nn.ReLU | torch.nn.LeakyReLU):
            dead.append(int(((h > 0).sum(dim=0) == 0).sum()))
    return dead


def reading(logits: torch.Tensor) -> dict[str, Any]:
    """Confidence, class shares and their KL from uniform, as ``ganzoo eval`` reports them."""
    return {"confidence": confidence(logits), **balance(logits)}


@torch.inference_mode()
def diagnose(model: Any, data_root: str | None, n: int = 2000, seed: int = 0) -> dict[str, Any]:
    """The measurements listed in the module docstring, for ``n`` test images and ``n`` samples."""
    model = model.eval().float()
    classifier = load_feature(CLASSIFIER, "cpu")
    test = load_dataset("mnist", "test", root=data_root)
    pick = torch.randperm(len(test), generator=torch.Generator().manual_seed(seed))[:n]
    x = test.images[pick].float() / 127.5 - 1.0
    y = test.labels[pick]

    mu, log_sigma = model.encoder(x)
    rec = model.decoder(mu)
    z_prior = torch.randn(n, mu.shape[1], generator=torch.Generator().manual_seed(seed))
    prior = model.decoder(z_prior)

    rec_logits, prior_logits = read_digits(classifier, rec), read_digits(classifier, prior)
    nearest = torch.cdist(z_prior, mu).argmin(dim=1)
    latent_shares = torch.bincount(y[nearest], minlength=10).double() / n
    d = model.discriminator

    def p_real(images: torch.Tensor) -> float:
        return float(losses.d_probability(d(images)).mean())

    return {
        "prior_samples": reading(prior_logits),
        "reconstructions": {
            **reading(rec_logits),
            "agreement": float((rec_logits.argmax(1) == y).double().mean()),
            "mse": float((rec - x).pow(2).mean()),
        },
        "latent": {
            "mu_mean": mu.mean(0).tolist(),
            "mu_std": mu.std(0).tolist(),
            "sigma_mean": log_sigma.exp().mean(0).tolist(),
            "class_centres": [mu[y == k].mean(0).tolist() for k in range(10)],
        },
        "prior_latent_shares": latent_shares.tolist(),
        "dead_units": {
            "encoder": dead_units(model.encoder.body, x),
            "decoder_on_codes": dead_units(model.decoder.body, mu),
        },
        "discriminator": {
            "p_real_on_real": p_real(x),
            "p_real_on_reconstructions": p_real(rec),
            "p_real_on_prior_samples": p_real(prior),
        },
        "protocol": {"n": n, "seed": seed, "classifier": CLASSIFIER, "test_split": "mnist test"},
    }


def main() -> None:
    """Measure one VAE-GAN and write (or print) the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a bundled name or a run folder")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    result = {
        "model": args.model,
        **diagnose(ganzoo.from_pretrained(args.model), args.data_root, args.n, args.seed),
        "machine": {"torch": torch.__version__, "python": platform.python_version()},
    }
    text = json.dumps(result, indent=2)
    if args.out is not None:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()

"""Training images/s of the GAN recipes: ganzoo's GANTrainer against a plain eager loop.

    python benchmarks/gan_throughput.py --presets small --steps 20 --device cpu
    python benchmarks/gan_throughput.py --presets report,small --device cuda --precision bf16
    python benchmarks/gan_throughput.py --presets small --recipe art-cpu   # the bundled runs'

The plain loop is written here with the same networks, optimisers, losses and
critic steps (zero_grad / backward / step, one real batch drawn per critic update
on the device; with the ``art-cpu`` recipes also DiffAugment of both batches and an
EMA of G after every generator update), and runs in the same process as the trainer,
alternating, so that machine load hits both alike. Images/s counts real images the
critic saw per second (``batch_size * n_critic`` per step). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time

import torch

from ganzoo import create_model
from ganzoo.data import ImageDataset
from ganzoo.losses import gradient_penalty
from ganzoo.nn.constraints import clip_weights_
from ganzoo.nn.diffaugment import diff_augment, parse_policy
from ganzoo.train.gan import GAN_LOSSES, GANTrainer
from ganzoo.train.launch import build_train_config
from ganzoo.train.optim import make_optimizer

RECIPES = [("dcgan", "report"), ("wgan", "report"), ("wgan-gp", "paper")]


def random_art(n: int = 512, size: int = 64) -> ImageDataset:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8)
    return ImageDataset(images=images, labels=None, name="random", num_classes=None)


def plain_loop(model, config, data, device, steps):
    """The same training, written as a tutorial would, timed over ``steps`` steps."""
    g, d = model.generator, model.discriminator
    betas = (config.beta1, config.beta2)
    opt_d = make_optimizer(config.d_optimizer, d.parameters(), config.lr, betas, device)
    opt_g = make_optimizer(config.g_optimizer, g.parameters(), config.lr, betas, device)
    loss = GAN_LOSSES[config.loss]
    images = data.images.to(device)
    dtype = torch.bfloat16 if config.precision == "bf16" else None
    policy = parse_policy(config.diffaugment)
    ema = [p.detach().clone() for p in g.parameters()] if config.ema_decay else None

    def seen(x):
        return diff_augment(x, policy) if policy else x

    def real_batch():
        idx = torch.randint(len(images), (config.batch_size,), device=device)
        return images[idx].float().div_(127.5).sub_(1.0)

    def step():
        for _ in range(config.n_critic):
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                real = real_batch()
                z = torch.randn(config.batch_size, model.config.latent_dim, device=device)
                with torch.no_grad():
                    fake = g(z)
                real, fake = seen(real), seen(fake)
                d_loss = loss.critic(d(real), d(fake))
            if loss.gradient_penalty:
                d_loss = d_loss + config.gp_weight * gradient_penalty(d, real, fake)
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            if config.clip > 0:
                clip_weights_(d, config.clip)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            z = torch.randn(config.batch_size, model.config.latent_dim, device=device)
            g_loss = loss.generator(d(seen(g(z))))
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        if ema is not None:
            with torch.no_grad():
                torch._foreach_lerp_(ema, list(g.parameters()), 1.0 - config.ema_decay)

    return timed(step, steps, device)


def trainer_loop(model, config, data, device, steps):
    """The GANTrainer: one warm-up step, then ``fit`` continued for ``steps`` more."""
    trainer = GANTrainer(model, data, dataclasses.replace(config, steps=1))
    trainer.fit()
    trainer.config.steps = 1 + steps
    sync(device)
    start = time.perf_counter()
    trainer.fit()
    sync(device)
    return (time.perf_counter() - start) / steps


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(step, steps: int, device: torch.device) -> float:
    step()  # warm-up (allocations, cudnn autotuning)
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--presets", default="small")
    parser.add_argument(
        "--recipe", default=None, help="one recipe for all three (default: report/report/paper)"
    )
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    args = parser.parse_args()
    device = torch.device(args.device)
    data = random_art()
    rows = []
    for preset in args.presets.split(","):
        for architecture, default_recipe in RECIPES:
            recipe = args.recipe or default_recipe
            config = build_train_config(
                architecture,
                recipe,
                batch_size=args.batch_size,
                precision=args.precision,
                device=str(device),
                quiet=True,
                sample_every=0,
                log_every=10**6,
                channels_last=False,
            )
            times = {"trainer": [], "plain": []}
            for _ in range(args.repeats):
                for kind, loop in (("plain", plain_loop), ("trainer", trainer_loop)):
                    torch.manual_seed(0)
                    model = create_model(architecture, preset=preset).to(device).train()
                    times[kind].append(loop(model, config, data, device, args.steps))
            per_step = {k: statistics.median(v) for k, v in times.items()}
            images = args.batch_size * config.n_critic
            rows.append(
                {
                    "architecture": architecture,
                    "recipe": recipe,
                    "preset": preset,
                    "n_critic": config.n_critic,
                    "s_per_step": {k: round(v, 4) for k, v in per_step.items()},
                    "images_per_s": {k: round(images / v, 1) for k, v in per_step.items()},
                    "trainer_overhead_pct": round(
                        100 * (per_step["trainer"] / per_step["plain"] - 1), 1
                    ),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(
        json.dumps(
            {
                "device": f"{device.type} ({name})",
                "threads": torch.get_num_threads(),
                "torch": torch.__version__,
                "precision": args.precision,
                "command": "python " + " ".join(sys.argv),
                "batch_size": args.batch_size,
                "steps": args.steps,
                "repeats": args.repeats,
                "results": rows,
            }
        )
    )


if __name__ == "__main__":
    main()

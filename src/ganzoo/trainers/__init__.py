"""Training algorithms; importing this package registers them all."""

from ganzoo.trainers import classifier, gan, sgan, vaegan, vqvae  # noqa: F401
from ganzoo.trainers.base import Trainer
from ganzoo.trainers.classifier import ClassifierTrainConfig, ClassifierTrainer
from ganzoo.trainers.config import TrainConfig, TrainResult
from ganzoo.trainers.gan import GANTrainConfig, GANTrainer
from ganzoo.trainers.sgan import SGANTrainConfig, SGANTrainer
from ganzoo.trainers.vaegan import VAEGANTrainConfig, VAEGANTrainer
from ganzoo.trainers.vqvae import PriorTrainConfig, PriorTrainer, VQVAETrainConfig, VQVAETrainer

__all__ = [
    "ClassifierTrainConfig",
    "ClassifierTrainer",
    "GANTrainConfig",
    "GANTrainer",
    "PriorTrainConfig",
    "PriorTrainer",
    "SGANTrainConfig",
    "SGANTrainer",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "VAEGANTrainConfig",
    "VAEGANTrainer",
    "VQVAETrainConfig",
    "VQVAETrainer",
]

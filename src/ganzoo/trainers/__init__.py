"""Training algorithms; importing this package registers them all."""

from ganzoo.trainers import classifier, gan, sgan, vaegan  # noqa: F401
from ganzoo.trainers.base import Trainer
from ganzoo.trainers.classifier import ClassifierTrainConfig, ClassifierTrainer
from ganzoo.trainers.config import TrainConfig, TrainResult
from ganzoo.trainers.gan import GANTrainConfig, GANTrainer
from ganzoo.trainers.sgan import SGANTrainConfig, SGANTrainer
from ganzoo.trainers.vaegan import VAEGANTrainConfig, VAEGANTrainer

__all__ = [
    "ClassifierTrainConfig",
    "ClassifierTrainer",
    "GANTrainConfig",
    "GANTrainer",
    "SGANTrainConfig",
    "SGANTrainer",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "VAEGANTrainConfig",
    "VAEGANTrainer",
]

"""What every training algorithm shares: the loop, run folders, checkpoints, export, EMA.

Each architecture family's training step and recipes live in its folder under
:mod:`ganzoo.archs` (for example :mod:`ganzoo.archs.gan64.train`); find a trainer by
name with :func:`ganzoo.get_trainer`.
"""

from ganzoo.train.base import Trainer
from ganzoo.train.config import TrainConfig, TrainResult

__all__ = ["TrainConfig", "TrainResult", "Trainer"]

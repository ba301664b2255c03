"""The CNN baseline of the course report: the SGAN's classifier alone, trained on labels only."""

from __future__ import annotations

import torch

from ganzoo.archs.sgan.model import SGANConfig, SGANDiscriminator
from ganzoo.models.base import ZooModel
from ganzoo.nn.init import keras_init_
from ganzoo.registry import register_model


@register_model("cnn", presets={"report": SGANConfig(), "wide": SGANConfig(width=192)})
class CNNClassifier(ZooModel):
    """CNN baseline: the SGAN discriminator's layers and softmax head, without a GAN.

    It is the control that shows what the unlabeled data buys the SGAN (316,938
    parameters with the report preset). Its config is :class:`~ganzoo.archs.sgan.model.SGANConfig`
    (the generator fields are unused).
    """

    config_class = SGANConfig
    papers = (
        (
            "Odena 2016, Semi-Supervised Learning with Generative Adversarial Networks "
            "(the SGAN's classifier, here trained alone)",
            "https://arxiv.org/abs/1606.01583",
        ),
    )

    def __init__(self, config: SGANConfig | dict | None = None, **overrides: object) -> None:
        super().__init__(config, **overrides)
        self.classifier = keras_init_(SGANDiscriminator(self.config))

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits ``(n, num_classes)`` for images in [-1, 1]."""
        return self.classifier(x)

    def data_contract(self) -> dict:
        """Image size, channels, value range, classes and data set (no latent)."""
        contract = super().data_contract()
        contract.pop("latent_dim", None)
        return contract

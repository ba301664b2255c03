"""Which options of ``ganzoo eval`` go together: the plan of one evaluation.

``ganzoo eval`` measures a model in one of two ways. Without ``--metric`` it
measures accuracy and/or reconstruction error on a data set
(:func:`ganzoo.metrics.evaluate.evaluate_model`); with ``--metric`` it measures generated
images (:func:`ganzoo.metrics.sample_quality.sample_metrics`): FID/KID against a real set,
and the MNIST classifier's readings (confidence, balance, agreement). The options of
the second way (``-n``, ``--feature``, ``--seed``...) mean nothing in the first, and
some metrics rule out others' options; this module holds that policy, so the command
stays a thin layer.

The plan is made in two steps, so that a wrong combination of options is refused
before any model is loaded:

1. :func:`plan_eval` checks the options and fills in the defaults;
2. :meth:`EvalPlan.for_model` checks the loaded model against the metrics and
   settles the data set to load (the model's own by default).

Each refusal is a :class:`~ganzoo.errors.GanzooError` whose first line names the
option, as the command prints it.

Examples:
    >>> plan = plan_eval(["fid,confidence"], feature="mnist-classifier")
    >>> plan.generative, plan.reading, plan.split, plan.n
    (('fid',), ('confidence',), 'train', 5000)
    >>> plan_eval(None).split
    'test'

"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from ganzoo.config import MAX_SEED, check_seed
from ganzoo.errors import GanzooError
from ganzoo.metrics.sample_quality import (
    CLASSIFIER,
    DEFAULT_THRESHOLD,
    check_conditional_generator,
    check_digit_generator,
    parse_eval_metrics,
)

if TYPE_CHECKING:
    from ganzoo.data import ImageDataset
    from ganzoo.models.base import ZooModel

__all__ = ["DEFAULT_FEATURE", "DEFAULT_N", "MAX_SEED", "EvalPlan", "plan_eval"]

#: How many images ``--metric`` generates when ``-n`` is not given.
DEFAULT_N = 5000
#: The feature network of FID/KID when ``--feature`` is not given.
DEFAULT_FEATURE = "inception-tf"
#: The largest seed (``torch.Generator.manual_seed`` takes a signed 64-bit integer).


@dataclasses.dataclass(frozen=True)
class EvalPlan:
    """What one ``ganzoo eval`` measures, with every default filled in.

    Attributes:
        generative: The FID/KID metrics asked for (``("fid",)``, ``("fid", "kid")``...).
        reading: The MNIST classifier's metrics asked for (``confidence``, ``balance``,
            ``agreement``).
        split: The split of the real set: ``test`` by default, ``train`` with metrics.
        dataset: The data set to load. From :func:`plan_eval`, the one asked for
            (``None``: the model's own); from :meth:`for_model`, the one to load, or
            ``None`` where the metrics need no real images.
        n: How many images to generate.
        feature: FID/KID's feature network.
        seed: Seeds the generated images (and the choice of real images).
        threshold: Confidence's softmax threshold.
        real_n: How many real images to compare with (``None``: all).
        cache_dir: The cache of the real set's features (``None``: the default one).
        use_cache: Read and write that cache.

    """

    generative: tuple[str, ...] = ()
    reading: tuple[str, ...] = ()
    split: str = "test"
    dataset: str | None = None
    n: int = DEFAULT_N
    feature: str = DEFAULT_FEATURE
    seed: int = 0
    threshold: float = DEFAULT_THRESHOLD
    real_n: int | None = None
    cache_dir: Path | None = None
    use_cache: bool = True

    @property
    def metrics(self) -> list[str]:
        """Every metric asked for, FID/KID first; empty for accuracy/reconstruction."""
        return [*self.generative, *self.reading]

    @property
    def measures_floor(self) -> bool:
        """Whether the FID floor is measured: ``fid`` in the MNIST classifier's features."""
        return "fid" in self.generative and self.feature == CLASSIFIER

    def for_model(self, model: ZooModel, name: str) -> EvalPlan:
        """Check the loaded model against the metrics and settle the data set to load.

        Args:
            model: The model to measure.
            name: The name it was loaded by, for the messages.

        Returns:
            The plan whose ``dataset`` is the one to load: the one asked for, else the
            model's own; ``None`` where the metrics need no real images (only
            confidence, balance or agreement).

        Raises:
            GanzooError: when a reading metric meets a model that does not draw
                1x28x28 digits, ``agreement`` a model without a conditional
                generator, or nothing names a data set (the model states none and
                ``--dataset`` was not given).

        """
        if self.reading:
            check_digit_generator(model, name)  # before loading any data
            if "agreement" in self.reading:
                check_conditional_generator(model, name)
        dataset = self.dataset or model.data_contract().get("dataset")
        if self.metrics and not self.generative:
            dataset = None  # confidence and balance need no real images
        elif not dataset:
            raise GanzooError(f"'{name}' names no data set; pass --dataset")
        return dataclasses.replace(self, dataset=dataset)

    def floor_split(self, data: ImageDataset | None) -> str | None:
        """The split whose real images give the FID floor, or ``None`` for no floor.

        The floor is measured for ``fid`` in the MNIST classifier's features
        (:attr:`measures_floor`), on a named data set's other split (train <-> test);
        a set without one (a folder, an ``.npz`` file, art64) has no floor.

        Args:
            data: The loaded real set (an :class:`~ganzoo.data.ImageDataset`), or
                ``None``.

        Returns:
            ``"test"`` or ``"train"``, or ``None``.

        """
        if data is None or not self.measures_floor:
            return None
        from ganzoo.data.sources import SOURCES

        source = SOURCES.get(data.name)
        other = {"train": "test", "test": "train"}.get(self.split)
        if source is not None and source.path is None and other in source.splits:
            return other
        return None


def plan_eval(
    metrics: str | Iterable[str] | None = None,
    *,
    dataset: str | None = None,
    split: str | None = None,
    n: int | None = None,
    feature: str | None = None,
    threshold: float | None = None,
    seed: int | None = None,
    real_n: int | None = None,
    cache_dir: str | Path | None = None,
    no_cache: bool = False,
) -> EvalPlan:
    """Check which ``ganzoo eval`` options go together and fill in the defaults.

    Each argument is the option of the same name as given (``None``: not given).
    Without metrics, the evaluation measures accuracy and/or reconstruction error,
    and the options of generated images are refused; with metrics, ``--feature``
    needs ``fid`` or ``kid`` and ``--threshold`` needs ``confidence``.

    Args:
        metrics: ``--metric``: names from
            :data:`~ganzoo.metrics.sample_quality.EVAL_METRICS` (a comma list or several).
        dataset: ``--dataset`` (``None``: the model's own).
        split: ``--split`` (default ``test``; ``train`` with metrics).
        n: ``-n``, how many images to generate (default :data:`DEFAULT_N`).
        feature: ``--feature``, FID/KID's feature network (default
            :data:`DEFAULT_FEATURE`).
        threshold: ``--threshold``, confidence's softmax threshold (default 0.9).
        seed: ``--seed`` of the generated images (default 0).
        real_n: ``--real-n``, how many real images (default all).
        cache_dir: ``--cache-dir``, the cache of real features.
        no_cache: ``--no-cache``.

    Returns:
        The plan; check the loaded model with :meth:`EvalPlan.for_model`.

    Raises:
        GanzooError: in one line naming the option: an empty ``--dataset``, an option
            of generated images without metrics, an unknown metric, a seed outside
            ``[0, 2**63-1]``, ``--feature`` without ``fid``/``kid``, ``--threshold``
            without ``confidence``.

    Examples:
        >>> plan_eval("fid", threshold=0.5)
        Traceback (most recent call last):
        ...
        ganzoo.errors.GanzooError: --threshold applies to --metric confidence

    """
    if dataset is not None and not dataset.strip():
        raise GanzooError("--dataset is empty; leave it out to use the model's own data set")
    generated = {"-n": n, "--feature": feature, "--seed": seed, "--real-n": real_n}
    generated |= {"--cache-dir": cache_dir, "--no-cache": no_cache or None}
    generated |= {"--threshold": threshold}
    if not metrics:
        given = [option for option, value in generated.items() if value is not None]
        if given:
            raise GanzooError(
                f"{given[0]} applies to generated images; add --metric fid, kid, "
                "confidence or balance"
            )
        return EvalPlan(split=split or "test", dataset=dataset)
    fid_kid, reading = parse_eval_metrics(metrics)
    check_seed(seed)
    if feature is not None and not fid_kid:
        raise GanzooError(
            "--feature chooses the network of fid and kid; confidence and balance "
            "always read with mnist-classifier"
        )
    if threshold is not None and not reading:
        raise GanzooError("--threshold applies to --metric confidence")
    return EvalPlan(
        generative=tuple(fid_kid),
        reading=tuple(reading),
        split=split or "train",
        dataset=dataset,
        n=DEFAULT_N if n is None else n,
        feature=feature or DEFAULT_FEATURE,
        seed=seed or 0,
        threshold=DEFAULT_THRESHOLD if threshold is None else threshold,
        real_n=real_n,
        cache_dir=None if cache_dir is None else Path(cache_dir),
        use_cache=not no_cache,
    )

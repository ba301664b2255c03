"""``ganzoo eval``: measure a model on a data set, or the images it generates.

Which options go together is the library's :func:`ganzoo.metrics.eval_plan.plan_eval`; this
command loads what the plan names and prints the result as JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ganzoo.cli.common import (
    DataRoot,
    Device,
    Download,
    Quiet,
    Revision,
    _check_positive,
    _load,
    _load_input,
    _MemoryGuard,
    friendly,
)


@friendly
def eval_command(
    name: Annotated[str, typer.Argument(help="Pretrained name, Hub repo id or checkpoint folder.")],
    dataset: Annotated[
        str | None, typer.Option("--dataset", help="Default: the model's own.")
    ] = None,
    split: Annotated[
        str | None,
        typer.Option("--split", help="train, test or all (default: test; train with --metric)."),
    ] = None,
    metric: Annotated[
        list[str] | None,
        typer.Option(
            "--metric",
            "-m",
            help="fid, kid, confidence, balance or (conditional generators) agreement of "
            "generated images (repeat, or a comma list).",
        ),
    ] = None,
    n: Annotated[
        int | None, typer.Option("-n", "--num", help="Images to generate for --metric [5000].")
    ] = None,
    feature: Annotated[
        str | None,
        typer.Option(
            "--feature",
            help="Feature network of fid/kid (default: inception-tf); mnist-classifier for MNIST "
            "digits.",
        ),
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option("--threshold", help="Softmax probability of a confident reading [0.9]."),
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", "-s", help="Seed of the generated images [0].")
    ] = None,
    real_n: Annotated[
        int | None, typer.Option("--real-n", help="Real images to compare with (default: all).")
    ] = None,
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            "--cache-dir",
            help="Cache of the real set's features [$GANZOO_CACHE/fid or ~/.cache/ganzoo/fid].",
        ),
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Neither read nor write that cache.")
    ] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", "-b")] = 1000,
    data_root: DataRoot = None,
    download: Download = False,
    device: Device = None,
    revision: Revision = None,
    quiet: Quiet = False,
) -> None:
    """Measure a model on a data set and print JSON.

    Without --metric: accuracy and/or reconstruction error. With --metric fid/kid:
    FID/KID of generated images against the data set, with the protocol; with
    --feature mnist-classifier also the floor (the other split's real images, as many
    as -n, against the same set). confidence and balance read the generated digits
    with ganzoo's MNIST classifier (1x28x28 generators); agreement, the share read as
    the class asked for (conditional generators).
    """
    _check_positive("--batch-size", batch_size)
    from ganzoo.metrics.eval_plan import plan_eval

    plan = plan_eval(
        metric,
        dataset=dataset,
        split=split,
        n=n,
        feature=feature,
        threshold=threshold,
        seed=seed,
        real_n=real_n,
        cache_dir=cache_dir,
        no_cache=no_cache,
    )
    model = _load(name, device, revision)
    plan = plan.for_model(model, name)  # refuses a model the metrics cannot measure
    data = (
        None
        if plan.dataset is None
        else _load_input(plan.dataset, plan.split, data_root, model, download)
    )
    if plan.metrics:
        from ganzoo.metrics.sample_quality import sample_metrics
        from ganzoo.sampling import NonFiniteSamples

        def log(line: str) -> None:
            if not quiet:
                typer.echo(line, err=True)

        floor_split = plan.floor_split(data)
        floor_data = None
        if floor_split is not None and plan.dataset is not None:
            floor_data = _load_input(plan.dataset, floor_split, data_root, model, download)
        try:
            results = sample_metrics(
                model,
                data,
                plan.n,
                metrics=plan.metrics,
                feature=plan.feature,
                seed=plan.seed,
                threshold=plan.threshold,
                real_n=plan.real_n,
                split=plan.split,
                floor_data=floor_data,
                floor_split=floor_split,
                cache_dir=plan.cache_dir,
                use_cache=plan.use_cache,
                log=log,
            )
        except NonFiniteSamples as exc:
            raise exc.named(name) from None
        typer.echo(json.dumps({"model": name, **results}))
        return
    from ganzoo.metrics.evaluate import evaluate_model

    with _MemoryGuard(batch_size, model.device):
        results = evaluate_model(model, data, batch_size)
    typer.echo(
        json.dumps(
            {"model": name, "dataset": plan.dataset, "split": plan.split, "n": len(data), **results}
        )
    )

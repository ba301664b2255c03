"""ganzoo.metrics.eval_plan: which `ganzoo eval` options go together, without the command line."""

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from ganzoo import create_model
from ganzoo.errors import GanzooError
from ganzoo.metrics.eval_plan import DEFAULT_FEATURE, DEFAULT_N, EvalPlan, plan_eval
from ganzoo.metrics.sample_quality import DEFAULT_THRESHOLD


def test_without_metrics_the_plan_measures_the_test_split():
    plan = plan_eval(None)
    assert plan == EvalPlan(split="test") and plan.metrics == []
    assert plan_eval([], split="train", dataset="mnist") == EvalPlan(split="train", dataset="mnist")


def test_with_metrics_the_defaults_are_filled_in():
    plan = plan_eval(["fid,confidence", "kid"], cache_dir="fid-cache")
    assert plan.generative == ("fid", "kid") and plan.reading == ("confidence",)
    assert plan.metrics == ["fid", "kid", "confidence"]
    assert (plan.split, plan.n, plan.feature, plan.seed) == ("train", DEFAULT_N, DEFAULT_FEATURE, 0)
    assert plan.threshold == DEFAULT_THRESHOLD and plan.real_n is None
    assert plan.cache_dir == Path("fid-cache") and plan.use_cache
    given = plan_eval("confidence", n=7, seed=3, threshold=0.5, split="test", no_cache=True)
    assert (given.n, given.seed, given.threshold, given.split) == (7, 3, 0.5, "test")
    assert not given.use_cache and not given.measures_floor


@pytest.mark.parametrize(
    ("metrics", "options", "message"),
    [
        (None, {"dataset": " "}, "--dataset is empty; leave it out to use the model's own"),
        (None, {"n": 5}, "-n applies to generated images; add --metric fid, kid, confidence or"),
        (None, {"no_cache": True, "threshold": 0.5}, "--no-cache applies to generated images"),
        (None, {"cache_dir": "x", "real_n": 3}, "--real-n applies to generated images"),
        (["fid"], {"seed": -1}, "--seed must be between 0 and 2**63-1, got -1"),
        (["fid"], {"seed": 2**63}, "--seed must be between 0 and 2**63-1"),
        (["balance"], {"feature": "mnist-classifier"}, "--feature chooses the network of fid"),
        (["kid"], {"threshold": 0.5}, "--threshold applies to --metric confidence"),
        (["confidnce"], {}, "unknown metric 'confidnce'; did you mean 'confidence'"),
    ],
)
def test_refusals_name_the_option(metrics, options, message):
    with pytest.raises(GanzooError, match="^" + re.escape(message)):
        plan_eval(metrics, **options)


def test_the_unknown_metric_is_refused_before_the_seed():
    with pytest.raises(GanzooError, match="unknown"):
        plan_eval(["fdi"], seed=-1)


def test_for_model_settles_the_data_set_and_checks_the_model():
    torch.manual_seed(0)
    dcgan = create_model("dcgan", preset="small")
    assert plan_eval(None).for_model(dcgan, "d").dataset == dcgan.data_contract()["dataset"]
    assert plan_eval(None, dataset="npz:x.npz").for_model(dcgan, "d").dataset == "npz:x.npz"
    with pytest.raises(GanzooError, match="1x28x28 images, e.g. sgan-mnist-100"):
        plan_eval("fid,confidence").for_model(dcgan, "d")
    sgan = create_model("sgan")
    assert plan_eval("confidence,balance").for_model(sgan, "s").dataset is None
    with pytest.raises(GanzooError, match="'s' has no conditional generator"):
        plan_eval("agreement").for_model(sgan, "s")


def test_for_model_needs_a_data_set_for_fid_and_the_test_measures():
    model = SimpleNamespace(data_contract=lambda: {})
    with pytest.raises(GanzooError, match="^'m' names no data set; pass --dataset$"):
        plan_eval(None).for_model(model, "m")
    with pytest.raises(GanzooError, match="names no data set"):
        plan_eval("kid").for_model(model, "m")


def test_the_floor_is_the_other_split_of_a_named_set_in_classifier_features():
    mnist = SimpleNamespace(name="mnist")
    plan = plan_eval("fid", feature="mnist-classifier")
    assert plan.measures_floor and plan.floor_split(mnist) == "test"
    assert plan_eval("fid", feature="mnist-classifier", split="test").floor_split(mnist) == "train"
    assert plan_eval("fid", feature="mnist-classifier", split="all").floor_split(mnist) is None
    assert plan.floor_split(SimpleNamespace(name="npz")) is None
    assert plan.floor_split(None) is None
    assert plan_eval("fid").floor_split(mnist) is None  # inception-tf: no floor
    assert plan_eval("kid", feature="mnist-classifier").floor_split(mnist) is None

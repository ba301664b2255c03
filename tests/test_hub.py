import contextlib
import json
import re
import socket
import threading
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import ganzoo
from ganzoo import GanzooError, create_model
from ganzoo import catalog as catalog_module
from ganzoo.hub import export_pretrained
from tiny import TinyGAN


def _outputs(model):
    return model.sample(5, seed=3)


def test_save_pretrained_then_from_pretrained_gives_identical_outputs(tmp_path):
    torch.manual_seed(0)
    model = create_model("tiny", preset="wide").eval()
    model.save_pretrained(tmp_path / "m")
    loaded = ganzoo.from_pretrained(str(tmp_path / "m"))
    assert isinstance(loaded, TinyGAN) and not loaded.training
    assert loaded.config == model.config
    assert torch.equal(_outputs(model), _outputs(loaded))
    assert torch.equal(_outputs(TinyGAN.from_pretrained(tmp_path / "m")), _outputs(model))


def test_hub_folder_layout_config_and_model_card(tmp_path):
    model = create_model("tiny")
    model.save_pretrained(tmp_path / "m")
    files = {p.name for p in (tmp_path / "m").iterdir()}
    assert {"config.json", "model.safetensors", "README.md"} <= files
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["architecture"] == "tiny"
    assert config["ganzoo_version"] == ganzoo.__version__
    assert config["config"]["hidden"] == 16
    assert config["data"] == {
        "value_range": [-1.0, 1.0],
        "image_size": 8,
        "channels": 1,
        "latent_dim": 8,
        "dataset": "tiny",
    }
    card = (tmp_path / "m" / "README.md").read_text()
    assert card.startswith("---\n") and "library_name: ganzoo" in card


def test_model_card_shows_metrics_samples_and_command(tmp_path):
    model = create_model("tiny")
    export_pretrained(
        model,
        tmp_path / "m",
        metrics={"test_accuracy": 0.9912},
        samples="samples.png",
        command="ganzoo train tiny",
        training={"seed": 3},
        dtype=torch.float16,
    )
    card = (tmp_path / "m" / "README.md").read_text()
    assert "| test_accuracy | 0.9912 |" in card
    assert "![samples](samples.png)" in card
    assert "ganzoo train tiny" in card and "- seed: 3" in card
    # YAML: only Hub data set ids ("tiny" is none), the metrics by type (tests/test_cards.py)
    assert "datasets:" not in card and "metrics:\n- accuracy" in card
    weights = load_file(str(tmp_path / "m" / "model.safetensors"))
    assert all(t.dtype == torch.float16 for t in weights.values())
    loaded = ganzoo.from_pretrained(str(tmp_path / "m"))
    assert next(loaded.parameters()).dtype == torch.float32


def test_model_card_shows_reconstructions_only_when_given(tmp_path):
    model = create_model("tiny")
    export_pretrained(model, tmp_path / "a", reconstructions="reconstructions.png")
    export_pretrained(model, tmp_path / "b")
    assert "![reconstructions](reconstructions.png)" in (tmp_path / "a" / "README.md").read_text()
    assert "## Reconstructions" not in (tmp_path / "b" / "README.md").read_text()


@pytest.mark.parametrize("change", ["missing", "extra", "shape"])
def test_checkpoint_with_wrong_tensors_is_refused(tmp_path, change):
    model = create_model("tiny")
    model.save_pretrained(tmp_path / "m")
    path = tmp_path / "m" / "model.safetensors"
    tensors = load_file(str(path))
    if change == "missing":
        tensors.pop("generator.0.weight")
    elif change == "extra":
        tensors["generator.9.weight"] = torch.zeros(2)
    else:
        tensors["generator.0.bias"] = torch.zeros(3)
    save_file(tensors, str(path))
    with pytest.raises(GanzooError, match="do not fit its architecture"):
        ganzoo.from_pretrained(str(tmp_path / "m"))


def test_folder_without_config_or_with_foreign_config_is_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(GanzooError, match="no config.json"):
        ganzoo.from_pretrained(str(tmp_path / "empty"))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "config.json").write_text('{"hidden_size": 3}')
    with pytest.raises(GanzooError, match="not a ganzoo config"):
        ganzoo.from_pretrained(str(tmp_path / "other"))


def test_unknown_name_suggests_catalog_names(monkeypatch, tmp_path):
    _bundle(monkeypatch, tmp_path, "tiny-demo-8")
    with pytest.raises(GanzooError, match="did you mean 'tiny-demo-8'"):
        ganzoo.from_pretrained("tiny-demo-9")


def _bundle(monkeypatch, tmp_path, name):
    pretrained = tmp_path / "pretrained"
    create_model("tiny").save_pretrained(pretrained / name)
    catalog = {
        "models": [{"name": name, "architecture": "tiny", "dataset": "tiny", "bundled": True}]
    }
    (pretrained / "catalog.json").write_text(json.dumps(catalog))
    monkeypatch.setattr(catalog_module, "PRETRAINED_DIR", pretrained)
    monkeypatch.setattr(catalog_module, "CATALOG_FILE", pretrained / "catalog.json")
    catalog_module.load_catalog.cache_clear()
    monkeypatch.setattr(catalog_module.load_catalog, "cache_clear", lambda: None, raising=False)
    return pretrained / name


@pytest.fixture(autouse=True)
def _fresh_catalog():
    catalog_module.load_catalog.cache_clear()
    yield
    catalog_module.load_catalog.cache_clear()


def test_bundled_catalog_name_resolves_to_its_folder(monkeypatch, tmp_path):
    folder = _bundle(monkeypatch, tmp_path, "tiny-demo-8")
    assert ganzoo.list_pretrained() == ["tiny-demo-8"]
    model = ganzoo.from_pretrained("tiny-demo-8")
    reference = ganzoo.from_pretrained(str(folder))
    assert torch.equal(_outputs(model), _outputs(reference))


def test_shipped_catalog_entries_are_complete():
    for name in ganzoo.list_pretrained():
        info = catalog_module.get_pretrained_info(name)
        assert info.architecture in ganzoo.list_models()
        if info.bundled:
            assert (info.folder / "config.json").is_file()
            assert (info.folder / "model.safetensors").is_file()
            assert (info.folder / "README.md").is_file()


# ----------------------------------------------------------------------------- Hub
def _publish(fake_hub, tmp_path, repo_id="org/tiny", revision="main", preset="report"):
    torch.manual_seed(len(revision))
    model = create_model("tiny", preset=preset)
    folder = tmp_path / f"publish-{revision}"
    model.save_pretrained(folder)
    fake_hub.add_repo(repo_id, folder, revision=revision)
    return model


def test_hub_round_trip_then_offline_from_cache(fake_hub, tmp_path, monkeypatch):
    model = _publish(fake_hub, tmp_path)
    loaded = ganzoo.from_pretrained("org/tiny")
    assert torch.equal(_outputs(loaded), _outputs(model))
    assert any(
        method == "GET" and "model.safetensors" in path for method, path in fake_hub.requests
    )

    fake_hub.requests.clear()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cached = ganzoo.from_pretrained("org/tiny")
    assert torch.equal(_outputs(cached), _outputs(model))
    assert fake_hub.requests == []


def test_hub_revision_is_honoured(fake_hub, tmp_path):
    _publish(fake_hub, tmp_path)
    v2 = _publish(fake_hub, tmp_path, revision="v2", preset="wide")
    loaded = ganzoo.from_pretrained("org/tiny", revision="v2")
    assert loaded.config.hidden == 32
    assert torch.equal(_outputs(loaded), _outputs(v2))


def test_hub_wrong_revision_and_unknown_repo_give_clear_errors(fake_hub, tmp_path):
    _publish(fake_hub, tmp_path)
    with pytest.raises(GanzooError, match="has no revision 'nope'"):
        ganzoo.from_pretrained("org/tiny", revision="nope")
    with pytest.raises(GanzooError, match="no model repo 'org/absent'"):
        ganzoo.from_pretrained("org/absent")


def test_hub_offline_without_cache_says_so(fake_hub, tmp_path, monkeypatch):
    _publish(fake_hub, tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(GanzooError, match="not in the Hub cache and offline mode is on"):
        ganzoo.from_pretrained("org/tiny")


def test_hub_repo_without_weights_is_not_a_checkpoint(fake_hub, tmp_path):
    folder = tmp_path / "cfg-only"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    fake_hub.add_repo("org/half", folder)
    with pytest.raises(GanzooError, match="has no model.safetensors"):
        ganzoo.from_pretrained("org/half")


# ----------------------------------------------------------------------------- one entry point
def test_from_pretrained_is_written_once_and_the_others_delegate():
    import importlib
    import inspect
    import pkgutil

    from ganzoo import hub
    from ganzoo.models.base import ZooModel

    options = set(inspect.signature(hub.from_pretrained).parameters) - {"name_or_path"}
    assert {"revision", "device", "token", "cache_dir"} <= options
    for alias in (ganzoo.from_pretrained, ZooModel.from_pretrained):
        kinds = [p.kind for p in inspect.signature(alias).parameters.values()]
        assert kinds[-1] == inspect.Parameter.VAR_KEYWORD and len(kinds) <= 2
    modules = [hub] + [
        importlib.import_module(f"ganzoo.hub.{info.name}")
        for info in pkgutil.iter_modules(hub.__path__)
    ]
    assert len(modules) == 7
    for module in modules:  # the folder format knows no model class: no import cycle
        source = inspect.getsource(module)
        assert "from ganzoo.models" not in source and "import ganzoo.models" not in source


def test_model_from_pretrained_passes_options_and_checks_the_architecture(tmp_path):
    create_model("tiny").save_pretrained(tmp_path / "m")
    loaded = TinyGAN.from_pretrained(tmp_path / "m", device="cpu", local_files_only=True)
    assert isinstance(loaded, TinyGAN)
    from ganzoo.archs.sgan.model import SGAN

    with pytest.raises(GanzooError, match="is a 'tiny' checkpoint, not 'sgan'"):
        SGAN.from_pretrained(tmp_path / "m")


def test_every_public_name_is_importable_from_the_package():
    import importlib

    from ganzoo import hub

    owners = {"weights": "save_weights", "folder": "load_folder", "download": "resolve"}
    owners["upload"] = "upload_files"
    for module_name, name in owners.items():
        module = importlib.import_module(f"ganzoo.hub.{module_name}")
        assert getattr(hub, name) is getattr(module, name)
    for name in hub.__all__:
        assert getattr(hub, name) is not None
    assert callable(hub.resolve) and callable(hub.push)


# ----------------------------------------------------------------------------- repo ids
@pytest.mark.parametrize(
    ("repo_id", "reason"),
    [
        ("a/..", "'..' is not allowed"),
        ("a/b.git", "may not end with '.git'"),
        ("me/" + "x" * 94, "it has 97 characters, the Hub allows 96"),
        ("me/-x", "may not start or end with '-' or '.'"),
        ("me/x y", "only letters, digits"),
        ("me/", "namespace/name"),
    ],
)
def test_invalid_repo_ids_are_refused_before_any_request(fake_hub, repo_id, reason):
    with pytest.raises(GanzooError, match=f"invalid Hub repo id .*{re.escape(reason)}"):
        ganzoo.from_pretrained(repo_id)
    assert fake_hub.requests == []


def test_valid_repo_ids_pass():
    from ganzoo.hub import validate_repo_id

    for repo_id in ("me/my-sgan", "Org_1/model.v2", "a/" + "b" * 94):
        assert validate_repo_id(repo_id) == repo_id


# ----------------------------------------------------------------------------- bad endpoints
@contextlib.contextmanager
def _endpoint(mode):
    """A server on 127.0.0.1 that never answers, answers 500, or answers an HTML page."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.1)
    held, stop = [], threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            held.append(conn)
            if mode == "silent":
                continue
            conn.settimeout(2)
            with contextlib.suppress(OSError):
                conn.recv(65536)
                if mode == "500":
                    conn.sendall(b"HTTP/1.0 500 Server Error\r\nContent-Length: 2\r\n\r\nno")
                else:
                    page = b"<html><body>Sign in to the hotel wifi</body></html>"
                    head = b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n"
                    conn.sendall(head + b"Content-Length: %d\r\n\r\n" % len(page) + page)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=2)
        for conn in held:
            conn.close()
        server.close()


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture
def endpoint_env(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HF_HUB_ETAG_TIMEOUT", "0.5")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")

    def point(url):
        monkeypatch.setenv("HF_ENDPOINT", url)

    return point


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("silent", r"did not answer within 0.5 s \(timed out\)"),
        ("500", r"answered with a server error \(HTTP 500\)"),
        ("html", "does not answer like a Hugging Face Hub"),
    ],
)
def test_bad_endpoints_fail_fast_with_distinct_messages(endpoint_env, mode, message):
    with _endpoint(mode) as url:
        endpoint_env(url)
        start = time.monotonic()
        with pytest.raises(GanzooError, match=message) as caught:
            ganzoo.from_pretrained("org/tiny")
        assert time.monotonic() - start < 5
    assert "\n" not in str(caught.value) and url in str(caught.value)


def test_refused_connection_is_unreachable(endpoint_env):
    endpoint_env(_closed_port())
    with pytest.raises(GanzooError, match=r"not in the Hub cache and .* could not be reached"):
        ganzoo.from_pretrained("org/tiny")


def test_cached_checkpoint_still_loads_when_the_endpoint_is_down(fake_hub, tmp_path, monkeypatch):
    model = _publish(fake_hub, tmp_path)
    ganzoo.from_pretrained("org/tiny")  # now cached
    monkeypatch.setenv("HF_HUB_ETAG_TIMEOUT", "0.5")
    with _endpoint("500") as url:
        monkeypatch.setenv("HF_ENDPOINT", url)
        cached = ganzoo.from_pretrained("org/tiny")
    assert torch.equal(_outputs(cached), _outputs(model))


def test_exception_chain_follows_cause_and_context_and_stops_at_a_cycle():
    from ganzoo.errors import exception_chain

    inner, middle, outer = OSError("disk"), ValueError("wrapped"), RuntimeError("top")
    middle.__context__ = inner
    outer.__cause__ = middle
    assert exception_chain(outer) == [outer, middle, inner]
    inner.__context__ = outer  # a cycle
    assert exception_chain(outer) == [outer, middle, inner]
    assert exception_chain(None) == []


# ----------------------------------------------------------------------------- push
class _RecordingApi:
    """Stands in for huggingface_hub.HfApi: records what would be uploaded."""

    calls: dict = {}

    def __init__(self, endpoint=None, token=None):
        _RecordingApi.calls["init"] = (endpoint, token)

    def create_repo(self, repo_id, private, exist_ok):
        _RecordingApi.calls["create"] = (repo_id, private)

    def upload_folder(self, folder_path, repo_id, commit_message, revision, ignore_patterns):
        root = Path(folder_path)
        _RecordingApi.calls["files"] = {
            p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()
        }
        return type("Info", (), {"commit_url": f"https://hub/{repo_id}/commit/1"})()


@pytest.fixture
def recording_api(monkeypatch):
    import huggingface_hub

    _RecordingApi.calls = {}
    monkeypatch.setattr(huggingface_hub, "HfApi", _RecordingApi)
    return _RecordingApi.calls


def _run_folder(tmp_path):
    folder = tmp_path / "run"
    create_model("tiny").save_pretrained(folder)
    (folder / "samples.png").write_bytes(b"png")
    (folder / ".env").write_text("HF_TOKEN=secret")
    (folder / "notes.txt").write_text("private notes")
    for sub in ("sub", "checkpoint", "samples"):
        (folder / sub).mkdir()
    (folder / "sub" / ".env").write_text("HF_TOKEN=secret")
    (folder / "sub" / "x.png").write_bytes(b"x")
    (folder / "checkpoint" / "optimizer.safetensors").write_bytes(b"o")
    return folder


def test_push_uploads_only_the_allow_list(tmp_path, recording_api):
    from ganzoo.hub import push

    folder = _run_folder(tmp_path)
    url = push(folder, "me/tiny")
    assert url == "https://hub/me/tiny/commit/1"
    files = recording_api["files"]
    assert sorted(files) == ["README.md", "config.json", "model.safetensors", "samples.png"]
    assert files["config.json"] == (folder / "config.json").read_bytes()


def test_push_refuses_a_link_out_of_the_folder(tmp_path, recording_api):
    from ganzoo.hub import push

    folder = _run_folder(tmp_path)
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0")
    (folder / "leak.png").symlink_to(secret)
    with pytest.raises(GanzooError, match="leak.png is a link to .*outside the folder"):
        push(folder, "me/tiny")
    assert "files" not in recording_api and "create" not in recording_api


def test_push_follows_a_link_that_stays_inside(tmp_path, recording_api):
    from ganzoo.hub import push

    folder = _run_folder(tmp_path)
    (folder / "samples" / "last.png").write_bytes(b"last")
    (folder / "samples.png").unlink()
    (folder / "samples.png").symlink_to(folder / "samples" / "last.png")
    push(folder, "me/tiny")
    assert recording_api["files"]["samples.png"] == b"last"


def test_cli_push_refuses_links_out_and_invalid_ids_in_one_line(tmp_path, recording_api):
    from typer.testing import CliRunner

    from ganzoo.cli import app

    folder = _run_folder(tmp_path)
    (folder / "README.md").unlink()
    (folder / "README.md").symlink_to("/etc/hostname")
    for repo_id, message in (("me/tiny", "outside the folder"), ("me/x.git", "invalid Hub repo")):
        result = CliRunner().invoke(app, ["push", str(folder), repo_id])
        assert result.exit_code == 1 and message in result.output
        assert result.output.count("\n") == 1
    assert "files" not in recording_api


def test_model_push_to_hub_goes_through_the_same_upload(tmp_path, recording_api):
    url = create_model("tiny").push_to_hub("me/tiny", private=True)
    assert url == "https://hub/me/tiny/commit/1"
    assert recording_api["create"] == ("me/tiny", True)
    assert sorted(recording_api["files"]) == ["README.md", "config.json", "model.safetensors"]
    with pytest.raises(GanzooError, match="invalid Hub repo id"):
        create_model("tiny").push_to_hub("me/..")


def test_push_to_an_unreachable_endpoint_is_one_line(tmp_path, monkeypatch):
    from ganzoo.hub import push

    monkeypatch.setenv("HF_ENDPOINT", _closed_port())
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    monkeypatch.setenv("HF_TOKEN", "hf_not_a_real_token")
    create_model("tiny").save_pretrained(tmp_path / "m")
    start = time.monotonic()
    with pytest.raises(GanzooError, match="push to 'me/tiny' failed: .* could not be reached"):
        push(tmp_path / "m", "me/tiny")
    assert time.monotonic() - start < 5

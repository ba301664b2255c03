"""The fake Hub must speak the protocol of the *real* huggingface_hub client."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from huggingface_hub import HfApi, constants, hf_hub_download, snapshot_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.file_download import _CACHED_NO_EXIST, try_to_load_from_cache

from fake_hub import FakeHub, git_blob_sha1
from fake_hub import fake_hub as _fake_hub_fixture  # noqa: F401  (registers fixture "fake_hub")

REPO = "ganzoo-test/tiny-gan"
WEIGHTS_V1 = b"\x00weights-v1\xff" * 7
WEIGHTS_V2 = b"\x00weights-v2 (different)\xff" * 5
CONFIG = b'{"latent_dim": 8}\n'


def _folder(root: Path, files: dict[str, bytes]) -> Path:
    root.mkdir(parents=True)
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


@pytest.fixture
def repo(fake_hub: FakeHub, tmp_path: Path) -> dict[str, str]:
    """Publish REPO with a ``main`` branch and a ``v2`` tag; return their commit shas."""
    main = _folder(tmp_path / "v1", {"weights.bin": WEIGHTS_V1, "config.json": CONFIG})
    v2 = _folder(tmp_path / "v2", {"weights.bin": WEIGHTS_V2, "config.json": CONFIG})
    return {"main": fake_hub.add_repo(REPO, main), "v2": fake_hub.add_repo(REPO, v2, "v2")}


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxy for 127.0.0.1


def _download(hub: FakeHub, filename: str = "weights.bin", **kwargs) -> Path:
    return Path(
        hf_hub_download(REPO, filename, endpoint=hub.url, cache_dir=hub.cache_dir, **kwargs)
    )


def test_download_returns_exact_content_via_head_then_get(fake_hub, repo):
    path = _download(fake_hub)

    assert path.read_bytes() == WEIGHTS_V1
    assert (
        path.parent == fake_hub.cache_dir / "models--ganzoo-test--tiny-gan/snapshots" / repo["main"]
    )
    blob = fake_hub.cache_dir / "models--ganzoo-test--tiny-gan/blobs" / git_blob_sha1(WEIGHTS_V1)
    assert blob.read_bytes() == WEIGHTS_V1  # the ETag named the blob
    url_path = f"/{REPO}/resolve/main/weights.bin"
    assert fake_hub.requests == [("HEAD", url_path), ("GET", url_path)]


def test_online_repeat_download_only_checks_metadata(fake_hub, repo):
    first = _download(fake_hub)
    fake_hub.requests.clear()

    assert _download(fake_hub) == first
    assert fake_hub.requests == [("HEAD", f"/{REPO}/resolve/main/weights.bin")]


def test_local_files_only_returns_cached_file_without_request(fake_hub, repo):
    first = _download(fake_hub)
    fake_hub.requests.clear()

    cached = _download(fake_hub, local_files_only=True)

    assert cached == first
    assert cached.read_bytes() == WEIGHTS_V1
    assert fake_hub.requests == []


def test_hf_hub_offline_env_passed_as_local_files_only(fake_hub, repo, monkeypatch):
    _download(fake_hub)
    fake_hub.requests.clear()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    offline = os.environ.get("HF_HUB_OFFLINE") == "1"

    assert _download(fake_hub, local_files_only=offline).read_bytes() == WEIGHTS_V1
    with pytest.raises(LocalEntryNotFoundError):
        _download(fake_hub, "config.json", local_files_only=offline)  # never fetched
    assert fake_hub.requests == []


def test_offline_mode_constant_blocks_requests(fake_hub, repo, monkeypatch):
    _download(fake_hub)
    fake_hub.requests.clear()
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)

    assert _download(fake_hub).read_bytes() == WEIGHTS_V1  # served from the cache
    with pytest.raises(LocalEntryNotFoundError):
        _download(fake_hub, "config.json")
    assert fake_hub.requests == []


def test_second_revision_has_its_own_content(fake_hub, repo):
    v2 = _download(fake_hub, revision="v2")
    main = _download(fake_hub)

    assert v2.read_bytes() == WEIGHTS_V2
    assert main.read_bytes() == WEIGHTS_V1
    assert repo["v2"] != repo["main"]
    assert v2.parent.name == repo["v2"]
    assert ("HEAD", f"/{REPO}/resolve/v2/weights.bin") in fake_hub.requests


def test_download_by_commit_sha(fake_hub, repo, tmp_path):
    pinned = _download(fake_hub, revision=repo["v2"])
    assert pinned.read_bytes() == WEIGHTS_V2
    assert ("GET", f"/{REPO}/resolve/{repo['v2']}/weights.bin") in fake_hub.requests

    # Moving the branch keeps the old commit reachable by its sha.
    new_main = fake_hub.add_repo(REPO, _folder(tmp_path / "v3", {"weights.bin": b"v3"}))
    assert new_main != repo["main"]
    assert _download(fake_hub).read_bytes() == b"v3"
    assert _download(fake_hub, revision=repo["main"]).read_bytes() == WEIGHTS_V1
    assert _download(fake_hub, revision=repo["main"][:10]).read_bytes() == WEIGHTS_V1

    fake_hub.requests.clear()  # a cached commit sha needs no request at all
    assert _download(fake_hub, revision=repo["v2"]) == pinned
    assert fake_hub.requests == []


def test_url_encoded_revision(fake_hub, repo, tmp_path):
    fake_hub.add_repo(REPO, _folder(tmp_path / "pr", {"weights.bin": b"pr"}), "refs/pr/1")

    assert _download(fake_hub, revision="refs/pr/1").read_bytes() == b"pr"
    assert ("GET", f"/{REPO}/resolve/refs%2Fpr%2F1/weights.bin") in fake_hub.requests


def test_unknown_revision_raises_revision_not_found(fake_hub, repo):
    with pytest.raises(RevisionNotFoundError, match="Invalid rev id: nope"):
        _download(fake_hub, revision="nope")


def test_unknown_repo_raises_repository_not_found(fake_hub, repo):
    with pytest.raises(RepositoryNotFoundError) as excinfo:
        hf_hub_download(
            "nobody/nothing", "x.bin", endpoint=fake_hub.url, cache_dir=fake_hub.cache_dir
        )
    assert not isinstance(excinfo.value, RevisionNotFoundError)
    assert excinfo.value.response.headers["X-Error-Code"] == "RepoNotFound"


def test_missing_file_raises_entry_not_found(fake_hub, repo):
    with pytest.raises(EntryNotFoundError, match="missing.bin does not exist") as excinfo:
        _download(fake_hub, "missing.bin")
    # A remote answer, not a cache miss:
    assert not isinstance(excinfo.value, LocalEntryNotFoundError)
    # X-Repo-Commit on the 404 lets the client cache the file's absence.
    cached = try_to_load_from_cache(REPO, "missing.bin", cache_dir=fake_hub.cache_dir)
    assert cached is _CACHED_NO_EXIST


def test_range_requests(fake_hub, repo):
    url = f"{fake_hub.url}/{REPO}/resolve/main/weights.bin"
    size = len(WEIGHTS_V1)

    def fetch(range_header: str) -> tuple[int, str | None, bytes]:
        request = urllib.request.Request(url, headers={"Range": range_header})
        try:
            with _OPENER.open(request) as response:
                return response.status, response.headers["Content-Range"], response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers["Content-Range"], b""

    assert fetch("bytes=3-9") == (206, f"bytes 3-9/{size}", WEIGHTS_V1[3:10])
    assert fetch("bytes=10-") == (206, f"bytes 10-{size - 1}/{size}", WEIGHTS_V1[10:])
    assert fetch("bytes=-4") == (206, f"bytes {size - 4}-{size - 1}/{size}", WEIGHTS_V1[-4:])
    assert fetch(f"bytes={size}-") == (416, f"bytes */{size}", b"")


def test_snapshot_download_model_info_and_tree(fake_hub, tmp_path):
    files = {"config.json": CONFIG, "sub dir/weights.bin": WEIGHTS_V1, "sub dir/deep/x.txt": b"x"}
    sha = fake_hub.add_repo("org/snap", _folder(tmp_path / "snap", files))

    snapshot = Path(
        snapshot_download("org/snap", endpoint=fake_hub.url, cache_dir=fake_hub.cache_dir)
    )
    assert snapshot.name == sha
    assert {
        p.relative_to(snapshot).as_posix(): p.read_bytes()
        for p in snapshot.rglob("*")
        if p.is_file()
    } == files

    api = HfApi(endpoint=fake_hub.url)
    info = api.model_info("org/snap")
    assert info.sha == sha
    assert sorted(s.rfilename for s in info.siblings) == sorted(files)
    top = {entry.path for entry in api.list_repo_tree("org/snap")}
    assert top == {"config.json", "sub dir"}


def test_dataset_repo_type(fake_hub, tmp_path):
    fake_hub.add_repo("org/data", _folder(tmp_path / "d", {"a.csv": b"1,2\n"}), repo_type="dataset")

    path = hf_hub_download(
        "org/data",
        "a.csv",
        repo_type="dataset",
        endpoint=fake_hub.url,
        cache_dir=fake_hub.cache_dir,
    )
    assert Path(path).read_bytes() == b"1,2\n"
    assert fake_hub.requests[-1] == ("GET", "/datasets/org/data/resolve/main/a.csv")
    with pytest.raises(RepositoryNotFoundError):  # repo types do not mix
        hf_hub_download("org/data", "a.csv", endpoint=fake_hub.url, cache_dir=fake_hub.cache_dir)


def test_fixture_points_environment_and_constants_at_the_hub(fake_hub, repo, tmp_path):
    assert os.environ["HF_ENDPOINT"] == fake_hub.url
    assert os.environ["HF_HUB_CACHE"] == str(fake_hub.cache_dir)
    assert Path(os.environ["HF_HOME"]).is_relative_to(tmp_path)
    assert os.environ["HF_HUB_DISABLE_TELEMETRY"] == "1"
    assert "HF_HUB_OFFLINE" not in os.environ
    assert "HF_TOKEN" not in os.environ
    assert fake_hub.url == constants.ENDPOINT
    assert constants.HF_HUB_OFFLINE is False

    # Even a call without endpoint= and cache_dir= reaches the fake hub, not the internet.
    path = Path(hf_hub_download(REPO, "config.json"))
    assert path.read_bytes() == CONFIG
    assert path.is_relative_to(fake_hub.cache_dir)
    assert fake_hub.requests[-1] == ("GET", f"/{REPO}/resolve/main/config.json")


def test_fixture_overrides_offline_token_and_telemetry(request, monkeypatch, tmp_path):
    # As if the test run had been started with these settings (before huggingface_hub's import).
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_TOKEN", "hf_not_a_real_token")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", False)

    hub: FakeHub = request.getfixturevalue("fake_hub")

    assert "HF_HUB_OFFLINE" not in os.environ
    assert "HF_TOKEN" not in os.environ
    assert constants.HF_HUB_OFFLINE is False
    assert constants.HF_HUB_DISABLE_TELEMETRY is True
    hub.add_repo("org/x", _folder(tmp_path / "x", {"f": b"f"}))
    assert Path(hf_hub_download("org/x", "f")).read_bytes() == b"f"
    assert [method for method, _ in hub.requests] == ["HEAD", "GET"]  # nothing else was fetched


def test_standalone_hub_cleans_up(tmp_path):
    with FakeHub() as hub:
        hub.add_repo("org/x", _folder(tmp_path / "x", {"f": b"f"}))
        cache_dir, url = hub.cache_dir, hub.url
        assert cache_dir.is_dir()
        with _OPENER.open(f"{url}/org/x/resolve/main/f") as response:
            assert response.read() == b"f"
    assert not cache_dir.exists()
    with pytest.raises(urllib.error.URLError):
        _OPENER.open(f"{url}/org/x/resolve/main/f", timeout=2)

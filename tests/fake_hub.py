"""An offline stand-in for the Hugging Face Hub, for tests.

`FakeHub` serves in-memory snapshots of local folders over HTTP on 127.0.0.1 and speaks the
part of the Hub's protocol that the real `huggingface_hub` client uses to download files:

- ``HEAD``/``GET {url}/{repo_id}/resolve/{revision}/{filename}`` (also under ``datasets/`` and
  ``spaces/``), answered with ``X-Repo-Commit``, a quoted ``ETag`` (the git blob sha1 of the
  file, as the Hub does for non-LFS files), ``Content-Length``, ``Accept-Ranges`` and, for
  ``GET``, the body; single ``Range: bytes=...`` requests get a ``206``;
- 404 answers carrying ``X-Error-Code`` (``RepoNotFound``, ``RevisionNotFound``,
  ``EntryNotFound``) and ``X-Error-Message``, which the client turns into
  ``RepositoryNotFoundError``, ``RevisionNotFoundError`` and ``RemoteEntryNotFoundError``;
- ``GET /api/{models,datasets,spaces}/{repo_id}[/revision/{revision}]`` (``model_info`` /
  ``repo_info``) and ``GET /api/.../{repo_id}/tree/{revision}[/{path}]`` (``list_repo_tree``),
  which together make ``snapshot_download`` work.

No Xet headers (``X-Xet-Hash``, ``Link: rel="xet-auth"``) are ever sent, so the client always
falls back to plain HTTP downloads, and there are no redirects.

For the failure paths, `FakeHub.announce` makes a file's answers carry ``X-Linked-Size`` (the
size the real Hub announces for an LFS file) without serving that many bytes, and
`FakeHub.refuse` makes every request, ``POST`` ones (``create_repo``, uploads) included, answer
one HTTP error status. ``POST`` is otherwise answered 405: the fake Hub takes no uploads.
`FakeHub.request_headers` keeps the headers of every request (``Authorization``, ``Range``).

The `fake_hub` pytest fixture starts one `FakeHub` per test and points the environment *and* the
already-imported ``huggingface_hub.constants`` at it, so that even a call that forgets
``endpoint=`` never reaches the internet.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

__all__ = ["FakeHub", "fake_hub", "git_blob_sha1"]

# Repo type -> URL prefix of its files (``/datasets/org/name/resolve/...``).
_URL_PREFIXES = {"model": "", "dataset": "datasets", "space": "spaces"}
_URL_PREFIX_TO_TYPE = {prefix: kind for kind, prefix in _URL_PREFIXES.items() if prefix}
# ``/api/<plural>/...`` -> repo type.
_API_TO_TYPE = {"models": "model", "datasets": "dataset", "spaces": "space"}
_API_SUBROUTES = {"revision", "tree"}

_RANGE_RE = re.compile(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", re.IGNORECASE)
_SHORT_SHA_RE = re.compile(r"[0-9a-f]{7,40}")
_UNSATISFIABLE = (-1, -1)


def git_blob_sha1(data: bytes) -> str:
    """Return the git blob id of ``data``: the ``ETag`` the Hub gives a non-LFS file."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass(frozen=True)
class _Commit:
    sha: str
    files: dict[str, bytes]
    etags: dict[str, str]


@dataclass
class _Repo:
    refs: dict[str, _Commit] = field(default_factory=dict)  # branch or tag name -> commit
    commits: dict[str, _Commit] = field(default_factory=dict)  # commit sha -> commit

    def resolve(self, revision: str) -> _Commit | None:
        if revision in self.refs:
            return self.refs[revision]
        if revision in self.commits:
            return self.commits[revision]
        if _SHORT_SHA_RE.fullmatch(revision):  # abbreviated commit sha, if unambiguous
            found = [c for sha, c in self.commits.items() if sha.startswith(revision)]
            if len(found) == 1:
                return found[0]
        return None


@dataclass
class _Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def _json_response(payload: Any, status: int = 200) -> _Response:
    return _Response(status, {"Content-Type": "application/json"}, json.dumps(payload).encode())


def _error(
    code: str | None, message: str, status: int = 404, commit: str | None = None
) -> _Response:
    response = _json_response({"error": message}, status)
    response.headers["X-Error-Message"] = message
    if code is not None:
        response.headers["X-Error-Code"] = code
    if commit is not None:  # the Hub names the commit so the client can cache the file's absence
        response.headers["X-Repo-Commit"] = commit
    return response


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """Return the inclusive byte span of a single-range header, None to ignore it."""
    match = _RANGE_RE.fullmatch(header)
    if match is None or not (match[1] or match[2]):
        return None  # malformed or multi-range: serve the whole file, as RFC 9110 allows
    if match[1]:
        start = int(match[1])
        end = int(match[2]) if match[2] else size - 1
        if match[2] and end < start:
            return None
        end = min(end, size - 1)
    else:
        suffix = int(match[2])
        if suffix == 0:
            return _UNSATISFIABLE
        start, end = max(size - suffix, 0), size - 1
    if start >= size:
        return _UNSATISFIABLE
    return start, end


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    hub: FakeHub

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when a client drops a connection mid-response."""


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.0: one request per connection, so no handler thread outlives its response.
    protocol_version = "HTTP/1.0"
    server: _Server

    def do_HEAD(self) -> None:
        self._handle(send_body=False)

    def do_GET(self) -> None:
        self._handle(send_body=True)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)  # read the body so the client is not reset mid-send
        self._handle(send_body=True)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output clean: no access log on stderr."""

    def _handle(self, send_body: bool) -> None:
        response = self.server.hub._answer(
            self.command, self.path, self.headers.get("Range"), dict(self.headers.items())
        )
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if "Content-Length" not in response.headers:
            self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if send_body and response.body:
            self.wfile.write(response.body)


class FakeHub:
    """A local HTTP server that speaks the Hugging Face Hub's file-download protocol.

    Serves in-memory snapshots of folders registered with `add_repo` on ``127.0.0.1`` (random
    port) from a daemon thread, and records every request it receives in `requests` as a
    ``(method, path)`` tuple, the path as sent (percent-encoded, without the query string), and
    their headers in `request_headers` (same order).

    Use it through the `fake_hub` fixture, or standalone as a context manager::

        with FakeHub() as hub:
            hub.add_repo("org/model", folder)
            hf_hub_download("org/model", "config.json", endpoint=hub.url, cache_dir=hub.cache_dir)
    """

    def __init__(self, cache_dir: str | os.PathLike[str] | None = None) -> None:
        """Start serving.

        Args:
            cache_dir: Folder meant as the client's ``cache_dir`` (created if missing). If
                omitted, a temporary folder is created and removed again by `close`.
        """
        self._lock = threading.Lock()
        self._repos: dict[tuple[str, str], _Repo] = {}
        self.requests: list[tuple[str, str]] = []
        self.request_headers: list[dict[str, str]] = []
        self._announced: dict[tuple[str, str, str], int] = {}
        self._refusal: _Response | None = None
        #: Set to False to answer ``Range`` requests with the whole file (``200``), as
        #: servers that do not support ranges do.
        self.serve_ranges = True
        self._owned_cache_dir = cache_dir is None
        if cache_dir is None:
            cache_dir = tempfile.mkdtemp(prefix="fake-hf-hub-cache-")
        self.cache_dir = Path(cache_dir)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.hub = self
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},  # keeps close() fast
            name="fake-hf-hub",
            daemon=True,
        )
        self._thread.start()
        self._closed = False

    @property
    def url(self) -> str:
        """The endpoint to pass as ``endpoint=`` / ``HF_ENDPOINT``, e.g. ``http://127.0.0.1:4321``."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add_repo(
        self,
        repo_id: str,
        folder: str | os.PathLike[str],
        revision: str = "main",
        *,
        repo_type: str = "model",
    ) -> str:
        """Publish the files of ``folder`` as branch or tag ``revision`` of ``repo_id``.

        The files are read now (later changes to the folder are not seen); ``.git`` folders are
        skipped. Publishing the same revision again moves it to the new snapshot, while the
        previous commit stays reachable by its sha.

        Args:
            repo_id: ``"namespace/name"`` (or a bare legacy ``"name"``).
            folder: The folder whose files (recursively) make up the revision.
            revision: Branch or tag name; may contain ``/`` (e.g. ``"refs/pr/1"``).
            repo_type: ``"model"``, ``"dataset"`` or ``"space"``.

        Returns:
            The revision's 40-hex commit sha, deterministic in repo, revision and contents. The
            sha (or an unambiguous prefix of 7+ characters) also works as a revision.
        """
        if repo_type not in _URL_PREFIXES:
            raise ValueError(f"repo_type must be one of {sorted(_URL_PREFIXES)}, not {repo_type!r}")
        root = Path(folder)
        if not root.is_dir():
            raise NotADirectoryError(f"not a folder: {root}")
        files: dict[str, bytes] = {}
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root)
            if path.is_file() and ".git" not in relative.parts:
                files[relative.as_posix()] = path.read_bytes()
        etags = {name: git_blob_sha1(data) for name, data in files.items()}
        digest = hashlib.sha1(f"{repo_type}\0{repo_id}\0{revision}\0".encode())
        for name in sorted(etags):
            digest.update(f"{name}\0{etags[name]}\0".encode())
        commit = _Commit(sha=digest.hexdigest(), files=files, etags=etags)
        with self._lock:
            repo = self._repos.setdefault((repo_type, repo_id), _Repo())
            repo.refs[revision] = commit
            repo.commits[commit.sha] = commit
        return commit.sha

    def announce(self, repo_id: str, filename: str, size: int, *, repo_type: str = "model") -> None:
        """Announce ``filename`` of ``repo_id`` as ``size`` bytes (``X-Linked-Size``, as the Hub
        does for LFS files), whatever the file holds; its body is served unchanged."""
        with self._lock:
            self._announced[(repo_type, repo_id, filename)] = size

    def refuse(
        self, status: int | None, message: str = "refused by the fake Hub", code: str | None = None
    ) -> None:
        """Answer every request from now on with HTTP ``status`` (``None`` stops refusing).

        The answer carries ``X-Error-Message: message`` (and ``X-Error-Code: code`` if given),
        as the Hub's refusals do.
        """
        with self._lock:
            self._refusal = None if status is None else _error(code, message, status)

    def close(self) -> None:
        """Stop the server (idempotent); removes `cache_dir` if the hub created it."""
        if self._closed:
            return
        self._closed = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        if self._owned_cache_dir:
            shutil.rmtree(self.cache_dir, ignore_errors=True)

    def __enter__(self) -> FakeHub:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FakeHub(url={self.url!r}, repos={sorted(self._repos)!r})"

    # -- request handling (runs on the server's threads) ------------------------------------

    def _answer(
        self,
        method: str,
        target: str,
        range_header: str | None,
        headers: dict[str, str] | None = None,
    ) -> _Response:
        split = urlsplit(target)
        with self._lock:
            self.requests.append((method, split.path))
            self.request_headers.append(headers or {})
            refusal = self._refusal
        if refusal is not None:
            return refusal
        if method == "POST":
            return _error(None, "The fake Hub takes no uploads.", 405)
        segments = split.path.strip("/").split("/")  # still percent-encoded
        if segments[0] == "api":
            return self._answer_api(segments[1:], parse_qs(split.query))
        return self._answer_resolve(segments, range_header)

    def _lookup(self, repo_type: str, repo_id: str) -> _Repo | None:
        with self._lock:
            return self._repos.get((repo_type, repo_id))

    def _answer_resolve(self, segments: list[str], range_header: str | None) -> _Response:
        repo_type = "model"
        if len(segments) > 1 and segments[0] in _URL_PREFIX_TO_TYPE:
            repo_type = _URL_PREFIX_TO_TYPE[segments[0]]
            segments = segments[1:]
        if len(segments) >= 4 and segments[2] == "resolve":
            repo_id, rest = f"{unquote(segments[0])}/{unquote(segments[1])}", segments[3:]
        elif len(segments) >= 3 and segments[1] == "resolve":
            repo_id, rest = unquote(segments[0]), segments[2:]
        else:
            return _error(None, "Not a /resolve/ URL of the fake Hub.")
        revision, filename = unquote(rest[0]), unquote("/".join(rest[1:]))

        repo = self._lookup(repo_type, repo_id)
        if repo is None:
            return _error("RepoNotFound", f"Repository {repo_id!r} not found ({repo_type}).")
        commit = repo.resolve(revision)
        if commit is None:
            return _error("RevisionNotFound", f"Invalid rev id: {revision}")
        if filename not in commit.files:
            return _error(
                "EntryNotFound", f"{filename} does not exist on {revision!r}", commit=commit.sha
            )

        data = commit.files[filename]
        headers = {
            "Content-Type": "application/octet-stream",
            "Accept-Ranges": "bytes",
            "ETag": f'"{commit.etags[filename]}"',
            "X-Repo-Commit": commit.sha,
        }
        with self._lock:
            announced = self._announced.get((repo_type, repo_id, filename))
        if announced is not None:
            headers["X-Linked-Size"] = str(announced)
        serve = range_header and self.serve_ranges
        span = _parse_range(range_header, len(data)) if serve else None
        if span == _UNSATISFIABLE:
            headers["Content-Range"] = f"bytes */{len(data)}"
            return _Response(416, headers)
        if span is not None:
            start, end = span
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            return _Response(206, headers, data[start : end + 1])
        return _Response(200, headers, data)

    def _answer_api(self, segments: list[str], query: dict[str, list[str]]) -> _Response:
        if not segments or segments[0] not in _API_TO_TYPE:
            return _error(None, "Unsupported API route on the fake Hub.")
        repo_type, rest = _API_TO_TYPE[segments[0]], segments[1:]
        if not rest or not rest[0]:
            return _error(None, "Listing repositories is not supported by the fake Hub.")

        # The repo id has one or two segments: prefer whichever is registered.
        repo_id, tail, repo = "", [], None
        for width in (2, 1):
            if len(rest) >= width:
                candidate = "/".join(unquote(s) for s in rest[:width])
                repo = self._lookup(repo_type, candidate)
                if repo is not None:
                    repo_id, tail = candidate, rest[width:]
                    break
        if repo is None:
            width = 2 if len(rest) >= 2 and rest[1] not in _API_SUBROUTES else 1
            name = "/".join(unquote(s) for s in rest[:width])
            return _error("RepoNotFound", f"Repository {name!r} not found ({repo_type}).")

        if not tail:
            route, revision, path = "info", "main", ""
        elif tail[0] == "revision" and len(tail) == 2:
            route, revision, path = "info", unquote(tail[1]), ""
        elif tail[0] == "tree" and len(tail) >= 2:
            route, revision, path = "tree", unquote(tail[1]), unquote("/".join(tail[2:]))
        else:
            return _error(None, "Unsupported API route on the fake Hub.")

        commit = repo.resolve(revision)
        if commit is None:
            return _error("RevisionNotFound", f"Invalid rev id: {revision}")
        if route == "info":
            return _json_response(
                {
                    "_id": commit.sha[:24],
                    "id": repo_id,
                    "modelId": repo_id,
                    "sha": commit.sha,
                    "private": False,
                    "gated": False,
                    "disabled": False,
                    "tags": [],
                    "siblings": [
                        {"rfilename": name, "size": len(data), "blobId": commit.etags[name]}
                        for name, data in commit.files.items()
                    ],
                }
            )
        recursive = query.get("recursive", ["false"])[-1].lower() in {"1", "true"}
        entries = _tree_entries(commit, path, recursive)
        if entries is None:
            return _error(
                "EntryNotFound", f"{path} does not exist on {revision!r}", commit=commit.sha
            )
        return _json_response(entries)


def _tree_oid(path: str) -> str:
    return hashlib.sha1(f"tree\0{path}".encode()).hexdigest()


def _tree_entries(commit: _Commit, path: str, recursive: bool) -> list[dict[str, Any]] | None:
    """List a folder of a commit like ``GET /api/models/{repo_id}/tree/{revision}/{path}``."""
    prefix = f"{path.strip('/')}/" if path.strip("/") else ""
    folders: set[str] = set()
    files: list[str] = []
    for name in commit.files:
        if not name.startswith(prefix):
            continue
        parts = name[len(prefix) :].split("/")
        for depth in range(1, len(parts) if recursive else min(len(parts), 2)):
            folders.add(prefix + "/".join(parts[:depth]))
        if recursive or len(parts) == 1:
            files.append(name)
    if prefix and not files and not folders:
        return None
    entries: list[dict[str, Any]] = [
        {"type": "directory", "oid": _tree_oid(name), "size": 0, "path": name}
        for name in sorted(folders)
    ]
    entries += [
        {"type": "file", "oid": commit.etags[name], "size": len(commit.files[name]), "path": name}
        for name in sorted(files)
    ]
    return entries


def _reset_hf_http_session() -> None:
    """Drop huggingface_hub's shared HTTP client so the next one reads the current environment."""
    utils = importlib.import_module("huggingface_hub.utils")
    for name in ("close_session", "reset_sessions"):  # httpx-based (>=1.0) / requests-based
        reset = getattr(utils, name, None)
        if callable(reset):
            reset()
            return


def _point_huggingface_hub_at(hub: FakeHub, hf_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hub_cache = hub.cache_dir
    for name in (
        "HF_HUB_OFFLINE",
        "TRANSFORMERS_OFFLINE",
        "HF_TOKEN",
        "HUGGING_FACE_HUB_TOKEN",
        "HF_TOKEN_PATH",
        "HF_OIDC_RESOURCE",
        "HUGGINGFACE_CO_STAGING",
        "HUGGINGFACE_HUB_CACHE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_HOME", str(hf_home))
    monkeypatch.setenv("HF_HUB_CACHE", str(hub_cache))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    for var in ("NO_PROXY", "no_proxy"):  # never send 127.0.0.1 through a configured proxy
        current = os.environ.get(var, "")
        monkeypatch.setenv(var, ",".join(filter(None, [current, "127.0.0.1", "localhost"])))

    # huggingface_hub reads those variables into `constants` when it is first imported, which
    # usually happened before this fixture ran: patch the constants as well (names that this
    # huggingface_hub version lacks are skipped).
    constants = importlib.import_module("huggingface_hub.constants")
    overrides: dict[str, Any] = {
        "ENDPOINT": hub.url,
        "HUGGINGFACE_CO_URL_TEMPLATE": hub.url + "/{repo_id}/resolve/{revision}/{filename}",
        "HF_HOME": str(hf_home),
        "HF_HUB_CACHE": str(hub_cache),
        "HUGGINGFACE_HUB_CACHE": str(hub_cache),
        "HF_TOKEN_PATH": str(hf_home / "token"),
        "HF_STORED_TOKENS_PATH": str(hf_home / "stored_tokens"),
        "AGENT_HARNESSES_PATH": str(hf_home / ".agent_harnesses.json"),
        "HF_HUB_OFFLINE": False,
        # Telemetry on would make build_hf_headers() fetch {ENDPOINT}/api/agent-harnesses once.
        "HF_HUB_DISABLE_TELEMETRY": True,
    }
    for name, value in overrides.items():
        if hasattr(constants, name):
            monkeypatch.setattr(constants, name, value)
    _reset_hf_http_session()


@pytest.fixture(name="fake_hub")  # the name holds even when imported under an alias
def fake_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    """Start a `FakeHub` for one test and point huggingface_hub at it.

    Sets ``HF_ENDPOINT`` to the hub's url, ``HF_HOME`` to ``tmp_path/"hf_home"`` and
    ``HF_HUB_CACHE`` to ``hub.cache_dir`` (``tmp_path/"hf_home"/"hub"``), sets
    ``HF_HUB_DISABLE_TELEMETRY=1``, unsets ``HF_HUB_OFFLINE`` and ``HF_TOKEN`` (and their
    aliases), and patches the matching values in ``huggingface_hub.constants``. Everything is
    restored, and the server closed, when the test ends.
    """
    hf_home = tmp_path / "hf_home"
    hub = FakeHub(cache_dir=hf_home / "hub")
    try:
        _point_huggingface_hub_at(hub, hf_home, monkeypatch)
        yield hub
    finally:
        hub.close()
        _reset_hf_http_session()

"""Issue 23, Hub and cards: download limits, masked credentials, refusals, safe cards."""

import json
import re
import shutil
import socket
import sys

import pytest
import torch

import ganzoo
from cli_checks import invoke, one_line_error
from ganzoo import GanzooError, create_model
from ganzoo.hub import (
    DOWNLOAD_LIMIT_VARIABLE,
    MAX_HEADER_BYTES,
    header_length,
    mask_credentials,
    parse_weights_header,
)

REPO = "org/tiny"


def _publish(fake_hub, tmp_path, repo_id=REPO, **overrides):
    """Publish a tiny checkpoint; return its folder."""
    torch.manual_seed(0)
    folder = tmp_path / f"publish-{repo_id.replace('/', '-')}"
    create_model("tiny", **overrides).save_pretrained(folder)
    fake_hub.add_repo(repo_id, folder)
    return folder


def _cached_files(fake_hub, repo_id=REPO):
    """Every file the Hub cache holds for ``repo_id`` except its refs (blobs, snapshots)."""
    root = fake_hub.cache_dir / f"models--{repo_id.replace('/', '--')}"
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if (p.is_file() or p.is_symlink()) and "refs" not in p.relative_to(root).parts
    )


def _weights_requests(fake_hub):
    """``(method, Range header)`` of every request for ``model.safetensors``."""
    return [
        (method, {k.lower(): v for k, v in headers.items()}.get("range"))
        for (method, path), headers in zip(fake_hub.requests, fake_hub.request_headers, strict=True)
        if path.endswith("/model.safetensors")
    ]


# ----------------------------------------------------------------------------- case 1: size
def test_weights_over_the_download_limit_are_refused_before_a_byte_comes(
    fake_hub, tmp_path, monkeypatch
):
    folder = _publish(fake_hub, tmp_path)
    size = (folder / "model.safetensors").stat().st_size
    monkeypatch.setenv(DOWNLOAD_LIMIT_VARIABLE, str(size - 1))
    with pytest.raises(GanzooError) as caught:
        ganzoo.from_pretrained(REPO)
    message = str(caught.value)
    assert "\n" not in message
    assert "over the download limit" in message and DOWNLOAD_LIMIT_VARIABLE in message
    assert "nothing was downloaded" in message
    assert _weights_requests(fake_hub) == [("HEAD", None)]  # asked, never fetched
    assert not any(name.endswith("model.safetensors") for name in _cached_files(fake_hub))
    assert not any(".incomplete" in name for name in _cached_files(fake_hub))

    monkeypatch.setenv(DOWNLOAD_LIMIT_VARIABLE, str(size))  # a user raises the limit
    assert ganzoo.from_pretrained(REPO).config.hidden == 16


def test_a_file_announced_at_20_gb_is_refused_at_the_default_limit(fake_hub, tmp_path):
    _publish(fake_hub, tmp_path)
    fake_hub.announce(REPO, "model.safetensors", 20 * 10**9)
    result = invoke("info", REPO)
    one_line_error(result, "announced at 20.0 GB", "download limit of 2.0 GB")
    assert all(method == "HEAD" for method, _ in _weights_requests(fake_hub))
    assert _cached_files(fake_hub) == []  # not even config.json stays behind


def test_weights_that_do_not_fit_the_config_are_refused_from_their_header_alone(fake_hub, tmp_path):
    folder = tmp_path / "edited"
    create_model("tiny").save_pretrained(folder)  # hidden=16
    config = json.loads((folder / "config.json").read_text())
    config["config"]["hidden"] = 4096  # asks for a far larger model than the file holds
    (folder / "config.json").write_text(json.dumps(config))
    fake_hub.add_repo(REPO, folder)
    with pytest.raises(GanzooError, match="do not fit its architecture: .*misshapen") as caught:
        ganzoo.from_pretrained(REPO)
    assert "\n" not in str(caught.value)
    requests = _weights_requests(fake_hub)
    length = int.from_bytes((folder / "model.safetensors").read_bytes()[:8], "little")
    assert requests == [("HEAD", None), ("GET", "bytes=0-7"), ("GET", f"bytes=8-{7 + length}")]
    assert _cached_files(fake_hub) == []


def test_the_header_check_works_with_a_server_that_ignores_ranges(fake_hub, tmp_path):
    folder = _publish(fake_hub, tmp_path, hidden=4)
    config = json.loads((folder / "config.json").read_text())
    config["config"]["hidden"] = 16
    (folder / "config.json").write_text(json.dumps(config))
    fake_hub.add_repo("org/edited", folder)
    fake_hub.serve_ranges = False  # every GET answers 200 with the whole file
    assert ganzoo.from_pretrained(REPO).config.hidden == 4
    with pytest.raises(GanzooError, match="do not fit its architecture"):
        ganzoo.from_pretrained("org/edited")
    assert _cached_files(fake_hub, "org/edited") == []


def test_an_announced_size_the_header_does_not_add_up_to_is_refused(fake_hub, tmp_path):
    folder = _publish(fake_hub, tmp_path)
    size = (folder / "model.safetensors").stat().st_size
    fake_hub.announce(REPO, "model.safetensors", size + 1000)
    with pytest.raises(GanzooError, match=f"announced at {size + 1000} bytes but its header"):
        ganzoo.from_pretrained(REPO)
    assert _cached_files(fake_hub) == []


def test_a_checkpoint_that_passes_the_checks_loads_and_is_checked_once(fake_hub, tmp_path):
    _publish(fake_hub, tmp_path)
    first = ganzoo.from_pretrained(REPO)
    assert ("GET", "bytes=0-7") in _weights_requests(fake_hub)
    fake_hub.requests.clear()
    fake_hub.request_headers.clear()
    again = ganzoo.from_pretrained(REPO)  # cached at this commit: no header reads again
    assert [m for m, r in _weights_requests(fake_hub) if r] == []
    assert torch.equal(first.sample(2, seed=0), again.sample(2, seed=0))


@pytest.mark.parametrize("value", ["lots", "-1", "0", "1.5", "inf"])
def test_a_bad_download_limit_is_one_line(fake_hub, tmp_path, monkeypatch, value):
    _publish(fake_hub, tmp_path)
    monkeypatch.setenv(DOWNLOAD_LIMIT_VARIABLE, value)
    with pytest.raises(GanzooError, match=f"{DOWNLOAD_LIMIT_VARIABLE} must be a whole number"):
        ganzoo.from_pretrained(REPO)


def test_the_header_length_is_bounded_and_the_header_checked():
    assert header_length((1000).to_bytes(8, "little"), "x") == 1000
    for prefix in (b"\x01", (MAX_HEADER_BYTES + 1).to_bytes(8, "little"), b"\xff" * 8):
        with pytest.raises(GanzooError, match="'x'"):
            header_length(prefix, "x")
    good = {"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, "__metadata__": {}}
    assert parse_weights_header(json.dumps(good).encode(), "x") == ({"w": ((2, 3), "F32")}, 24)
    for entry, reason in (
        ({"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 20]}, "spans 20 bytes"),
        ({"dtype": "X9", "shape": [2], "data_offsets": [0, 8]}, "dtype"),
        ({"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}, "shape"),
        ({"dtype": "F32", "shape": [2], "data_offsets": [8]}, "offsets"),
        ([1], "not an object"),
    ):
        with pytest.raises(GanzooError, match=reason):
            parse_weights_header(json.dumps({"w": entry}).encode(), "x")
    with pytest.raises(GanzooError, match="not JSON"):
        parse_weights_header(b"\xff{", "x")


# ----------------------------------------------------------------------------- case 2: secrets
def _with_credentials(url):
    return url.replace("http://", "http://alice:s3cret-pw@")


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_mask_credentials_hides_user_and_password_only():
    assert mask_credentials("http://u:p@ss@host:1/x@y and https://h/z") == (
        "http://***@host:1/x@y and https://h/z"
    )
    assert mask_credentials("the Hugging Face Hub") == "the Hugging Face Hub"


@pytest.mark.parametrize("trouble", ["500", "401", "closed"])
def test_credentials_in_hf_endpoint_never_reach_download_or_push_errors(
    fake_hub, tmp_path, monkeypatch, trouble, tiny_checkpoint
):
    url = _closed_port() if trouble == "closed" else fake_hub.url
    if trouble != "closed":
        fake_hub.refuse(int(trouble))
    monkeypatch.setenv("HF_ENDPOINT", _with_credentials(url))
    for args in (("info", REPO), ("push", tiny_checkpoint, "me/tiny")):
        line = one_line_error(invoke(*args), "***@127.0.0.1")
        assert "s3cret" not in line and "alice" not in line


@pytest.mark.parametrize("status", [None, 401, 500])
def test_tokens_from_hf_token_and_the_token_option_never_leak(
    fake_hub, tmp_path, monkeypatch, tiny_checkpoint, status
):
    _publish(fake_hub, tmp_path)
    fake_hub.refuse(status)
    monkeypatch.setenv("HF_TOKEN", "hf_envSECRETtoken")
    runs = [
        invoke("info", REPO, "--revision", "nope"),
        invoke("push", tiny_checkpoint, "me/tiny"),
        invoke("push", tiny_checkpoint, "me/tiny", "--token", "hf_cliSECRETtoken"),
    ]
    for result in runs:
        one_line_error(result)
        assert "SECRET" not in result.output
    sent = {h.get("authorization") or h.get("Authorization") for h in fake_hub.request_headers}
    assert {"Bearer hf_envSECRETtoken", "Bearer hf_cliSECRETtoken"} <= sent  # they were used


# ----------------------------------------------------------------------------- case 4: refusals
@pytest.mark.parametrize(
    ("status", "hint"),
    [
        (401, "token is missing, invalid or expired; check HF_TOKEN, --token"),
        (403, "check the token's permissions"),
        (400, "check the repo id"),
    ],
)
def test_http_refusals_say_refused_with_the_status_and_what_to_check(
    fake_hub, tmp_path, tiny_checkpoint, status, hint
):
    _publish(fake_hub, tmp_path)
    fake_hub.refuse(status, "Invalid credentials in Authorization header")
    download = one_line_error(invoke("info", REPO), f"refused the download of '{REPO}'", hint)
    push = one_line_error(
        invoke("push", tiny_checkpoint, "me/tiny", "--token", "hf_bad"),
        "refused the push to 'me/tiny'",
        hint,
    )
    for line in (download, push):
        assert f"(HTTP {status} " in line and "could not be reached" not in line


# ----------------------------------------------------------------------------- case 3: cards
EVIL = "<img src=x onerror=alert(1)> |x| ```"


def _cells(row):
    """A Markdown table row's cells, split on unescaped pipes."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]]


def _outside_code(card):
    """The card's lines outside fenced code blocks, as a fence-aware renderer sees them."""
    kept, fence = [], None
    for line in card.splitlines():
        run = re.match(r"`{3,}", line)
        if fence is None and run:
            fence = run.group()
        elif fence is not None and line.strip() and set(line.strip()) == {"`"}:
            fence = None if len(line.strip()) >= len(fence) else fence
        elif fence is None:
            kept.append(line)
    assert fence is None, "a code block is never closed"
    return "\n".join(kept)


def _command_block(card):
    """The fence and the lines of the card's bash block under ``## Training``."""
    lines = card[card.index("## Training") :].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("`"))
    fence = lines[start].removesuffix("bash")
    end = lines.index(fence, start + 1)
    return fence, lines[start + 1 : end]


def _train(monkeypatch, *args):
    """``ganzoo train tiny ARGS`` in-process, with ``sys.argv`` as a shell would set it."""
    words = ["train", "tiny", *map(str, args)]
    monkeypatch.setattr(sys, "argv", ["ganzoo", *words])  # the card's command comes from it
    result = invoke(*words)
    assert result.exit_code == 0, result.output


def test_a_hostile_data_path_is_escaped_and_local_paths_stay_home(tiny_npz, tmp_path, monkeypatch):
    data = tmp_path / "---" / "```sh" / f"{EVIL}.npz"
    data.parent.mkdir(parents=True)
    shutil.copyfile(tiny_npz, data)
    out = tmp_path / "run"
    args = ["--dataset", f"npz:{data}", "--device", "cpu", "--quiet", "--steps"]
    _train(monkeypatch, "--out", out, *args, 2)

    card = (out / "README.md").read_text()
    config = (out / "config.json").read_text()
    assert str(tmp_path) not in card and str(tmp_path) not in config
    assert "<img" not in _outside_code(card) and "&lt;img src=x onerror=alert(1)&gt;" in card
    assert "datasets:" not in card  # the card's YAML names no npz: file
    assert json.loads(config)["data"]["dataset"] == f"npz:{EVIL}.npz"  # its name, no path
    fingerprint = json.loads((out / "checkpoint" / "data.json").read_text())["images"]
    assert f"fingerprint {fingerprint}" in card
    row = next(line for line in card.splitlines() if line.startswith("| dataset |"))
    assert len(_cells(row)) == 2
    fence, block = _command_block(card)
    assert len(fence) > 3 and len(block) == 1 and block[0].startswith("ganzoo train tiny")
    assert "--out run" in block[0]
    assert ganzoo.from_pretrained(out).config.dataset == f"npz:{EVIL}.npz"

    # the run's own checkpoint keeps the path: a resume finds its data
    assert str(data) in (out / "checkpoint" / "config.json").read_text()
    _train(monkeypatch, "--out", out, *args, 3, "--resume")

    second = tmp_path / "leg2"
    _train(monkeypatch, "--out", second, *args, 1, "--init-from", out)
    shared = (second / "README.md").read_text() + (second / "config.json").read_text()
    assert str(tmp_path) not in shared
    assert json.loads((second / "config.json").read_text())["lineage"][1]["init_from"] == "run"


def test_export_escapes_every_field_of_the_card_and_cleans_a_handed_over_lineage(tmp_path):
    from ganzoo.hub import export_pretrained

    model = create_model("tiny")
    model.lineage = [
        {"command": "ganzoo train x --data-root /home/alice/data", "init_from": "/home/alice/a"}
    ]
    folder = export_pretrained(
        model,
        tmp_path / "m",
        command=f"ganzoo train tiny --dataset 'npz:/home/alice/{EVIL}\n---\n.npz' --out ~/r",
        training={"note": "```\n# heading <b>bold</b> [x](javascript:alert(1))"},
        metrics={"<b>m|": 1.0},
        model_name='<img src=x onerror=alert(1)> "x"',
    )
    card = (folder / "README.md").read_text()
    config = json.loads((folder / "config.json").read_text())
    assert "/home/alice" not in card and "/home/alice" not in json.dumps(config)
    assert config["lineage"][0] == {"command": "ganzoo train x --data-root data", "init_from": "a"}
    text = _outside_code(card)
    assert "<img" not in text and "<b>" not in text and "](javascript" not in text
    fence, block = _command_block(card)
    assert len(fence) == 4 and "npz:" in "\n".join(block)
    assert "- note: \\`\\`\\` # heading &lt;b&gt;bold&lt;/b&gt;" in card
    assert "| &lt;b&gt;m\\| | 1.0 |" in card
    assert 'ganzoo.from_pretrained("&lt;img' not in card  # code is not HTML-escaped...
    assert 'ganzoo.from_pretrained("<img src=x onerror=alert(1)> \\"x\\"")' in card  # ...but quoted
    assert "ganzoo sample '<img src=x onerror=alert(1)> \"x\"' -n 64" in card
    assert card.count("```python") == 1 and "\n# &lt;img src=x onerror=alert(1)&gt;" in card


def test_card_text_helpers():
    from ganzoo.card_text import code_fence, md_cell, public_command, public_path

    assert code_fence("no ticks") == "```" and code_fence("a ```` b") == "`````"
    assert "\n" not in md_cell("a\n---\nb") and md_cell("a|b") == "a\\|b"
    assert public_path("folder:/srv/data/cats/") == "folder:cats"
    assert public_path("C:\\data\\cats") == "cats"
    for kept in ("mnist", "org/name", "./runs/x", "npz:data/x.npz", "https://h/x"):
        assert public_path(kept) == kept
    command = "ganzoo train dcgan --data-root /work/shared/data --out runs/x --seed 0"
    assert public_command(command) == "ganzoo train dcgan --data-root data --out runs/x --seed 0"
    assert public_command("ganzoo train tiny --out runs/x") == "ganzoo train tiny --out runs/x"
    assert public_command("x 'unbalanced /a/b") == "x 'unbalanced b"


def test_push_uploads_config_json_without_local_paths_even_from_an_older_folder(
    tmp_path, pushed_files
):
    from ganzoo.hub import push

    uploaded = pushed_files
    folder = tmp_path / "old"
    create_model("tiny").save_pretrained(folder)
    config = json.loads((folder / "config.json").read_text())  # as an older ganzoo wrote it
    config["config"]["dataset"] = config["data"]["dataset"] = "folder:/home/alice/cats"
    config["lineage"] = [{"command": "ganzoo train tiny --out /home/alice/run", "steps": 1}]
    (folder / "config.json").write_text(json.dumps(config))
    assert push(folder, "me/tiny") == "https://hub/commit/1"
    sent = json.loads(uploaded["config.json"])
    assert "/home/alice" not in uploaded["config.json"]
    assert sent["data"]["dataset"] == "folder:cats" and sent["lineage"][0]["steps"] == 1
    assert "/home/alice" in (folder / "config.json").read_text()  # the local folder is left


def test_an_optional_file_over_the_limit_is_refused_before_it_comes(fake_hub, tmp_path):
    from ganzoo.hub import resolve

    folder = _publish(fake_hub, tmp_path)
    (folder / "online_weights.safetensors").write_bytes(b"x" * 64)
    fake_hub.add_repo(REPO, folder)
    fake_hub.announce(REPO, "online_weights.safetensors", 20 * 10**9)
    with pytest.raises(GanzooError, match="online_weights.safetensors is announced at 20.0 GB"):
        resolve(REPO, extra_files=("online_weights.safetensors",))
    assert not [p for m, p in fake_hub.requests if m == "GET" and "online_weights" in p]
    assert not any("online_weights" in name for name in _cached_files(fake_hub))

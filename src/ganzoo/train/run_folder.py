"""The run folder: what a training run keeps on disk, and the rules that keep it safe.

A run folder (``ganzoo train --out DIR``, ``TrainConfig.out_dir``) holds

- ``.ganzoo-run``, the marker written when the run starts: only a folder with it (or
  an empty or new folder) is written into, so a folder a user made is never
  overwritten unless asked (``overwrite=True``, ``ganzoo train --overwrite``);
- ``.ganzoo-run.lock``, locked (``fcntl.flock``) while a process trains in the
  folder; it names that process (pid and host), and a second run is refused;
- ``checkpoint/``, the resumable state (see :mod:`ganzoo.train.checkpoint`),
  with the training config and a fingerprint of the data, so a resume that
  would silently train something else is refused;
- ``metrics.jsonl``, one JSON record per line (cut back to the resumed step on
  resume, so killed runs leave no repeated steps; unreadable lines are skipped);
- and, written by :mod:`ganzoo.train.export`, the model in the Hub format and
  ``train_summary.json``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import socket
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ganzoo.errors import GanzooError
from ganzoo.io import atomic
from ganzoo.train import checkpoint as ckpt

try:  # POSIX; elsewhere runs are not locked
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

MARKER_NAME = ".ganzoo-run"
LOCK_NAME = ".ganzoo-run.lock"
METRICS_NAME = "metrics.jsonl"
CHECKPOINT_NAME = "checkpoint"

#: Training-config fields a resume may change, and why: ``steps`` (a longer run; never
#: below the step reached), ``lr`` (re-applied to every optimiser, e.g. after a NaN stop)
#: and the fields that change where or how often things are written or shown, not what
#: is trained. Every other field, the model config and the data must stay as saved.
RESUMABLE_FIELDS = frozenset(
    {
        "steps",
        "epochs",
        "lr",
        "lr_decay_start",
        "device",
        "channels_last",
        "max_seconds",
        "log_every",
        "sample_every",
        "eval_every",
        "checkpoint_every",
        "keep_best",
        "eval_metrics",
        "eval_feature",
        "eval_samples",
        "out_dir",
        "quiet",
    }
)


# ------------------------------------------------------------------------------ metrics
def parse_metrics(text: str) -> list[dict[str, Any]]:
    """Records of ``metrics.jsonl`` text, skipping lines that are not JSON records of a step."""
    records = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and isinstance(record.get("step"), int):
            records.append(record)
    return records


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """Records of a ``metrics.jsonl`` file, skipping unreadable lines (e.g. a cut-off last one)."""
    try:
        return parse_metrics(Path(path).read_text(encoding="utf-8", errors="replace"))
    except FileNotFoundError:
        return []


# ------------------------------------------------------------------------------ data
def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part)
    return h.hexdigest()[:16]


def tensor_digest(tensor: Any, samples: int = 4096) -> str:
    """A cheap hash of a tensor: its shape and an evenly strided sample of its first axis."""
    stride = max(1, int(tensor.shape[0]) // samples) if tensor.dim() else 1
    sample = tensor[::stride] if tensor.dim() else tensor
    array = sample.detach().contiguous().cpu().numpy()
    return _digest(str(tuple(tensor.shape)).encode(), str(array.dtype).encode(), array.tobytes())


def dataset_fingerprint(data: Any) -> dict[str, Any]:
    """What identifies a training set cheaply: name, size and hashes of images and labels."""
    record: dict[str, Any] = {
        "name": data.name,
        "size": len(data),
        "images": tensor_digest(data.images),
    }
    if data.labels is not None:
        record["labels"] = tensor_digest(data.labels)
    return record


# ------------------------------------------------------------------------------ configs
def config_from_dict(config_class: type, data: Mapping[str, Any], source: str) -> Any:
    """Build a training config from saved JSON, through the one typed-config checker.

    Unknown keys, values of the wrong type and values out of range are one-line errors
    naming the file (:func:`ganzoo.config.check_fields`, then the config's ``validate``).

    Raises:
        GanzooError: naming the key and the file.

    """
    from ganzoo.config import check_config, check_fields

    names = [f.name for f in dataclasses.fields(config_class)]
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise GanzooError(
            f"{source} has unknown key(s) {', '.join(unknown)} for {config_class.__name__}; "
            "was it written by another version or edited? Start a new run"
        )
    try:
        return check_config(config_class(**check_fields(config_class, data)))
    except GanzooError as exc:
        raise GanzooError(f"{source}: {exc}; fix it or start a new run") from None


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def resume_differences(
    saved: Mapping[str, Any], current: Mapping[str, Any], prefix: str = ""
) -> list[str]:
    """Names of the fields whose values differ between ``saved`` and ``current``."""
    keys = sorted(set(saved) | set(current))
    return [
        f"{prefix}{k}"
        for k in keys
        if not (k in saved and k in current and _same(saved[k], current[k]))
    ]


def check_resume(
    folder: Path,
    *,
    step: int,
    saved_config: Mapping[str, Any],
    config: Mapping[str, Any],
    saved_model: Mapping[str, Any] | None,
    model: Mapping[str, Any] | None,
    saved_data: Mapping[str, Any] | None,
    data: Mapping[str, Any],
) -> None:
    """Refuse a resume that would train something other than the saved run.

    Only :data:`RESUMABLE_FIELDS` of the training config may change, and ``steps``
    not below the ``step`` reached.

    Raises:
        GanzooError: one line listing every field that differs.

    """
    changed = [k for k in resume_differences(saved_config, config) if k not in RESUMABLE_FIELDS]
    if saved_model is not None and model is not None:
        changed += resume_differences(saved_model, model, "model.")
    if saved_data is not None:
        changed += resume_differences(saved_data, data, "data.")
    if changed:
        raise GanzooError(
            f"cannot resume {folder}: changed from the saved run: {', '.join(changed)} "
            "(a resume may change only steps, lr and how often things are logged or saved); "
            "drop those options or start a new run in another folder"
        )
    if config["steps"] < step:
        raise GanzooError(
            f"cannot resume {folder} to steps={config['steps']}: the run is already at step "
            f"{step}; pass steps >= {step}"
        )


# ------------------------------------------------------------------------------ the folder
class RunFolder:
    """A run's folder on disk: ownership marker, lock, checkpoint and metrics log.

    Args:
        path: the folder (created when the run starts).

    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock_fd: int | None = None

    @property
    def checkpoint_dir(self) -> Path:
        """Where the resumable checkpoint lives (``<run>/checkpoint``)."""
        return self.path / CHECKPOINT_NAME

    @property
    def metrics_path(self) -> Path:
        """The metrics log (``<run>/metrics.jsonl``)."""
        return self.path / METRICS_NAME

    def find_checkpoint(self) -> Path | None:
        """The complete checkpoint folder, or ``None``."""
        return ckpt.find_checkpoint(self.checkpoint_dir)

    def is_run(self) -> bool:
        """Whether the folder carries the run marker or a complete checkpoint."""
        return (self.path / MARKER_NAME).is_file() or self.find_checkpoint() is not None

    def check_ours(self, overwrite: bool = False) -> None:
        """Refuse a folder that is neither new, empty nor a ganzoo run.

        Raises:
            GanzooError: unless ``overwrite`` says the user means it.

        """
        if self.path.exists() and not self.path.is_dir():
            raise GanzooError(f"{self.path} is a file, not a folder; choose another run folder")
        if overwrite or not self.path.is_dir() or self.is_run():
            return
        if any(self.path.iterdir()):
            raise GanzooError(
                f"{self.path} is not empty and is not a ganzoo run folder (it has no "
                f"{MARKER_NAME}); choose a new or empty folder, or pass --overwrite "
                "(overwrite=True) to write into it"
            )

    # -------------------------------------------------------------- lock
    def lock(self) -> None:
        """Take the folder's exclusive lock and write our pid and host into the lock file.

        Raises:
            GanzooError: naming the process that holds it.

        """
        if self._lock_fd is not None or fcntl is None:
            return
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 256, 0).decode("utf-8", "replace").strip() or "unknown process"
            os.close(fd)
            raise GanzooError(
                f"{self.path} is in use by another training run ({holder}); wait for it to "
                "end or choose another folder"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        self._lock_fd = fd

    def unlock(self) -> None:
        """Release the lock (the lock file stays; removing it would race with a new run)."""
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._lock_fd, 0)
            os.close(self._lock_fd)
            self._lock_fd = None

    @property
    def locked(self) -> bool:
        """Whether this object holds the lock."""
        return self._lock_fd is not None

    def open(self, overwrite: bool = False) -> None:
        """Start (or continue) a run here: check ownership, lock, mark, clear stale temporaries.

        An export that a crash interrupted after it was complete is finished first
        (:func:`ganzoo.io.atomic.finish_files_together`).
        """
        self.check_ours(overwrite)
        self.lock()
        marker = self.path / MARKER_NAME
        if not marker.is_file():
            atomic.write_text(marker, json.dumps({"what": "a ganzoo training run folder"}) + "\n")
        atomic.remove_stale_temporaries(self.checkpoint_dir)
        atomic.finish_files_together(self.path)

    @contextlib.contextmanager
    def held(self, *, overwrite: bool = False, fresh: bool = False) -> Iterator[None]:
        """Own the folder while inside: checked, locked and marked, unlocked afterwards.

        Args:
            overwrite: write into a folder that is not empty and is not a run.
            fresh: a new run is starting here (not a resume, no step taken yet), so a
                checkpoint already in the folder is refused rather than overwritten.

        Raises:
            GanzooError: as :meth:`open` does, or for a ``fresh`` start over a saved run.

        """
        self.open(overwrite=overwrite)
        try:
            if fresh and self.find_checkpoint() is not None:
                raise GanzooError(
                    f"{self.path} already holds a run; fit(resume=True) continues it, "
                    "or choose another out_dir"
                )
            yield
        finally:
            self.unlock()

    # -------------------------------------------------------------- metrics
    def log(self, record: Mapping[str, Any]) -> None:
        """Append one record to ``metrics.jsonl``."""
        with open(self.metrics_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(dict(record)) + "\n")

    def cut_log(self, step: int) -> None:
        """Keep only the records up to ``step`` (and no unreadable lines) in ``metrics.jsonl``.

        A run killed after logging a step but before checkpointing it resumes from an
        earlier step and logs those steps again; this keeps each step once.
        """
        path = self.metrics_path
        if not path.is_file():
            return
        text = path.read_text(encoding="utf-8", errors="replace")
        kept = [r for r in parse_metrics(text) if r["step"] <= step]
        new = "".join(json.dumps(r) + "\n" for r in kept)
        if new == text:
            return
        atomic.write_text(path, new, fsync=True)

    def newest_sample_grid(self, step: int) -> Path | None:
        """The newest ``samples/step_XXXXXX.png`` at or before ``step``."""
        grids = []
        for path in (self.path / "samples").glob("step_*.png"):
            with contextlib.suppress(ValueError):
                if int(path.stem[5:]) <= step:
                    grids.append((int(path.stem[5:]), path))
        return max(grids)[1] if grids else None

    # -------------------------------------------------------------- checkpoints
    def save_checkpoint(
        self,
        model: Any,
        *,
        ema_state: Mapping[str, Any] | None,
        train_config: Mapping[str, Any],
        data: Mapping[str, Any],
        state: Mapping[str, Any],
    ) -> Path:
        """Write ``checkpoint/`` atomically: weights, EMA, config, data fingerprint, state."""
        from ganzoo.hub import save_weights, write_checkpoint

        def write(tmp: Path) -> None:
            write_checkpoint(model, tmp, public=False)  # a resume reads its data paths
            if ema_state is not None:
                save_weights(ema_state, tmp / ckpt.EMA_NAME)
            ckpt.save_json(tmp / ckpt.TRAIN_CONFIG_NAME, dict(train_config))
            ckpt.save_json(tmp / ckpt.DATA_NAME, dict(data))
            ckpt.save_state(tmp / ckpt.STATE_NAME, dict(state))

        return atomic.write_folder_atomically(self.checkpoint_dir, write)

    def read_checkpoint(self, config_class: type) -> SavedRun:
        """Read the checkpoint's config, data fingerprint and state (not the weights).

        Raises:
            GanzooError: if there is none or a file in it is unreadable.

        """
        found = self.find_checkpoint()
        if found is None:
            raise GanzooError(
                f"no checkpoint to resume from in {self.checkpoint_dir}; start without --resume"
            )
        from ganzoo.hub import read_hub_config
        from ganzoo.lineage import LINEAGE_KEY, check_lineage

        config_path = found / ckpt.TRAIN_CONFIG_NAME
        config = config_from_dict(config_class, ckpt.load_json(config_path), str(config_path))
        data_path = found / ckpt.DATA_NAME
        data = ckpt.load_json(data_path) if data_path.is_file() else None
        hub_config = read_hub_config(found)
        return SavedRun(
            folder=found,
            config=config,
            data=data,
            model=hub_config.get("config"),
            state=ckpt.load_state(found / ckpt.STATE_NAME),
            lineage=check_lineage(hub_config.get(LINEAGE_KEY), str(found)),
        )


@dataclasses.dataclass
class SavedRun:
    """A checkpoint as read back by :meth:`RunFolder.read_checkpoint`.

    Attributes:
        folder: the checkpoint folder (``checkpoint`` or ``checkpoint.old``).
        config: the training config it was saved with.
        data: the data fingerprint (``None`` for checkpoints of older versions).
        model: the model config it was saved with.
        state: optimisers, schedulers, step, RNG states.
        lineage: the earlier runs the model's weights went through (:mod:`ganzoo.lineage`).

    """

    folder: Path
    config: Any
    data: dict[str, Any] | None
    model: dict[str, Any] | None
    state: dict[str, Any]
    lineage: list[dict[str, Any]] = dataclasses.field(default_factory=list)

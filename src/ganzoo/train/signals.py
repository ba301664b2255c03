"""Stopping a training run cleanly on SIGINT (Ctrl-C) or SIGTERM.

While :meth:`ganzoo.train.base.Trainer.fit` runs, a signal only asks the loop to
stop after the current step; the loop then saves a checkpoint and raises
:class:`TrainingInterrupted`, whose ``exit_code`` the CLI exits with.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ganzoo.errors import GanzooError


class TrainingInterrupted(GanzooError):
    """SIGINT (Ctrl-C) or SIGTERM stopped training after a step; a checkpoint was saved.

    Attributes:
        signum: the signal received.
        exit_code: the conventional exit status, ``128 + signum`` (130 for SIGINT,
            143 for SIGTERM).

    """

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum


class StopSignals:
    """Records a SIGINT or SIGTERM received while :meth:`catching` is active.

    Attributes:
        signum: the signal received, or ``None`` while none has come.

    """

    def __init__(self) -> None:
        self.signum: int | None = None

    @contextlib.contextmanager
    def catching(self) -> Iterator[None]:
        """While inside, SIGINT and SIGTERM set :attr:`signum` instead of interrupting.

        A second signal interrupts at once (the checkpoint on disk stays consistent:
        it is swapped in atomically). The previous handlers come back afterwards. Off
        the main thread (where Python cannot set handlers) this does nothing.
        """
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum: int, frame: Any) -> None:
            if self.signum is not None:
                raise KeyboardInterrupt
            self.signum = signum

        previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        self.signum = None
        for s in previous:
            signal.signal(s, handler)
        try:
            yield
        finally:
            for s, old in previous.items():
                signal.signal(s, old)

    def interrupted(self, step: int, checkpoint: Path | None) -> TrainingInterrupted:
        """The error to raise once the loop has stopped at ``step`` and saved ``checkpoint``."""
        signum = self.signum
        assert signum is not None
        name = signal.Signals(signum).name
        saved = (
            f"checkpoint saved in {checkpoint}; resume to continue"
            if checkpoint
            else "nothing saved"
        )
        return TrainingInterrupted(f"stopped by {name} at step {step}; {saved}", signum)

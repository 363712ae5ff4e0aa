"""SIGINT, SIGTERM and SIGHUP end a run the same way: the first one raises Interrupted in
the main thread (where the engine stops every running command, waits for them and merges
nothing more), later ones are ignored while that happens, and srcbuild exits with 128 plus
the signal's number (130, 143, 129), as a shell reports a command killed by it.

CI systems cancel a job with SIGTERM; closing a terminal sends SIGHUP.
"""

from __future__ import annotations

import signal
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """A signal that ends the run; a KeyboardInterrupt, so every ``except KeyboardInterrupt``
    that cleans up after Ctrl-C cleans up after SIGTERM and SIGHUP too."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def exit_code(e: KeyboardInterrupt) -> int:
    """128 + the signal (a plain KeyboardInterrupt is SIGINT's)."""
    return e.exit_code if isinstance(e, Interrupted) else 128 + signal.SIGINT


def signal_name(e: KeyboardInterrupt) -> str:
    return signal.Signals(e.signum).name if isinstance(e, Interrupted) else "SIGINT"


def handle_signals() -> None:
    """From now on the first of SIGNALS raises Interrupted; the next ones are ignored, so
    that stopping the commands and waiting for them is not cut short."""
    received: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        if received:
            return
        received.append(signum)
        raise Interrupted(signum)

    for sig in SIGNALS:
        # a signal ignored when srcbuild started (nohup, `trap '' HUP`) stays ignored
        if signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, handler)

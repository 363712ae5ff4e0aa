"""A run's event stream: the engine emits events, listeners (ui.py's reporters, the recorder
of CACHE/runs/RUN.jsonl) receive them one at a time."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TextIO

from srcbuild.kinds import EventKind

Event = dict[str, Any]
Listener = Callable[[Event], None]


class Events:
    """Listeners subscribe; ``emit`` stamps the time and hands the event to each of them."""

    def __init__(self) -> None:
        self.listeners: list[Listener] = []
        self._lock = threading.Lock()  # packages build in threads; listeners see one at a time

    def subscribe(self, listener: Listener) -> None:
        self.listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        self.listeners.remove(listener)

    def emit(self, kind: EventKind, **data: Any) -> None:
        event: Event = {"event": kind, "time": round(time.time(), 3), **data}
        with self._lock:
            for listener in self.listeners:
                listener(event)

    def message(self, text: str) -> None:
        self.emit(EventKind.MESSAGE, text=text)


class FileRecorder:
    """Writes every event except log lines to a file (the source of `srcbuild report`),
    flushed as it happens; a context manager that opens the file and closes it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._out: TextIO | None = None

    def __enter__(self) -> Self:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._out = open(self.path, "w", encoding="utf-8")
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None

    def __call__(self, event: Event) -> None:
        if self._out is not None and event["event"] != EventKind.LINE:
            self._out.write(json.dumps(event, sort_keys=True) + "\n")
            self._out.flush()

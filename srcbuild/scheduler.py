"""Run a graph's packages in parallel under one job budget, with a GNU make jobserver.

srcbuild plays the top-level make: a pipe holds N-1 tokens and srcbuild's own implicit slot
is the Nth. Every running package holds one slot (the first running package uses the
implicit one, each further package takes a token first), so configure steps, which are
single-threaded, never oversubscribe the machine. make-based steps join the jobserver
through MAKEFLAGS (the pipe protocol that make 4.3 and 4.4 both understand); steps that
cannot (ninja before 1.13) take extra tokens up front for their ``-j``.
"""

from __future__ import annotations

import os
import re
import select
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from srcbuild.templates import Command

SIGNAL_CHECK = 0.25  # seconds: how soon the main thread reacts to a signal at the latest

# tools that read MAKEFLAGS and take their job slots from the jobserver pipe
JOINS_JOBSERVER = ("make", "gmake")


class Jobserver:
    """The pipe of a GNU make jobserver with ``jobs - 1`` tokens."""

    def __init__(self, jobs: int) -> None:
        self.jobs = max(1, jobs)
        self.read_fd, self.write_fd = os.pipe()
        os.write(self.write_fd, b"+" * (self.jobs - 1))
        self._implicit = threading.Lock()

    def makeflags(self) -> str:
        return f"-j{self.jobs} --jobserver-auth={self.read_fd},{self.write_fd}"

    @property
    def fds(self) -> tuple[int, int]:
        return self.read_fd, self.write_fd

    @contextmanager
    def slot(self) -> Iterator[None]:
        """One slot for a package: the implicit one when free, else a token from the pipe."""
        if self._implicit.acquire(blocking=False):
            try:
                yield
            finally:
                self._implicit.release()
            return
        token = self._take()
        try:
            yield
        finally:
            os.write(self.write_fd, token)

    def _take(self, timeout: float | None = None) -> bytes:
        """One token, waiting up to ``timeout`` (forever when None); b"" when none came.

        make 4.3 puts the shared pipe in non-blocking mode, and another make may take the
        token between select() and read(): both are waited out, never raised.
        """
        while True:
            ready, _, _ = select.select([self.read_fd], [], [], timeout)
            if not ready:
                return b""
            try:
                token = os.read(self.read_fd, 1)
            except BlockingIOError:
                if timeout == 0:
                    return b""
                continue
            if token:
                return token

    @contextmanager
    def extra(self, wanted: int) -> Iterator[int]:
        """Take up to ``wanted`` more tokens that are free right now; yield how many."""
        tokens = b""
        while len(tokens) < wanted:
            token = self._take(timeout=0)
            if not token:
                break
            tokens += token
        try:
            yield len(tokens)
        finally:
            if tokens:
                os.write(self.write_fd, tokens)

    def close(self) -> None:
        for fd in self.fds:
            try:
                os.close(fd)
            except OSError:
                pass

    @contextmanager
    def command(self, command: Command, jobs: int) -> Iterator[tuple[Command, dict[str, str]]]:
        """A build command as it must run under this jobserver, and the variables it needs.

        make joins the jobserver (its own -jN is dropped, MAKEFLAGS carries the pipe); a tool
        that cannot join (ninja, meson, cmake --build) takes the tokens that are free right
        now and gets -j of that many plus the package's own slot. A shell command gets the
        pipe and MAKEFLAGS, for the makes it starts. Pass ``fds`` to the process.
        """
        env = {"MAKEFLAGS": self.makeflags()}
        if isinstance(command, dict):
            yield command, env
        elif os.path.basename(command[0]) in JOINS_JOBSERVER:
            yield strip_jobs(command), env
        elif has_jobs(command):
            with self.extra(jobs - 1) as extra:
                yield set_jobs(command, extra + 1), env
        else:
            yield command, env


_JOBS = re.compile(r"^(?:-j\d*|--jobs=\d+|-j)$")


def strip_jobs(argv: list[str]) -> list[str]:
    """make's own -jN would leave the jobserver: drop it (and a separate numeric value)."""
    out: list[str] = []
    skip = False
    for i, a in enumerate(argv):
        if skip:
            skip = False
            continue
        if _JOBS.match(a):
            if a in ("-j", "--jobs") and i + 1 < len(argv) and argv[i + 1].isdigit():
                skip = True
            continue
        out.append(a)
    return out


def has_jobs(argv: list[str]) -> bool:
    return any(_JOBS.match(a) or a == "--jobs" for a in argv)


def set_jobs(argv: list[str], n: int) -> list[str]:
    """Replace the -j value of a tool that cannot join a jobserver."""
    out = strip_jobs(argv)
    if out and os.path.basename(out[0]) == "meson" or (len(out) > 1 and out[1] == "--build"):
        return out + ["-j", str(n)]
    return out + [f"-j{n}"]


@dataclass
class Walk:
    """Which packages may start: a package starts when every dependency it waits on is done."""

    deps: dict[str, list[str]]  # package -> packages of this run it waits for
    done: set[str] = field(default_factory=set)
    running: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)

    def ready(self) -> list[str]:
        waiting = [n for n in self.deps if n not in self.done | self.running | self.failed]
        return [n for n in waiting if all(d in self.done for d in self.deps[n])]

    def finished(self) -> bool:
        return not self.running and (not self.ready() or bool(self.failed))


def run_graph(order: list[str], deps: dict[str, list[str]], jobs: int,
              build: Callable[[str], None], on_error: Callable[[str, BaseException], None],
              on_interrupt: Callable[[], None] = lambda: None, join_timeout: float = 60.0,
              ) -> set[str]:
    """Build every package of ``order`` (dependencies first), at most ``jobs`` at a time.

    After a failure no new package starts; running ones finish (their work is complete and
    consistent, cancelling them would only waste it). Returns the set of failed packages.

    When the wait is interrupted (a signal raises in the main thread), ``on_interrupt``
    stops the running packages' commands, the build threads are given ``join_timeout``
    seconds to end (a merge under way completes), and the interrupt is raised again. The
    threads are daemons: one stuck on a pipe that an escaped process still holds open
    cannot keep srcbuild from exiting.
    """
    walk = Walk({n: [d for d in deps.get(n, []) if d in order] for n in order})
    cond = threading.Condition()
    threads: list[threading.Thread] = []
    limit = max(1, jobs)

    def worker(name: str) -> None:
        try:
            build(name)
        except BaseException as e:  # noqa: BLE001 - reported through on_error
            with cond:
                walk.failed.add(name)
            on_error(name, e)
        else:
            with cond:
                walk.done.add(name)
        finally:
            with cond:
                walk.running.discard(name)
                cond.notify_all()

    try:
        with cond:
            while True:
                if not walk.failed:
                    for name in sorted(walk.ready(), key=order.index):
                        if len(walk.running) >= limit:
                            break
                        walk.running.add(name)
                        t = threading.Thread(target=worker, args=(name,), name=f"build-{name}",
                                             daemon=True)
                        threads.append(t)
                        t.start()
                if walk.finished():
                    break
                # a timeout, not a plain wait: a signal the kernel hands to a build thread
                # interrupts no lock of the main thread, whose handler runs only once the
                # main thread runs again
                cond.wait(SIGNAL_CHECK)
    except BaseException:
        on_interrupt()
        deadline = time.monotonic() + join_timeout
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        raise
    for t in threads:
        t.join()
    return walk.failed

"""The terminal side of a run, in a real pseudo-terminal: the live display, Ctrl-C (exit 130,
the cursor back, no stale progress line, a summary of what was stopped), the summary table
with the checks' PASS:/SKIP: lines, and a source that failed said once."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, tarball
from pkgfactory import recipe

HIDE, SHOW = "\x1b[?25l", "\x1b[?25h"


def screen(raw: str, width: int = 100) -> list[str]:
    """What a terminal shows after ``raw``: enough of one (text, CR, LF, cursor up, erase
    line, colours ignored) to see what rich's live display leaves behind."""
    lines = [""]
    row = col = 0
    i = 0
    while i < len(raw):
        m = re.match(r"\x1b\[([0-9;?]*)([A-Za-z])", raw[i:])
        if m:
            args, cmd = m.groups()
            if cmd == "A":
                row = max(0, row - int(args or 1))
            elif cmd == "K":
                lines[row] = lines[row][:col] if args in ("", "0") else ""
            i += m.end()
            continue
        ch = raw[i]
        i += 1
        if ch == "\r":
            col = 0
        elif ch == "\n":
            row += 1
            col = 0
            if row == len(lines):
                lines.append("")
        elif ch >= " ":
            if col >= width:
                row, col = row + 1, 0
                if row == len(lines):
                    lines.append("")
            line = lines[row].ljust(col)
            lines[row] = line[:col] + ch + line[col + 1:]
            col += 1
    return [line.rstrip() for line in lines]


def in_terminal(argv: list[str], until: str | None, timeout: float = 300,
                send: signal.Signals | None = None) -> tuple[int, str, str]:
    """Run ``argv`` on a pseudo-terminal; once ``until`` shows up, type Ctrl-C (or send it
    the signal ``send``). The exit status, everything written to the terminal, and what was
    written before the Ctrl-C."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: its controlling terminal is the pty
        os.chdir(ROOT)
        os.environ.update(COLUMNS="100", LINES="40", TERM="xterm")
        os.execv(argv[0], argv)
    out, sent, deadline = b"", until is None, time.monotonic() + timeout
    before = b""
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
            if not sent and until in out.decode("utf-8", "replace"):
                if send is None:
                    os.write(fd, b"\x03")  # the terminal makes it SIGINT for the foreground
                else:
                    os.kill(pid, send)
                sent, before = True, out
        else:
            os.kill(pid, signal.SIGKILL)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return (os.waitstatus_to_exitcode(status), out.decode("utf-8", "replace"),
            before.decode("utf-8", "replace"))


@pytest.fixture
def slow_recipes(tmp_path: Path) -> Path:
    """quick (a check that passes one thing and skips another) <- sleeper (a build step that
    says it compiles, then sleeps) <- after."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "Makefile").write_text(
        "all:\n\techo 'gcc -O2 -c -o slow.o ../src/lib/slow.c'; sleep 120\n"
        "install:\n\tmkdir -p $(DESTDIR)$(PREFIX)/bin && touch $(DESTDIR)$(PREFIX)/bin/x\n")
    r = tmp_path / "r"
    recipe(r, "quick", f"""
        version = "1.2.0"
        check = [["sh", "-c", "echo 'PASS: it works'; echo 'SKIP: no frobnicator here'"]]
        [[source]]
        path = "{src}"
        [build]
        system = "custom"
        install = [["sh", "-c", "mkdir -p {{{{ stage }}}}/share && touch {{{{ stage }}}}/share/q"]]
        """)
    recipe(r, "sleeper", f"""
        version = "1"
        requires = ["recipe:quick"]
        [[source]]
        path = "{src}"
        [build]
        system = "make"
        """)
    recipe(r, "after", """
        kind = "group"
        requires = ["recipe:sleeper"]
        """)
    return r


def test_ctrl_c_on_a_terminal(sb, slow_recipes):
    code, raw, _ = in_terminal(sb.argv("after", "--recipes", str(slow_recipes)),
                               until="compiling lib/slow.c")
    assert code == 130, raw[-3000:]
    assert raw.count(HIDE) >= 1 and raw.rfind(SHOW) > raw.rfind(HIDE), "cursor left hidden"
    shown = screen(raw)
    text = "\n".join(shown)
    # nothing of the live display is left on the screen
    assert not any(re.match(r"\[\d+/\d+\]", line) for line in shown), text
    assert "Interrupted (Ctrl-C) after" in text
    rows = {line.split()[0]: line for line in shown if line[:1].isalpha()}
    assert "built (1 skipped check)" in rows["quick"]
    assert "interrupted in build" in rows["sleeper"]
    assert "not started" in rows["after"]
    assert "    PASS: it works" in shown and "    SKIP: no frobnicator here" in shown
    assert "Stopped: sleeper; nothing of it was merged." in shown
    assert f"The prefix {sb.prefix.resolve()} holds only the packages that finished." in \
        " ".join(text.split())
    assert [line for line in shown if line][-1] == "srcbuild: interrupted by SIGINT (Ctrl-C)."
    assert (sb.prefix / "share" / "q").exists() and not (sb.prefix / "bin" / "x").exists()


@pytest.mark.parametrize("sig,said", [(signal.SIGTERM, "Terminated (SIGTERM)"),
                                      (signal.SIGHUP, "Hung up (SIGHUP: the terminal went away)")])
def test_sigterm_and_sighup_on_a_terminal_close_the_display_and_say_so(sb, slow_recipes, sig,
                                                                      said):
    """What CI's cancel (SIGTERM) and a closed window (SIGHUP) do: the same clean end as
    Ctrl-C, naming the signal, with the shell's exit status for it."""
    code, raw, _ = in_terminal(sb.argv("after", "--recipes", str(slow_recipes)),
                               until="compiling lib/slow.c", send=sig)
    assert code == 128 + sig, raw[-3000:]
    assert raw.rfind(SHOW) > raw.rfind(HIDE), "cursor left hidden"
    shown = screen(raw)
    assert not any(re.match(r"\[\d+/\d+\]", line) for line in shown), shown
    assert any(line.startswith(f"{said} after ") for line in shown), shown
    assert "Stopped: sleeper; nothing of it was merged." in shown
    assert [line for line in shown if line][-1] == f"srcbuild: interrupted by {sig.name}."


def test_the_live_display_shows_progress_phase_and_the_file_compiled(sb, slow_recipes):
    code, raw, before = in_terminal(sb.argv("after", "--recipes", str(slow_recipes)),
                                    until="compiling lib/slow.c")
    assert code == 130
    live = "\n".join(screen(before))
    assert re.search(r"\[1/3\]\s+total \d", live), live  # one of three built, total time
    assert re.search(r"sleeper\s+build\s+\d+\.\d+s\s+compiling lib/slow\.c", live), live
    # rich's highlighter would colour the version: the plan line is plain text
    assert "quick 1.2.0: not installed in the prefix" in raw


def test_ctrl_c_with_json_ends_with_a_summary_event(sb, slow_recipes):
    proc = subprocess.Popen(sb.argv("after", "--recipes", str(slow_recipes), "--json"),
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if '"step": "build"' in line and '"sleeper"' in line:
            break
    proc.send_signal(signal.SIGINT)
    rest, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    import json

    last = json.loads(rest.splitlines()[-1])
    assert last["event"] == "summary" and last["interrupted"] is True and last["ok"] is False
    assert [(p["recipe"], p["status"]) for p in last["packages"]] == [
        ("quick", "built"), ("sleeper", "interrupted in build"), ("after", "not started")]


def test_the_summary_table_is_aligned_and_shows_check_lines(sb, slow_recipes):
    cp = sb("quick", "--recipes", str(slow_recipes))
    lines = cp.stderr.splitlines()
    head = lines.index(next(line for line in lines if line.startswith("package ")))
    header, row = lines[head], lines[head + 1]
    assert row.startswith("quick ")
    for column in ("version", "result", "time"):
        value = {"version": "1.2.0", "result": "built (1 skipped check)"}.get(column)
        if value:
            assert header.index(column) == row.index(value), (header, row)
    assert lines[head + 2:head + 4] == ["    PASS: it works", "    SKIP: no frobnicator here"]
    assert "  quick: built (1 skipped check) in" in cp.stderr


# -- a source that failed ----------------------------------------------------------------------
class FileServer:
    """python -m http.server on 127.0.0.1 serving one folder, its request log in a file."""

    def __init__(self, root: Path, log: Path) -> None:
        self.log = log
        with open(log, "w") as requests:  # the server keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1",
                 "--directory", str(root)], stdout=subprocess.PIPE, stderr=requests, text=True)
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline()  # "Serving HTTP on 127.0.0.1 port N ..."
        port = re.search(r"port (\d+)", first)
        assert port is not None, first
        self.url = f"http://127.0.0.1:{port[1]}"

    def requests(self) -> list[str]:
        return re.findall(r'"GET (\S+)', self.log.read_text())

    def stop(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


@pytest.fixture
def server(tmp_path: Path):  # type: ignore[no-untyped-def]
    served = tmp_path / "www"
    served.mkdir()
    s = FileServer(served, tmp_path / "http.log")
    yield s, served
    s.stop()


def two_sources(tmp_path: Path, url: str, served: Path) -> tuple[Path, str]:
    """A recipe whose first source (an "upstream" tarball) is gone from the server and whose
    second (a repacked one, another sha256) is there."""
    pkg = tmp_path / "pkg" / "two-1"
    pkg.mkdir(parents=True)
    (pkg / "Makefile").write_text("all:\ninstall:\n\tmkdir -p $(DESTDIR)$(PREFIX)/share\n"
                                  "\techo two > $(DESTDIR)$(PREFIX)/share/two.txt\n")
    upstream = tarball(tmp_path / "upstream.tar.gz", {"two-1/README": b"upstream\n"})
    repack = tarball(served / "two_1.orig.tar.gz", tree=pkg)
    r = tmp_path / "r"
    recipe(r, "two", f"""
        version = "1"
        [[source]]
        url = "{url}/gone/two-1.tar.gz"
        sha256 = "{upstream}"
        [[source]]
        url = "{url}/two_1.orig.tar.gz"
        sha256 = "{repack}"
        [build]
        system = "make"
        """)
    return r, repack


def test_a_failed_source_is_said_once_and_not_tried_while_the_copy_is_cached(sb, tmp_path,
                                                                              server):
    http, served = server
    r, _ = two_sources(tmp_path, http.url, served)
    cp = sb("two", "--recipes", str(r))
    said = [line for line in cp.stderr.splitlines() if "/gone/two-1.tar.gz" in line
            and "downloading" not in line]
    assert len(said) == 1, cp.stderr
    assert said[0].strip().startswith(f"two: url {http.url}/gone/two-1.tar.gz: download "
                                      "failed (")
    assert said[0].endswith(f"used url {http.url}/two_1.orig.tar.gz instead")
    assert http.requests() == ["/gone/two-1.tar.gz", "/two_1.orig.tar.gz"]
    # another prefix, same cache: the cached copy is used, the dead URL is not asked again
    again = sb("two", "--recipes", str(r), prefix=tmp_path / "other")
    assert http.requests() == ["/gone/two-1.tar.gz", "/two_1.orig.tar.gz"], again.stderr
    assert "gone" not in again.stderr


def test_on_a_terminal_the_failed_source_leaves_one_line(sb, tmp_path, server):
    http, served = server
    r, _ = two_sources(tmp_path, http.url, served)
    code, raw, _ = in_terminal(sb.argv("two", "--recipes", str(r)), until=None)
    assert code == 0, raw[-2000:]
    text = " ".join("\n".join(screen(raw)).split())  # lines longer than the terminal wrap
    assert text.count("gone") == 1, text
    assert re.search(rf"two: url {http.url}/gone/two-1.tar.gz: download failed \([^)]*\); "
                     rf"used url {http.url}/two_1.orig.tar.gz instead", text), text
    assert "downloading" not in text
    assert f"Installed into {sb.prefix.resolve()}." in text
    # the page's path may wrap anywhere: lines joined as they are, without a space
    assert re.search(r"Report: \S+/runs/\d{8}-\d{6}-\d+\.html", "".join(screen(raw))), text

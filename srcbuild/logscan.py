"""Read what a failed configure, meson or cmake wrote, and name the missing dependency.

Pure over the texts it is given (the step log and the tool's own log), so every pattern is
tested against real tool output.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from srcbuild.kinds import RequirementKind
from srcbuild.requirement import Requirement


@dataclass(frozen=True)
class Finding:
    requirement: Requirement  # what is missing, as a requirement a recipe could state
    evidence: str  # the few lines of the failing test, from the tool's own log when it has one
    source: str  # which log the evidence came from


_PKG_PATTERNS = [
    re.compile(r"No package '([^']+)' found"),
    re.compile(r"Package '([^']+)', required by '[^']+', not found"),
    re.compile(r"Package ([^\s]+) was not found in the pkg-config search path"),
    re.compile(r'Dependency "([^"]+)" not found'),
    re.compile(r"Run-time dependency (\S+) found: NO"),
    re.compile(r"Dependency (\S+) found: NO"),
    re.compile(r"fallback subproject for the dependency (\S+)"),
]
_CMAKE_FIND = re.compile(r"Could NOT find (\w+)")
_PROGRAM = [
    re.compile(r"(?:^|\s)([\w.+-]+): (?:command )?not found"),
    re.compile(r"Program '([^']+)' not found or not executable"),
    re.compile(r"Program (\S+) found: NO"),
]
# Python modules the build's python3 could not import
_MESON_PY_MODULES = re.compile(r"Program \S+ \(([^)]*)\) found: NO(?: modules: ([^\n]*))?")
_PYTHON = [
    re.compile(r"\S+ is missing modules: ([\w., ]+)"),  # meson's find_installation(modules:)
    re.compile(r"Exception: ([\w.]+) module not found"),  # DPDK's buildtools/pmdinfogen.py
    re.compile(r"ModuleNotFoundError: No module named '([\w.]+)'"),
]
_HEADER = re.compile(r"fatal error: ([\w./+-]+\.h): No such file or directory")
_CHECK_LIB = re.compile(r"checking for (\w+) in -l([\w+-]+)\.\.\. no")


def tool_logs(build_dir: Path) -> list[Path]:
    """The logs a configure tool keeps in its build folder, most specific first."""
    candidates = [build_dir / "meson-logs" / "meson-log.txt",
                  build_dir / "CMakeFiles" / "CMakeConfigureLog.yaml",
                  build_dir / "CMakeFiles" / "CMakeError.log",
                  build_dir / "config.log"]
    return [p for p in candidates if p.is_file()]


def _quote(text: str, needle: str, before: int = 3, after: int = 8) -> str:
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if needle in line:
            return "\n".join(lines[max(0, i - before):i + after]).strip()
    return ""


def _config_log_block(config_log: str, test: str) -> str:
    """The lines config.log wrote for one ``checking for ...`` test, up to its result."""
    lines = config_log.splitlines()
    for i in range(len(lines) - 1, -1, -1):
        if f"checking for {test}" in lines[i]:
            block = [lines[i]]
            for line in lines[i + 1:i + 60]:
                if re.match(r"configure:\d+: (checking|result:)", line) and len(block) > 1:
                    block.append(line)
                    break
                if re.search(r"error|undefined reference|No such file|cannot find", line) \
                        or line.startswith(("configure:", "conftest")):
                    block.append(line)
            return "\n".join(block[:14])
    return ""


def failure_window(step_log: str) -> str:
    """The part of a step log that says why the step failed, not every optional probe.

    meson states the fatal dependency in its ``ERROR:`` line; autoconf's ``configure: error``
    follows the failed test it reports; ninja's ``FAILED:`` line is followed by the failed
    command's output; cmake's error block follows the ``Checking for module`` lines.
    Without any of those markers: the last 30 lines.
    """
    lines = step_log.splitlines()
    for i in range(len(lines) - 1, -1, -1):
        line = lines[i]
        if re.search(r"\bERROR: (?!meson setup failed)", line) and "configure:" not in line:
            # meson names the dependency in its ERROR line, or, when the ERROR is about a
            # fallback subproject it may not download, in the line just before it
            before = [x for x in lines[max(0, i - 3):i] if x.strip()][-1:]
            if before and "fallback subproject for the dependency" in before[0]:
                return before[0] + "\n" + line
            return line
        if "configure: error:" in line:
            return "\n".join(lines[max(0, i - 15):i + 1])
        if line.startswith("FAILED: "):
            # ninja: the failed command's output follows its FAILED line, in one piece
            return "\n".join(lines[i:i + 60])
        if line.startswith("CMake Error"):
            start = i
            while start > 0 and i - start < 15 and not lines[start - 1].startswith("CMake Error"):
                start -= 1
            return "\n".join(lines[start:i + 8])
    return "\n".join(lines[-30:])


def scan(step_log: str, tool_texts: dict[str, str]) -> list[Finding]:
    """The missing dependencies that made the step fail, each with its evidence."""
    findings: list[Finding] = []
    seen: set[str] = set()
    window = failure_window(step_log)

    def add(req: Requirement, needle: str) -> None:
        if req.key in seen:
            return
        seen.add(req.key)
        for source, text in list(tool_texts.items()) + [("step log", step_log)]:
            quoted = _quote(text, needle)
            if quoted:
                findings.append(Finding(req, quoted, source))
                return
        findings.append(Finding(req, needle, "step log"))

    for pat in _PKG_PATTERNS:
        for m in pat.finditer(window):
            add(Requirement(RequirementKind.PKGCONFIG, m[1]), m[0])
    for m in _CMAKE_FIND.finditer(window):
        add(Requirement(RequirementKind.PKGCONFIG, m[1].lower()), m[0])
    for pat in _PROGRAM:
        for m in pat.finditer(window):
            name = m[1]
            if name not in ("configure", "make", "sh") and not name.endswith(".h"):
                add(Requirement(RequirementKind.PROGRAM, name), m[0])
    for m in _MESON_PY_MODULES.finditer(window):
        found = {x.strip() for x in (m[2] or "").split(",")}
        for name in (x.strip() for x in m[1].split(",")):
            if name and name not in found:
                add(Requirement(RequirementKind.PYTHON, name), m[0])
    for pat in _PYTHON:
        for m in pat.finditer(window):
            for name in (x.strip() for x in m[1].split(",")):
                if name:
                    add(Requirement(RequirementKind.PYTHON, name), m[0])
    for m in _CHECK_LIB.finditer(window):
        lib = m[2]
        req = Requirement(RequirementKind.LIBRARY, f"lib{lib}.so")
        if req.key not in seen:
            seen.add(req.key)
            block = _config_log_block(tool_texts.get("config.log", ""), f"{m[1]} in -l{lib}")
            findings.append(Finding(req, block or m[0], "config.log" if block else "step log"))
    for m in _HEADER.finditer(window):
        key = f"header:{m[1]}"
        if key not in seen:
            seen.add(key)
            findings.append(Finding(Requirement(RequirementKind.LIBRARY, m[1]), _quote(window, m[0]),
                                    "step log"))
    return findings


def scan_build(step_log: Path, build_dir: Path) -> list[Finding]:
    texts = {}
    for p in tool_logs(build_dir):
        try:
            texts[p.name] = p.read_text(errors="replace")[-400_000:]
        except OSError:
            pass
    try:
        log = step_log.read_text(errors="replace")[-200_000:]
    except OSError:
        log = ""
    return scan(log, texts)

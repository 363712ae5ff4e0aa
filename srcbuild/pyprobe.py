"""The python: probe: which modules the build's python3 imports, and at which version.

Which interpreter: the build's, i.e. the first ``python3`` on the PATH every step gets
(PREFIX/bin first, buildenv.prefix_env), with PREFIX/lib/python3/site-packages first on
PYTHONPATH, as the steps have it. That is what a build system finds and runs (meson's
``find_installation('python3')``, a Makefile's ``python3 gen.py``). It may differ from
``{{ python }}`` in recipes, the interpreter running srcbuild (a venv's, say): a module
srcbuild itself can import says nothing about the build's python3, and the reverse.

One interpreter start answers several modules (``probe_modules``): each is imported once,
its version is its ``__version__``, else the version of its distribution in the package
metadata (importlib.metadata; the distribution's name where it differs from the module's
comes from DISTRIBUTIONS or from the metadata itself). The start also reports the
interpreter's own version, so ``program:python3`` need not start it a second time.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

# Where recipes install pure-Python modules: one folder whatever the Python version, like
# Debian's /usr/lib/python3/dist-packages (a compiled extension module belongs elsewhere).
SITE_PACKAGES = ("lib", "python3", "site-packages")

# Module -> distribution names where they differ, for a module without __version__ whose
# distribution's metadata does not name its top-level modules (no top_level.txt or RECORD,
# as in Debian's egg-info of some packages). The metadata's own mapping is tried as well.
DISTRIBUTIONS: dict[str, list[str]] = {
    "elftools": ["pyelftools"],
    "yaml": ["PyYAML"],
    "jinja2": ["Jinja2"],
    "mako": ["Mako"],
    "markupsafe": ["MarkupSafe"],
    "pkg_resources": ["setuptools"],
    "google.protobuf": ["protobuf"],
}

# Runs in the build's python3, whatever its version (3.6 on): no walrus, no match, no
# f-strings with `=`. Its one line of output is marked, since an imported module may print.
_SCRIPT = r"""
import importlib, json, sys, warnings
if sys.path and sys.path[0] == "":
    del sys.path[0]  # -c puts the working folder first; a build step has no such entry
names, dists = json.loads(sys.argv[1]), json.loads(sys.argv[2])
out, sys.stdout = sys.stdout, sys.stderr
warnings.simplefilter("ignore")
by_module = []

def dist_version(name):
    try:
        import importlib.metadata as md  # only here: it costs a third of the start
    except ImportError:
        return None
    top = name.split(".")[0]
    candidates = list(dists.get(name, [])) + list(dists.get(top, []))
    if hasattr(md, "packages_distributions"):
        if not by_module:
            by_module.append(md.packages_distributions())
        candidates += by_module[0].get(top, [])
    for dist in candidates + [top]:
        try:
            return md.version(dist)
        except Exception:
            pass
    return None

modules = {}
for name in names:
    try:
        mod = importlib.import_module(name)
    except BaseException as e:
        modules[name] = {"error": "%s: %s" % (type(e).__name__, e)}
        continue
    version = getattr(mod, "__version__", None)
    if isinstance(version, tuple):
        version = ".".join(str(x) for x in version)
    if not isinstance(version, str):
        version = dist_version(name)
    where = getattr(mod, "__file__", None) or next(iter(getattr(mod, "__path__", [])), None)
    modules[name] = {"version": version, "file": where}
out.write("\nSRCBUILD-PYTHON-PROBE " + json.dumps(
    {"executable": sys.executable, "version": sys.version.split()[0], "modules": modules})
    + "\n")
out.flush()
"""
_MARK = "SRCBUILD-PYTHON-PROBE "


def site_packages(prefix: Path) -> Path:
    """``PREFIX/lib/python3/site-packages``: put on PYTHONPATH in every step and by `env`."""
    return prefix.joinpath(*SITE_PACKAGES)


def python_path(prefixes: Iterable[Path], existing: str | None) -> str:
    """PYTHONPATH with the prefixes' site-packages first (the build's and the probe's)."""
    parts = [str(site_packages(p)) for p in prefixes] + [
        p for p in (existing or "").split(":") if p]
    return ":".join(dict.fromkeys(parts))


@dataclass(frozen=True)
class Module:
    """What one import in the build's python3 gave: a version and a path, or the error."""

    name: str
    version: str | None = None
    path: str = ""  # the module's file, or its package's folder
    error: str = ""  # the exception the import raised; "" when it imported

    @property
    def found(self) -> bool:
        return not self.error


@dataclass(frozen=True)
class Interpreter:
    """One start of a python3: what it is and what it imported."""

    command: str  # as found on PATH (a pyenv shim, a venv's link)
    executable: str = ""  # sys.executable: the real interpreter
    version: str | None = None
    modules: dict[str, Module] = field(default_factory=dict)
    error: str = ""  # why the start itself failed; then every module is missing

    def describe(self) -> str:
        """'/usr/bin/python3 (Python 3.11.2)', naming the real one behind a shim or link."""
        real = (f" = {self.executable}" if self.executable
                and os.path.realpath(self.executable) != os.path.realpath(self.command)
                else "")
        v = f"Python {self.version}" if self.version else "version unknown"
        return f"{self.command} ({v}{real})"


def module_path(file: str | None) -> str:
    """A package's folder rather than its ``__init__.py``; a module's own file."""
    if not file:
        return "(built in)"
    base = os.path.basename(file)
    return os.path.dirname(file) if base.startswith("__init__.") else file


def probe_modules(python: str, names: Iterable[str], environ: Mapping[str, str],
                  timeout: float = 120) -> Interpreter:
    """Import ``names`` in one start of ``python`` with ``environ``; never raises for a miss.

    The timeout is generous: a loaded machine or a slow import (a big package) must not
    make a module look missing; a start that fails is reported as such, not as a miss.
    """
    wanted = list(dict.fromkeys(names))
    # -B: a probe writes nothing, no __pycache__ into the prefix or the user's folders
    argv = [python, "-B", "-c", _SCRIPT, json.dumps(wanted), json.dumps(DISTRIBUTIONS)]
    try:
        cp = subprocess.run(argv, check=False, capture_output=True, text=True, errors="replace", env=dict(environ),
                            timeout=timeout, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        return _failed(python, wanted, f"{python} did not run: {e}")
    lines = [line for line in cp.stdout.splitlines() if line.startswith(_MARK)]
    if not lines:
        tail = (cp.stderr.strip().splitlines() or [f"exit status {cp.returncode}"])[-1]
        return _failed(python, wanted, f"{python} failed: {tail}")
    report = json.loads(lines[-1][len(_MARK):])
    modules = {}
    for name in wanted:
        m = report["modules"].get(name, {"error": "not reported"})
        modules[name] = Module(name, m.get("version"), module_path(m.get("file")),
                               m.get("error", ""))
    return Interpreter(python, report["executable"], report["version"], modules)


def _failed(python: str, names: list[str], why: str) -> Interpreter:
    return Interpreter(python, modules={n: Module(n, error=why) for n in names}, error=why)


# The distribution's interpreter, and the usual place of a locally built one: where a
# module the build's python3 lacks is often installed all the same (python3-pyelftools).
OTHER_PYTHONS = ("/usr/bin/python3", "/usr/local/bin/python3")


def other_pythons(path_dirs: Iterable[str], build: str | None) -> list[str]:
    """The python3 programs on this machine other than the build's: the later ones on PATH,
    then OTHER_PYTHONS; one of each real file (a second link to the build's is left out)."""
    seen = {os.path.realpath(build)} if build else set()
    out = []
    for candidate in [os.path.join(d, "python3") for d in path_dirs] + list(OTHER_PYTHONS):
        real = os.path.realpath(candidate)
        if real not in seen and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            seen.add(real)
            out.append(candidate)
    return out

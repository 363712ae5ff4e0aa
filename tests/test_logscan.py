"""The log reader on the shapes real tools write (pure: the texts are given)."""

from __future__ import annotations

from srcbuild.logscan import scan

CONFIG_LOG = """\
configure:12831: checking for zlibVersion in -lz
configure:12856: gcc -o conftest -g -O2   conftest.c -lz  -lm >&5
/usr/bin/ld: cannot find -lz: No such file or directory
collect2: error: ld returned 1 exit status
configure:12856: $? = 1
configure: failed program was:
| /* confdefs.h */
| char zlibVersion ();
configure:12865: result: no
configure:12880: error: zlib not installed
"""

STEP_LOG = """\
checking for pow in -lm... yes
checking for zlibVersion in -lz... no
configure: error: zlib not installed
"""


def test_ac_check_lib_quotes_config_log():
    (f,) = scan(STEP_LOG, {"config.log": CONFIG_LOG})
    assert str(f.requirement) == "library:libz.so"
    assert f.source == "config.log"
    assert "cannot find -lz" in f.evidence and "checking for zlibVersion in -lz" in f.evidence


def test_meson_error_unrelated_to_dependencies_blames_none():
    log = ("Run-time dependency liburing found: NO (tried pkgconfig)\n"
           "Run-time dependency libnfs found: NO (tried pkgconfig)\n"
           "pc-bios/meson.build:15:4: ERROR: File edk2-aarch64-code.fd.bz2 does not exist.\n"
           "ERROR: meson setup failed\n")
    assert scan(log, {}) == []


def test_meson_fatal_dependency_only():
    log = ("Run-time dependency liburing found: NO (tried pkgconfig)\n"
           "meson.build:30:0: ERROR: Dependency \"glib-2.0\" not found, tried pkgconfig\n")
    assert [str(f.requirement) for f in scan(log, {})] == ["pkgconfig:glib-2.0"]


def test_program_not_found():
    log = "/bin/sh: 1: flex: not found\nmake[2]: *** [scripts/Makefile.host:9: lexer.c] Error 127\n"
    assert [str(f.requirement) for f in scan(log, {})] == ["program:flex"]


def test_meson_fallback_that_may_not_be_downloaded():
    log = ("Run-time dependency iconv found: YES\n"
           "Run-time dependency libpcre2-8 found: NO (tried pkgconfig and cmake)\n"
           "Looking for a fallback subproject for the dependency libpcre2-8\n\n"
           "meson.build:2079:2: ERROR: Automatic wrap-based subproject downloading is disabled\n")
    assert [str(f.requirement) for f in scan(log, {})] == ["pkgconfig:libpcre2-8"]

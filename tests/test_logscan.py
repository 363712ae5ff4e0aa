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


# DPDK 22.11 without elftools (real output, paths shortened): meson's configure only notes
# it, falls back to `meson runpython`, and the build fails in pmdinfogen.py
DPDK_CONFIGURE = """\
Program objdump found: YES (/usr/bin/objdump)
Program python3 (elftools) found: NO
Program cat found: YES (/usr/bin/cat)
Checking for size of "void *" : 8
"""
DPDK_BUILD = """\
ninja: Entering directory `build-noelf'
[1/4] Compiling C object drivers/libtmp_rte_bus_vdev.a.p/bus_vdev_vdev_params.c.o
[2/4] Compiling C object drivers/libtmp_rte_bus_vdev.a.p/bus_vdev_vdev.c.o
[3/4] Linking static target drivers/libtmp_rte_bus_vdev.a
[4/4] Generating drivers/rte_bus_vdev.pmd.c with a custom command
FAILED: drivers/rte_bus_vdev.pmd.c 
/w/mvenv/bin/meson runpython ../src/buildtools/gen-pmdinfo-cfile.py /w/hand/build-noelf/buildtools ar /w/hand/build-noelf/drivers/libtmp_rte_bus_vdev.a drivers/rte_bus_vdev.pmd.c meson runpython ../src/buildtools/pmdinfogen.py elf
Traceback (most recent call last):
  File "/w/mvenv/lib/python3.11/site-packages/mesonbuild/mesonmain.py", line 194, in run
    return options.run_func(options)
           ^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/w/mvenv/lib/python3.11/site-packages/mesonbuild/mesonmain.py", line 149, in run_runpython_command
    runpy.run_path(options.script_file, run_name='__main__')
  File "<frozen runpy>", line 291, in run_path
  File "<frozen runpy>", line 98, in _run_module_code
  File "<frozen runpy>", line 88, in _run_code
  File "../src/buildtools/pmdinfogen.py", line 255, in <module>
    main()
  File "../src/buildtools/pmdinfogen.py", line 244, in main
    raise Exception("elftools module not found")
Exception: elftools module not found
Traceback (most recent call last):
  File "/w/mvenv/lib/python3.11/site-packages/mesonbuild/mesonmain.py", line 194, in run
    return options.run_func(options)
           ^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/w/mvenv/lib/python3.11/site-packages/mesonbuild/mesonmain.py", line 149, in run_runpython_command
    runpy.run_path(options.script_file, run_name='__main__')
  File "<frozen runpy>", line 291, in run_path
  File "<frozen runpy>", line 98, in _run_module_code
  File "<frozen runpy>", line 88, in _run_code
  File "../src/buildtools/gen-pmdinfo-cfile.py", line 21, in <module>
    subprocess.run(pmdinfogen + paths + [output], check=True)
  File "/root/.pyenv/versions/3.11.7/lib/python3.11/subprocess.py", line 571, in run
    raise CalledProcessError(retcode, process.args,
subprocess.CalledProcessError: Command '['meson', 'runpython', '../src/buildtools/pmdinfogen.py', 'elf', '/w/hand/build-noelf/drivers/libtmp_rte_bus_vdev.a.p/bus_vdev_vdev.c.o', '/w/hand/build-noelf/drivers/libtmp_rte_bus_vdev.a.p/bus_vdev_vdev_params.c.o', 'drivers/rte_bus_vdev.pmd.c']' returned non-zero exit status 2.
ninja: build stopped: subcommand failed.
"""


def test_dpdk_without_elftools_fails_in_the_build_and_names_the_module():
    (f,) = scan(DPDK_BUILD, {"meson-log.txt": DPDK_CONFIGURE})
    assert str(f.requirement) == "python:elftools"
    assert "Exception: elftools module not found" in f.evidence
    # with -j2 ninja lets the other jobs finish: their lines come after the failed one's
    lines = DPDK_BUILD.splitlines()
    others = [f"[{i}/900] Compiling C object lib/librte_eal.a.p/eal_{i}.c.o" for i in range(40)]
    (f,) = scan("\n".join(lines[:-1] + others + lines[-1:]), {})
    assert str(f.requirement) == "python:elftools"


def test_meson_python_modules_found_no():
    log = DPDK_CONFIGURE + "Message: no fatal marker in this log\n"
    assert [str(f.requirement) for f in scan(log, {})] == ["python:elftools"]
    # only the modules meson did not find; json was found
    log = "Program python3 (json, yaml) found: NO modules: json\n"
    assert [str(f.requirement) for f in scan(log, {})] == ["python:yaml"]
    # a configure that failed for another reason does not blame the module meson noted
    log = DPDK_CONFIGURE + ("drivers/meson.build:44:8: ERROR: Problem encountered: "
                           "enable_drivers: \"net/nosuch\" matches no driver folder\n")
    assert scan(log, {}) == []


def test_module_not_found_error():
    log = ("python3 gen.py > out.c\nTraceback (most recent call last):\n"
           '  File "gen.py", line 1, in <module>\n    import yaml.constructor\n'
           "ModuleNotFoundError: No module named 'yaml'\nmake: *** [Makefile:3: out.c] Error 1\n")
    assert [str(f.requirement) for f in scan(log, {})] == ["python:yaml"]

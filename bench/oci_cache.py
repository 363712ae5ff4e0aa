"""The OCI binary cache, side by side in one run, against a local docker-registry:

  cold       build from source, no binary cache
  cold+push  build from source, pushing every package to the registry
  restore    restore everything from the registry (--binary-cache-only)

Each run installs into the same, emptied prefix path with a fresh, empty cache folder (the
sources come from --mirror, as on a CI runner whose source cache is empty). The registry
runs on 127.0.0.1 with a temp storage folder and is stopped by pid at the end. Cold and
cold+push alternate in order between rounds; besides wall time, the CPU time of the run and
the store step itself (from its events: the end of the check to `cache_store`, i.e. packing
and pushing) are printed, since on a shared machine wall times of builds move by tens of
percent between runs. With ``--clients N``, N restores then run at once, each in its own mount
namespace with a private tmpfs on the same prefix path: a classroom on one machine.

    .venv/bin/python bench/oci_cache.py --mirror /work/shared-cache/sources \\
        --rounds 2 --clients 30 -- libpng --from-source zlib --from-source libpng
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def start_registry(root: Path) -> tuple[subprocess.Popen[bytes], int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    (root / "config.yml").write_text(
        "version: 0.1\nlog: {level: warn, accesslog: {disabled: true}}\n"
        f"storage: {{filesystem: {{rootdirectory: {root / 'data'}}}}}\n"
        f"http: {{addr: '127.0.0.1:{port}', secret: bench}}\n")
    registry = shutil.which("docker-registry")
    if registry is None:
        sys.exit("SKIP: docker-registry is not installed (apt-get install docker-registry)")
    proc = subprocess.Popen([registry, "serve", str(root / "config.yml")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.terminate()
    sys.exit("docker-registry did not start")


def cpu_of_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(args: list[str], prefix: Path, cache: Path, extra: list[str]) -> dict:
    shutil.rmtree(prefix, ignore_errors=True)
    shutil.rmtree(cache, ignore_errors=True)
    cpu0, t0 = cpu_of_children(), time.perf_counter()
    subprocess.run([sys.executable, "-m", "srcbuild", "install", *args, "--prefix", str(prefix),
                    "--cache-dir", str(cache), "--quiet", *extra],
                   check=True, cwd=ROOT, capture_output=True)
    seconds, cpu = time.perf_counter() - t0, cpu_of_children() - cpu0
    events = [json.loads(line) for line in (cache / "runs" / "last").read_text()
              .splitlines()]
    per = {e["recipe"]: (e["status"], e["seconds"]) for e in events
           if e["event"] == "package_end"}
    last_end: dict[str, float] = {}
    store = 0.0
    for e in events:
        if e["event"] == "step_end":
            last_end[e["recipe"]] = e["time"]
        elif e["event"] == "cache_store":
            store += e["time"] - last_end[e["recipe"]]
    return {"wall": seconds, "cpu": cpu, "store": store, "per": per}


def classroom(args: list[str], prefix: Path, root: Path, extra: list[str], n: int) -> float:
    """N restores at once, each seeing an empty private tmpfs at the same prefix path."""
    prefix.mkdir(parents=True, exist_ok=True)
    procs = []
    t0 = time.perf_counter()
    for i in range(n):
        argv = [sys.executable, "-m", "srcbuild", "install", *args, "--prefix", str(prefix),
                "--cache-dir", str(root / f"client-{i}"), "--quiet", *extra]
        script = 'mount -t tmpfs srcbuild-bench "$1" && shift && exec "$@"'
        procs.append(subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
             str(prefix), *argv], cwd=ROOT, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE))
    failed = [p.stderr.read().decode()[-500:] for p in procs if p.wait() != 0 and p.stderr]
    seconds = time.perf_counter() - t0
    if failed:
        sys.exit(f"{len(failed)} of {n} restores failed:\n{failed[0]}")
    return seconds


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--mirror", action="append", default=[])
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--clients", type=int, default=0, help="then N restores at once (root)")
    p.add_argument("--scratch", type=Path, default=None, help="where prefix and caches go")
    p.add_argument("-j", "--jobs", default="2")
    p.add_argument("graph", nargs="*")
    ns = p.parse_args()
    args = ns.graph or ["libpng", "--from-source", "zlib", "--from-source", "libpng"]
    common = ["-j", ns.jobs] + [a for m in ns.mirror for a in ("--mirror", m)]
    kinds = ("cold", "cold+push", "restore")
    with tempfile.TemporaryDirectory(dir=ns.scratch) as tmp:
        root = Path(tmp)
        (root / "registry").mkdir()
        proc, port = start_registry(root / "registry")
        try:
            prefix, cache = root / "prefix", root / "cache"
            results: dict[str, list[dict]] = {k: [] for k in kinds}
            for r in range(ns.rounds):
                url = f"oci://127.0.0.1:{port}/bench/round{r}"  # a fresh repository per round
                plan = [("cold", []), ("cold+push", ["--binary-cache", url])]
                plan = plan if r % 2 == 0 else plan[::-1]
                plan.append(("restore", ["--binary-cache", url, "--binary-cache-only"]))
                for kind, extra in plan:
                    res = run(args, prefix, cache, common + extra)
                    results[kind].append(res)
                    print(f"round {r + 1} {kind:<10} wall {res['wall']:7.2f}s  cpu "
                          f"{res['cpu']:7.2f}s  store step {res['store']:5.2f}s", flush=True)
            stored = sum(f.stat().st_size for f in (root / "registry" / "data").rglob("data"))
            crowd = 0.0
            if ns.clients:
                shutil.rmtree(cache, ignore_errors=True)
                crowd = classroom(args, prefix, root, common + [
                    "--binary-cache", f"oci://127.0.0.1:{port}/bench/round0",
                    "--binary-cache-only"], ns.clients)
        finally:
            proc.terminate()
            proc.wait()
    print(f"\n{'package':<12} " + " ".join(f"{k:>18}" for k in kinds) + "   (last round)")
    for name in results["cold"][-1]["per"]:
        cells = [f"{results[k][-1]['per'][name][0]} {results[k][-1]['per'][name][1]:.2f}s"
                 for k in kinds]
        print(f"{name:<12} " + " ".join(f"{c:>18}" for c in cells))

    def median(kind: str, key: str) -> float:
        values = sorted(r[key] for r in results[kind])
        return values[len(values) // 2] if len(values) % 2 else \
            (values[len(values) // 2 - 1] + values[len(values) // 2]) / 2

    cold, push, restore = (median(k, "wall") for k in kinds)
    print(f"\n{' '.join(args)} (-j {ns.jobs}, {ns.rounds} round(s), medians; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the end):")
    print(f"  cold build          wall {cold:7.2f}s  cpu {median('cold', 'cpu'):7.2f}s")
    print(f"  cold build + push   wall {push:7.2f}s  cpu {median('cold+push', 'cpu'):7.2f}s"
          f"  (wall {(push / cold - 1) * 100:+.1f}%, cpu "
          f"{(median('cold+push', 'cpu') / median('cold', 'cpu') - 1) * 100:+.1f}%)")
    print(f"  of which the store step (pack + push, all packages): "
          f"{median('cold+push', 'store'):.2f}s = "
          f"{median('cold+push', 'store') / push * 100:.1f}% of the cold+push wall time")
    print(f"  restore             wall {restore:7.2f}s  cpu {median('restore', 'cpu'):7.2f}s"
          f"  cold/restore {cold / restore:.1f}x")
    print(f"  registry storage after {ns.rounds} round(s): {stored / 1e6:.2f} MB")
    if ns.clients:
        print(f"  {ns.clients} restores at once (one mount namespace each, same prefix path): "
              f"{crowd:.2f}s wall for all")


if __name__ == "__main__":
    main()

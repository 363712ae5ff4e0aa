#!/bin/sh
# examples-check.sh: two of DPDK's own examples, built from the installed sources
# (PREFIX/share/dpdk/examples) with their own Makefiles, which find DPDK only through
# `pkg-config libdpdk`: helloworld runs on two lcores, l2fwd forwards between two null
# ports for two seconds (when the null PMD was built). DPDK's runtime folders are removed.
set -u
libdir=$(pkg-config --variable=libdir libdpdk) || exit 1
examples=$(pkg-config --variable=prefix libdpdk)/share/dpdk/examples
rundir=/var/run/dpdk
[ "$(id -u)" = 0 ] || rundir=${XDG_RUNTIME_DIR:-/tmp}/dpdk
fp=dpdk-sample-examples-$$
trap 'rm -rf "${rundir:?}/$fp"; rmdir "$rundir" 2>/dev/null' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
lcores=$(python3 -c 'import os; c = sorted(os.sched_getaffinity(0)); print("--lcores=0@%d,1@%d" % (c[0], c[min(1, len(c) - 1)]))') || exit 1
eal="--no-huge --no-pci --no-shconf --no-telemetry -m 128 $lcores --file-prefix=$fp"

for app in helloworld l2fwd; do
    rm -rf "$app"
    cp -R "$examples/$app" "$app" || exit 1
    make -C "$app" shared || { echo "FAIL: DPDK's example $app does not build" >&2; exit 1; }
done

# the examples' Makefiles set no rpath: the loader is told where DPDK's libraries are
out=$(LD_LIBRARY_PATH=$libdir timeout 60 helloworld/build/helloworld $eal 2>&1); rc=$?
printf '%s\n' "$out"
if [ "$rc" -ne 0 ] || ! printf '%s\n' "$out" | grep -q 'hello from core 1'; then
    echo "FAIL: helloworld exited with status $rc, or no hello from the worker lcore" >&2
    exit 1
fi
echo "PASS: helloworld, built through pkg-config, said hello from both lcores"

if ! ls "$libdir"/dpdk/pmds-*/librte_net_null.so >/dev/null 2>&1; then
    echo "SKIP: l2fwd run: DPDK was built without net/null"
    exit 0
fi
# l2fwd stops on SIGINT and prints its port statistics every second (-T 1) until then
out=$(LD_LIBRARY_PATH=$libdir timeout --preserve-status -s INT 3 l2fwd/build/l2fwd $eal \
      --vdev=net_null0 --vdev=net_null1 -- -p 0x3 -T 1 2>&1); rc=$?
printf '%s\n' "$out" | tail -n 25
forwarded=$(printf '%s\n' "$out" | awk '/Total packets sent:/ { n = $4 } END { print n + 0 }')
if [ "$rc" -ne 0 ] || [ "$forwarded" -eq 0 ]; then
    echo "FAIL: l2fwd exited with status $rc, $forwarded packets sent" >&2
    exit 1
fi
echo "PASS: l2fwd forwarded $forwarded packets between two null ports"

#!/bin/sh
# testpmd-smoke.sh DRIVERS: the dpdk recipe's check. The testpmd on PATH (the staged one)
# brings EAL up without hugepages and PCI, receives for a second from a null or ring port
# (the null PMD makes packets up, a ring port loops back what it sends), stops, and must
# report a non-zero RX count. DPDK's runtime folder is removed afterwards.
set -u
case ",$1," in
    *,net/null,*) vdev=net_null0 ;;
    *,net/ring,*) vdev=net_ring0; fwd="--forward-mode=io --tx-first" ;;
    *) echo "SKIP: testpmd smoke test: the driver list ($1) has neither net/null nor net/ring"; exit 0 ;;
esac
fp=srcbuild-dpdk-check-$$
rundir=/var/run/dpdk
[ "$(id -u)" = 0 ] || rundir=${XDG_RUNTIME_DIR:-/tmp}/dpdk
log=$(mktemp) || exit 1
trap 'rm -f "$log"; rm -rf "${rundir:?}/$fp"; rmdir "$rundir" 2>/dev/null' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
lcores=$(python3 -c 'import os; c = sorted(os.sched_getaffinity(0)); print("--lcores=0@%d,1@%d" % (c[0], c[min(1, len(c) - 1)]))') || exit 1
# testpmd stops and prints its statistics when a line reaches its standard input
(sleep 1; echo) | timeout 60 dpdk-testpmd --no-huge --no-pci --no-shconf --no-telemetry -m 128 \
    "$lcores" --file-prefix="$fp" --vdev="$vdev" -- ${fwd:---forward-mode=rxonly} \
    --port-topology=loop --total-num-mbufs=2048 --no-mlockall >"$log" 2>&1
rc=$?
cat "$log"
rx=$(awk '/Accumulated forward statistics/ { getline; print $2; exit }' "$log")
if [ "$rc" -ne 0 ] || [ -z "$rx" ] || [ "$rx" -eq 0 ]; then
    echo "FAIL: testpmd on $vdev: exit status $rc, RX count ${rx:-none}" >&2
    exit 1
fi
echo "PASS: testpmd on $vdev: RX count $rx"

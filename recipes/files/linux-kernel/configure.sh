#!/bin/sh
# The configure step of the linux-kernel recipes (one script, so that every architecture's
# recipe configures the same way):
#   configure.sh SOURCE_DIR BUILD_DIR ARCH CROSS_COMPILE FRAGMENT
# `make tinyconfig`, the fragment merged with the kernel's own merge_config.sh, then
# `make olddefconfig`; it fails when a fragment line did not survive into .config
# (merge_config.sh only warns), naming each lost line.
set -e
src=$1 build=$2 arch=$3 cross=$4 fragment=$5
[ -f "$fragment" ] || { echo "linux-kernel: no config fragment $fragment for ARCH=$arch" >&2; exit 1; }
make -C "$src" O="$build" ARCH="$arch" CROSS_COMPILE="$cross" tinyconfig
"$src/scripts/kconfig/merge_config.sh" -m -O "$build" "$build/.config" "$fragment"
make -C "$src" O="$build" ARCH="$arch" CROSS_COMPILE="$cross" olddefconfig
grep -E '^(CONFIG_[A-Za-z0-9_]+=|# CONFIG_[A-Za-z0-9_]+ is not set$)' "$fragment" > "$build/fragment.lines"
bad=0
while IFS= read -r line; do
  grep -qxF "$line" "$build/.config" || { echo "linux-kernel: fragment line not in .config: $line" >&2; bad=1; }
done < "$build/fragment.lines"
[ "$bad" -eq 0 ] && echo "linux-kernel: all $(wc -l < "$build/fragment.lines") lines of $(basename "$fragment") are in .config"
exit $bad

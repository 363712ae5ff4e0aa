#!/bin/sh
# The configure step of the busybox recipes:
#   configure.sh SOURCE_DIR BUILD_DIR ARCH CROSS_COMPILE FRAGMENT
# `make defconfig`, then every line of the fragment replaces the same symbol in .config,
# `yes "" | make oldconfig` settles dependencies (busybox's old kconfig has no
# olddefconfig), and the step fails if a fragment line did not survive.
set -e
src=$1 build=$2 arch=$3 cross=$4 frag=$5
make -C "$src" O="$build" ARCH="$arch" CROSS_COMPILE="$cross" defconfig
grep -E '^(CONFIG_[A-Za-z0-9_]+=|# CONFIG_[A-Za-z0-9_]+ is not set$)' "$frag" > "$build/fragment.lines"
while IFS= read -r line; do
  sym=$(printf '%s\n' "$line" | sed -E 's/^# (CONFIG_[A-Za-z0-9_]+) is not set$/\1/; s/^(CONFIG_[A-Za-z0-9_]+)=.*/\1/')
  sed -i -E "/^$sym=|^# $sym is not set\$/d" "$build/.config"
  printf '%s\n' "$line" >> "$build/.config"
done < "$build/fragment.lines"
yes '' | make -C "$src" O="$build" ARCH="$arch" CROSS_COMPILE="$cross" oldconfig
while IFS= read -r line; do
  grep -qxF "$line" "$build/.config" || { echo "busybox: fragment line lost in .config: $line" >&2; exit 1; }
done < "$build/fragment.lines"

#!/usr/bin/env bash
# Builds weir_sim_iio.ko and industrialio-buffer-dma.ko (from the matching linux-source)
# against the unpacked Debian headers. Output: $CACHE/build-<ver>/modules/*.ko
source "$(dirname "$0")/common.sh"
ver="$(kernel_version)"
K="$CACHE/kernel-$ver/root"
B="$CACHE/build-$ver/modules"
mkdir -p "$B"
cp "$KDIR_BENCH/module/Kbuild" "$KDIR_BENCH/module/weir_sim_iio.c" "$B/"
cp "$CACHE/source-$ver/drivers/iio/buffer/industrialio-buffer-dma.c" "$B/"
log "building modules for $ver-amd64"
# The kernel's own toolchain is the host gcc-12; the kbuild tools come from the unpacked
# linux-kbuild package.
make -s -C "$K/usr/src/linux-headers-$ver-amd64" M="$B" modules >"$B/build.log" 2>&1 || {
    cat "$B/build.log" >&2; die "module build failed"; }
grep -iE "warning|error" "$B/build.log" >&2 || true
ls "$B"/weir_sim_iio.ko "$B"/industrialio-buffer-dma.ko >/dev/null

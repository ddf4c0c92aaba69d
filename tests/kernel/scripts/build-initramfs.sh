#!/usr/bin/env bash
# Builds the initramfs: busybox-static, the IIO core modules of the kernel package
# (decompressed), the bench's modules, the seed's run's modules (/modules/seed: the IIO core
# with the seed's ALLOC/ENQUEUE and everything built against it, debug info stripped), /init, the guest test binary, the static `weir` command
# and the bench's TOML flowgraphs (/flowgraphs).
# Usage: build-initramfs.sh GUEST_BINARY WEIR_BINARY  -> prints the path of the cpio archive.
source "$(dirname "$0")/common.sh"
guest_bin="$1"
weir_bin="$2"
ver="$(kernel_version)"
K="$CACHE/kernel-$ver/root"
KM="$K/lib/modules/$ver-amd64/kernel/drivers/iio"
B="$CACHE/build-$ver"
R="$B/initramfs"
rm -rf "$R"; mkdir -p "$R"/{bin,modules/seed,proc,sys,dev,tmp,flowgraphs}
cp "$K/bin/busybox" "$R/bin/busybox"
ln -s busybox "$R/bin/sh"
xz -dc "$KM/industrialio.ko.xz" >"$R/modules/industrialio.ko"
xz -dc "$KM/buffer/kfifo_buf.ko.xz" >"$R/modules/kfifo_buf.ko"
cp "$B/modules/industrialio-buffer-dma.ko" "$B/modules/weir_sim_iio.ko" "$R/modules/"
for m in industrialio kfifo_buf industrialio-buffer-dma weir_sim_iio; do
    strip --strip-debug -o "$R/modules/seed/$m.ko" "$B/seed-modules/$m.ko"
done
cp "$KDIR_BENCH/guest-init" "$R/init"
cp "$guest_bin" "$R/weir-kbench-guest"
cp "$weir_bin" "$R/weir"
cp "$KDIR_BENCH"/flowgraphs/*.toml "$R/flowgraphs/"
chmod +x "$R/init" "$R/weir-kbench-guest" "$R/weir" "$R/bin/busybox"
(cd "$R" && find . -print0 | cpio --null -o -H newc --quiet) >"$B/initramfs.cpio"
echo "$B/initramfs.cpio"

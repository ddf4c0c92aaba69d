#!/usr/bin/env bash
# Downloads (does not install) the current Debian 6.12 kernel, its headers and kbuild, the
# matching kernel source and busybox-static, and unpacks them in the cache. Idempotent: a
# version already unpacked is reused; a new security update is fetched next to it.
source "$(dirname "$0")/common.sh"

apt_download() { # package... -> .deb files in $CACHE/debs
    mkdir -p "$CACHE/debs"
    (cd "$CACHE/debs" && apt-get download -qq "$@" >/dev/null 2>&1) || {
        log "apt-get download $* failed; refreshing package lists"
        SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
        $SUDO apt-get update -qq
        (cd "$CACHE/debs" && apt-get download -qq "$@" >/dev/null)
    }
}

resolve() {
    apt-cache depends linux-image-6.12-amd64 2>/dev/null \
        | sed -n 's/^ *Depends: linux-image-\(6\.12\.[^ ]*\)-amd64$/\1/p' | head -1
}
ver="$(resolve)"
if [ -z "$ver" ]; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    ver="$(resolve)"
fi
[ -n "$ver" ] || die "cannot resolve linux-image-6.12-amd64 to a concrete kernel"
log "kernel $ver-amd64"
K="$CACHE/kernel-$ver"

if [ ! -f "$K/.unpacked" ]; then
    rm -rf "$K"; mkdir -p "$K/root"
    apt_download "linux-image-$ver-amd64" "linux-headers-$ver-amd64" \
        "linux-headers-$ver-common" "linux-kbuild-$ver" busybox-static
    for pkg in "linux-image-$ver-amd64" "linux-headers-$ver-amd64" \
        "linux-headers-$ver-common" "linux-kbuild-$ver" busybox-static; do
        deb="$(ls -t "$CACHE/debs/${pkg}"_*.deb | head -1)"
        dpkg -x "$deb" "$K/root"
    done
    touch "$K/.unpacked"
fi
# The headers' Makefile includes the common tree by absolute path: point it here (again on
# every run, so that a cache copied or moved to another checkout still builds).
mk="$K/root/usr/src/linux-headers-$ver-amd64/Makefile"
sed -i "1s|^include .*/usr/src/linux-headers-$ver-common/Makefile\$|include $K/root/usr/src/linux-headers-$ver-common/Makefile|" "$mk"

# The kernel source of the same version: the DMA buffer layer (not in Debian's kernel), and
# for the seed's run (scripts/build-modules.sh) the IIO core module's sources, the kfifo
# buffer and the headers the seed's patch changes. Everything else stays in the tarball.
src_files=(
    drivers/iio/Makefile drivers/iio/iio_core.h drivers/iio/iio_core_trigger.h
    drivers/iio/industrialio-core.c drivers/iio/industrialio-event.c drivers/iio/inkern.c
    drivers/iio/industrialio-buffer.c drivers/iio/industrialio-trigger.c
    drivers/iio/industrialio-acpi.c
    drivers/iio/buffer/industrialio-buffer-dma.c drivers/iio/buffer/kfifo_buf.c
    include/linux/iio/buffer_impl.h include/linux/iio/buffer-dma.h
    include/uapi/linux/iio/buffer.h
)
S="$CACHE/source-$ver"
missing=0
for f in "${src_files[@]}"; do [ -f "$S/$f" ] || missing=1; done
if [ ! -f "$S/.unpacked" ] || [ "$missing" = 1 ]; then
    # The source package of exactly the kernel image's version, not the newest: Debian's
    # security archive can carry a linux-source before the signed image of the same version
    # (seen on 2026-12-02: linux-source-6.12 6.12.118-1~deb12u1, newest image 6.12.117), and
    # keeps the older source versions downloadable.
    src_ver="$(apt-cache policy "linux-image-$ver-amd64" | sed -n 's/^ *Candidate: //p')"
    src_vers="$(apt-cache madison linux-source-6.12 | awk -F'|' '{gsub(/ /, "", $2); print $2}')"
    [ -n "$src_ver" ] && grep -qxF "$src_ver" <<<"$src_vers" ||
        die "linux-source-6.12 ${src_ver:-?} (the version of linux-image-$ver-amd64) is not in the package lists, which have: $(tr '\n' ' ' <<<"$src_vers")"
    rm -rf "$S"; mkdir -p "$S"
    apt_download "linux-source-6.12=$src_ver"
    deb="$(ls -t "$CACHE"/debs/linux-source-6.12_*.deb | head -1)"
    tarball="$(dpkg-deb -c "$deb" | awk '{print $6}' | grep 'linux-source-6.12.tar.xz$')"
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$S" "$tarball"
    # They compile against the headers package of the same version.
    tar -xJf "$S/$tarball" -C "$S" --strip-components=1 "${src_files[@]/#/linux-source-6.12/}"
    rm -rf "$S/usr"
    # The source .deb is 150 MB and only needed once per version.
    rm -f "$deb"
    touch "$S/.unpacked"
fi
echo "$ver" >"$CACHE/kernel-version"

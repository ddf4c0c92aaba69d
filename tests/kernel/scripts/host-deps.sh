#!/usr/bin/env bash
# Installs the host tools the bench needs (idempotent: installs only what is missing).
source "$(dirname "$0")/common.sh"

need=()
have() { command -v "$1" >/dev/null 2>&1; }
# QEMU is handled below: installing Debian 12's qemu-system-x86 can mean removing a newer
# qemu-utils (its 10.x backport `Breaks` qemu-system-common << 8.0), so it is unpacked instead.
have pahole || need+=(dwarves)
have cpio || need+=(cpio)
have xz || need+=(xz-utils)
have make || need+=(make)
have gcc || need+=(gcc)
have dpkg-deb || need+=(dpkg)
# The kernel's build scripts.
have bc || need+=(bc)
have flex || need+=(flex)
have bison || need+=(bison)
dpkg -s libelf-dev >/dev/null 2>&1 || need+=(libelf-dev)
if [ ${#need[@]} -gt 0 ]; then
    log "installing host packages: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    # Refresh the lists when they are missing or the install fails on stale ones.
    if ! ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1; then $SUDO apt-get update -qq; fi
    $SUDO apt-get install -y -qq --no-install-recommends --no-remove "${need[@]}" >/dev/null \
        || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends --no-remove "${need[@]}" >/dev/null; }
fi

# QEMU: the installed one if there is one; otherwise Debian's qemu-system-x86 and the packages
# it needs, downloaded and unpacked into the cache (never installed: that could remove
# packages), run by boot.sh with their libraries and firmware (see common.sh's `qemu`).
if ! have qemu-system-x86_64 && [ ! -x "$QEMU_ROOT/usr/bin/qemu-system-x86_64" ]; then
    log "unpacking qemu-system-x86 into $QEMU_ROOT"
    export DEBIAN_FRONTEND=noninteractive
    if ! ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1; then apt-get update -qq; fi
    # The packages an install would add (everything it needs that is not installed already).
    pkgs="$(apt-get install -s --no-install-recommends qemu-system-x86 | awk '/^Inst/ {print $2}')"
    [ -n "$pkgs" ] || die "apt-get found no qemu-system-x86 to download"
    debs="$CACHE/qemu-debs"
    rm -rf "$debs" "$QEMU_ROOT.tmp"
    mkdir -p "$debs"
    # shellcheck disable=SC2086
    (cd "$debs" && apt-get download -qq $pkgs) || die "cannot download: $pkgs"
    for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$QEMU_ROOT.tmp"; done
    rm -rf "$QEMU_ROOT" "$debs"
    mv "$QEMU_ROOT.tmp" "$QEMU_ROOT"
fi
qemu --version | head -1 | sed 's/^/[kbench] /' >&2

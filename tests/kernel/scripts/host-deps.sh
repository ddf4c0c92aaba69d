#!/usr/bin/env bash
# Installs the host tools the bench needs (idempotent: installs only what is missing).
source "$(dirname "$0")/common.sh"

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have qemu-system-x86_64 || need+=(qemu-system-x86)
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

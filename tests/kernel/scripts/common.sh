# Shared settings of the kernel bench scripts (sourced, not run).
set -euo pipefail
KDIR_BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${WEIR_KBENCH_CACHE:-$KDIR_BENCH/.cache}"
mkdir -p "$CACHE"
log() { printf '[kbench] %s\n' "$*" >&2; }
die() { printf '[kbench] error: %s\n' "$*" >&2; exit 1; }
# The concrete kernel version (e.g. 6.12.117+deb12), resolved by fetch.sh, read by the others.
kernel_version() {
    [ -f "$CACHE/kernel-version" ] || die "run scripts/fetch.sh first"
    cat "$CACHE/kernel-version"
}
# Where host-deps.sh unpacks QEMU when it is not installed.
QEMU_ROOT="$CACHE/qemu"
# Runs QEMU (x86_64): the installed one, or the one unpacked into $QEMU_ROOT with its own
# libraries and firmware directories (Debian's build looks for firmware in /usr/share/qemu,
# /usr/share/seabios and /usr/lib/ipxe/qemu; -L adds the unpacked ones).
qemu() {
    if command -v qemu-system-x86_64 >/dev/null 2>&1; then
        qemu-system-x86_64 "$@"
    else
        local r="$QEMU_ROOT"
        LD_LIBRARY_PATH="$r/usr/lib/x86_64-linux-gnu:$r/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
            "$r/usr/bin/qemu-system-x86_64" -L "$r/usr/share/qemu" -L "$r/usr/share/seabios" \
            -L "$r/usr/lib/ipxe/qemu" "$@"
    fi
}

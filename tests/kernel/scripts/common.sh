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

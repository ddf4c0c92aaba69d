#!/usr/bin/env bash
# Builds the guest test binary (static glibc) from tests/kernel/guest, against the weir-iio
# of this checkout. Output: path printed on stdout.
source "$(dirname "$0")/common.sh"
G="$KDIR_BENCH/guest"
ROOT="$(cd "$KDIR_BENCH/../.." && pwd)"
# Same dependency versions as the main workspace: start from its lock file.
cp "$ROOT/Cargo.lock" "$G/Cargo.lock"
export CARGO_TARGET_DIR="${WEIR_KBENCH_TARGET:-$CACHE/target}"
export RUSTFLAGS="-C target-feature=+crt-static"
log "building the guest tests"
build() { cargo build -q --release --manifest-path "$G/Cargo.toml" --target x86_64-unknown-linux-gnu "$@"; }
# Offline: cargo only prunes the entries the guest does not use, keeping the root's versions.
if ! build --offline; then
    log "offline build with the root lock file failed; regenerating the lock file"
    cargo generate-lockfile -q --offline --manifest-path "$G/Cargo.toml" && build --offline \
        || build
fi
bin="$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release/weir-kbench-guest"
# No program interpreter: static (or static-pie), runs in the initramfs without a libc.
if readelf -l "$bin" | grep -q INTERP; then die "$bin is not statically linked"; fi
echo "$bin"

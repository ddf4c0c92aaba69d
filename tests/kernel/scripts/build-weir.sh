#!/usr/bin/env bash
# Builds the `weir` command of this checkout as a static binary (static glibc, like the guest
# tests) for the guest's `weir run` tests. Its own target directory in the cache, so neither
# the workspace's target/ nor the guest tests' build is disturbed; the release build of the
# whole stack (FutureSDR and all) is the bench's most expensive step, and it is reused.
# Never touches the workspace's Cargo.lock (--locked). Output: path printed on stdout.
source "$(dirname "$0")/common.sh"
ROOT="$(cd "$KDIR_BENCH/../.." && pwd)"
export CARGO_TARGET_DIR="${WEIR_KBENCH_WEIR_TARGET:-$CACHE/weir-target}"
export RUSTFLAGS="-C target-feature=+crt-static"
# No debug info: the binary goes into the initramfs (RAM) and links faster without it.
export CARGO_PROFILE_RELEASE_DEBUG=0
log "building weir (static)"
t0=$SECONDS
build() { cargo build -q --release --locked --manifest-path "$ROOT/Cargo.toml" --bin weir \
    --target x86_64-unknown-linux-gnu "$@"; }
build --offline || { log "offline build failed; retrying online"; build; }
bin="$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release/weir"
if readelf -l "$bin" | grep -q INTERP; then die "$bin is not statically linked"; fi
log "weir built in $((SECONDS - t0)) s ($(du -h "$bin" | cut -f1))"
echo "$bin"

#!/usr/bin/env bash
# Boots the kernel with the initramfs under QEMU (TCG, always under timeout), prints the
# guest's output, and exits with the guest's result (KBENCH-RESULT), or 1 if there is none.
# Usage: boot.sh INITRAMFS [EXTRA KERNEL ARGS...]
source "$(dirname "$0")/common.sh"
initrd="$1"; shift
ver="$(kernel_version)"
kernel="$CACHE/kernel-$ver/root/boot/vmlinuz-$ver-amd64"
# WEIR_KBENCH_SERIAL: the serial log's name (tests/kernel/run gives each guest run its own).
log="$CACHE/build-$ver/${WEIR_KBENCH_SERIAL:-serial.log}"
# `timeout` runs a program, not a shell function: export `qemu` to the bash it starts.
export -f qemu
export QEMU_ROOT
boot_once() {
    rm -f "$log"
    log "booting $ver-amd64 under QEMU (TCG)"
    set +e
    timeout --kill-after=10 "${WEIR_KBENCH_TIMEOUT:-300}" bash -c 'qemu "$@"' qemu \
        -machine q35,accel=tcg -cpu max -m 1024 -smp 2 \
        -display none -monitor none -nodefaults -serial "file:$log" -no-reboot \
        -kernel "$kernel" -initrd "$initrd" \
        -append "console=ttyS0 panic=-1 quiet $*"
    qemu_status=$?
    set -e
    tr -d '\r' <"$log" >"$log.txt" 2>/dev/null || true
}
boot_once "$@"
# Seen once under TCG with -smp 2 (2026-12-01): the kernel itself oopsed at 3 s into the boot
# (int3 in sched_clock_idle_wakeup_event: a text-patching breakpoint hit under QEMU's
# cross-CPU code modification), before /init, with no module loaded. Nothing of ours ran, so
# that one case — no KBENCH-BEGIN — boots once more, and says so; a guest that reached /init is
# never retried.
if ! grep -q '^KBENCH-BEGIN' "$log.txt" 2>/dev/null && [ "$qemu_status" != 124 ]; then
    log "the kernel died before /init (QEMU exit $qemu_status); its log:"
    grep -m1 -A3 -E 'Oops|BUG:|panic' "$log.txt" >&2 || tail -n 5 "$log.txt" >&2 || true
    log "booting once more"
    boot_once "$@"
fi
# The guest's own lines (the kernel's console noise is in the log file).
sed -n '/^KBENCH-BEGIN/,/^KBENCH-RESULT/p' "$log.txt"
result="$(sed -n 's/^KBENCH-RESULT: \([0-9]*\).*/\1/p' "$log.txt" | tail -1)"
if [ -z "$result" ]; then
    tail -n 60 "$log.txt" >&2 || true
    [ "$qemu_status" = 124 ] && die "QEMU timed out (serial log: $log)"
    die "the guest gave no result (QEMU exit $qemu_status, serial log: $log)"
fi
exit "$result"

#!/usr/bin/python3
"""Tables and the throughput plots for BENCHMARKS.md, from criterion's results of
`cargo bench --bench rx` and `cargo bench --bench tx`.

    /usr/bin/python3 benches/plot.py [CRITERION_DIR] [--png benches/throughput.png]
                                     [--tx-png benches/tx_throughput.png]
                                     [--cost-png benches/per_block_cost.png]

CRITERION_DIR defaults to $CARGO_TARGET_DIR/criterion or target/criterion. Prints the markdown
tables on stdout and writes each PNG whose results are there (matplotlib: `apt-get install python3-matplotlib` or
`pip install matplotlib`). Every figure is the median over criterion's samples; throughput is
the bytes (or items) of one iteration divided by that median.
"""

import argparse
import json
import os
import pathlib
import statistics
import sys

KIB = 1024
MIB = 1024 * KIB
BLOCK_SIZES = [4 * KIB, 16 * KIB, 64 * KIB, 256 * KIB, MIB, 4 * MIB]
DEPTHS = [2, 4, 8]
DRAM = 256 * MIB


def size_name(n: int) -> str:
    if n >= MIB and n % MIB == 0:
        return f"{n // MIB}MiB"
    if n >= KIB and n % KIB == 0:
        return f"{n // KIB}KiB"
    return f"{n}B"


class Results:
    def __init__(self, root: pathlib.Path):
        self.bench = {}
        for meta in root.glob("**/new/benchmark.json"):
            info = json.loads(meta.read_text())
            sample = json.loads((meta.parent / "sample.json").read_text())
            per_iter = [t / n for t, n in zip(sample["times"], sample["iters"])]
            self.bench[info["full_id"]] = (info["throughput"], per_iter)

    def has(self, bench_id: str) -> bool:
        return bench_id in self.bench

    def seconds(self, bench_id: str) -> float:
        """Median time of one iteration, in seconds."""
        return statistics.median(self.bench[bench_id][1]) / 1e9

    def rate(self, bench_id: str) -> float:
        """Bytes/s or items/s, from the median time."""
        throughput, _ = self.bench[bench_id]
        (amount,) = throughput.values()
        return amount / self.seconds(bench_id)

    def best_rate(self, bench_id: str) -> float:
        """Bytes/s or items/s of the fastest sample."""
        throughput, times = self.bench[bench_id]
        (amount,) = throughput.values()
        return amount / (min(times) / 1e9)

    def spread(self, bench_id: str) -> float:
        """(max - min) / median of the per-iteration times: how noisy the samples were."""
        times = self.bench[bench_id][1]
        return (max(times) - min(times)) / statistics.median(times)


def gib(x: float) -> str:
    return f"{x / 2**30:.2f}"


def sweep_table(r: Results, title: str, group: str, depths, ref=None) -> None:
    """Zero-copy against copy in `group` per block size: their rates (GiB/s), the ratio of the
    medians and of the fastest samples. With several `depths` a row per depth and a depth
    column; with one, no such column. `ref` = (id with `{ws}`, its column, the share's column):
    a single-core figure over 4 blocks and zero-copy's share of it."""
    print(title + "\n")
    head = ["block"] + (["depth"] if len(depths) > 1 else [])
    head += ["zero-copy", "copy", "zero-copy / copy", "same, fastest samples"]
    if ref:
        head += list(ref[1:])
    print("| " + " | ".join(head) + " |")
    print("|" + "---:|" * len(head))
    for bs in BLOCK_SIZES:
        for d in depths:
            v = f"{size_name(bs)}_d{d}"
            z, c = f"{group}/zero_copy/{v}", f"{group}/copy/{v}"
            if not (r.has(z) and r.has(c)):
                continue
            cells = [size_name(bs)] + ([str(d)] if len(depths) > 1 else [])
            cells += [gib(r.rate(z)), gib(r.rate(c)), f"{r.rate(z) / r.rate(c):.2f}",
                      f"{r.best_rate(z) / r.best_rate(c):.2f}"]
            if ref:
                ref_id = ref[0].format(ws=size_name(4 * bs))
                x = r.rate(ref_id) if r.has(ref_id) else float("nan")
                cells += [gib(x), f"{100 * r.rate(z) / x:.0f} %"]
            print("| " + " | ".join(cells) + " |")


def raw_table(r: Results, title: str, columns, ids) -> None:
    """Two paths without a flowgraph at depth 4 per block size (GiB/s) and their ratio; `ids`
    are the two benchmark ids with `{v}` for the point."""
    print(title + "\n")
    print("| block | " + " | ".join(columns) + " | ratio |")
    print("|---:|---:|---:|---:|")
    for bs in BLOCK_SIZES:
        z, c = (i.format(v=f"{size_name(bs)}_d4") for i in ids)
        if r.has(z) and r.has(c):
            print(f"| {size_name(bs)} | {gib(r.rate(z))} | {gib(r.rate(c))} | {r.rate(z) / r.rate(c):.2f} |")


def bandwidth_table(r: Results, title: str, columns, group: str, kinds, sizes) -> None:
    """Single-core kernels of `group` (GiB/s), a row per buffer size."""
    print(title + "\n")
    print("| buffer | " + " | ".join(columns) + " |")
    print("|---:|" + "---:|" * len(columns))
    for ws in sizes:
        ids = [f"{group}/{k}/{size_name(ws)}" for k in kinds]
        if all(r.has(i) for i in ids):
            print(f"| {size_name(ws)} | " + " | ".join(gib(r.rate(i)) for i in ids) + " |")


def handoff_table(r: Results, title: str, group: str, ratio: bool) -> None:
    """The 64-byte handoff (ns per block) at depths 2 and 8: transport, zero-copy and copy,
    with `ratio` the zero-copy / copy time as well."""
    print(title + "\n")
    print("| depth | transport cycle alone | flowgraph zero-copy | flowgraph copy |"
          + (" zero-copy / copy (time) |" if ratio else ""))
    print("|---:|---:|---:|---:|" + ("---:|" if ratio else ""))
    for d in (2, 8):
        ids = [f"{group}/{k}/64B_d{d}" for k in ("transport", "zero_copy", "copy")]
        if all(r.has(i) for i in ids):
            ns = [1e9 / r.rate(i) for i in ids]
            print(f"| {d} | " + " | ".join(f"{x:.0f}" for x in ns) + " |"
                  + (f" {ns[1] / ns[2]:.2f} |" if ratio else ""))


def tables(r: Results) -> None:
    sweep_table(r, "### RX sweep: flowgraph, source -> consumer summing every byte (GiB/s)",
                "rx_sweep", DEPTHS,
                ("bandwidth/read_sum/{ws}", "read bandwidth (4 blocks)", "zero-copy % of read"))
    sweep_table(r, "\n### RX flowgraph from a device that costs no CPU (pattern untouched), "
                "depth 4 (GiB/s)", "rx_cpu_only", [4],
                ("bandwidth/read_sum/{ws}", "read bandwidth (4 blocks)", "zero-copy % of read"))
    raw_table(r, "\n### RX without a flowgraph, depth 4 (GiB/s)",
              ("transport cycle, zero-copy", "SimRx::read() copy"),
              ("rx_raw/transport_zero_copy/{v}", "rx_raw/sim_read_copy/{v}"))
    bandwidth_table(r, "\n### Single-core bandwidth, the physical limit (GiB/s)",
                    ("read (sum u64)", "memcpy", "ramp fill (the simulator's producer)"),
                    "bandwidth", ("read_sum", "memcpy", "ramp_fill"),
                    [4 * bs for bs in BLOCK_SIZES] + [DRAM])
    handoff_table(r, "\n### Per-block handoff, 64-byte blocks (ns per block)", "handoff", False)

    print("\n### Framework baseline: weir's DMABUF source vs FutureSDR's NullSource, 256 KiB x 4\n")
    print("| pipeline | weir DmabufSource | FutureSDR NullSource | weir / FutureSDR |")
    print("|---|---:|---:|---:|")
    pairs = [
        ("source -> ci16_to_cf32 -> null sink (M samples/s)", "pipeline/weir_dmabuf_source",
         "pipeline/futuresdr_null_source", lambda x: f"{x / 1e6:.0f}"),
        ("source -> sum every byte (GiB/s)", "pipeline/sum/weir_dmabuf_source",
         "pipeline/sum/futuresdr_null_source", gib),
    ]
    for name, w, f, fmt in pairs:
        if r.has(w) and r.has(f):
            print(f"| {name} | {fmt(r.rate(w))} | {fmt(r.rate(f))} | {r.rate(w) / r.rate(f):.2f} |")

    print("\n### Executor threads: FutureSDR's default (one per core) vs one, 256 KiB x 4\n")
    print("| flowgraph | default | 1 executor | 1 executor / default |")
    print("|---|---:|---:|---:|")
    for name, fmt in (("zero_copy/256KiB_d4", gib), ("copy/256KiB_d4", gib),
                      ("pipeline_weir", lambda x: f"{x / 1e6:.0f}")):
        d, o = f"executors/{name}/default", f"executors/{name}/1_executor"
        unit = "M samples/s" if name.startswith("pipeline") else "GiB/s"
        if r.has(d) and r.has(o):
            print(f"| {name} ({unit}) | {fmt(r.rate(d))} | {fmt(r.rate(o))} | {r.rate(o) / r.rate(d):.2f} |")


def tx_tables(r: Results) -> None:
    sweep_table(r, "\n### TX sweep: flowgraph, producer writing every byte -> DMABUF sink (GiB/s)",
                "tx_sweep", DEPTHS,
                ("tx_bandwidth/ramp_fill/{ws}", "producer's ramp alone (4 blocks)",
                 "zero-copy % of it"))
    sweep_table(r, "\n### TX flowgraph into a DAC that costs no CPU (InstantDac), depth 4 (GiB/s)",
                "tx_cpu_only", [4])
    raw_table(r, "\n### TX without a flowgraph, depth 4 (GiB/s)",
              ("transport cycle, fill in place", "fill a buffer + copy in"),
              ("tx_raw/transport_in_place/{v}", "tx_raw/transport_staged_copy/{v}"))
    bandwidth_table(r, "\n### TX single-core cost per byte (GiB/s)",
                    ("DAC checksum (SimTx's FNV-1a)", "ramp fill (the producer)",
                     "memcpy (the copy sink)"),
                    "tx_bandwidth", ("dac_checksum", "ramp_fill", "memcpy"),
                    [4 * bs for bs in BLOCK_SIZES])
    handoff_table(r, "\n### TX per-block handoff, 64-byte blocks (ns per block)", "tx_handoff", True)


def pyplot():
    """matplotlib's pyplot on the file-only backend, imported only when a PNG is drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def throughput_figure(r: Results, png: pathlib.Path, sweep: str, sweep_title: str, lines,
                      right_title: str, suptitle: str) -> None:
    """The RX or TX throughput figure: left, the `sweep` group's two paths at every depth;
    right, `lines` = (id with `{ws}` (4 blocks) or `{v}` (the point at depth 4), style, color,
    marker, label) at depth 4 against the single-core figures."""
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5.2), sharey=True)
    xs = BLOCK_SIZES
    styles = {2: ":", 4: "-", 8: "--"}

    def series(fmt):
        return [r.rate(fmt(bs)) / 2**30 if r.has(fmt(bs)) else float("nan") for bs in xs]

    for d in DEPTHS:
        for path, color in (("zero_copy", "tab:blue"), ("copy", "tab:red")):
            label = f"{'zero-copy' if path == 'zero_copy' else 'copy'}, depth {d}"
            left.plot(xs, series(lambda bs: f"{sweep}/{path}/{size_name(bs)}_d{d}"), styles[d],
                      color=color, marker="o", ms=3, label=label)
    left.set_title(sweep_title)

    for name, style, color, marker, label in lines:
        right.plot(xs, series(lambda bs: name.format(ws=size_name(4 * bs), v=f"{size_name(bs)}_d4")),
                   style, color=color, marker=marker, ms=3, label=label)
    right.set_title(right_title)

    for ax in (left, right):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(xs, [size_name(b) for b in xs])
        ax.set_xlabel("DMA block size")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7.5, loc="lower right")
    left.set_ylabel("throughput (GiB/s, log)")
    fig.suptitle(suptitle)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    print(f"\nwrote {png}", file=sys.stderr)


def plot(r: Results, png: pathlib.Path) -> None:
    throughput_figure(r, png, "rx_sweep", "Flowgraph: source -> consumer reading every byte", (
        ("bandwidth/read_sum/{ws}", "-", "black", "s", "single-core read bandwidth (4 blocks)"),
        ("bandwidth/memcpy/{ws}", "--", "gray", "s", "single-core memcpy bandwidth (4 blocks)"),
        ("rx_sweep/zero_copy/{v}", "-", "tab:blue", "o", "flowgraph zero-copy, depth 4"),
        ("rx_sweep/copy/{v}", "-", "tab:red", "o", "flowgraph copy, depth 4"),
        ("rx_raw/transport_zero_copy/{v}", "-.", "tab:cyan", "^",
         "no flowgraph: transport cycle, zero-copy"),
        ("rx_raw/sim_read_copy/{v}", "-.", "tab:orange", "^", "no flowgraph: SimRx::read() copy"),
    ), "Depth 4 against the physical limit",
        "weir RX, simulated IIO DMABUF device at unlimited rate "
        f"({os.cpu_count()} cores; cargo bench --bench rx)")


def tx_plot(r: Results, png: pathlib.Path) -> None:
    throughput_figure(r, png, "tx_sweep", "Flowgraph: producer writing every byte -> DMABUF sink", (
        ("tx_bandwidth/dac_checksum/{ws}", "-", "black", "s",
         "single core: the DAC's checksum (4 blocks)"),
        ("tx_bandwidth/ramp_fill/{ws}", "--", "gray", "s",
         "single core: the producer's ramp fill (4 blocks)"),
        ("tx_sweep/zero_copy/{v}", "-", "tab:blue", "o", "flowgraph zero-copy, depth 4"),
        ("tx_sweep/copy/{v}", "-", "tab:red", "o", "flowgraph copy, depth 4"),
        ("tx_cpu_only/zero_copy/{v}", ":", "tab:blue", "v", "zero-copy into a DAC that costs no CPU"),
        ("tx_cpu_only/copy/{v}", ":", "tab:red", "v", "copy into a DAC that costs no CPU"),
        ("tx_raw/transport_in_place/{v}", "-.", "tab:cyan", "^", "no flowgraph: fill in place"),
        ("tx_raw/transport_staged_copy/{v}", "-.", "tab:orange", "^",
         "no flowgraph: fill a buffer + copy in"),
    ), "Depth 4: SimTx, a no-CPU DAC, no flowgraph; single-core cost per byte",
        "weir TX, simulated IIO DMABUF DAC at unlimited rate "
        f"({os.cpu_count()} cores; cargo bench --bench tx)")


def per_block_plot(r: Results, png: pathlib.Path) -> None:
    """Time per DMA block against block size (log-log): what a block costs the flowgraph, and
    below it the time a single core needs just to read that many bytes. Where the two meet,
    the bytes dominate; the gap at small blocks is the fixed cost per block. RX and TX come
    from separate criterion runs and are drawn in separate panels."""
    plt = pyplot()

    xs = BLOCK_SIZES

    def us_per_block(bench_id, block):
        return 1e6 * block / r.rate(bench_id) if r.has(bench_id) else float("nan")

    panels = []
    if any(b.startswith("rx_") for b in r.bench):
        panels.append(("RX (cargo bench --bench rx), depth 4", (
            ("rx_cpu_only/zero_copy/{v}", "-", "tab:blue", "zero-copy, ADC that costs no CPU"),
            ("rx_cpu_only/copy/{v}", "-", "tab:red", "copy, ADC that costs no CPU"),
            ("rx_sweep/zero_copy/{v}", ":", "tab:blue", "zero-copy, simulator writing every byte"),
            ("rx_sweep/copy/{v}", ":", "tab:red", "copy, simulator writing every byte"),
            ("rx_raw/transport_zero_copy/{v}", "-.", "tab:cyan", "no flowgraph: transport cycle"),
        ), "bandwidth/read_sum/{ws}", "handoff/{k}/64B_d8"))
    if any(b.startswith("tx_") for b in r.bench):
        panels.append(("TX (cargo bench --bench tx), depth 4", (
            ("tx_cpu_only/zero_copy/{v}", "-", "tab:blue", "zero-copy, DAC that costs no CPU"),
            ("tx_cpu_only/copy/{v}", "-", "tab:red", "copy, DAC that costs no CPU"),
            ("tx_sweep/zero_copy/{v}", ":", "tab:blue", "zero-copy, simulator reading every byte"),
            ("tx_sweep/copy/{v}", ":", "tab:red", "copy, simulator reading every byte"),
            ("tx_raw/transport_in_place/{v}", "-.", "tab:cyan", "no flowgraph: transport cycle"),
        ), "tx_bandwidth/ramp_fill/{ws}", "tx_handoff/{k}/64B_d8"))
    if not panels:
        return
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 5.2), sharey=True,
                             squeeze=False)
    for ax, (title, lines, floor, handoff) in zip(axes[0], panels):
        for name, style, color, label in lines:
            ys = [us_per_block(name.format(v=f"{size_name(bs)}_d4"), bs) for bs in xs]
            ax.plot(xs, ys, style, color=color, marker="o", ms=3, label=label)
        ys = [us_per_block(floor.format(ws=size_name(4 * bs)), bs) for bs in xs]
        ax.plot(xs, ys, "--", color="black", marker="s", ms=3,
                label="single core touching the block's bytes once")
        # The 64-byte handoff: the fixed cost alone, drawn at the left edge.
        for k, color in (("zero_copy", "tab:blue"), ("copy", "tab:red")):
            hid = handoff.format(k=k)
            if r.has(hid):
                ax.plot([xs[0] / 2], [1e6 / r.rate(hid)], "*", color=color, ms=9,
                        label=f"{k.replace('_', '-')} handoff, 64-byte blocks, depth 8")
        ax.set_title(title)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks([xs[0] / 2] + xs, ["64B"] + [size_name(b) for b in xs])
        ax.set_xlabel("DMA block size")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7.5, loc="upper left")
    axes[0][0].set_ylabel("time per block (us, log)")
    fig.suptitle(f"weir: cost per DMA block against block size ({os.cpu_count()} cores)")
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    print(f"\nwrote {png}", file=sys.stderr)


def main() -> None:
    here = pathlib.Path(__file__).resolve().parent
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", here.parent / "target"))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("criterion_dir", nargs="?", type=pathlib.Path, default=target / "criterion")
    ap.add_argument("--png", type=pathlib.Path, default=here / "throughput.png")
    ap.add_argument("--tx-png", type=pathlib.Path, default=here / "tx_throughput.png")
    ap.add_argument("--cost-png", type=pathlib.Path, default=here / "per_block_cost.png")
    ap.add_argument("--no-png", action="store_true")
    args = ap.parse_args()
    if not args.criterion_dir.is_dir():
        sys.exit(f"no criterion results in {args.criterion_dir}: "
                 "run `cargo bench --bench rx` or `--bench tx` first")
    r = Results(args.criterion_dir)
    # Each bench writes its own results: a PNG is (re)drawn only from results that are there,
    # so running one bench never blanks the other's plot.
    has_rx = any(b.startswith("rx_sweep/") for b in r.bench)
    has_tx = any(b.startswith("tx_sweep/") for b in r.bench)
    if has_rx:
        tables(r)
    if has_tx:
        tx_tables(r)
    noisy = sorted((r.spread(b), b) for b in r.bench if r.spread(b) > 0.5)
    if noisy:
        print("\nNoisy benchmarks ((max - min) / median of the samples above 50 %): "
              + ", ".join(f"`{b}` {100 * s:.0f} %" for s, b in noisy))
    if not args.no_png:
        if has_rx:
            plot(r, args.png)
        if has_tx:
            tx_plot(r, args.tx_png)
        if has_rx and has_tx:
            # Both panels from the results at hand; with one bench's results only, the plot of
            # the previous full run stays.
            per_block_plot(r, args.cost_png)


if __name__ == "__main__":
    main()

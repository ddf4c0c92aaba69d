#!/usr/bin/python3
"""GNU Radio 3.10 peers of weir, for tests/cli/cli_gnuradio.rs (run with Debian's python).

  pub ADDRESS ITEMS          gr-zeromq pub_sink bound at ADDRESS publishing ITEMS complex
                             floats n - j*n (n = 0, 1, ...: an exact counter in float32),
                             paced at 2 M items/s; prints `ready` once bound, runs to the end.
  sub ADDRESS ITEMS OUT      gr-zeromq sub_source of 4-byte items (interleaved 16-bit I/Q,
                             weir's ci16) -> head(ITEMS) -> file_sink(OUT); prints `ready` once
                             started and `done ITEMS` when head has ended the flowgraph.
  stall ADDRESS ITEMS        as `sub` into a null_sink, then keeps the flowgraph (and so its
                             connected ZeroMQ socket) alive without reading: prints
                             `stopped reading` and sleeps until killed. A viewer that hangs, or
                             GNU Radio's head finishing in a flowgraph nobody tears down.
  read BASE OUT              reads the SigMF recording BASE.sigmf-meta / BASE.sigmf-data as a
                             GNU Radio user would: the item type from `core:datatype` (ci16_le:
                             interleaved shorts -> interleaved_short_to_complex; cf32_le:
                             gr_complex), blocks.file_source -> file_sink(OUT, gr_complex);
                             prints one JSON line with what it derived.

Messages are raw items (pass_tags=False): what weir's zmq blocks send and take.
"""

import json
import sys
import time

from gnuradio import blocks, gr, zeromq

ITEM_CI16 = gr.sizeof_short * 2


def say(line: str) -> None:
    print(line, flush=True)


def pub(address: str, items: int) -> None:
    tb = gr.top_block("weir-test-pub")
    data = [complex(n, -n) for n in range(items)]
    src = blocks.vector_source_c(data, False)
    # Paced so that a subscriber keeps up and ZeroMQ's high-water mark never drops a message.
    pace = blocks.throttle(gr.sizeof_gr_complex, 2e6)
    snk = zeromq.pub_sink(gr.sizeof_gr_complex, 1, address, 100, False, -1)
    tb.connect(src, pace, snk)
    tb.start()
    say("ready")
    tb.wait()
    say("done")


def sub_flowgraph(address: str, items: int, sink) -> gr.top_block:
    tb = gr.top_block("weir-test-sub")
    src = zeromq.sub_source(ITEM_CI16, 1, address, 100, False, -1)
    head = blocks.head(ITEM_CI16, items)
    tb.connect(src, head, sink)
    return tb


def sub(address: str, items: int, out: str) -> None:
    tb = sub_flowgraph(address, items, blocks.file_sink(ITEM_CI16, out, False))
    tb.start()
    say("ready")
    tb.wait()
    say(f"done {items}")


def stall(address: str, items: int) -> None:
    tb = sub_flowgraph(address, items, blocks.null_sink(ITEM_CI16))
    tb.start()
    say("ready")
    tb.wait()
    # `tb` and its sub_source stay alive: the socket stays connected and nobody reads it.
    say("stopped reading")
    while True:
        time.sleep(3600)


def read(base: str, out: str) -> None:
    with open(base + ".sigmf-meta") as f:
        meta = json.load(f)
    g = meta["global"]
    datatype = g["core:datatype"]
    tb = gr.top_block("weir-test-read")
    snk = blocks.file_sink(gr.sizeof_gr_complex, out, False)
    if datatype == "ci16_le":
        itemsize = gr.sizeof_short * 2
        src = blocks.file_source(gr.sizeof_short, base + ".sigmf-data", False)
        tb.connect(src, blocks.interleaved_short_to_complex(False, False), snk)
    elif datatype == "cf32_le":
        itemsize = gr.sizeof_gr_complex
        src = blocks.file_source(gr.sizeof_gr_complex, base + ".sigmf-data", False)
        tb.connect(src, snk)
    else:
        sys.exit(f"no GNU Radio item type for {datatype}")
    tb.run()
    snk.close()
    say(json.dumps({
        "datatype": datatype,
        "itemsize": itemsize,
        "sample_rate": g.get("core:sample_rate"),
        "sample_start": meta["captures"][0]["core:sample_start"],
    }))


def main() -> None:
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "pub":
        pub(args[0], int(args[1]))
    elif cmd == "sub":
        sub(args[0], int(args[1]), args[2])
    elif cmd == "stall":
        stall(args[0], int(args[1]))
    elif cmd == "read":
        read(args[0], args[1])
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()

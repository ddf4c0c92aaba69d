#!/usr/bin/python3
"""GNU Radio 3.10 side of benches/gnuradio/compare.sh: the same pipelines as weir's.

  iq:           vector_source_s (ramp, repeated) -> interleaved_short_to_complex -> head -> null_sink
  multiply K:   ... interleaved_short_to_complex -> multiply_const_cc x K -> head -> null_sink

The source plays the simulated ADC: it writes a ramp of interleaved 16-bit I/Q, one block of
SAMPLES_PER_BLOCK samples repeated, as weir's simulator writes its ramp into each DMA block.
Prints one line, `samples=N seconds=T samples_per_s=R`, timing tb.run() (start, stream, stop)
and nothing of Python's start-up or imports.
"""

import argparse
import time

from gnuradio import blocks, gr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=100_000_000)
    ap.add_argument("--multiply", type=int, default=0, metavar="K",
                    help="number of multiply_const_cc blocks after the converter")
    ap.add_argument("--samples-per-block", type=int, default=16384)
    args = ap.parse_args()

    tb = gr.top_block("weir-compare")
    # i16 ramp as the simulator produces it: the n-th i16 is n (mod 2^16), I and Q alternating.
    ramp = [((n + 32768) % 65536) - 32768 for n in range(2 * args.samples_per_block)]
    src = blocks.vector_source_s(ramp, True)
    # Same scaling as weir's ci16_to_cf32 (full-scale i16 -> +-1.0).
    conv = blocks.interleaved_short_to_complex(False, False, 32768.0)
    chain = [src, conv]
    chain += [blocks.multiply_const_cc(1.0) for _ in range(args.multiply)]
    chain.append(blocks.head(gr.sizeof_gr_complex, args.samples))
    sink = blocks.null_sink(gr.sizeof_gr_complex)
    chain.append(sink)
    tb.connect(*chain)

    start = time.perf_counter()
    tb.run()
    seconds = time.perf_counter() - start
    print(f"samples={args.samples} seconds={seconds:.6f} samples_per_s={args.samples / seconds:.1f}")


if __name__ == "__main__":
    main()

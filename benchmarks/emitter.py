"""The reference emitter: a backend that writes one token line every 1/rate seconds, in tinygrad.llm's
v0.12 form (so orintui's tinygrad-llm adapter reads it), on absolute deadlines (no drift).

    python benchmarks/emitter.py --benchmark 2000 [--rate 500] [--flood SECONDS]

``--benchmark N``: how many tokens (the flag the adapter counts). ``--flood S``: first print S
seconds of non-token text as fast as the terminal takes it (a backend flooding its log);
``--flood-lines N``: N lines of it.
"""

from __future__ import annotations

import argparse
import os
import time

LINE = b"  %.2f ms, %.2f tok/s,    0.00 GB/s, param    0.00 GB/s\n"
FLOOD = b"ggml_backend: a log line that is not a token, printed as fast as the terminal takes it ........\n" * 40


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--benchmark", type=int, default=2000, help="tokens to write")
    p.add_argument("--rate", type=float, default=500.0, help="tokens per second")
    p.add_argument("--flood", type=float, default=0.0, help="seconds of non-token output first")
    p.add_argument("--flood-lines", type=int, default=0, help="or this many lines of it")
    args = p.parse_args()
    os.write(1, b'using model "reference-emitter" with 1,000 bytes and 1,000 params\n')
    if args.flood:
        end = time.monotonic() + args.flood
        while time.monotonic() < end:
            os.write(1, FLOOD)
    for _ in range(args.flood_lines // FLOOD.count(b"\n")):
        os.write(1, FLOOD)
    period = 1.0 / args.rate
    start = time.monotonic()
    for i in range(args.benchmark):
        delay = start + (i + 1) * period - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        os.write(1, LINE % (period * 1000, args.rate))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

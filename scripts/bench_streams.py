#!/usr/bin/env python3
"""Stream benchmark: 200 clients on 200 paced streams at once, and the requests beside them.

`mockrec replay` serves a streamed example (SSE, 20 events 50 ms apart: a second long)
and a plain one. Printed, each the median of three rounds with the worst beside it:
- the head's latency (from sending the request; the 200 connections are open before)
  and each event's lateness: when the client got it less when it was due (the head's
  arrival plus the event's offset), p50 and p99 over the 200 streams' 4,000 events
  (target: p99 <= 50 ms);
- the plain requests' latency while the 200 streams play / without them, from one
  keep-alive client asking again and again (target: ratio <= 1.5, p99 <= 50 ms);
- the streams' wall time / their recorded length (target <= 1.2).
Run on the fast path (the default) and on mitmproxy's path (--set mockrec_fast_replay=false,
the streamer); everything on 127.0.0.1, the upstream a closed port.
Usage: python scripts/bench_streams.py [--clients 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_record import with_cached_bytecode
from bench_replay import start_mockrec, stop

from recorder.models import ExampleRequest, ExampleResponse
from recorder.promote.examples import NewExample, new_example
from recorder.store.collection_store import CollectionStore
from recorder.streams import Stream

EVENTS, GAP_MS = 20, 50
PLAIN = b'{"ok": true}'


def make_collection(data_dir: Path) -> None:
    store = CollectionStore(data_dir)
    body, stream = Stream.of_pieces(
        [(i * GAP_MS, b'data: {"i": %d, "token": "tok%d"}\n\n' % (i, i)) for i in range(EVENTS)])
    with store.editing("bench", create=True) as c:
        streamed = new_example(c, store, NewExample(
            "GET", "/stream", 200, [("Content-Type", "text/event-stream")], body))
        streamed.response.stream = stream
        new_example(c, store, NewExample("GET", "/plain", 200,
                                         [("Content-Type", "application/json")], PLAIN))
    assert isinstance(streamed.request, ExampleRequest)
    assert isinstance(streamed.response, ExampleResponse)


async def one_stream(connection: tuple[asyncio.StreamReader, asyncio.StreamWriter]
                     ) -> list[float]:
    """Each event's lateness (s) on one stream: when it came less when it was due, its
    offset after the request was sent (the head is due at once)."""
    reader, writer = connection
    asked = time.monotonic()
    writer.write(b"GET /stream HTTP/1.1\r\nHost: api.test\r\n\r\n")
    await reader.readuntil(b"\r\n\r\n")
    head = time.monotonic()
    late = [head - asked]  # the head's latency, then each event's lateness after it
    for i in range(EVENTS):
        size = int((await reader.readuntil(b"\r\n"))[:-2], 16)
        await reader.readexactly(size + 2)
        late.append(time.monotonic() - (head + i * GAP_MS / 1000))
    await reader.readuntil(b"0\r\n\r\n")
    writer.close()
    return late


async def connect(port: int, count: int) -> list:
    """`count` connections, all open before any stream is asked for (the proxy taking
    200 connections in is not what is measured)."""
    return [await asyncio.open_connection("127.0.0.1", port) for _ in range(count)]


async def plain_latencies(port: int, stop_at: float) -> list[float]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    out = []
    while time.monotonic() < stop_at:
        started = time.monotonic()
        writer.write(b"GET /plain HTTP/1.1\r\nHost: api.test\r\n\r\n")
        await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(len(PLAIN))
        out.append(time.monotonic() - started)
        await asyncio.sleep(0.01)
    writer.close()
    return out


async def round_with_streams(port: int, clients: int) -> tuple[list[float], list[float], float]:
    connections = await connect(port, clients)
    started = time.monotonic()
    length = (EVENTS - 1) * GAP_MS / 1000
    plain = asyncio.ensure_future(plain_latencies(port, started + length))
    streams = await asyncio.gather(*(one_stream(c) for c in connections))
    wall = time.monotonic() - started
    return streams, await plain, wall / length


async def warm(port: int) -> None:
    (connection,) = await connect(port, 1)
    await one_stream(connection)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000


def measure(data_dir: Path, clients: int, rounds: int, *extra: str) -> dict[str, list[float]]:
    process, port = start_mockrec(data_dir, "bench", *extra)
    figures: dict[str, list[float]] = {k: [] for k in
                                       ("head_p50", "head_p99", "late_p50", "late_p99",
                                        "plain_ratio", "plain_p99", "wall")}
    try:
        asyncio.run(warm(port))
        for _ in range(rounds):
            quiet = asyncio.run(plain_latencies(port, time.monotonic() + 1.0))
            streams, busy, wall = asyncio.run(round_with_streams(port, clients))
            heads = [stream[0] for stream in streams]
            late = [x for stream in streams for x in stream[1:]]
            figures["head_p50"].append(pct(heads, 0.5))
            figures["head_p99"].append(pct(heads, 0.99))
            figures["late_p50"].append(pct(late, 0.5))
            figures["late_p99"].append(pct(late, 0.99))
            figures["plain_ratio"].append(statistics.median(busy) / statistics.median(quiet))
            figures["plain_p99"].append(pct(busy, 0.99))
            figures["wall"].append(wall)
    finally:
        stop(process)
    return figures


def show(title: str, figures: dict[str, list[float]]) -> None:
    def cell(key: str, unit: str = "") -> str:
        values = figures[key]
        worst = max(values)
        return f"{statistics.median(values):.2f}{unit} (worst {worst:.2f}{unit})"

    print(f"{title}:")
    print(f"  head after the request p50 {cell('head_p50', ' ms')}, p99 {cell('head_p99', ' ms')}")
    print(f"  event lateness p50 {cell('late_p50', ' ms')}, p99 {cell('late_p99', ' ms')}"
          "   target p99 <= 50 ms")
    print(f"  plain requests beside them: latency ratio {cell('plain_ratio')}"
          f", p99 {cell('plain_p99', ' ms')}   target ratio <= 1.5")
    print(f"  streams' wall time / their length {cell('wall')}   target <= 1.2")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with_cached_bytecode()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        make_collection(data_dir)
        print(f"{args.clients} clients, each on a stream of {EVENTS} events {GAP_MS} ms apart")
        show("fast path", measure(data_dir, args.clients, args.rounds))
        show("mitmproxy's path (the streamer)",
             measure(data_dir, args.clients, args.rounds, "--set", "mockrec_fast_replay=false"))


if __name__ == "__main__":
    sys.exit(main())

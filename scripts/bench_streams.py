#!/usr/bin/env python3
"""Stream benchmark: 200 clients on 200 paced SSE streams at once, and hits beside them.

`mockrec replay` serves a streamed example (SSE, 50 events 50 ms apart: 2.45 s) and a
plain one. Each round, interleaved:
- wrk (a C client: 1 thread, 10 keep-alive connections) asks for the plain example
  alone: the hits rate without streams;
- then 200 clients (connected before) ask for the stream at once while the same wrk
  runs beside them: each event's lateness (when the client got it less when it was
  due: the head's arrival plus the event's recorded offset), and the hits rate with
  the streams.
Printed for the fast path and for mitmproxy's path (--set mockrec_fast_replay=false,
the streamer), the median of the rounds with the worst beside it: the head's latency,
the lateness p50 / p99 / worst over every event of every round, the hits rate with and
without the streams and their ratio, the streams' wall time / their length, and met or
not met against the targets (every event within +-50 ms; hits >= 0.8 x their rate
without streams), and the proxy's CPU an event in a round of streams alone (robust to
the machine's load). Everything on 127.0.0.1, the upstream a closed port.

Usage: python scripts/bench_streams.py [--clients 200] [--events 50] [--rounds 3]
                                       [--path fast|mitmproxy|both]
Needs wrk (Debian: apt-get install wrk).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_record import with_cached_bytecode
from bench_replay import start_mockrec, stop

from recorder.promote.examples import NewExample, new_example
from recorder.store.collection_store import CollectionStore
from recorder.streams import Stream

GAP_MS = 50
PLAIN = b'{"ok": true}'
LATE_TARGET_MS = 50.0
HITS_TARGET = 0.8
WRK_CONNECTIONS = 10


def make_collection(data_dir: Path, events: int) -> None:
    store = CollectionStore(data_dir)
    body, stream = Stream.of_pieces(
        [(i * GAP_MS, b'data: {"i": %d, "token": "tok%d"}\n\n' % (i, i)) for i in range(events)])
    with store.editing("bench", create=True) as c:
        streamed = new_example(c, store, NewExample(
            "GET", "/stream", 200, [("Content-Type", "text/event-stream")], body))
        streamed.response.stream = stream
        new_example(c, store, NewExample("GET", "/plain", 200,
                                         [("Content-Type", "application/json")], PLAIN))


class StreamClient(asyncio.Protocol):
    """One client on one stream, as cheap as can be (the benchmark shares the cores with
    the proxy and wrk): it only notes when each event (an SSE event ends at a blank line)
    and the head came; the lateness is worked out after."""

    def __init__(self, events: int) -> None:
        self.events = events
        self.transport: asyncio.Transport | None = None
        self.asked = self.head = 0.0
        self.times: list[float] = []
        self.tail = self.last = b""
        self.done: asyncio.Future = asyncio.get_running_loop().create_future()

    def connection_made(self, transport) -> None:
        self.transport = transport

    def ask(self) -> None:
        self.asked = time.monotonic()
        assert self.transport is not None
        self.transport.write(b"GET /stream HTTP/1.1\r\nHost: api.test\r\n\r\n")

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        self.last = (self.last + data)[-7:]
        data = self.tail + data
        if not self.head:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                self.tail = data
                return
            self.head, data = now, data[end + 4:]
        self.times.extend([now] * data.count(b"\n\n"))
        self.tail = data[-1:]
        if self.last == b"\r\n0\r\n\r\n" and not self.done.done():
            self.done.set_result(None)

    def connection_lost(self, exc) -> None:
        if not self.done.done():
            self.done.set_result(None)

    def lateness(self) -> list[float]:
        """Each event's lateness (s): when it came less its due time after the head."""
        return [at - (self.head + i * GAP_MS / 1000) for i, at in enumerate(self.times)]


async def wrk(port: int, seconds: float) -> float:
    process = await asyncio.create_subprocess_exec(
        "wrk", "-t1", f"-c{WRK_CONNECTIONS}", f"-d{max(1, round(seconds))}s",
        f"http://127.0.0.1:{port}/plain", stdout=asyncio.subprocess.PIPE)
    out = (await process.communicate())[0].decode()
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match:
        sys.exit(f"wrk said:\n{out}")
    return float(match.group(1))


async def streams_round(port: int, clients: int, events: int, with_hits: bool) -> dict:
    loop = asyncio.get_running_loop()
    protocols = []
    for _ in range(clients):  # all open before (taking 200 connections in is not measured)
        _, protocol = await loop.create_connection(lambda: StreamClient(events),
                                                   "127.0.0.1", port)
        protocols.append(protocol)
    length = (events - 1) * GAP_MS / 1000
    hits = asyncio.ensure_future(wrk(port, length)) if with_hits else None
    started = time.monotonic()
    for protocol in protocols:
        protocol.ask()
    await asyncio.wait_for(asyncio.gather(*(p.done for p in protocols)), 60 + 4 * length)
    wall = time.monotonic() - started
    for protocol in protocols:
        if protocol.transport is not None:
            protocol.transport.close()
    missing = sum(events - len(p.times) for p in protocols)
    return {"heads": [p.head - p.asked for p in protocols],
            "late": [x for p in protocols for x in p.lateness()],
            "missing": missing, "wall": wall / length,
            "hits": await hits if hits is not None else 0.0}


def cpu_seconds(pid: int) -> float:
    """The process's CPU time so far (user + system; Linux's /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000


def measure(data_dir: Path, args, *extra: str) -> dict:
    process, port = start_mockrec(data_dir, "bench", *extra)
    length = (args.events - 1) * GAP_MS / 1000
    rounds: list[dict] = []
    try:
        asyncio.run(streams_round(port, 2, args.events, False))  # warm up
        asyncio.run(wrk(port, 1))
        # The proxy's CPU for the streams alone (no wrk): what an event costs, whatever
        # the machine's load does to the wall-clock figures.
        before = cpu_seconds(process.pid)
        alone = asyncio.run(streams_round(port, args.clients, args.events, False))
        cpu = (cpu_seconds(process.pid) - before) / max(1, len(alone["late"])) * 1e6
        time.sleep(0.3)
        for _ in range(args.rounds):
            quiet = asyncio.run(wrk(port, length))
            busy = asyncio.run(streams_round(port, args.clients, args.events, True))
            busy["quiet"] = quiet
            rounds.append(busy)
            time.sleep(0.3)  # the streams' connections close
    finally:
        stop(process)
    return {"heads": [x for r in rounds for x in r["heads"]],
            "late": [x for r in rounds for x in r["late"]],
            "missing": sum(r["missing"] for r in rounds),
            "wall": [r["wall"] for r in rounds],
            "quiet": [r["quiet"] for r in rounds], "busy": [r["hits"] for r in rounds],
            "ratio": [r["hits"] / r["quiet"] for r in rounds], "cpu_us": cpu}


def show(title: str, f: dict) -> bool:
    def med(key: str) -> str:
        return f"{statistics.median(f[key]):,.2f} (worst {min(f[key]):,.2f})"

    late = f["late"]
    worst = max(late, key=abs) * 1000 if late else float("nan")
    early = min(late) * 1000 if late else float("nan")
    timing_met = bool(late) and f["missing"] == 0 and max(abs(x) for x in late) * 1000 <= \
        LATE_TARGET_MS
    ratio = statistics.median(f["ratio"])
    hits_met = ratio >= HITS_TARGET
    print(f"{title}:")
    print(f"  head after the request p50 {pct(f['heads'], 0.5):.1f} ms, "
          f"p99 {pct(f['heads'], 0.99):.1f} ms")
    print(f"  event lateness p50 {pct(late, 0.5):.1f} ms, p99 {pct(late, 0.99):.1f} ms, "
          f"worst {worst:.1f} ms (earliest {early:.1f} ms) over {len(late):,} events"
          + (f", {f['missing']} never came" if f["missing"] else ""))
    print(f"    every event within +-{LATE_TARGET_MS:.0f} ms: "
          f"{'met' if timing_met else 'NOT MET'}")
    print(f"  hits (wrk -t1 -c{WRK_CONNECTIONS}, req/s): without streams {med('quiet')}, "
          f"with the streams {med('busy')}")
    print(f"    ratio {ratio:.2f} (worst {min(f['ratio']):.2f}), target >= {HITS_TARGET}: "
          f"{'met' if hits_met else 'NOT MET'}")
    print(f"  streams' wall time / their length {statistics.median(f['wall']):.2f} "
          f"(worst {max(f['wall']):.2f})")
    print(f"  the proxy's CPU for a round of streams alone: {f['cpu_us']:.0f} us an event "
          "(head and request included)")
    return timing_met and hits_met


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--path", choices=("fast", "mitmproxy", "both"), default="both")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("this benchmark runs wrk: install it (Debian: apt-get install wrk)")
    with_cached_bytecode()
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        make_collection(data_dir, args.events)
        print(f"{args.clients} clients, each on an SSE stream of {args.events} events "
              f"{GAP_MS} ms apart, {args.rounds} rounds; load average before: "
              f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
        met = []
        if args.path in ("fast", "both"):
            met.append(show("fast path", measure(data_dir, args)))
        if args.path in ("mitmproxy", "both"):
            met.append(show("mitmproxy's path (the streamer)", measure(
                data_dir, args, "--set", "mockrec_fast_replay=false")))
        print("all targets met" if all(met) else "some target NOT MET")


if __name__ == "__main__":
    sys.exit(main())

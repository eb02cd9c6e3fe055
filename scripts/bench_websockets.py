"""WebSocket replay at scale: do many replayed conversations at once keep their timing?

One `mockrec replay` proxy serves a conversation written as a recording would have it:
the server greets, waits for the client's "go", then sends five messages 100 ms apart
and closes. N clients (the `websockets` library, default 100) talk to it at once; each
message's gap after what preceded it (as the client saw it) is compared with the
recorded gap. Printed: the error's median, p99 and worst at N clients and at one client
alone (the baseline, in the same run), the conversation's length against the recorded
one, the proxy's CPU a conversation, and whether every gap held within the target
(+-50 ms): on the fast path (addons/fastpath/websocket.py) and on mitmproxy's path
(--set mockrec_fast_replay=false), one after the other.

    .venv/bin/python scripts/bench_websockets.py [--clients 100] [--path fast|mitmproxy|both]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.bench_record import start, with_cached_bytecode  # noqa: E402

GAP_MS = 100
SERVED = 5
TARGET_MS = 50
CONVERSATION = {
    "messages": [{"from": "server", "data": "hello", "offset": 0},
                 {"from": "client", "data": "go", "offset": 20},
                 *({"from": "server", "data": f"tick {i}", "offset": 20 + GAP_MS * (i + 1)}
                   for i in range(SERVED))],
    "close": {"code": 1000, "reason": "done", "by": "server"},
}


def collection(data_dir: Path) -> None:
    from recorder.promote.examples import add_example_document
    from recorder.store.collection_store import CollectionStore

    store = CollectionStore(data_dir)
    store.create("ws")
    add_example_document(store, "ws", {
        "request": {"method": "GET", "url": "/feed"},
        "response": {"status": 101, "headers": {"Upgrade": "websocket",
                                                "Connection": "Upgrade"},
                     "websocket": CONVERSATION}})


async def conversation(port: int) -> list[float]:
    """One client's errors (ms) against the recorded gaps."""
    from websockets.asyncio.client import connect

    errors = []
    async with connect(f"ws://127.0.0.1:{port}/feed", ping_interval=None,
                       open_timeout=60) as ws:
        opened = time.monotonic()
        await ws.recv()
        errors.append((time.monotonic() - opened) * 1000)
        await ws.send("go")
        before = time.monotonic()
        for _ in range(SERVED):
            await ws.recv()
            now = time.monotonic()
            errors.append((now - before) * 1000 - GAP_MS)
            before = now
    return errors


async def round_of(port: int, clients: int) -> tuple[list[list[float]], float]:
    """Each client's errors (ms, signed: + late), and the round's wall time."""
    started = time.monotonic()
    runs = await asyncio.gather(*(conversation(port) for _ in range(clients)))
    return runs, time.monotonic() - started


def cpu_seconds(pid: int) -> float:
    """The process's CPU time so far (user + system; Linux's /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def flat(runs: list[list[float]]) -> list[float]:
    return [abs(e) for errors in runs for e in errors]


def by_message(runs: list[list[float]]) -> str:
    """The error's median and worst for each message (the first after the 101, then each
    gap): where the time goes (all the clients' handshakes land at once)."""
    cells = []
    for i in range(len(runs[0])):
        column = [abs(errors[i]) for errors in runs]
        cells.append(f"{statistics.median(column):.0f}/{max(column):.0f}")
    return "median/worst by message (ms): " + "  ".join(cells)


def summary(label: str, errors: list[float], wall: float) -> str:
    ranked = sorted(errors)
    p99 = ranked[min(len(ranked) - 1, int(len(ranked) * 0.99))]  # nearest rank
    return (f"{label:>12}: gap error median {statistics.median(errors):5.1f} ms, "
            f"p99 {p99:5.1f} ms, worst {ranked[-1]:5.1f} ms; "
            f"conversation {wall:.2f} s (recorded {SERVED * GAP_MS / 1000:.2f} s)")


def measure(path: str, clients: int) -> None:
    """One proxy on `path` (the fast path, or mitmproxy's: --set mockrec_fast_replay=false):
    one client alone, then `clients` at once; prints the figures."""
    extra = [] if path == "fast" else ["--set", "mockrec_fast_replay=false"]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        collection(data)
        proxy, port = start([sys.executable, "-m", "recorder", "--data-dir", str(data),
                             "replay", "ws", "--port", "0", *extra], Path(tmp) / "replay.log",
                            r"on http://127\.0\.0\.1:(\d+)")
        try:
            asyncio.run(round_of(port, 1))  # warm: the player starts on the first
            alone, alone_wall = asyncio.run(round_of(port, 1))
            before = cpu_seconds(proxy.pid)
            many, many_wall = asyncio.run(round_of(port, clients))
            cpu_ms = (cpu_seconds(proxy.pid) - before) / clients * 1000
        finally:
            proxy.terminate()
            proxy.wait(30)
    print(f"{path} path:")
    print(summary("1 client", flat(alone), alone_wall))
    print(summary(f"{clients} clients", flat(many), many_wall))
    print(f"  {by_message(many)}")
    print(f"  the proxy's CPU: {cpu_ms:.1f} ms a conversation (robust to the machine's load)")
    worst = max(flat(many))
    print(f"  worst error at {clients} / alone: "
          f"{worst / max(max(flat(alone)), 1.0):.1f} x; "
          f"target every gap within +-{TARGET_MS} ms: "
          f"{'met' if worst <= TARGET_MS else 'NOT MET'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--path", choices=("fast", "mitmproxy", "both"), default="both",
                        help="the fast path (the default replay), mitmproxy's path "
                             "(--set mockrec_fast_replay=false), or both, one after the other")
    args = parser.parse_args()
    with_cached_bytecode()
    load = os.getloadavg()
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on "
          f"{os.cpu_count()} cores")
    for path in ("fast", "mitmproxy") if args.path == "both" else (args.path,):
        measure(path, args.clients)
    load = os.getloadavg()
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()

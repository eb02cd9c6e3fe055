#!/usr/bin/env python3
"""Recording benchmark: mockrec record vs. plain mitmdump, measured in one run.

Prints ratios, not absolute numbers (these machines are noisy):
- recording throughput / plain mitmproxy reverse-proxy throughput, with an empty
  history and with 100,000 entries already stored (target >= 0.9 each);
- `mockrec history list --limit 20` and `history search TEXT` wall time with
  100,000 entries (targets <= 0.5 s and <= 2 s).

Everything runs on 127.0.0.1: a small asyncio upstream, the proxy under test,
and an asyncio load generator with keep-alive connections.
Usage: python scripts/bench_record.py [--seconds 5] [--entries 100000] [--connections 10]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from recorder.models import HistoryEntry, HttpRequest, HttpResponse, Timings
from recorder.store.history import HistoryStore

BODY = b'{"id": 42, "name": "Ada Lovelace", "email": "ada@example.test", "roles": ["admin"]}'
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)


def run_upstream(port_out) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length: *(\d+)", head)
                if length:
                    await reader.readexactly(int(length.group(1)))
                writer.write(RESPONSE)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port_out.put(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(main())


def with_cached_bytecode() -> None:
    """The processes a benchmark starts run as installed, with their bytecode cached
    (some shells set PYTHONDONTWRITEBYTECODE: then every start compiles mockrec's
    modules anew)."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


def user_path(n: int, i: int) -> str:
    return f"/users/{n}?i={i}"


async def load(port: int, seconds: float, connections: int,
               path: Callable[[int, int], str] = user_path) -> float:
    """Requests per second over `connections` keep-alive connections; connection `n`
    asks for `path(n, i)` in its request `i`."""
    done = 0
    deadline = time.monotonic() + seconds

    async def client(n: int) -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        i = 0
        while time.monotonic() < deadline:
            writer.write(f"GET {path(n, i)} HTTP/1.1\r\nHost: api.test\r\n"
                         "Accept: application/json\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
            await reader.readexactly(length)
            done += 1
            i += 1
        writer.close()

    started = time.monotonic()
    await asyncio.gather(*(client(n) for n in range(connections)))
    return done / (time.monotonic() - started)


def start(cmd: list[str], log: Path, pattern: str) -> tuple[subprocess.Popen, int]:
    process = subprocess.Popen(cmd, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        match = re.search(pattern, log.read_text(errors="replace"))
        if match:
            return process, int(match.group(1))
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    sys.exit(f"could not start {cmd[0]}:\n{log.read_text()}")


def wait_for_port(port: int) -> None:
    import socket
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"nothing listens on port {port}")


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure(kind: str, upstream: int, data_dir: Path, work: Path, args) -> float:
    bin_dir = Path(sys.executable).parent
    if kind == "mitmdump":
        port = free_port()
        cmd = [str(bin_dir / "mitmdump"), "--mode", f"reverse:http://127.0.0.1:{upstream}",
               "--listen-host", "127.0.0.1", "-p", str(port), "-q",
               "--set", "connection_strategy=lazy"]
        process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(port)
    else:
        cmd = [sys.executable, "-m", "recorder", "--data-dir", str(data_dir), "record",
               "--port", "0", "--upstream", f"http://127.0.0.1:{upstream}"]
        process, port = start(cmd, work / "mockrec.log", r"mockrec \w+ on http://[\d.]+:(\d+)")
    try:
        asyncio.run(load(port, 1.0, args.connections))  # warm up
        return asyncio.run(load(port, args.seconds, args.connections))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


def fill(data_dir: Path, count: int) -> None:
    store = HistoryStore(data_dir)
    batch = 2000
    now = time.time() - count
    for first in range(0, count, batch):
        store.append([
            HistoryEntry(
                request=HttpRequest("GET", f"http://api.test/users/{i}?page={i % 7}",
                                    headers=[("Host", "api.test"), ("Accept", "*/*")]),
                response=HttpResponse(200, "OK", headers=[("Content-Type", "application/json")],
                                      body=BODY.replace(b"42", str(i).encode())),
                timings=Timings(now + i, end=now + i + 0.01), client="127.0.0.1:50000")
            for i in range(first, min(first + batch, count))])


def timed(cmd: list[str]) -> float:
    started = time.monotonic()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--connections", type=int, default=10)
    args = parser.parse_args()
    with_cached_bytecode()

    work = Path(tempfile.mkdtemp(prefix="mockrec-bench-"))
    queue = multiprocessing.Queue()
    upstream = multiprocessing.Process(target=run_upstream, args=(queue,), daemon=True)
    upstream.start()
    up_port = queue.get(timeout=10)
    try:
        empty, full = work / "empty", work / "full"
        print(f"filling a history with {args.entries:,} entries ...", flush=True)
        started = time.monotonic()
        fill(full, args.entries)
        print(f"  took {time.monotonic() - started:.1f} s", flush=True)

        # Interleaved, best of two, so a noisy moment does not decide a ratio.
        results: dict[str, list[float]] = {"mitmdump": [], "empty": [], "full": []}
        for _ in range(2):
            results["mitmdump"].append(measure("mitmdump", up_port, empty, work, args))
            shutil.rmtree(empty, ignore_errors=True)
            results["empty"].append(measure("mockrec", up_port, empty, work, args))
            results["full"].append(measure("mockrec", up_port, full, work, args))
        base, ours_empty, ours_full = (max(results[k]) for k in ("mitmdump", "empty", "full"))
        recorded = HistoryStore(full).count() - args.entries

        env_cli = [sys.executable, "-m", "recorder", "--data-dir", str(full), "history"]
        list_s = min(timed(env_cli + ["list", "--limit", "20"]) for _ in range(3))
        search_s = min(timed(env_cli + ["search", "Lovelace-not-there"]) for _ in range(2))
        hit_s = min(timed(env_cli + ["search", "page=3", "--limit", "20"]) for _ in range(2))

        print(f"\nplain mitmdump reverse proxy  {base:8.0f} req/s (baseline)")
        print(f"mockrec record, empty history {ours_empty:8.0f} req/s  ratio "
              f"{ours_empty / base:.2f}  (target >= 0.90)")
        print(f"mockrec record, {args.entries:,} stored {ours_full:8.0f} req/s  ratio "
              f"{ours_full / base:.2f}  (target >= 0.90); recorded {recorded:,} more")
        print(f"history list --limit 20 with {args.entries:,}: {list_s:.2f} s  (target <= 0.5 s)")
        print(f"history search (no hit, scans all): {search_s:.2f} s  (target <= 2 s)")
        print(f"history search (hits, first 20): {hit_s:.2f} s")
        ok = (ours_empty / base >= 0.9 and ours_full / base >= 0.9 and list_s <= 0.5
              and search_s <= 2)
        print("all targets met" if ok else "TARGETS MISSED")
    finally:
        upstream.terminate()
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()

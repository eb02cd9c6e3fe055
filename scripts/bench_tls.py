#!/usr/bin/env python3
"""TLS and HTTP/2 on one replay proxy, against plain HTTP on the same proxy, in one run.

One `mockrec replay` (10 examples, reverse mode; its listener takes TLS and cleartext
alike) and C clients, interleaved rounds, best of each:
- plain HTTP/1.1 (wrk, 1 thread, 10 keep-alive connections): the baseline;
- HTTP/1.1 over TLS (wrk, the same);
- h2 over TLS (ALPN h2: h2load, 10 clients x 10 streams, `-c10 -m10`);
- beside them the Python client's figures (asyncio, 10 keep-alive connections, plain and
  over TLS), and a forward proxy's HTTPS through CONNECT against its plain HTTP (the
  Python client: wrk and h2load cannot use a proxy).
Targets: HTTP/1.1 over TLS >= 0.75 x plain and h2 >= 0.75 x plain (C clients).
Needs wrk and h2load (Debian: apt-get install wrk nghttp2-client).
Usage: python scripts/bench_tls.py [--seconds 5] [--rounds 3]   (bench_replay.py --tls-only)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_record import wait_for_port, with_cached_bytecode

TARGET = 0.75
STUBS = 10
WRK_LUA = """
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", "/users/" .. (i %% %d))
end
"""


def wrk(url: str, lua: Path, seconds: float, connections: int) -> float:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "-s", str(lua), url],
        capture_output=True, text=True, check=True).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not rate or "Non-2xx" in out or "Socket errors" in out:
        sys.exit(f"wrk {url} said:\n{out}")
    return float(rate.group(1))


def h2load(base: str, seconds: float, clients: int = 10, streams: int = 10) -> float:
    """Requests per second of h2load: h2 by ALPN over https://, h2c (prior knowledge)
    over http://."""
    urls = [f"{base}/users/{n}" for n in range(STUBS)]
    out = subprocess.run(
        ["h2load", f"-c{clients}", f"-m{streams}", f"-D{max(1, round(seconds))}", *urls],
        capture_output=True, text=True).stdout
    rate = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out)
    done = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded", out)
    if not rate or not done or done.group(1) != done.group(2) or done.group(1) == "0":
        sys.exit(f"h2load {base} said:\n{out}")
    if not re.search(r"Application protocol: h2c?\n", out):
        sys.exit(f"h2load {base} did not speak h2:\n{out}")
    return float(rate.group(1))


async def python_load(port: int, seconds: float, connections: int, tls: bool,
                      forward: bool = False) -> float:
    """The Python client: requests per second over `connections` keep-alive connections,
    plain or over TLS (ALPN http/1.1), to a reverse proxy or through a forward one
    (absolute-form requests; HTTPS through a CONNECT)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["http/1.1"])
    done = 0
    deadline = time.monotonic() + seconds

    async def client(n: int) -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        target = f"/users/{n % STUBS}"
        if forward and tls:
            writer.write(b"CONNECT api.test:443 HTTP/1.1\r\nHost: api.test:443\r\n\r\n")
            await reader.readuntil(b"\r\n\r\n")
        elif forward:
            target = f"http://api.test{target}"
        if tls:
            await writer.start_tls(context, server_hostname="api.test")
        request = (f"GET {target} HTTP/1.1\r\nHost: api.test\r\n"
                   "Accept: application/json\r\n\r\n").encode()
        while time.monotonic() < deadline:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise SystemExit(f"unexpected answer: {head!r}")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
            await reader.readexactly(length)
            done += 1
        writer.close()

    started = time.monotonic()
    await asyncio.gather(*(client(n) for n in range(connections)))
    return done / (time.monotonic() - started)


def start(data_dir: Path, *extra: str) -> tuple[subprocess.Popen, int]:
    from bench_record import free_port
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "recorder", "--data-dir", str(data_dir), "replay", "ten",
         "--port", str(port), *extra], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port)
    return process, port


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=60)


def measure(data_dir: Path, work: Path, seconds: float, rounds: int,
            connections: int = 10) -> dict[str, float]:
    """Best of `rounds` interleaved rounds of each figure; a reverse proxy and a forward one."""
    lua = work / "tls.lua"
    lua.write_text(WRK_LUA % STUBS)
    runs: dict[str, list[float]] = {}
    reverse, port = start(data_dir, "--upstream", "http://127.0.0.1:9")
    forward, fport = start(data_dir)
    plain, tls = f"http://127.0.0.1:{port}", f"https://127.0.0.1:{port}"
    figures = {
        "wrk plain": lambda s: wrk(plain, lua, s, connections),
        "wrk tls": lambda s: wrk(tls, lua, s, connections),
        "h2load h2": lambda s: h2load(tls, s),
        "python plain": lambda s: asyncio.run(python_load(port, s, connections, False)),
        "python tls": lambda s: asyncio.run(python_load(port, s, connections, True)),
        "forward plain": lambda s: asyncio.run(python_load(fport, s, connections, False,
                                                            forward=True)),
        "forward https": lambda s: asyncio.run(python_load(fport, s, connections, True,
                                                            forward=True)),
    }
    try:
        for run in figures.values():
            run(1.0)  # warm up: the certificates, the caches
        for _ in range(rounds):
            for name, run in figures.items():
                runs.setdefault(name, []).append(run(seconds))
    finally:
        stop(reverse)
        stop(forward)
    return {name: max(values) for name, values in runs.items()}


def report(best: dict[str, float]) -> bool:
    """Print the figures and ratios; True if both C-client targets are met."""
    plain = best["wrk plain"]

    def line(label: str, key: str, base: float, target: bool) -> bool:
        ratio = best[key] / base
        met = ratio >= TARGET
        mark = (f"  (target >= {TARGET:.2f}: {'met' if met else 'NOT met'})" if target else "")
        print(f"  {label:<44} {best[key]:8.0f} req/s  {ratio:5.2f} x{mark}")
        return met

    print(f"TLS and HTTP/2, one reverse proxy, {STUBS} examples (load average "
          f"{os.getloadavg()[0]:.2f}, {os.cpu_count()} cores):")
    print(f"  {'plain HTTP/1.1, wrk -t1 -c10 (the baseline)':<44} {plain:8.0f} req/s")
    ok = line("HTTP/1.1 over TLS, wrk -t1 -c10", "wrk tls", plain, True)
    ok = line("h2 over TLS, h2load -c10 -m10", "h2load h2", plain, True) and ok
    print("  the Python client (10 keep-alive connections), ratios to its own plain figure:")
    line("plain HTTP/1.1", "python plain", best["python plain"], False)
    line("HTTP/1.1 over TLS", "python tls", best["python plain"], False)
    print("  a forward proxy, the Python client:")
    line("plain HTTP/1.1 (absolute form)", "forward plain", best["forward plain"], False)
    line("HTTPS through CONNECT", "forward https", best["forward plain"], False)
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sys.exit(0 if run(args.seconds, args.rounds) else 1)


def run(seconds: float, rounds: int) -> bool:
    for tool in ("wrk", "h2load"):
        if not shutil.which(tool):
            sys.exit(f"this benchmark runs {tool}: install it (Debian: apt-get install wrk "
                     "nghttp2-client)")
    from bench_replay import make_collection
    with_cached_bytecode()
    work = Path(tempfile.mkdtemp(prefix="mockrec-bench-tls-"))
    try:
        make_collection(work, "ten", STUBS)
        return report(measure(work, work, seconds, rounds))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

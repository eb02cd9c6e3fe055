#!/usr/bin/env python3
"""Peer benchmark: mockrec replay against other mock servers, the same stubs in each.

Every tool gets the same N stubs (GET /users/0 .. /users/N-1, one JSON body), with
N = 10 and 10,000, and wrk (1 thread, 10 keep-alive connections) runs against each in
turn, interleaved, three rounds; in each, one process of each tool serves two wrk runs:
hits only (random stubs), then 1 % misses. Printed per tool and size, medians of the
rounds: both rates, the latency (p50, p99, p99.9) of the run with misses, the RSS of
the whole process tree after both runs (mockrec's proxy and its call-log writer are
also given apart), the time from start to the first answer; then, at the smallest
size, mockrec's ratios against the targets of issue 30 with "met" or "NOT met"
(misses >= 1.2 x WireMock's rate, p99 <= 1.2 x mountebank's, RSS <= mountebank's,
first answer <= 1.1 x the trivial addon's).

Without --peers: mockrec against the floor of any mitmproxy-based mock, a trivial
addon answering one fixed response (scripts/bench_replay.py's). With
--peers wiremock,mountebank,mockoon,prism: those too, installed from the npm registry
into a cache folder outside the repository (default ~/.cache/mockrec-peers; WireMock's
package ships its jar and runs it with Java). Needs wrk (Debian: apt-get install wrk).
Everything listens on 127.0.0.1; every process started here is stopped at the end,
also on Ctrl-C.
Usage: python scripts/bench_peers.py [--peers wiremock,mountebank,mockoon,prism]
       [--sizes 10,10000] [--seconds 5] [--rounds 3] [--cache DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from bench_record import free_port, with_cached_bytecode
from bench_replay import BODY, DEAD, FIXED, make_collection

PEERS = {  # name -> npm package spec and the command it installs
    "wiremock": ("wiremock@3", "wiremock"),
    "mountebank": ("mountebank", "mb"),
    "mockoon": ("@mockoon/cli", "mockoon-cli"),
    "prism": ("@stoplight/prism-cli", "prism"),
}
PACKAGE_NAMES = {"wiremock": "wiremock", "mountebank": "mountebank",
                 "mockoon": "@mockoon/cli", "prism": "@stoplight/prism-cli"}
# `misses`: one request in that many asks for a path no tool has (0: none). `done`
# prints wrk's latency percentiles (microseconds) where the script reads them.
LUA = """
local n = %d
local misses = %d
local i = 0
math.randomseed(%d)
request = function()
  i = i + 1
  if misses > 0 and i %% misses == 0 then
    return wrk.format("GET", "/missing/" .. i)
  end
  return wrk.format("GET", "/users/" .. math.random(0, n - 1))
end
done = function(summary, latency, requests)
  io.write(string.format("latency-us p50=%%.0f p99=%%.0f p999=%%.0f max=%%.0f\\n",
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max))
end
"""
# Issue 30's targets, at the smallest size: (what, tool, ours / theirs must be ...).
TARGETS = [("misses req/s", "wiremock", ">=", 1.2), ("p99", "mountebank", "<=", 1.2),
           ("RSS", "mountebank", "<=", 1.0), ("first answer", "floor", "<=", 1.1)]
running: list[subprocess.Popen] = []


# --- the stubs, in each tool's own format -------------------------------------------

def stub_paths(count: int) -> list[str]:
    return [f"/users/{n}" for n in range(count)]


def wiremock_root(work: Path, count: int) -> Path:
    root = work / f"wiremock-{count}"
    (root / "mappings").mkdir(parents=True, exist_ok=True)
    (root / "__files").mkdir(exist_ok=True)
    mappings = [{"request": {"method": "GET", "url": path},
                 "response": {"status": 200, "body": BODY.decode(),
                              "headers": {"Content-Type": "application/json"}}}
                for path in stub_paths(count)]
    (root / "mappings" / "stubs.json").write_text(json.dumps({"mappings": mappings}))
    return root


def mountebank_config(work: Path, count: int, port: int) -> Path:
    stubs = [{"predicates": [{"equals": {"method": "GET", "path": path}}],
              "responses": [{"is": {"statusCode": 200, "body": BODY.decode(),
                                    "headers": {"Content-Type": "application/json"}}}]}
             for path in stub_paths(count)]
    path = work / f"mountebank-{count}.json"
    path.write_text(json.dumps({"imposters": [
        {"port": port, "protocol": "http", "host": "127.0.0.1", "stubs": stubs}]}))
    return path


def mockoon_environment(work: Path, count: int, port: int) -> Path:
    routes = [{"uuid": str(uuid.uuid4()), "type": "http", "method": "get",
               "endpoint": path.lstrip("/"), "responses": [{
                   "uuid": str(uuid.uuid4()), "statusCode": 200, "body": BODY.decode(),
                   "headers": [{"key": "Content-Type", "value": "application/json"}],
                   "default": True}]}
              for path in stub_paths(count)]
    environment = {"uuid": str(uuid.uuid4()), "lastMigration": 33, "name": f"bench{count}",
                   "port": port, "hostname": "127.0.0.1", "cors": False, "routes": routes,
                   "rootChildren": [{"type": "route", "uuid": r["uuid"]} for r in routes]}
    path = work / f"mockoon-{count}.json"
    path.write_text(json.dumps(environment))
    return path


def openapi_document(work: Path, count: int) -> Path:
    example = json.loads(BODY)
    paths = {path: {"get": {"operationId": f"user{n}", "responses": {"200": {
        "description": "OK", "content": {"application/json": {"example": example}}}}}}
        for n, path in enumerate(stub_paths(count))}
    path = work / f"openapi-{count}.json"
    path.write_text(json.dumps({"openapi": "3.0.3", "info": {"title": "bench",
                                                             "version": "1"}, "paths": paths}))
    return path


# --- starting and stopping ------------------------------------------------------------

def launch(cmd: list[str], log: Path, **kwargs) -> subprocess.Popen:
    # Its own process group: Java under node, workers under mockoon; all stopped together.
    process = subprocess.Popen(cmd, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True, **kwargs)
    running.append(process)
    return process


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                break
            try:
                process.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # what the group left behind (java, workers)
    if process in running:
        running.remove(process)


def tree_rss(pid: int) -> list[tuple[str, int]]:
    """Resident memory of `pid` and of each of its descendants: (command, bytes), `pid`
    first."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop(0)
        todo.extend(children.get(current, []))
        try:
            status = Path(f"/proc/{current}/status").read_text()
            command = Path(f"/proc/{current}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        if match:
            found.append((command.decode(errors="replace"), int(match.group(1)) * 1024))
    return found


def first_answer(port: int, path: str, process: subprocess.Popen, log: Path,
                 started: float, timeout: float = 180) -> float:
    import http.client
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            sys.exit(f"it stopped before answering:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", path, headers={"Host": f"127.0.0.1:{port}"})
            response = conn.getresponse()
            body = response.read()
            conn.close()
            if response.status == 200 and json.loads(body) == json.loads(BODY):
                return time.monotonic() - started
        except (OSError, http.client.HTTPException, ValueError):
            pass
        time.sleep(0.02)
    sys.exit(f"no answer within {timeout:.0f} s:\n{log.read_text(errors='replace')[-3000:]}")


class Tool:
    def __init__(self, name: str, work: Path, count: int, bin_dir: Path | None) -> None:
        self.name, self.work, self.count, self.bin_dir = name, work, count, bin_dir
        self.log = work / f"{name}-{count}.log"

    def command(self, port: int) -> list[str]:
        work, count, name = self.work, self.count, self.name
        if name == "mockrec":
            return [sys.executable, "-m", "recorder", "--data-dir", str(work / "data"),
                    "replay", f"c{count}", "--upstream", DEAD, "--port", str(port)]
        if name == "floor":
            mitmdump = Path(sys.executable).with_name("mitmdump")
            return [str(mitmdump), "-q", "-s", str(work / "fixed.py"), "--mode",
                    f"reverse:{DEAD}", "--listen-host", "127.0.0.1", "-p", str(port),
                    "--set", "connection_strategy=lazy"]
        assert self.bin_dir is not None
        exe = str(self.bin_dir / PEERS[name][1])
        if name == "wiremock":
            return [exe, "--port", str(port), "--bind-address", "127.0.0.1", "--root-dir",
                    str(wiremock_root(work, count)), "--disable-banner"]
        if name == "mountebank":
            return [exe, "start", "--port", str(free_port()), "--host", "127.0.0.1",
                    "--configfile", str(mountebank_config(work, count, port)),
                    "--nologfile", "--loglevel", "warn"]
        if name == "mockoon":
            return [exe, "start", "--data", str(mockoon_environment(work, count, port)),
                    "--port", str(port), "--disable-log-to-file"]
        if name == "prism":
            return [exe, "mock", str(openapi_document(work, count)), "--host", "127.0.0.1",
                    "--port", str(port), "--errors", "false"]
        raise ValueError(name)

    def run(self, args, lua: dict[str, Path]) -> Figures:
        """One process: its first answer, a warm-up, hits only, then 1 % misses."""
        port = free_port()
        cmd = self.command(port)
        started = time.monotonic()
        process = launch(cmd, self.log)
        try:
            ready = first_answer(port, f"/users/{self.count - 1}", process, self.log, started)
            wrk(port, lua["misses"], 1.0, args.connections)  # warm up
            hits = wrk(port, lua["hits"], args.seconds, args.connections)
            misses = wrk(port, lua["misses"], args.seconds, args.connections)
            return Figures(hits.rate, misses.rate, misses.p50, misses.p99, misses.p999,
                           [rss for _, rss in tree_rss(process.pid)], ready)
        finally:
            stop(process)


@dataclass
class WrkRun:
    rate: float  # requests/s
    p50: float  # latency percentiles, ms
    p99: float
    p999: float


@dataclass
class Figures:
    """One round of one tool."""

    hits: float  # req/s, hits only
    misses: float  # req/s, 1 % misses
    p50: float  # ms, of the run with misses
    p99: float
    p999: float
    rss: list[int]  # bytes: the process, then each descendant
    ready: float  # s from start to the first answer

    @property
    def tree(self) -> int:
        return sum(self.rss)


def wrk(port: int, lua: Path, seconds: float, connections: int) -> WrkRun:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "-s", str(lua),
         f"http://127.0.0.1:{port}/"], capture_output=True, text=True, check=True).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    latency = re.search(r"latency-us p50=(\d+) p99=(\d+) p999=(\d+)", out)
    if not rate or not latency:
        sys.exit(f"wrk said:\n{out}")
    p50, p99, p999 = (int(v) / 1000 for v in latency.groups())
    return WrkRun(float(rate.group(1)), p50, p99, p999)


def install_peers(cache: Path, peers: list[str]) -> Path:
    bin_dir = cache / "node_modules" / ".bin"
    missing = [p for p in peers if not (bin_dir / PEERS[p][1]).exists()]
    if missing:
        if not shutil.which("npm"):
            sys.exit("the peers come from the npm registry: install npm (Debian: apt-get "
                     "install npm)")
        cache.mkdir(parents=True, exist_ok=True)
        print(f"installing {', '.join(missing)} into {cache} ...", flush=True)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(cache),
                        *(PEERS[p][0] for p in missing)], check=True)
    if "wiremock" in peers and not shutil.which("java"):
        sys.exit("WireMock needs Java (Debian: apt-get install default-jre-headless)")
    return bin_dir


def peer_version(cache: Path, name: str) -> str:
    package = cache / "node_modules" / PACKAGE_NAMES[name] / "package.json"
    try:
        return json.loads(package.read_text())["version"]
    except (OSError, ValueError, KeyError):
        return "?"


def summary(runs: list[Figures]) -> Figures:
    """The median of each figure over the rounds (the RSS of each process apart)."""
    med = statistics.median
    parts = max(len(r.rss) for r in runs)
    return Figures(med(r.hits for r in runs), med(r.misses for r in runs),
                   med(r.p50 for r in runs), med(r.p99 for r in runs),
                   med(r.p999 for r in runs),
                   [int(med(r.rss[i] if i < len(r.rss) else 0 for r in runs))
                    for i in range(parts)],
                   med(r.ready for r in runs))


def print_table(count: int, args, names: list[str], medians: dict[str, Figures],
                versions: dict[str, str]) -> None:
    ours = medians["mockrec"]
    print(f"\n{count:,} stubs, wrk -t1 -c{args.connections}, {args.seconds:g} s a run, "
          f"median of {args.rounds} interleaved rounds (latency: the run with 1 % misses;"
          " x: mockrec's rate over the tool's, with misses):")
    print(f"  {'tool':<26}{'hits/s':>8}{'misses/s':>10}{'x':>6}{'p50 ms':>8}{'p99 ms':>8}"
          f"{'p99.9 ms':>10}{'RSS MB':>8}{'first s':>9}")
    for name in names:
        f = medians[name]
        label = {"floor": "trivial mitmproxy addon"}.get(name, name)
        if name in versions:
            label += f" {versions[name]}"
        print(f"  {label:<26}{f.hits:8.0f}{f.misses:10.0f}{ours.misses / f.misses:6.2f}"
              f"{f.p50:8.2f}{f.p99:8.2f}{f.p999:10.2f}{f.tree / 1e6:8.0f}{f.ready:9.2f}")
    parts = " + ".join(f"{rss / 1e6:.0f}" for rss in ours.rss)
    print(f"  mockrec's RSS by process (proxy + call-log writer): {parts} MB")


def print_targets(medians: dict[str, Figures]) -> None:
    """Issue 30's targets, measured in this run: met or not."""
    def measure(f: Figures, what: str) -> float:
        return {"misses req/s": f.misses, "p99": f.p99, "RSS": f.tree,
                "first answer": f.ready}[what]
    lines = []
    for what, peer, sense, bound in TARGETS:
        if peer not in medians:
            continue
        ratio = measure(medians["mockrec"], what) / measure(medians[peer], what)
        met = ratio >= bound if sense == ">=" else ratio <= bound
        label = {"floor": "the trivial addon's"}.get(peer, f"{peer}'s")
        lines.append(f"  {what}: mockrec / {label} = {ratio:.2f} (target {sense} {bound}): "
                     f"{'met' if met else 'NOT met'}")
    if lines:
        print("\ntargets (issue 30), at this size:")
        print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers", default="",
                        help="comma-separated: " + ",".join(PEERS))
    parser.add_argument("--sizes", default="10,10000")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "mockrec-peers")
    args = parser.parse_args()
    with_cached_bytecode()
    peers = [p for p in args.peers.split(",") if p]
    unknown = [p for p in peers if p not in PEERS]
    if unknown:
        parser.error(f"unknown peer {unknown[0]!r}; known: {', '.join(PEERS)}")
    sizes = [int(s) for s in args.sizes.split(",")]
    if not shutil.which("wrk"):
        sys.exit("this benchmark runs wrk: install it (Debian: apt-get install wrk)")
    bin_dir = install_peers(args.cache.expanduser(), peers) if peers else None

    def interrupted(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, interrupted)
    work = Path(tempfile.mkdtemp(prefix="mockrec-bench-peers-"))
    names = ["mockrec", "floor", *peers]
    results: dict[tuple[str, int], list[Figures]] = {}
    try:
        (work / "fixed.py").write_text(FIXED)
        for count in sizes:
            make_collection(work / "data", f"c{count}", count)
        for count in sizes:
            lua = {}
            for kind, misses in (("hits", 0), ("misses", 100)):
                lua[kind] = work / f"{kind}-{count}.lua"
                lua[kind].write_text(LUA % (count, misses, count))
            for round_ in range(args.rounds):  # interleaved: a noisy moment hits all alike
                for name in names:
                    print(f"  {count} stubs, round {round_ + 1}: {name} ...", end=" ",
                          flush=True)
                    figures = Tool(name, work, count, bin_dir).run(args, lua)
                    results.setdefault((name, count), []).append(figures)
                    print(f"{figures.hits:.0f} req/s hits, {figures.misses:.0f} with misses, "
                          f"p99 {figures.p99:.1f} ms, {figures.tree / 1e6:.0f} MB, "
                          f"first answer {figures.ready:.2f} s", flush=True)
        versions = {p: peer_version(args.cache.expanduser(), p) for p in peers}
        print(f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
              f"({os.cpu_count()} cores)")
        for count in sizes:
            medians = {name: summary(results[(name, count)]) for name in names}
            print_table(count, args, names, medians, versions)
            if count == min(sizes):
                print_targets(medians)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        sys.exit(130)
    finally:
        for process in list(running):
            stop(process)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()

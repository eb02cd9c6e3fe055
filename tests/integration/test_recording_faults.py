"""Recording under faults, with real processes and real signals.

Each test starts the real `mockrec record` (or `replay`) in a session of its own, as a
service manager or a terminal would, drives concurrent httpx clients through it, and
at a random moment sends SIGINT or SIGTERM to the whole process group, kill -9s the
writer child, fills the disk under the data dir and frees it, or damages a file.
After each: every request that got an answer is in the history (client side vs
`mockrec history list --json`), exactly once, every file loads, ids are not reused.

The moments come from a seeded random: MOCKREC_FAULT_SEED=N replays a run (the seed
is printed with each test's output, shown when it fails).
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import random
import re
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from conftest import QuietHTTPServer, run_cli

from recorder.cli import main
from recorder.store.history import HistoryStore

SEED = int(os.environ.get("MOCKREC_FAULT_SEED") or time.time_ns() % 1_000_000)
BANNER = re.compile(r"mockrec \w+ on (http://[^ ]+)")


def moment(case: str, low: float, high: float) -> float:
    value = random.Random(f"{SEED}:{case}").uniform(low, high)
    print(f"fault seed {SEED} (MOCKREC_FAULT_SEED={SEED} repeats it): {case} at {value:.3f} s")
    return value


def as_from_a_terminal(then=None):
    """Signals as a program started from a terminal has them. A test run started in the
    background by a non-interactive shell (`pytest &`) has SIGINT and SIGQUIT ignored,
    and its children would inherit that: a Ctrl-C before the proxy sets its own
    handlers would then be lost, where a terminal's kills it."""
    def preexec() -> None:
        for sig in (signal.SIGINT, signal.SIGQUIT):
            signal.signal(sig, signal.SIG_DFL)
        if then is not None:
            then()
    return preexec


class Proxy:
    """`mockrec COMMAND` in its own session: its process group is its own to signal."""

    def __init__(self, data_dir: Path, *args: str, command: str = "record",
                 preexec=None) -> None:
        self.data_dir = data_dir
        self.log = data_dir.parent / f"{data_dir.name}-{command}-{time.monotonic_ns()}.log"
        env = {**os.environ, "MOCKREC_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "recorder", command, "--port", "0", *args],
            stdout=self.log.open("wb"), stderr=subprocess.STDOUT, env=env,
            start_new_session=True, preexec_fn=as_from_a_terminal(preexec))
        self.url: str | None = None

    def wait_banner(self, timeout: float = 30) -> str | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if match := BANNER.search(self.text()):
                self.url = match.group(1)
                return self.url
            if self.process.poll() is not None:
                return None
            time.sleep(0.02)
        raise AssertionError(f"no banner after {timeout} s:\n{self.text()}")

    def started(self) -> str:
        url = self.wait_banner()
        assert url, f"mockrec did not start:\n{self.text()}"
        return url

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)

    def wait(self, timeout: float = 60) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(
                f"mockrec did not stop within {timeout} s:\n{self.text()}") from None

    def writers(self) -> list[int]:
        """The writer children (interpreters running history.writer_child), from /proc."""
        return [pid for pid in children(self.process.pid) if b"writer_child" in cmdline(pid)]

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def children(parent: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rpartition(")")[2].split()[1]) == parent:
            found.append(int(entry))
    return found


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


@pytest.fixture
def proxies():
    started: list[Proxy] = []

    def start(*args, **kwargs) -> Proxy:
        proxy = Proxy(*args, **kwargs)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.signal_group(signal.SIGKILL)
        proxy.kill()


class Load:
    """`clients` threads, each on its own keep-alive connection, each request unique;
    `answered` holds the requests that got an answer (any status: the proxy answered)."""

    loads = itertools.count()

    def __init__(self, url: str, clients: int = 6, *, body: bytes = b"", per_client: int = 0,
                 path: str = "/load"):
        self.url, self.body, self.per_client, self.path = url, body, per_client, path
        self.name = f"L{next(self.loads)}"
        self.answered: set[str] = set()
        self.sent = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(n,), daemon=True)
                         for n in range(clients)]

    def start(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def answering(self, timeout: float = 30) -> Load:
        """Once the first request got its answer."""
        deadline = time.monotonic() + timeout
        while not self.answered and time.monotonic() < deadline:
            time.sleep(0.01)
        assert self.answered, "no request got an answer"
        return self

    def stop(self) -> set[str]:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)
        return self.answered

    def wait(self, timeout: float = 60) -> set[str]:
        """Until every client has sent its `per_client` requests."""
        for thread in self._threads:
            thread.join(timeout)
        return self.answered

    def _run(self, n: int) -> None:
        with httpx.Client(timeout=10) as client:
            i = 0
            while not self._stop.is_set() and (not self.per_client or i < self.per_client):
                key = f"{self.name}c{n}-{i}"
                i += 1
                try:
                    if self.body:
                        client.post(f"{self.url}{self.path}?k={key}", content=self.body)
                    else:
                        client.get(f"{self.url}{self.path}?k={key}")
                except httpx.HTTPError:
                    time.sleep(0.02)  # the proxy is stopping or gone: no answer
                    continue
                with self._lock:
                    self.answered.add(key)


def mockrec(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "recorder", "--data-dir", str(data_dir), *args],
                          capture_output=True, text=True, timeout=60)


def recorded(data_dir: Path, command: tuple[str, ...] = ("history", "list")) -> list[dict]:
    """`mockrec history list --json` (run in this process: quicker than a new one)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["--data-dir", str(data_dir), *command, "--json", "--limit", "100000000"])
    assert code == 0, err.getvalue()
    return json.loads(out.getvalue())


def key_of(url_or_path: str) -> str | None:
    query = urlsplit(url_or_path).query
    return query[2:] if query.startswith("k=") else None


def stored_soon(data_dir: Path, wanted: set[str], timeout: float) -> set[str]:
    """The keys the history holds once it holds `wanted`, or after `timeout` seconds
    (while the proxy runs: its writer stores in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        stored = {key_of(e["url"]) for e in recorded(data_dir)}
        if wanted <= stored or time.monotonic() >= deadline:
            return stored
        time.sleep(0.2)


def check_history(data_dir: Path, answered: set[str], command=("history", "list"),
                  root: str = "history") -> list[dict]:
    """Every answered request is stored, once; every file loads; ids are not reused."""
    entries = recorded(data_dir, command)
    field = "url" if command[0] == "history" else "path"
    keys = [key_of(e[field]) for e in entries]
    stored = [k for k in keys if k is not None]
    assert len(stored) == len(set(stored)), "a request was stored twice"
    missing = answered - set(stored)
    assert not missing, f"{len(missing)} of {len(answered)} answered requests lost"
    ids = [e["id"] for e in entries]
    assert len(ids) == len(set(ids))
    store = HistoryStore(data_dir, root)
    loaded = list(store.entries(with_bodies=True))  # every segment and body file loads
    assert len(loaded) == len(entries)
    assert store._next_id() > max(ids, default=0)  # the next id is a new one
    referenced = {f"{e.id}.{side}" for e in loaded for side, m in
                  (("request", e.request), ("response", e.response))
                  if m is not None and len(m.body or b"") > 4096}
    on_disk = {p.name for p in (store.root / "bodies").rglob("*") if p.is_file()}
    assert on_disk == referenced, "orphan or missing body files"
    assert not list(store.root.rglob(".*.tmp"))
    return entries


def no_trouble_in(text: str) -> None:
    assert "Traceback" not in text and "CancelledError" not in text, text
    assert "writer (pid" not in text, f"the writer died:\n{text}"
    assert "lost" not in text, text


# -- signals ---------------------------------------------------------------------------

@pytest.mark.parametrize("sig, when", [
    (signal.SIGINT, "writer-start"), (signal.SIGTERM, "writer-start"),
    (signal.SIGINT, "under-load"), (signal.SIGTERM, "under-load"),
    (signal.SIGTERM, "any-moment"), (signal.SIGINT, "any-moment"),
], ids=lambda v: getattr(v, "name", v))
def test_a_signal_to_the_process_group_keeps_every_answered_request(
        proxies, upstream, tmp_path, sig, when):
    """Ctrl-C reaches the terminal's whole process group, and so does a service manager's
    SIGTERM: the writer child gets it too, the proxy alone decides when it stops."""
    data = tmp_path / "data"
    proxy = proxies(data, "--upstream", upstream.url)
    if when == "any-moment":  # from the process's start: maybe before it even listens
        timer = threading.Timer(moment(f"{sig.name}-{when}", 0.0, 2.5), proxy.signal_group,
                                (sig,))
        timer.start()
        url = proxy.wait_banner()
        load = Load(url).start() if url else None
        timer.join()
    elif when == "writer-start":
        # The writer child is still starting (importing) in the first few hundred ms.
        load = Load(proxy.started()).start()
        time.sleep(moment(f"{sig.name}-{when}", 0.0, 0.3))
        proxy.signal_group(sig)
    else:
        load = Load(proxy.started()).start().answering()
        time.sleep(moment(f"{sig.name}-{when}", 0.0, 1.2))
        proxy.signal_group(sig)
    code = proxy.wait()
    answered = load.stop() if load else set()
    if proxy.url is not None:
        assert code == 0, proxy.text()
        no_trouble_in(proxy.text())
    else:  # signalled before it set up its handlers: nothing was answered
        assert not answered
    if data.exists():
        check_history(data, answered)
    print(f"{len(answered)} answered, all stored")


@pytest.mark.wall_clock
@pytest.mark.slow
@pytest.mark.parametrize("run", ["writer", "all-children"])
def test_kill_9_of_the_writer_under_load_loses_nothing(proxies, upstream, tmp_path, run):
    """kill -9 of the writer child (or of every child the proxy has), twice, under load:
    a new writer takes over, with what the old one held."""
    data = tmp_path / "data"
    proxy = proxies(data, "--upstream", upstream.url)
    load = Load(proxy.started(), clients=8).start().answering()
    time.sleep(moment(f"writer-kill-{run}", 0.0, 0.8))
    killed = set()
    for _ in range(2):
        deadline = time.monotonic() + 10
        while not (writers := set(proxy.writers()) - killed) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert writers, f"no writer child found:\n{proxy.text()}"
        victims = writers | (set(children(proxy.process.pid)) if run == "all-children" else set())
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        killed |= writers
        time.sleep(moment(f"writer-kill-{run}-load", 0.3, 1.0))
    # A new writer took over while the proxy runs: what is answered gets stored now.
    before = set(load.answered)
    stored = stored_soon(data, before, 10)
    assert before <= stored, f"{len(before - stored)} not stored while running"
    proxy.signal_group(signal.SIGINT)
    assert proxy.wait() == 0, proxy.text()
    answered = load.stop()
    text = proxy.text()
    assert text.count("killed by signal 9") == 2, text
    assert "Traceback" not in text
    check_history(data, answered)
    print(f"{len(answered)} answered, all stored")


# -- shutdown with exchanges in flight ----------------------------------------------------

class SlowUpstream:
    """Answers /slow?s=SECONDS after that long; `arrived` counts the requests it got."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler

        outer = self
        self.arrived = 0

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                outer.arrived += 1
                time.sleep(float(urlsplit(self.path).query.partition("=")[2] or 0))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = QuietHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.wall_clock
def test_stopping_gives_exchanges_in_flight_a_grace_then_records_the_cut_ones(
        proxies, tmp_path):
    slow = SlowUpstream()
    data = tmp_path / "data"
    proxy = proxies(data, "--upstream", slow.url, "--grace", "2")
    url = proxy.started()
    outcome: dict[str, object] = {}

    def fetch(name: str, seconds: float) -> None:
        try:
            outcome[name] = httpx.get(f"{url}/slow?s={seconds}", timeout=30).status_code
        except httpx.HTTPError as e:
            outcome[name] = type(e).__name__

    threads = [threading.Thread(target=fetch, args=("short", 1)),
               threading.Thread(target=fetch, args=("long", 12))]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20
    while slow.arrived < 2 and time.monotonic() < deadline:  # both in flight
        time.sleep(0.01)
    stopped = time.monotonic()
    proxy.signal_group(signal.SIGTERM)
    assert proxy.wait() == 0
    took = time.monotonic() - stopped
    for thread in threads:
        thread.join()
    slow.close()
    assert outcome["short"] == 200  # finished within the grace
    assert outcome["long"] != 200
    assert took < 8, took
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, timeout=2)
    no_trouble_in(proxy.text())
    entries = {e["url"].rpartition("=")[2]: e for e in recorded(data)}
    assert entries["1"]["status"] == 200
    assert entries["12"]["status"] is None and entries["12"]["error"] == "proxy stopping"


# -- write failures ------------------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path):
    """A 16 MB tmpfs (we are root in CI), or None where mounting is not allowed."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)],
                          capture_output=True)
    if done.returncode != 0:
        yield None
        return
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def fill(disk: Path) -> Path:
    """Fill the disk to the last byte."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        for size in (1 << 20, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    return filler


def limit_file_size(limit: int):
    def preexec() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return preexec


@pytest.mark.wall_clock
@pytest.mark.slow
def test_disk_full_then_freed_stores_everything_answered_meanwhile(
        proxies, upstream, tmp_path, small_disk):
    if small_disk is not None:
        data = small_disk / "data"
        proxy = proxies(data, "--upstream", upstream.url)
        body = os.urandom(8 * 1024)  # over 4 KB: a body file per entry
    else:  # no tmpfs here: a file size limit the writer hits with big bodies instead
        data = tmp_path / "data"
        proxy = proxies(data, "--upstream", upstream.url, preexec=limit_file_size(256 * 1024))
        body = os.urandom(300 * 1024)
    url = proxy.started()
    Load(url, clients=2, per_client=5).start().wait()  # stored as usual
    filler = fill(small_disk) if small_disk is not None else None
    load = Load(url, clients=4, body=body, per_client=40).start()
    time.sleep(moment("disk-full", 0.5, 1.5))
    answered_while_full = set(load.answered)
    time.sleep(0.5)
    text = proxy.text()
    assert text.count("could not write the history") == 1, text
    assert ("free some space" if filler else "ulimit -f") in text
    # Space is back.
    if filler is not None:
        filler.unlink()
    else:
        for pid in proxy.writers():
            resource.prlimit(pid, resource.RLIMIT_FSIZE,
                             (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    answered = load.wait()
    stored = stored_soon(data, answered, 20)
    assert answered_while_full <= stored and answered <= stored
    assert "works again" in proxy.text()
    proxy.signal_group(signal.SIGTERM)
    assert proxy.wait() == 0
    check_history(data, answered)


@pytest.mark.slow
def test_disk_still_full_at_stop_is_recovered_by_the_next_start(
        proxies, upstream, tmp_path, small_disk, monkeypatch):
    if small_disk is None:
        pytest.skip("needs a tmpfs (mount -t tmpfs) to fill")
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))  # the recovery file's other place
    (tmp_path / "tmp").mkdir()
    data = small_disk / "data"
    proxy = proxies(data, "--upstream", upstream.url)
    url = proxy.started()
    Load(url, clients=1, per_client=3).start().wait()
    filler = fill(small_disk)
    answered = Load(url, clients=3, body=os.urandom(6000), per_client=10).start().wait()
    proxy.signal_group(signal.SIGTERM)
    assert proxy.wait() == 0
    text = proxy.text()
    assert "could not be stored; kept in" in text and "lost" not in text, text
    kept = re.search(r"kept in (\S+\.json)", text).group(1)
    assert Path(kept).is_relative_to(tmp_path / "tmp")
    filler.unlink()
    proxy = proxies(data, "--upstream", upstream.url)
    proxy.started()
    deadline = time.monotonic() + 10
    while Path(kept).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(kept).exists()
    assert "imported" in proxy.text()
    proxy.signal_group(signal.SIGINT)
    assert proxy.wait() == 0
    check_history(data, answered)


def test_a_damaged_counter_keeps_what_is_recorded_until_the_user_repairs_it(
        proxies, upstream, tmp_path):
    data = tmp_path / "data"
    proxy = proxies(data, "--upstream", upstream.url)
    url = proxy.started()
    first = Load(url, clients=2, per_client=5).start().wait()
    deadline = time.monotonic() + 10
    while len(recorded(data)) < 10 and time.monotonic() < deadline:
        time.sleep(0.1)
    counter = data / "history" / "next-id.json"
    counter.write_text("{oops")
    second = Load(url, clients=2, per_client=5).start().wait()
    proxy.signal_group(signal.SIGTERM)
    assert proxy.wait() == 0
    text = proxy.text()
    assert text.count("next-id.json is damaged") == 1, text
    assert counter.read_text() == "{oops"  # never written over
    (recovery,) = data.glob("recovery@history@*.json")
    # The next start says what is wrong, in one line, and starts nothing.
    code, _, err = run_cli("record", "--port", "0", "--upstream", upstream.url, data_dir=data)
    assert code == 4 and err.count("\n") == 1 and "next-id.json is damaged" in err
    counter.rename(counter.with_suffix(".broken"))
    code, out, _ = run_cli("history", "recover", data_dir=data)
    assert code == 0 and "imported 10 entries into the history" in out
    assert not recovery.exists()
    check_history(data, first | second)


# -- damaged files ---------------------------------------------------------------------------


@pytest.mark.parametrize("content", ["", '{"entries": {"1": 5}}'], ids=["empty", "wrong-shape"])
def test_a_damaged_segment_stops_what_needs_it_and_only_that(proxies, upstream, tmp_path,
                                                              content):
    """Said by every command that needs it, in one line (exit 4), and never written over."""
    data = tmp_path / "data"
    assert run_cli("example", "add", "--collection", "shop", "GET", "/ping", "--body", "pong",
                   data_dir=data).exit_code == 0
    segment = data / "history" / "segment-00000000.json"
    segment.parent.mkdir(parents=True)
    segment.write_text(content)
    for command in (["history", "list"], ["history", "search", "anything"]):
        code, _, err = run_cli(*command, data_dir=data)
        assert code == 4 and err.count("\n") == 1, (command, err)
        assert "segment-00000000.json is damaged" in err
    if content:  # the rest, once is enough
        return
    result = mockrec(data, "record", "--port", "0", "--upstream", upstream.url)
    assert result.returncode == 4, result.stderr
    assert result.stderr.count("\n") == 1 and "segment-00000000.json is damaged" in result.stderr
    # Replay never reads the history: it starts, and serves.
    proxy = proxies(data, "shop", command="replay")
    assert httpx.get(proxy.started() + "/ping").text == "pong"
    proxy.signal_group(signal.SIGTERM)
    assert proxy.wait() == 0
    assert segment.read_text() == content


@pytest.mark.parametrize("content", ["", "[]", '{"document": {"1": 5}}'],
                         ids=["empty", "list", "wrong-shape"])
def test_damaged_settings_files_are_reported_and_kept(tmp_path, content):
    data = tmp_path / "data"
    assert run_cli("example", "add", "--collection", "shop", "GET", "/ping",
                   data_dir=data).exit_code == 0
    assert run_cli("env", "set", "dev", "a=1", data_dir=data).exit_code == 0
    assert run_cli("mock", "create", "m", "--collection", "shop", data_dir=data).exit_code == 0
    paths = {"collection": data / "collections" / "shop.json",
             "mock": data / "mocks" / "m.json", "env": data / "environments" / "dev.json"}
    commands = {"collection": [["collection", "show", "shop"], ["collection", "list"],
                               ["example", "add", "--collection", "shop", "GET", "/x"]],
                "mock": [["mock", "list"], ["mock", "show", "m"],
                         ["mock", "update", "m", "--delay", "3g"]],
                "env": [["env", "show", "dev"], ["env", "set", "dev", "b=2"]]}
    starts = {"collection": ["replay", "shop"], "mock": ["replay", "m"],
              "env": ["replay", "shop", "--env", "dev"]}
    for kind, path in paths.items():
        good = path.read_bytes()
        path.write_text(content)
        for command in commands[kind]:
            code, _, err = run_cli(*command, data_dir=data)
            assert code == 4, (command, err)
            assert err.count("\n") == 1 and f"{path} is damaged" in err
        if content == "":  # and a proxy does not start on it either
            if kind == "collection":  # read by the proxy itself: a process of its own
                result = mockrec(data, *starts[kind], "--port", "0")
                code, err = result.returncode, result.stderr
            else:  # read before any proxy starts
                code, _, err = run_cli(*starts[kind], "--port", "0", data_dir=data)
            assert code == 4, (kind, err)
            assert err.count("\n") == 1 and "is damaged" in err
        assert path.read_text() == content
        path.write_bytes(good)


# -- the call log -------------------------------------------------------------------------------

def test_the_call_log_keeps_every_answered_call_on_a_group_signal(proxies, tmp_path):
    sig = signal.SIGTERM  # as a service manager stops a mock
    data = tmp_path / "data"
    assert mockrec(data, "example", "add", "--collection", "shop", "GET", "/load",
                   "--body", "ok").returncode == 0
    proxy = proxies(data, "shop", command="replay")
    load = Load(proxy.started(), clients=6).start().answering()
    time.sleep(moment(f"call-log-{sig.name}", 0.0, 1.2))
    proxy.signal_group(sig)
    assert proxy.wait() == 0
    answered = load.stop()
    no_trouble_in(proxy.text())
    check_history(data, answered, command=("calls", "shop"), root="calls/shop")
    print(f"{len(answered)} calls answered, all logged")

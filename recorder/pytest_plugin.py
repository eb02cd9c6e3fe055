"""mockrec's pytest plugin (entry point `pytest11`): mocks for a test suite.

    def test_checkout(mockrec):
        mock = mockrec("shop", data_dir="tests/mockrec")   # a replaying proxy on a free port
        r = httpx.get(mock.url + "/users/1")
        mock.assert_called("GET", "/users/*", times=1)

`mockrec(...)` starts `mockrec proxy` as a subprocess (in its own process group) on
127.0.0.1, port 0, reads its ports from the banner, and talks to it through the admin
API (addons/admin.py) over HTTP; it is stopped when the test ends (or, with
`scope="module"`/`"session"`, when that ends; a later test asking for the same
configuration gets the same proxy, with its calls forgotten and quotas rewound). Every
proxy is stopped at the end of the session too, and at exit as a last resort; on Linux
it also dies with pytest. The proxy's output is attached to a failed test's report.

`pytest --mockrec-mode=spy` (or `record`) runs the same tests against the real API,
recording in the data dir's history what no example answered, for `mockrec promote`.
`--mockrec-data-dir DIR` is the data dir of mocks that name none.

This module is imported by every pytest run where mockrec is installed: it imports
nothing heavy at the top, and never mitmproxy (the proxy is another process).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

MODES = ("replay", "spy", "record")
SCOPES = ("function", "class", "module", "package", "session")
LISTENING = re.compile(r"^mockrec \w+ (?:also )?on (http://\S+) \((reverse|forward) proxy",
                       re.MULTILINE)
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


class MockrecError(Exception):
    """The proxy would not start, or the admin API refused a request."""


@dataclass(frozen=True)
class ProxySpec:
    """What a proxy is started with: a test asking for the same gets the same proxy."""

    collection: str
    data_dir: Path
    mode: str
    upstream: str | None
    settings: dict[str, Any]  # replay settings, checked (`_settings`)
    confdir: Path  # mitmproxy's, with its CA
    args: tuple[str, ...] = ()  # more of `mockrec proxy`'s arguments

    def key(self) -> tuple:
        return (self.collection, str(self.data_dir), self.mode, self.upstream, tuple(sorted(
            (k, str(v)) for k, v in self.settings.items())), str(self.confdir), self.args)


class MockrecProxy:
    """A running `mockrec proxy`: the mock URL (`url`), the forward proxy (`proxy_url`)
    with its CA (`ca_file`), and the admin API's verification."""

    def __init__(self, spec: ProxySpec, log_dir: Path):
        self.collection, self.data_dir, self.mode = spec.collection, spec.data_dir, spec.mode
        self.upstream, self.settings, self.confdir = spec.upstream, spec.settings, spec.confdir
        self.ca_file = str(spec.confdir / "mitmproxy-ca-cert.pem")
        self.api_key = spec.settings.get("api_key") or None
        self.log_path = log_dir / f"mockrec-{spec.collection}-{os.getpid()}-{id(self):x}.log"
        self.url = self.proxy_url = ""
        self.process = self._start(list(spec.args))

    # -- the process --------------------------------------------------------------------------

    def _command(self, args: list[str]) -> list[str]:
        from recorder.store.collection_store import CollectionStore

        command = [sys.executable, "-m", "recorder", "--data-dir", str(self.data_dir),
                   "proxy", "--mode", self.mode, "--port", "0", "--listen-host", "127.0.0.1"]
        # Spy and record start without a collection that does not exist yet: everything
        # then goes to the real API, and is recorded.
        if self.mode == "replay" or CollectionStore(self.data_dir).exists(self.collection):
            command += ["--collection", self.collection]
        if self.upstream:
            command += ["--upstream", self.upstream]
        for name, value in self.settings.items():
            if name == "api_key":
                continue  # in the environment (`_start_once`), never on a command line
            flag = "--" + name.replace("_", "-")
            if isinstance(value, bool):
                command.append(flag if value else f"--no-{name.replace('_', '-')}")
            else:
                command += [flag, str(value)]
        # Two listeners in one proxy: the mock URL (reverse, on the port the OS picks for
        # --port 0) and a forward proxy. mitmproxy takes two listeners on "port 0" for
        # one address, so the second gets a port found free just before (and a retry
        # should another program take it meanwhile).
        from recorder.proxy.config import NO_UPSTREAM  # not at import: pytest loads us

        command += ["--set", f"mode=reverse:{self.upstream or NO_UPSTREAM}",
                    "--set", f"mode=regular@{_free_port()}", "--set",
                    f"confdir={self.confdir}", *args]
        return command

    def _start(self, args: list[str]) -> subprocess.Popen:
        for attempt in range(3):
            try:
                return self._start_once(args)
            except MockrecError as e:
                if attempt == 2 or "already in use" not in str(e).lower():
                    raise
        raise AssertionError("not reached")

    def _start_once(self, args: list[str]) -> subprocess.Popen:
        env = {k: v for k, v in os.environ.items()
               if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
        env["PYTHONUNBUFFERED"] = "1"
        env.pop("MOCKREC_API_KEY", None)
        if self.api_key:  # `ps` shows a command line to every user of the machine
            env["MOCKREC_API_KEY"] = str(self.api_key)
        with self.log_path.open("wb") as out:
            process = subprocess.Popen(
                self._command(args), stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, env=env, start_new_session=True,
                preexec_fn=_die_with_parent())
        _running[process.pid] = self
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            found = dict((kind, url) for url, kind in LISTENING.findall(self.output()))
            if "reverse" in found and "forward" in found:
                self.url, self.proxy_url = found["reverse"], found["forward"]
                return process
            if process.poll() is not None:
                break
            time.sleep(0.05)
        self.process = process
        self.stop()
        raise MockrecError(f"mockrec proxy for {self.collection!r} did not start:\n"
                           + self.output().strip())

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self, since: int = 0) -> str:
        """What the proxy printed (from byte `since`)."""
        try:
            with self.log_path.open("rb") as f:
                f.seek(since)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def output_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def stop(self) -> None:
        """SIGTERM (the proxy flushes what it recorded), then SIGKILL for the whole group."""
        process = self.process
        _running.pop(process.pid, None)
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                _kill_group(process.pid)
                process.wait()
        # Its helpers (the history writers) finish
        # on their own once it is gone; none outlives the session.
        deadline = time.monotonic() + STOP_TIMEOUT
        while _group_alive(process.pid):
            if time.monotonic() > deadline:
                _kill_group(process.pid)
                break
            time.sleep(0.02)

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    # -- the admin API ------------------------------------------------------------------------

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        """One admin request (`path` under /__mockrec/); its JSON answer."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + "/__mockrec/" + path.lstrip("/"),
                                         data=data, method=method)
        if data is not None or method not in ("GET", "HEAD"):
            # the admin API wants JSON for every request that changes something
            request.add_header("Content-Type", "application/json")
        if self.api_key:
            request.add_header("x-api-key", self.api_key)
        try:
            with _opener.open(request, timeout=30) as answer:
                return json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as e:
            try:
                message = json.loads(e.read())["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = str(e)
            raise MockrecError(f"{method} /__mockrec/{path}: {e.code} {message}") from None
        except OSError as e:
            alive = "" if self.running else " (the proxy has exited; see its output)"
            raise MockrecError(f"{method} /__mockrec/{path}: {e}{alive}") from None

    def status(self) -> dict[str, Any]:
        return self.admin("GET", "status")

    def calls(self, **filters: Any) -> list[dict[str, Any]]:
        """This run's calls, oldest first: method, path (a glob), status, matched, limit."""
        query = urllib.parse.urlencode({k: _query_value(v) for k, v in filters.items()
                                        if v is not None})
        return self.admin("GET", "calls" + (f"?{query}" if query else ""))

    def count(self, **filters: Any) -> int:
        """How many calls fit: method, path (a glob), status, matched, body_contains, headers."""
        return self.admin("POST", "calls/count", filters)["count"]

    def verify(self, **filters: Any) -> dict[str, Any]:
        """The count, and the calls made, closest first, each with what differed."""
        return self.admin("POST", "calls/count", {**filters, "explain": True})

    def assert_called(self, method: str, path: str, times: int | None = None,
                      **filters: Any) -> None:
        """Fails, listing the calls that were made, unless `method path` was called
        (`times` times exactly, when given)."""
        found = self.verify(method=method, path=path, **filters)
        count = found["count"]
        if (count >= 1) if times is None else (count == times):
            return
        expected = "at least once" if times is None else _times(times)
        raise AssertionError(explain_calls(found, f"expected {found['query']} to be called "
                                                  f"{expected}, but it was called "
                                                  f"{_times(count)}"))

    def assert_not_called(self, method: str, path: str, **filters: Any) -> None:
        self.assert_called(method, path, times=0, **filters)

    def set_mode(self, mode: str) -> None:
        self.admin("PUT", "mode", {"mode": mode})

    def reset(self) -> None:
        """Forget this run's calls and rewind the sequences and quotas (POST /__mockrec/reset)."""
        self.admin("DELETE", "calls")
        self.admin("POST", "reset")

    def add_example(self, method: str, url: str, status: int = 200, body: str = "",
                    headers: dict[str, str] | None = None, name: str | None = None) -> int:
        """Add an example to the collection file, served from the next request; its id."""
        doc: dict[str, Any] = {"request": {"method": method, "url": url},
                               "response": {"status": status, "body": body,
                                            "headers": headers or {}}}
        if name:
            doc["name"] = name
        return self.admin("POST", "examples", doc)["id"]

    def delete_example(self, example_id: int) -> None:
        self.admin("DELETE", f"examples/{example_id}")

    def drift(self, upstream: str | None = None, *, headers: dict[str, str] | None = None,
              methods: str = "safe", values: bool = False, from_history: bool = False) -> Any:
        """Check this mock's examples against the live API, as `mockrec drift` does:
        `upstream`, else the mock's own, else the collection's baseUrl. Returns the report
        (`report.clean`, `report.drifted`, `report.results`, `report.text()`), e.g.
        `assert (report := mock.drift()).clean, report.text()`."""
        from recorder.drift.check import DriftOptions, check
        from recorder.drift.plan import Fill
        from recorder.drift.send import run
        from recorder.store.collection_store import CollectionStore
        from recorder.store.mocks import EnvironmentStore

        if methods not in ("safe", "all"):
            raise ValueError(f"methods {methods!r} is not safe or all")
        env = self.settings.get("env")
        fill = Fill(variables=EnvironmentStore(self.data_dir).get(env) if env else {},
                    headers=list((headers or {}).items()), upstream=upstream or self.upstream,
                    all_methods=methods == "all")
        collection = CollectionStore(self.data_dir).load(self.collection,
                                                         self.settings.get("tag"))
        options = DriftOptions(fill=fill, values=values, from_history=from_history)
        return run(check(collection, options, self.data_dir))

    @property
    def env(self) -> dict[str, str]:
        """Environment variables that send a program's HTTP(S) through the forward proxy."""
        return {"HTTP_PROXY": self.proxy_url, "HTTPS_PROXY": self.proxy_url,
                "http_proxy": self.proxy_url, "https_proxy": self.proxy_url,
                "SSL_CERT_FILE": self.ca_file, "REQUESTS_CA_BUNDLE": self.ca_file,
                "CURL_CA_BUNDLE": self.ca_file, "NODE_EXTRA_CA_CERTS": self.ca_file}

    def __repr__(self) -> str:
        return (f"<MockrecProxy {self.collection} {self.mode} url={self.url} "
                f"proxy_url={self.proxy_url} pid={self.pid}>")


def explain_calls(found: dict[str, Any], headline: str) -> str:
    calls = found.get("calls") or []
    lines = [headline + "."]
    if not calls:
        lines.append("The mock received no calls.")
        return "\n".join(lines)
    shown = len(calls)
    total = found.get("total", shown)
    lines.append(f"Calls the mock received ({total}; closest first"
                 + (f", {shown} shown" if shown < total else "") + "):")
    for call in calls:
        answered = (f"example {call['example']['name']!r}" if call.get("example")
                    else "no example")
        why = "; ".join(call.get("differs") or []) or "fits"
        lines.append(f"  #{call['id']} {call['method']} {call['path']} -> "
                     f"{call['status'] or call.get('error')} ({answered}): {why}")
    return "\n".join(lines)


def _times(n: int) -> str:
    return {0: "0 times", 1: "once", 2: "twice"}.get(n, f"{n} times")


def _query_value(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _group_alive(pgid: int) -> bool:
    """Does a process of this group still run (zombies, waiting for a parent, do not)?"""
    if sys.platform.startswith("linux") and os.path.isdir("/proc"):
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    state, _, group = f.read().rpartition(b")")[2].split()[:3]
            except (OSError, ValueError):
                continue
            if int(group) == pgid and state != b"Z":
                return True
        return False
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent():
    """On Linux, the proxy gets SIGTERM should pytest die without cleaning up (kill -9)."""
    if not sys.platform.startswith("linux") or threading.current_thread() is not (
            threading.main_thread()):
        return None  # the signal follows the thread that started it
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None

    def preexec() -> None:
        prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG

    return preexec


# Every proxy started and not yet stopped, by pid: stopped at exit as a last resort.
_running: dict[int, MockrecProxy] = {}
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via HTTP_PROXY


def _stop_all() -> None:
    for proxy in list(_running.values()):
        with contextlib.suppress(Exception):
            proxy.stop()


atexit.register(_stop_all)


# -- pytest's side ---------------------------------------------------------------------------

_proxies_key = pytest.StashKey["Proxies"]()
_used_key = pytest.StashKey[list]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mockrec", "mockrec mocks (the mockrec fixture)")
    group.addoption("--mockrec-mode", choices=MODES, default=None,
                    help="Mode of every mock the tests start: replay (the examples only), "
                         "spy (examples, else the real API, recorded) or record (the real "
                         "API, recorded). Default: what each test asks, else replay.")
    group.addoption("--mockrec-data-dir", default=None, metavar="DIR",
                    help="Data dir of mocks whose test names none [default: "
                         "$MOCKREC_DATA_DIR, else .mockrec in the rootdir].")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_proxies_key] = Proxies(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    proxies = config.stash.get(_proxies_key, None)
    if proxies is not None:
        proxies.stop_all()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for proxy, since in item.stash.get(_used_key, []):
            text = proxy.output(since).strip()
            report.sections.append((f"mockrec proxy output ({proxy.collection}, "
                                    f"{proxy.mode}, pid {proxy.pid})", text or "(nothing)"))


class Proxies:
    """The session's proxies: shared ones by configuration, and their output's directory."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.shared: dict[tuple, MockrecProxy] = {}
        self._log_dir: Path | None = None

    @property
    def log_dir(self) -> Path:
        if self._log_dir is None:
            self._log_dir = Path(tempfile.mkdtemp(prefix="mockrec-pytest-"))
        return self._log_dir

    def data_dir(self, given: str | os.PathLike | None) -> Path:
        if given is not None:
            path = Path(given).expanduser()
            return path if path.is_absolute() else self.config.rootpath / path
        option = self.config.getoption("mockrec_data_dir")
        if option:
            path = Path(option).expanduser()
            return path if path.is_absolute() else self.config.invocation_params.dir / path
        if os.environ.get("MOCKREC_DATA_DIR"):
            return Path(os.environ["MOCKREC_DATA_DIR"]).expanduser().resolve()
        return self.config.rootpath / ".mockrec"

    def stop_all(self) -> None:
        for proxy in self.shared.values():
            proxy.stop()
        self.shared.clear()


class Factory:
    """The `mockrec` fixture: call it to get a running mock."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self.request = request
        self.proxies: Proxies = request.config.stash[_proxies_key]
        self.started: list[MockrecProxy] = []  # by this test, in order
        self._own: dict[tuple, MockrecProxy] = {}  # stopped when the test ends

    def __call__(self, collection: str, data_dir: str | os.PathLike | None = None,
                 mode: str | None = None, upstream: str | None = None, *,
                 scope: str = "function", confdir: str | os.PathLike | None = None,
                 **options: Any) -> MockrecProxy:
        """A proxy serving `collection` (in `mode`; `--mockrec-mode` wins over the
        default), reverse-proxying its mock URL to `upstream`. `options` are the other
        settings of `mockrec replay` (delay, env, tag, api_key, on_miss, max_calls,
        match_body, ...), and `args`, more arguments of `mockrec proxy`."""
        chosen = self.request.config.getoption("mockrec_mode") or mode or "replay"
        if chosen not in MODES:
            raise ValueError(f"mode {chosen!r} is not one of {', '.join(MODES)}")
        if scope not in SCOPES:
            raise ValueError(f"scope {scope!r} is not one of {', '.join(SCOPES)}")
        args = tuple(options.pop("args", ()))
        where = Path(confdir).expanduser() if confdir else Path("~/.mitmproxy").expanduser()
        spec = ProxySpec(collection, self.proxies.data_dir(data_dir), chosen, upstream,
                         _settings(**options), where, args)
        key = spec.key()
        shared = scope != "function"
        table = self.proxies.shared if shared else self._own
        proxy = table.get(key)
        since = 0  # the output this test is shown on failure: all of a proxy it started
        if proxy is not None and not proxy.running:
            table.pop(key)
            proxy.stop()
            proxy = None
        if proxy is None:
            proxy = MockrecProxy(spec, self.proxies.log_dir)
            table[key] = proxy
            if shared and scope != "session":
                self._stop_with(scope, key, proxy)
        else:
            since = proxy.output_size()
            if shared:
                proxy.reset()  # a test of its own: no calls yet, quotas full
                if proxy.status()["mode"] != chosen:
                    proxy.set_mode(chosen)
        self.request.node.stash.setdefault(_used_key, []).append((proxy, since))
        self.started.append(proxy)
        return proxy

    def _stop_with(self, scope: str, key: tuple, proxy: MockrecProxy) -> None:
        kinds = {"class": pytest.Class, "module": pytest.Module, "package": pytest.Package}
        node = self.request.node.getparent(kinds[scope]) or self.request.session

        def stop() -> None:
            self.proxies.shared.pop(key, None)
            proxy.stop()
        node.addfinalizer(stop)

    def close(self) -> None:
        for proxy in self._own.values():
            proxy.stop()
        self._own.clear()


def _settings(**given: Any) -> dict[str, Any]:
    """The replay settings given, checked against `mockrec replay`'s flags."""
    from recorder.settings import ReplaySettings

    flags = {f.name for f in ReplaySettings.setting_fields() if f.metadata["cli"]}
    unknown = sorted(set(given) - flags)
    if unknown:
        raise TypeError(f"mockrec() got unknown options {unknown}; it takes "
                        + ", ".join(sorted(flags)))
    return {k: v for k, v in given.items() if v is not None}


@pytest.fixture
def mockrec(request: pytest.FixtureRequest):
    """Start mocks: `mockrec("shop", data_dir="tests/mockrec")` -> a running proxy."""
    factory = Factory(request)
    yield factory
    factory.close()


@pytest.fixture
def mockrec_env(mockrec: Factory, monkeypatch: pytest.MonkeyPatch):
    """`mockrec_env(mock)` sets HTTP_PROXY, HTTPS_PROXY, SSL_CERT_FILE, REQUESTS_CA_BUNDLE
    (and friends) for the test, to send a program through the mock's forward proxy, and
    returns them (for `subprocess.run(env=...)`). Without a mock: the test's latest."""
    def apply(mock: MockrecProxy | None = None) -> dict[str, str]:
        if mock is None:
            if not mockrec.started:
                raise MockrecError("start a mock first: mock = mockrec('collection')")
            mock = mockrec.started[-1]
        for name, value in mock.env.items():
            monkeypatch.setenv(name, value)
        return mock.env
    return apply

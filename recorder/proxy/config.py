"""What a proxy is started with (`ProxyConfig`), checked before mitmproxy starts."""

from __future__ import annotations

import contextlib
import errno
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from recorder.errors import MockrecError, UsageError
from recorder.modes import Mode
from recorder.settings import ProxySettings, ReplaySettings

# Where a mock URL forwards when no upstream is known (the pytest plugin's mock without
# one): a port nothing listens on, so a request forwarded there (spy, record) gets
# mockrec's JSON 502 naming it. The banner says "no upstream" rather than this address.
NO_UPSTREAM = "http://127.0.0.1:9"


@dataclass
class ProxyConfig:
    data_dir: Path
    mode: Mode = Mode.RECORD
    upstream: str | None = None  # reverse proxy to this base URL; None: forward proxy
    listen_host: str = "127.0.0.1"
    port: int = 8080
    verbose: bool = False
    settings: list[str] = field(default_factory=list)  # mitmproxy `--set` KEY=VALUE
    grace: float = 3.0  # seconds in-flight exchanges get to finish when the proxy stops
    replay: ReplaySettings = field(default_factory=ReplaySettings)
    upstream_from: str = ""  # why it is this kind of proxy (--upstream, a baseUrl ...): the banner

    def __post_init__(self) -> None:
        self.mode = Mode(self.mode)

    @property
    def proxy_mode(self) -> str:
        # mitmproxy's reverse mode takes an origin; a base path (`/v71`) is already in
        # the paths clients send to the mock URL, and in the examples' paths.
        return f"reverse:{upstream_origin(self.upstream)}" if self.upstream else "regular"

    def addon_options(self) -> dict[str, object]:
        own = ProxySettings(mode=str(self.mode), data_dir=str(self.data_dir), grace=self.grace)
        return {**own.options("mode", "data_dir", "grace"), **self.replay.options()}


def check_upstream(url: str) -> str:
    """`http://host:port[/base]` or https; the reverse proxy's target. A base path
    (`https://checkout-test.adyen.com/v71`) is part of what clients send."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--upstream {url!r} is not an http(s) URL like "
                           "http://localhost:3000 or https://api.example.com/v1")
    if parts.query or parts.fragment or parts.username is not None:
        raise UsageError(f"--upstream {url!r}: a base URL has no query, fragment or user "
                           "(like https://api.example.com/v1)")
    return url.rstrip("/")


def upstream_origin(url: str) -> str:
    """`https://host:port` of a base URL (its path left out)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def remembered_upstream(variables: dict[str, str]) -> str | None:
    """The upstream a collection remembers: its `baseUrl` when that is an http(s) URL,
    with or without a base path (promote sets an origin; vendors' collections have
    `https://checkout-test.adyen.com/v71`)."""
    base = str(variables.get("baseUrl") or "").strip().rstrip("/")
    if "{{" in base:
        return None
    try:  # a malformed one (`http://[::1`, a bad port) is no upstream
        return check_upstream(base)
    except MockrecError:
        return None


def check_port_free(host: str, port: int, data_dir: Path | None = None) -> None:
    """A clear message now beats mitmproxy's multi-line startup error: it says who holds
    the port (a mockrec proxy of `data_dir`, or a process) when it can."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                holder = port_holder(port, data_dir)
                raise MockrecError(
                    f"port {port} on {host} is already in use"
                    + (f" by {holder}" if holder else "")
                    + ": stop it or pick another port with --port") from None
            raise MockrecError(f"cannot listen on {host}:{port}: {e.strerror}") from None


def port_holder(port: int, data_dir: Path | None = None) -> str | None:
    """Who listens on `port`: a mockrec proxy of this data dir (its mode and mock), or a
    process of this user (Linux: /proc), or None when that cannot be said."""
    from recorder.proxy import remote

    if data_dir is not None and remote.listening(remote.socket_path(data_dir, port)):
        try:
            reply = remote.send(data_dir, port, {"set": {}})
        except MockrecError:
            reply = {}
        what = reply.get("mock") or reply.get("collection")
        return ("mockrec" + (f" in {reply['mode']} mode" if reply.get("mode") else "")
                + (f" serving mock {what}" if what else "")
                + (f" (pid {reply['pid']})" if reply.get("pid") else "")
                + " from this data dir")
    pid = listening_pid(port)
    if pid is None:
        return None
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            "utf-8", "replace").strip()
    except OSError:
        command = ""
    return f"process {pid}" + (f" ({command[:100]})" if command else "")


def listening_pid(port: int) -> int | None:
    """The process listening on TCP `port`, from /proc (Linux; processes we may see)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1],
                                                              16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) in inodes:
                    return int(proc.name)
        except OSError:
            continue
    return None


def client_urls(host: str, port: int) -> list[str]:
    """Addresses a client can use for a proxy listening on `host`: for every address
    (0.0.0.0, ::) this machine's loopback first, then its other addresses."""
    if host not in ("0.0.0.0", "::", ""):
        return [f"http://{host if ':' not in host else f'[{host}]'}:{port}"]
    found: list[str] = ["127.0.0.1"]
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))  # a UDP "connect" sends nothing: it picks the route
        found.append(s.getsockname()[0])
    with contextlib.suppress(OSError):
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            found.append(str(info[4][0]))
    addresses = [a for a in dict.fromkeys(found) if a == "127.0.0.1" or not
                 a.startswith("127.")]
    return [f"http://{a}:{port}" for a in addresses]

"""What a proxy is started with (`ProxyConfig`), checked before mitmproxy starts."""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from recorder.errors import MockrecError
from recorder.modes import Mode
from recorder.settings import ReplaySettings


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
    upstream_from: str = ""  # where `upstream` came from when not --upstream, for the banner

    def __post_init__(self) -> None:
        self.mode = Mode(self.mode)

    @property
    def proxy_mode(self) -> str:
        return f"reverse:{self.upstream}" if self.upstream else "regular"

    def addon_options(self) -> dict[str, object]:
        return {"mockrec_data_dir": str(self.data_dir), "mockrec_mode": str(self.mode),
                "mockrec_grace": self.grace, **self.replay.options()}


def check_upstream(url: str) -> str:
    """`http://host:port[/base]` or https; the reverse proxy's target."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise MockrecError(f"--upstream {url!r} is not an http(s) URL like http://localhost:3000")
    return url.rstrip("/")


def remembered_upstream(variables: dict[str, str]) -> str | None:
    """The upstream a collection remembers: its `baseUrl` when that is an http(s)
    origin (what promote sets from the reverse proxy the entries came through)."""
    base = (variables.get("baseUrl") or "").strip().rstrip("/")
    parts = urlsplit(base)
    try:
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        return None
    if (parts.scheme in ("http", "https") and parts.hostname and "{{" not in base
            and not parts.path and not parts.query and not parts.fragment
            and not parts.username):
        return base
    return None


def check_port_free(host: str, port: int) -> None:
    """A clear message now beats mitmproxy's multi-line startup error."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise MockrecError(
                    f"port {port} on {host} is already in use: stop what listens there "
                    "or pick another with --port") from None
            raise MockrecError(f"cannot listen on {host}:{port}: {e.strerror}") from None



"""What a proxy is started with (`ProxyConfig`), checked before mitmproxy starts."""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from recorder.errors import MockrecError


@dataclass
class ProxyConfig:
    data_dir: Path
    mode: str = "record"  # record, replay, spy or passthrough
    upstream: str | None = None  # reverse proxy to this base URL; None: forward proxy
    listen_host: str = "127.0.0.1"
    port: int = 8080
    verbose: bool = False
    settings: list[str] = field(default_factory=list)  # mitmproxy `--set` KEY=VALUE
    # replay
    collection: str = ""
    tag: str = ""
    delay: str = "off"
    profile: str = ""
    api_key: str = ""
    on_miss: str = "404"
    cors: bool = True
    strict: bool = False
    match_body: bool = False
    match_headers: str = ""
    env: str = ""
    mock: str = ""
    api_key_sha256: str = ""
    max_calls: int = 0
    rate_limit: int = 0
    call_log: int = 10_000

    @property
    def proxy_mode(self) -> str:
        return f"reverse:{self.upstream}" if self.upstream else "regular"

    def addon_options(self) -> dict[str, object]:
        return {
            "mockrec_data_dir": str(self.data_dir), "mockrec_mode": self.mode,
            "mockrec_collection": self.collection, "mockrec_tag": self.tag,
            "mockrec_delay": self.delay, "mockrec_profile": self.profile,
            "mockrec_api_key": self.api_key, "mockrec_on_miss": self.on_miss,
            "mockrec_cors": self.cors, "mockrec_strict": self.strict,
            "mockrec_match_body": self.match_body, "mockrec_match_headers": self.match_headers,
            "mockrec_env": self.env, "mockrec_mock": self.mock,
            "mockrec_api_key_sha256": self.api_key_sha256, "mockrec_max_calls": self.max_calls,
            "mockrec_rate_limit": self.rate_limit, "mockrec_call_log": self.call_log,
        }


def check_upstream(url: str) -> str:
    """`http://host:port[/base]` or https; the reverse proxy's target."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise MockrecError(f"--upstream {url!r} is not an http(s) URL like http://localhost:3000")
    return url.rstrip("/")


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



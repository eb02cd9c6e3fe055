"""`mockrec mode` and `mockrec reset`: talk to a running proxy through a Unix socket in
the data dir (`{"set": {option: value}}` or `{"reset": true}`, one JSON line each way).

The socket opens no network port, and it sits in the data dir, which only its
owner can enter (0700): no other local user can switch a proxy.

    DATA_DIR/run/PORT.sock     one per running proxy, named after its listen port
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from recorder.errors import MockrecError, NotFound
from recorder.modes import Mode, choices
from recorder.settings import ProxySettings, ReplaySettings


def run_dir(data_dir: Path) -> Path:
    return data_dir / "run"


def socket_path(data_dir: Path, port: int) -> Path:
    return run_dir(data_dir) / f"{port}.sock"


def running_ports(data_dir: Path) -> list[int]:
    """The ports of the proxies that answer on their control socket. A socket left
    behind by a proxy that was killed refuses connections: it is removed."""
    directory = run_dir(data_dir)
    if not directory.is_dir():
        return []
    ports = []
    for path in sorted(directory.glob("*.sock")):
        if not path.stem.isdigit():
            continue
        if listening(path):
            ports.append(int(path.stem))
        else:
            path.unlink(missing_ok=True)
    return sorted(ports)


def listening(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(2)
        try:
            sock.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError):
            return False
        except OSError:
            return True  # there, but busy or odd: let the real request say
    return True


def send(data_dir: Path, port: int | None, payload: dict[str, Any]) -> dict[str, Any]:
    """Send one request to the proxy on `port` (or the only one running) and return its answer."""
    if port is None:
        ports = running_ports(data_dir)
        if not ports:
            raise NotFound(f"no running mockrec proxy uses {data_dir}: start one with "
                           "`mockrec proxy` (or pass the same --data-dir)")
        if len(ports) > 1:
            raise MockrecError(f"several proxies are running (ports {', '.join(map(str, ports))}):"
                               " pick one with --port")
        port = ports[0]
    path = socket_path(data_dir, port)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(10)
            sock.connect(str(path))
            sock.sendall(json.dumps(payload).encode() + b"\n")
            answer = b""
            while not answer.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
    except (FileNotFoundError, ConnectionRefusedError):
        path.unlink(missing_ok=True)  # left behind by a proxy that was killed
        raise NotFound(f"no mockrec proxy is running on port {port}") from None
    except OSError as e:
        raise MockrecError(f"cannot reach the proxy on port {port}: {e}") from None
    reply = json.loads(answer or b"{}")
    if not reply.get("ok"):
        raise MockrecError(reply.get("error") or "the proxy did not answer")
    return reply


MODES = choices(Mode)


def switch_mode(data_dir: Path, port: int | None, mode: str,
                collection: str | None = None) -> dict[str, Any]:
    """Switch the proxy on `port` (or the only one running) to `mode`; returns its answer."""
    try:
        mode = Mode(mode)
    except ValueError:
        raise MockrecError(f"mode {mode!r} is not {', '.join(MODES)}") from None
    settings: dict[str, Any] = ProxySettings(mode=str(mode)).options("mode")
    if collection:
        settings.update(ReplaySettings(collection=collection).options("collection"))
    return send(data_dir, port, {"set": settings})


def status(data_dir: Path, port: int) -> dict[str, Any]:
    """The mode and collection of the proxy on `port` (setting nothing)."""
    return send(data_dir, port, {"set": {}})

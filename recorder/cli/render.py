"""How entries, collections and calls look to a person at the command line (their JSON
shapes, shared with the UI and the admin API, are recorder/views.py)."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from rich.console import Console

from recorder import encodings
from recorder.conversation import conversation_lines
from recorder.models import (
    Collection,
    Example,
    Header,
    HistoryEntry,
    counted,
)
from recorder.streams import Stream
from recorder.views import call_summary, local_time

if TYPE_CHECKING:
    from recorder.store.history import HistoryStore


def stream_lines(stream: Stream, body: bytes, headers: list[Header]) -> list[str]:
    """`history show`: one line for each event (SSE), record (NDJSON) or part, with its
    offset after the response head."""
    kind = next((v for k, v in headers if k.lower() == "content-type"), "")
    events = stream.events(body, kind)
    last = stream.parts[-1][0] if stream.parts else 0
    lines = [f"~ stream: {counted(len(stream.parts), 'part')}, "
             f"{counted(len(events), 'event')} over {last} ms"
             + (", cut (it did not end)" if stream.cut else "")]
    for offset, data in events:
        text = data.decode("utf-8", "replace").rstrip("\r\n").replace("\n", "\\n")
        lines.append(f"~ {offset:>7} ms  {text[:160]}")
    return lines


def entry_text(entry: HistoryEntry) -> str:
    request, response = entry.request, entry.response
    outcome = (f"{response.status} {response.reason}" if response
               else f"error: {entry.error}")
    lines = [
        f"#{entry.id}  {local_time(entry.timings.start)}  {request.method} {request.url}  -> "
        f"{outcome}  ({entry.timings.duration_ms or 0:.1f} ms, client {entry.client})",
        f"> {request.method} {request.path_and_query} {request.http_version}",
        *(f"> {k}: {v}" for k, v in request.headers),
    ]
    if response:
        lines.append(f"< {response.http_version} {response.status} {response.reason}")
        lines.extend(f"< {k}: {v}" for k, v in response.headers)
        if response.stream is not None and response.body is not None:
            lines.extend(stream_lines(response.stream, response.body, response.headers))
    if isinstance(conversation := entry.notes.get("websocket"), dict):
        lines.append("= the conversation (ms after the 101; > from the client, < to it)")
        lines.extend(conversation_lines(conversation))
    lines.extend(f"! {warning}" for warning in entry.notes.get("warnings", []))
    if fault := entry.notes.get("fault"):  # a call of the log whose answer was spoilt
        lines.append(f"! fault: {fault} (mockrec spoilt this answer on purpose"
                     + (")" if entry.response else f": {entry.error})"))
    for side, size in entry.truncated.items():
        announced = f" ({size:,} bytes)" if size is not None else ""
        lines.append(f"! truncated: the {side} body{announced} was over the body limit "
                     "(--set mockrec_body_limit=BYTES) and was not recorded")
    return "\n".join(lines)


def write_body(headers: list[Header], body: bytes, out: TextIO) -> None:
    """Text as text; binary as raw bytes when piped, a placeholder on a terminal."""
    data, _ = encodings.decode(headers, body)
    try:
        out.write(data.decode("utf-8") + "\n")
    except UnicodeDecodeError:
        kind = next((v for k, v in headers if k.lower() == "content-type"), "binary")
        if out.isatty():
            out.write(f"<{kind}, {len(data)} bytes: pipe to a file to save it>\n")
        else:
            out.flush()
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()


def cert_help(confdir: Path, proxy: str) -> str:
    """How to trust mitmproxy's CA, client by client, through the proxy at `proxy`."""
    from shlex import quote

    pem = quote(str(confdir / "mitmproxy-ca-cert.pem"))
    cer = quote(str(confdir / "mitmproxy-ca-cert.cer"))
    host, _, port = proxy.removeprefix("http://").rpartition(":")
    return "\n".join([
        f"CA certificate: {confdir / 'mitmproxy-ca-cert.pem'}",
        "A forward proxy (`mockrec record` or `replay` without --upstream) intercepts HTTPS",
        f"with this CA. Trust it in the client, for one command (proxy {proxy}; --port N",
        "for another):",
        f"  curl             curl --proxy {proxy} --cacert {pem} https://api.example.com/",
        f"  Python requests  HTTPS_PROXY={proxy} REQUESTS_CA_BUNDLE={pem} python app.py",
        f"  Python httpx, urllib  HTTPS_PROXY={proxy} SSL_CERT_FILE={pem} python app.py",
        "                   (requests ignores SSL_CERT_FILE; setting both covers all three)",
        f"  Node.js          NODE_EXTRA_CA_CERTS={pem} node app.js   (the CA, for fetch and https)",
        "    Node ignores HTTP(S)_PROXY unless told to use it:",
        f"    newer Node (24, recent 22.x): NODE_USE_ENV_PROXY=1 HTTPS_PROXY={proxy} "
        f"NODE_EXTRA_CA_CERTS={pem} node app.js",
        "    Node 20, fetch: npm install undici, then first thing in the app:",
        "      const { setGlobalDispatcher, ProxyAgent } = require('undici');",
        f"      setGlobalDispatcher(new ProxyAgent('{proxy}'));",
        "    Node 20, https: an agent, e.g. npm install https-proxy-agent, then",
        f"      https.get(url, {{ agent: new HttpsProxyAgent('{proxy}') }})",
        f"  Java             keytool -importcert -noprompt -alias mitmproxy -file {pem} "
        "-keystore mockrec.jks -storepass changeit",
        "                   java -Djavax.net.ssl.trustStore=mockrec.jks "
        "-Djavax.net.ssl.trustStorePassword=changeit",
        f"                        -Dhttps.proxyHost={host} -Dhttps.proxyPort={port} -jar app.jar",
        "Or trust it system-wide (every client that uses the system store):",
        f"  Debian/Ubuntu    sudo cp {cer} /usr/local/share/ca-certificates/mitmproxy.crt "
        "&& sudo update-ca-certificates",
        f"  Fedora/RHEL      sudo cp {pem} /etc/pki/ca-trust/source/anchors/mitmproxy.pem "
        "&& sudo update-ca-trust",
        "  macOS            sudo security add-trusted-cert -d -p ssl -p basic "
        f"-k /Library/Keychains/System.keychain {pem}",
        "  (Python's requests and httpx bring their own CA list (certifi) and Node its own:",
        "  they still need the lines above.)",
        "More: https://docs.mitmproxy.org/stable/concepts-certificates/",
    ])


def progress(items: list, description: str, threshold: int = 200) -> Iterable:
    """A progress bar on a terminal for long work; plain iteration otherwise."""
    if len(items) <= threshold or not sys.stderr.isatty():
        return items
    from rich.progress import track

    return track(items, description=description, transient=True,
                 console=Console(stderr=True))


def example_marks(e: Example) -> str:
    """`  [sequence 2]  [fault reset]`, what an example has beyond its answer."""
    return ((f"  [sequence {e.sequence}]" if e.sequence is not None else "")
            + (f"  [fault {e.fault}]" if e.fault else ""))


def collection_text(c: Collection) -> str:
    lines = [f"{c.name}: {counted(len(c.requests), 'request')}, "
             f"{counted(len(c.examples), 'example')}"]
    if c.tags:
        lines.append("tags: " + ", ".join(t.name for t in c.tags))
    for r in c.requests:
        lines.append(f"  {r.name}  ({r.method} {r.url})")
        lines += [f"    #{e.id}  {e.name}{example_marks(e)}" for e in r.examples]
    return "\n".join(lines)



_pause = threading.Event()  # never set: a sleep that reads as one in the CLI
# The path goes last: it is the column that grows, and a long one then misaligns nothing.
CALL_COLUMNS = ("ID", "TIME", "METHOD", "STATUS", "DELAY", "EXAMPLE", "PATH")


def call_row(entry: HistoryEntry, with_mock: bool = False) -> tuple[str, ...]:
    call = call_summary(entry)
    matched = call["matched"] + (f" [{call['sequence']}]" if call["sequence"] else "") + (
        f" [fault {call['fault']}]" if call["fault"] else "")
    row = (str(call["id"]), local_time(entry.timings.start), call["method"],
           str(call["status"] or f"error: {call['error']}"),
           f"{call['delay_ms']} ms" if call["delay_ms"] else "", matched, call["path"])
    return (*row[:2], str(call["mock"] or ""), *row[2:]) if with_mock else row


def call_columns(with_mock: bool) -> tuple[str, ...]:
    return (*CALL_COLUMNS[:2], "MOCK", *CALL_COLUMNS[2:]) if with_mock else CALL_COLUMNS


def print_calls(entries: list[HistoryEntry], with_mock: bool) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False)
    for column in call_columns(with_mock):
        table.add_column(column, justify="right" if column == "ID" else "left")
    for entry in entries:
        # as written: rich took "[fault reset]" for markup and dropped it
        table.add_row(*(Text(cell) for cell in call_row(entry, with_mock)))
    Console(width=None if sys.stdout.isatty() else 200, highlight=False).print(table)


class CallColumns:
    """Fixed columns for `calls --follow`: rows printed later line up with the first ones.
    Widths come from the backlog with a floor; a longer value is cut, the path never."""

    FLOOR = {"ID": 6, "TIME": 19, "MOCK": 12, "METHOD": 7, "STATUS": 6, "DELAY": 8,
             "EXAMPLE": 24}

    def __init__(self, backlog: list[HistoryEntry], with_mock: bool):
        self.with_mock = with_mock
        self.names = call_columns(with_mock)
        rows = [call_row(e, with_mock) for e in backlog]
        self.widths = [max([self.FLOOR.get(name, 0), len(name), *(len(r[i]) for r in rows)])
                       for i, name in enumerate(self.names)]

    def _format(self, values: tuple[str, ...]) -> str:
        cells = []
        for i, (value, width) in enumerate(zip(values, self.widths, strict=True)):
            if i == len(values) - 1:
                cells.append(value)
                continue
            if len(value) > width:
                value = value[:width - 1] + "…"
            cells.append(value.rjust(width) if self.names[i] == "ID" else value.ljust(width))
        return "  ".join(cells).rstrip()

    def header(self) -> str:
        return self._format(self.names)

    def line(self, entry: HistoryEntry) -> str:
        return self._format(call_row(entry, self.with_mock))


def follow(logs: dict[str, HistoryStore], after: dict[str, int], table: CallColumns | None,
           interval: float = 0.1) -> None:
    """Print calls newer than `after` (per log) as they are logged, until Ctrl-C; JSON lines
    without a table."""
    while True:
        fresh = []
        for name, log in logs.items():
            for entry in log.newer_than(after[name]):
                fresh.append(entry)
                after[name] = max(after[name], entry.id or 0)
        for entry in sorted(fresh, key=lambda e: (e.timings.start, e.id or 0)):
            if table is None:
                sys.stdout.write(json.dumps(call_summary(entry)) + "\n")
            else:
                sys.stdout.write(table.line(entry) + "\n")
        sys.stdout.flush()
        _pause.wait(interval)

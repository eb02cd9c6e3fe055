"""The stored form of a history entry: which segment it lives in, its JSON document,
its bodies (inline up to `INLINE_BODY_LIMIT` bytes, beside the segments as files
above), and the check that a parsed segment is one mockrec wrote."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from recorder import encodings
from recorder.errors import NotFound
from recorder.models import Header, HistoryEntry, HttpRequest, HttpResponse, Timings
from recorder.store.files import StagedFiles, body_bytes, body_doc, ensure_private_dir
from recorder.streams import Stream

SEGMENT_SIZE = 256
INLINE_BODY_LIMIT = 4096
TABLE = "entries"
_TIMINGS = frozenset(("start", "request_end", "response_start", "end"))


def segment_of(entry_id: int) -> int:
    return (entry_id - 1) // SEGMENT_SIZE


class Bodies:
    """One store's body files, `bodies/SEGMENT/ID.SIDE`, byte-exact."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, entry_id: int, side: str) -> Path:
        return self.root / f"{segment_of(entry_id):08d}" / f"{entry_id}.{side}"

    def of_segment(self, segment: int) -> Path:
        return self.root / f"{segment:08d}"

    def doc(self, entry: HistoryEntry, side: str, body: bytes,
            staged: StagedFiles | None) -> dict[str, Any]:
        if len(body) > INLINE_BODY_LIMIT and staged is not None:
            assert entry.id is not None
            path = self.path(entry.id, side)
            ensure_private_dir(path.parent)
            staged.write(path, body)
            return {"size": len(body), "file": f"{path.parent.name}/{path.name}"}
        return {"size": len(body), **body_doc(body)}

    def read(self, doc: dict[str, Any]) -> bytes:
        if "file" not in doc:
            return body_bytes(doc)
        path = self.root / doc["file"]
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise NotFound(f"body file {path} is missing") from None

    def searchable(self, doc: dict[str, Any]) -> Iterator[bytes]:
        """The bodies a search must read beyond the document's own JSON: those in files,
        and compressed ones (gzip, br, deflate, zstd), decoded as `history show --body`
        shows them. What is stored stays byte-exact."""
        for side in ("request", "response"):
            message = doc.get(side)
            if not message:
                continue
            headers = _headers(message["headers"])
            coding = encodings.content_encoding(headers).lower()
            if "file" in message["body"] or coding not in ("", "identity"):
                yield encodings.decode(headers, self.read(message["body"]))[0]


def to_document(entry: HistoryEntry, bodies: Bodies,
                staged: StagedFiles | None) -> dict[str, Any]:
    """The stored form of `entry`; large bodies go to files, `staged` (None: every
    body inline, as in a recovery file)."""
    request = entry.request
    doc: dict[str, Any] = {
        "request": {
            "method": request.method,
            "url": request.url,
            "http_version": request.http_version,
            "headers": [list(h) for h in request.headers],
            "body": bodies.doc(entry, "request", request.body or b"", staged),
        },
        "response": None,
        "error": entry.error,
        "timings": vars(entry.timings).copy(),
        "client": entry.client,
        "upstream": entry.upstream,
        "mode": entry.mode,
    }
    if entry.notes:
        doc["notes"] = entry.notes
    if entry.capture:
        doc["capture"] = entry.capture
    if (response := entry.response) is not None:
        doc["response"] = {
            "status": response.status,
            "reason": response.reason,
            "http_version": response.http_version,
            "headers": [list(h) for h in response.headers],
            "body": bodies.doc(entry, "response", response.body or b"", staged),
        }
        if response.stream is not None:  # recorder/streams.py: [[offset_ms, size], ...]
            doc["response"]["stream"] = response.stream.doc()
    return doc


def to_entry(entry_id: int | None, doc: dict[str, Any], bodies: Bodies, *,
             with_bodies: bool) -> HistoryEntry:
    req = doc["request"]
    resp = doc.get("response")
    return HistoryEntry(
        id=entry_id,
        request=HttpRequest(
            method=req["method"], url=req["url"], http_version=req["http_version"],
            headers=_headers(req["headers"]),
            body=bodies.read(req["body"]) if with_bodies else None,
            body_size=req["body"]["size"],
        ),
        response=None if resp is None else HttpResponse(
            status=resp["status"], reason=resp["reason"], http_version=resp["http_version"],
            headers=_headers(resp["headers"]),
            body=bodies.read(resp["body"]) if with_bodies else None,
            body_size=resp["body"]["size"],
            stream=Stream.from_doc(resp["stream"]) if "stream" in resp else None,
        ),
        error=doc.get("error"),
        timings=Timings(**doc["timings"]),
        client=doc.get("client", ""),
        upstream=doc.get("upstream", ""),
        mode=doc.get("mode", "record"),
        notes=doc.get("notes", {}),
        capture=doc.get("capture", ""),
    )


def _headers(pairs: list[list[str]]) -> list[Header]:
    return [(name, value) for name, value in pairs]


# -- shape checks ------------------------------------------------------------------

def segment_problem(data: dict[str, Any]) -> str | None:
    """What is wrong with a parsed segment, in words; None if it is one."""
    if set(data) - {TABLE}:
        return f"not a history segment: tables {sorted(data)}"
    for key, doc in data.get(TABLE, {}).items():
        problem = _entry_problem(doc)
        if problem:
            return f"entry {key} {problem}"
    return None


def checked(doc: Any) -> dict[str, Any]:
    if _entry_problem(doc):
        raise ValueError
    return doc


def _entry_problem(doc: Any) -> str | None:
    if not isinstance(doc, dict):
        return "is not an object"
    if not _message_ok(doc.get("request"), ("method", "url", "http_version")):
        return "has no valid request"
    response = doc.get("response")
    if response is not None and not (_message_ok(response, ("reason", "http_version"))
                                     and type(response.get("status")) is int):
        return "has no valid response"
    timings = doc.get("timings")
    if not (isinstance(timings, dict) and _TIMINGS.issuperset(timings)
            and isinstance(timings.get("start"), int | float)):
        return "has no valid timings"
    return None


def _message_ok(message: Any, texts: tuple[str, ...]) -> bool:
    if not isinstance(message, dict) or not all(isinstance(message.get(k), str) for k in texts):
        return False
    headers, body = message.get("headers"), message.get("body")
    return (isinstance(headers, list)
            and all(isinstance(h, list) and len(h) == 2 for h in headers)
            and isinstance(body, dict) and type(body.get("size")) is int
            and any(isinstance(body.get(k), str) for k in ("text", "base64", "file")))

"""How entries, calls, collections, examples, mocks and promotions look: one shape for
the CLI's `--json`, the web UI and the admin API (stable keys: scripts read them), and
the rows and lines the CLI and the UI both show."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recorder.models import (
    Collection,
    Example,
    Header,
    HistoryEntry,
    HttpRequest,
    HttpResponse,
    Request,
    counted,
)
from recorder.store.files import body_doc
from recorder.streams import Stream

if TYPE_CHECKING:
    from recorder.promote.entries import PromoteResult
    from recorder.store.mocks import Mock


# -- history entries -----------------------------------------------------------------

def entry_summary(entry: HistoryEntry) -> dict[str, Any]:
    response = entry.response
    return {
        "id": entry.id,
        "time": entry.time.isoformat(timespec="milliseconds"),
        "method": entry.request.method,
        "url": entry.request.url,
        "status": response.status if response else None,
        "error": entry.error,
        "duration_ms": entry.timings.duration_ms,
        "request_size": entry.request.body_size,
        "response_size": response.body_size if response else None,
        "client": entry.client,
        "mode": entry.mode,
    }


def body_json(body: bytes | None) -> dict[str, Any]:
    body = body or b""
    return {"size": len(body), **body_doc(body)}


def _message_json(message: HttpRequest | HttpResponse) -> dict[str, Any]:
    data = {k: v for k, v in vars(message).items() if k not in ("body", "body_size", "stream")}
    data["headers"] = [list(h) for h in message.headers]
    data["body"] = body_json(message.body)
    if isinstance(message, HttpResponse) and message.stream is not None:
        data["stream"] = stream_json(message.stream, message.body or b"", message.headers)
    return data


def stream_json(stream: Stream, body: bytes, headers: list[Header]) -> dict[str, Any]:
    """The stream as stored (parts as [offset_ms, size]), and the events a person reads
    it as (SSE events, NDJSON lines, else the parts) with their offsets."""
    kind = next((v for k, v in headers if k.lower() == "content-type"), "")
    events = Stream.of_pieces(stream.events(body, kind))[1].pieces_doc(body)["parts"]
    return {**stream.doc(), "events": events}


def entry_detail(entry: HistoryEntry) -> dict[str, Any]:
    detail = entry_summary(entry)
    detail["upstream"] = entry.upstream
    detail["timings"] = vars(entry.timings)
    detail["request"] = _message_json(entry.request)
    detail["response"] = _message_json(entry.response) if entry.response else None
    if entry.notes:  # a call: mock, example, delay, warnings
        detail["notes"] = entry.notes
    return detail


def local_time(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def entry_row(entry: HistoryEntry) -> tuple[str, ...]:
    response = entry.response
    duration = entry.timings.duration_ms
    return (
        str(entry.id), local_time(entry.timings.start), entry.request.method, entry.request.url,
        str(response.status) if response else f"error: {entry.error}",
        f"{duration:.0f}" if duration is not None else "",
        _conversation_size(entry) or _truncated_size(entry)
        or (_size(response.body_size) if response else ""),
    )


def _truncated_size(entry: HistoryEntry) -> str:
    """`history list`'s size of a response whose body was over the body limit."""
    if "response" not in entry.truncated:
        return ""
    size = entry.truncated["response"]
    return "truncated" if size is None else f"{_size(size)} truncated"


def _conversation_size(entry: HistoryEntry) -> str:
    """A WebSocket's size in `history list`: its message count."""
    conversation = entry.notes.get("websocket")
    if not isinstance(conversation, dict):
        return ""
    return counted(len(conversation.get("messages", [])), "msg")


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB"):
        if n < 1024 or unit == "MB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)



# -- calls (a mock's call log) -------------------------------------------------------

def call_outcome(entry: HistoryEntry) -> str:
    """What happened to a call, in a few words (`matched` in `calls --json`)."""
    example, outcome = entry.notes.get("example"), entry.notes.get("outcome") or {}
    kind, reason = outcome.get("kind"), outcome.get("reason")
    if example:
        return example["name"]
    if kind == "preflight":
        return "CORS preflight"
    if kind == "unauthorized":
        return "401 authenticationError: " + (reason or "missing or wrong x-api-key")
    if kind == "quota":
        return f"429 {reason or 'quota'}"
    if kind == "forwarded":
        if outcome.get("status") is not None:
            return f"forwarded: the upstream answered {outcome['status']}"
        return f"forwarded: the upstream failed ({outcome.get('error') or entry.error})"
    if kind == "fault":
        return f"500 mockServerError: {reason}"
    if kind == "bad_request":
        return f"400 {reason}"
    if kind == "not_found" and reason:
        return f"No matching requests: {reason}"
    return "No matching requests"


def call_summary(entry: HistoryEntry) -> dict[str, Any]:
    """One call as `mockrec calls --json` prints it."""
    example = entry.notes.get("example")
    return {
        "id": entry.id,
        "time": entry.time.isoformat(timespec="milliseconds"),
        "mock": entry.notes.get("mock"),
        "method": entry.request.method,
        "path": entry.request.path_and_query,
        "status": entry.response.status if entry.response else None,
        "example": example,
        "matched": call_outcome(entry),
        # what happened: {"kind": example | not_found | unauthorized | quota | preflight |
        # forwarded | fault, ...} (addons/metadata.py OUTCOMES)
        "outcome": entry.notes.get("outcome") or ({"kind": "example"} if example else None),
        "sequence": example.get("sequence") if example else None,  # the position served
        "fault": entry.notes.get("fault"),
        "delay_ms": entry.notes.get("delay_ms", 0),
        "error": entry.error,
        "warnings": entry.notes.get("warnings", []),  # e.g. an ignored x-mock-response-delay
    }



# -- collections, examples, mocks ------------------------------------------------------

def collection_summary(c: Collection) -> dict[str, Any]:
    return {"name": c.name, "requests": len(c.requests), "examples": len(c.examples),
            "tags": [t.name for t in c.tags]}


def example_summary(c: Collection, r: Request, e: Example) -> dict[str, Any]:
    return {"id": e.id, "collection": c.name, "request": r.name, "method": r.method,
            "url": r.url, "name": e.name, "status": e.response.status,
            "entry": e.source_entry, "sequence": e.sequence, "fault": e.fault}


def collection_detail(c: Collection) -> dict[str, Any]:
    return {
        **collection_summary(c),
        "variables": c.variables,
        "tags": [{"name": t.name, "created": t.created} for t in c.tags],
        "requests": [{"id": r.id, "name": r.name, "method": r.method, "url": r.url,
                      "folder": r.folder,
                      "examples": [{"id": e.id, "name": e.name, "status": e.response.status,
                                    "entry": e.source_entry, "sequence": e.sequence,
                                    "fault": e.fault} for e in r.examples]}
                     for r in c.requests],
    }


def mock_json(m: Mock) -> dict[str, Any]:
    data = {k: v for k, v in m.to_doc().items() if k != "api_key_sha256"}
    # port 0: a free port is picked each time it starts; `replay` prints the URL then
    return {**data, "url": m.url if m.port else None, "private": bool(m.api_key_sha256)}


# -- promote ---------------------------------------------------------------------------

def promote_json(name: str, created: bool, result: PromoteResult) -> dict[str, Any]:
    return {
        "collection": name,
        "created": created,
        "examples": [{"id": e.id, "name": e.name, "entry": e.source_entry,
                      "sequence": e.sequence} for e in result.examples],
        "new_requests": [{"id": r.id, "name": r.name} for r in result.new_requests],
        "redacted": dict(result.redacted),
        "inferred_templates": result.inferred,
        "skipped": result.skipped,
        "untemplated": result.untemplated,
        "sequences": result.sequences,
        "duplicates": result.duplicates,
        "base_url": result.base_url,
        "truncated": [e.id for e in result.truncated],
    }


def promote_text(name: str, created: bool, result: PromoteResult, path: Path) -> str:
    new = len(result.new_requests)
    lines = [f"{'created' if created else 'updated'} collection {name} ({path}): "
             f"{counted(len(result.examples), 'example')}, {counted(new, 'new request')}"]
    lines += [f"  {r.name}" for r in result.new_requests[:20]]
    if new > 20:
        lines.append(f"  ... and {new - 20} more")
    if result.base_url:
        lines.append(f"baseUrl = {result.base_url} (the upstream these entries were recorded "
                     "through): example URLs are {{baseUrl}}/..., and `mockrec replay "
                     f"{name}` serves it as the mock URL")
    if result.duplicates:
        lines.append(f"skipped {result.duplicates} entr{'ies' if result.duplicates != 1 else 'y'}"
                     " already standing as examples (--allow-duplicates keeps them)")
    for template, example in result.inferred.items():
        lines.append(f"inferred template {template} (from {example})")
    if result.sequences:
        lines.append(f"{result.sequences} sequence{'s' * (result.sequences != 1)}: repeats "
                     "of a request with different answers replay in order (--no-sequence: not)")
    if result.untemplated:
        lines.append(f"{counted(result.untemplated, 'entry')} did not fit --template and "
                     f"{'keeps its' if result.untemplated == 1 else 'keep their'} path")
    if summary := result.redaction_summary():
        lines.append(summary)
    lines += [f"skipped {reason}" for reason in result.skipped]
    return "\n".join(lines)

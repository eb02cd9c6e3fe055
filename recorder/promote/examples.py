"""Examples by hand: edit one in $EDITOR, or write one for an API that does not exist yet."""

from __future__ import annotations

import base64
import binascii
import copy
import json
import os
import re
import shlex
import subprocess
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from recorder.conversation import Conversation
from recorder.conversation import from_doc as conversation_from_doc
from recorder.errors import MockrecError, NotFound, StoreCorrupt, UsageError
from recorder.match.matcher import example_path_and_query
from recorder.models import (
    Collection,
    Example,
    ExampleRequest,
    ExampleResponse,
    Header,
    IdSpan,
    Request,
    check_headers,
    header_problem,
    pick_ids,
    reason_phrase,
)
from recorder.promote.entries import unique
from recorder.serve import faults
from recorder.store.collection_store import CollectionStore, example_doc, example_from_doc
from recorder.store.files import body_doc
from recorder.streams import Stream, sse_pieces

METHOD = re.compile(r"[A-Z][A-Z0-9_-]{0,31}")


def example_document(example: Example, request: Request) -> dict[str, Any]:
    """What `example show` prints and `example edit` opens: the file's own form."""
    doc = example_doc(example, request.id)
    del doc["request"]
    # Shown even when unset, so that an edit can set them.
    doc["sequence"], doc["fault"] = example.sequence, example.fault
    return {"id": example.id, "request": {"name": request.name, "method": request.method,
                                          "url": request.url}, **doc}


def parse_edit(text: str, example_id: int) -> Example:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    return validate_edit(doc, example_id)


def validate_edit(doc: Any, example_id: int) -> Example:
    """An edited `example_document` as an example, or a ValueError saying what is wrong."""
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    try:
        for key in ("originalRequest", "response"):  # a body written as plain text is text
            if isinstance(part := doc.get(key), dict) and "body" in part:
                part["body"] = body_doc(_body(part["body"], f"{key}.body"))
        example = example_from_doc(example_id, doc)
    except KeyError as e:
        raise ValueError(f"missing field {e}") from None
    except (TypeError, ValueError, AttributeError) as e:
        raise ValueError(str(e)) from None
    check_headers(example.response.headers, "response.headers")
    check_headers(example.request.headers, "originalRequest.headers")
    return example


def edit_response(document: dict[str, Any], status: str, headers: str,
                  body: str | None) -> dict[str, Any]:
    """`document` with the response's status, headers (`Name: value` lines) and body (None:
    unchanged) replaced, as a person would in `example edit`; `validate_edit` judges it."""
    edited = copy.deepcopy(document)
    response = edited["response"]
    text = status.strip()
    new_status = int(text) if text.isdigit() else text
    if (isinstance(new_status, int) and new_status != response.get("status")
            and response.get("reason") == reason_phrase(response.get("status", 0))):
        response["reason"] = reason_phrase(new_status)  # the standard phrase follows
    response["status"] = new_status
    response["headers"] = [line for line in headers.replace("\r\n", "\n").split("\n")
                           if line.strip()]
    if body is not None:
        response["body"] = {"text": body}
    return edited


def save_example(store: CollectionStore, collection: str, edited: Example) -> None:
    """Replace the example of the same id in `collection` (a running replay serves it next)."""
    with store.editing(collection) as c:
        found = c.find_example(edited.id)
        if found is None:
            raise NotFound(f"no example {edited.id} in {collection}")
        target_request, current = found
        follow_status(current, edited, target_request)
        target_request.examples[target_request.examples.index(current)] = edited


def delete_example(store: CollectionStore, example_id: int, collection: str | None) -> str:
    """Delete an example; a request left without examples goes too. Returns the collection."""
    owner, _, _ = store.find_example(example_id, collection)
    with store.editing(owner.name) as c:
        request, example = c.find_example(example_id)  # type: ignore[misc]
        request.examples.remove(example)
        if not request.examples:
            c.requests.remove(request)
    return owner.name


def delete_examples(store: CollectionStore, specs: list[IdSpan],
                    collection: str | None = None,
                    damaged: list[str] | None = None) -> dict[str, list[int]]:
    """Delete the examples that ids and ranges name (`pick_ids`: a single id must exist, a
    range takes those in it that exist); returns the ids deleted, by collection."""
    skipped: list[str] = []
    owners = {e.id: c.name for c in ([store.load(collection)] if collection
                                     else store.all(skipped)) for e in c.examples}
    if damaged is not None:
        damaged.extend(skipped)
    try:
        wanted = pick_ids(specs, set(owners), "example")
    except NotFound:
        if skipped:  # not found where mockrec could read: it may be in the damaged file
            raise StoreCorrupt(f"no example {' '.join(map(str, specs))} in the readable "
                               f"collections; it may be in a damaged one: {skipped[0]}"
                               ) from None
        raise
    deleted: dict[str, list[int]] = {}
    for name in sorted({owners[i] for i in wanted}):
        mine = deleted[name] = [i for i in wanted if owners[i] == name]
        with store.editing(name) as c:
            for request in list(c.requests):
                request.examples = [e for e in request.examples if e.id not in mine]
                if not request.examples:
                    c.requests.remove(request)
    return deleted


def edit_example(store: CollectionStore, example_id: int, collection: str | None) -> str:
    owner, request, example = store.find_example(example_id, collection)
    before = json.dumps(example_document(example, request), indent=2, ensure_ascii=False)
    fd, name = tempfile.mkstemp(prefix=f"mockrec-example-{example_id}-", suffix=".json")
    path = Path(name)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(before + "\n")
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    try:
        result = subprocess.run([*shlex.split(editor), str(path)])
    except (OSError, ValueError) as e:  # not there, not runnable, or unbalanced quotes
        path.unlink()
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise MockrecError(f"cannot start the editor {editor!r} ({reason}): set $VISUAL or "
                           f"$EDITOR to one that exists; example {example_id} is "
                           "unchanged") from None
    if result.returncode != 0:
        path.unlink()
        raise MockrecError(f"{editor} exited with {result.returncode}; example {example_id} "
                           "is unchanged")
    after = path.read_text(encoding="utf-8")
    if after.strip() == before.strip():
        path.unlink()
        return f"example {example_id} is unchanged"
    try:
        edited = parse_edit(after, example_id)
    except ValueError as e:
        raise MockrecError(f"your edit was refused: {e}; example {example_id} is unchanged and "
                           f"your edit is kept in {path}") from None
    save_example(store, owner.name, edited)
    path.unlink()
    return f"saved example {example_id} ({edited.name}) in {owner.name}"


def generated_name(name: str, status: int, reason: str) -> bool:
    """Whether `name` is the one mockrec gives an example: `200 OK`, maybe `200 OK (2)`."""
    bases = {f"{status} {reason}".strip(), f"{status} {reason_phrase(status)}".strip()}
    return any(name == base or re.fullmatch(re.escape(base) + r" \(\d+\)", name)
               for base in bases)


def follow_status(before: Example, after: Example, request: Request) -> None:
    """An edit of the status carries a generated name and a standard reason along
    (200 OK -> 418 I'm a Teapot); a name or reason the user chose stays."""
    old, new = before.response, after.response
    if old.status == new.status:
        return
    if new.reason == old.reason and old.reason in ("", reason_phrase(old.status)):
        new.reason = reason_phrase(new.status)
    if after.name == before.name and generated_name(before.name, old.status, old.reason):
        after.name = unique(f"{new.status} {new.reason or reason_phrase(new.status)}".strip(),
                            (e.name for e in request.examples if e.id != before.id))


def parse_header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise UsageError(f"header {text!r} is not 'Name: value'")
    if problem := header_problem(name.strip(), value.strip()):
        raise UsageError(problem)
    return name.strip(), value.strip()


def check_sequence(position: int | None) -> int | None:
    if position is not None and position < 1:
        raise UsageError(f"--sequence {position} is not a position: 1, 2, 3 ...")
    return position


def check_fault(text: str | None) -> str | None:
    """'' clears the fault; anything else must be one."""
    if not text:
        return text
    try:
        return str(faults.parse_fault(text))
    except ValueError as e:
        raise UsageError(f"--fault: {e}") from None


def set_example(store: CollectionStore, example_id: int, collection: str | None,
                sequence: int | None, fault: str | None, no_sequence: bool = False) -> str:
    """`example edit ID --sequence N / --no-sequence / --fault KIND`, without an editor."""
    check_sequence(sequence)
    fault = check_fault(fault)
    owner, _, _ = store.find_example(example_id, collection)
    with store.editing(owner.name) as c:
        _, example = c.find_example(example_id)  # type: ignore[misc]
        if sequence is not None or no_sequence:
            example.sequence = None if no_sequence else sequence
        if fault is not None:
            example.fault = fault
    said = [f"sequence {example.sequence}" if example.sequence is not None else "no sequence",
            f"fault {example.fault}" if example.fault else "no fault"]
    return f"example {example_id} in {owner.name}: " + ", ".join(said)


@dataclass
class NewExample:
    """A hand-written example, as `example add`, the UI's form and the admin API give
    it: only the method, the path (or a URL) and the status are needed."""

    method: str
    path: str
    status: int
    headers: list[Header] = field(default_factory=list)
    body: bytes = b""
    name: str | None = None  # None: like `200 OK`, unique in the request
    reason: str | None = None  # None: the status's own
    request_name: str | None = None  # for a new request; None: `GET /path`
    request_headers: list[Header] = field(default_factory=list)
    request_body: bytes = b""
    sequence: int | None = None
    fault: str | None = None


def add_example(c: Collection, store: CollectionStore, wanted: NewExample,
                header_lines: list[str], body: str | bytes) -> Example:
    """Postman's "mock from scratch": a request (found or new) gets a hand-written example
    (`mockrec example add`: headers as 'Name: value'; a `body` of text starting with @
    names a file to read; bytes are the body as is)."""
    check_sequence(wanted.sequence)
    fault = check_fault(wanted.fault)
    if isinstance(body, bytes):
        content = body
    elif body.startswith("@"):
        try:
            content = Path(body[1:]).expanduser().read_bytes()
        except OSError as e:
            raise MockrecError(f"cannot read the body file {body[1:]}: {e.strerror}") from None
    else:
        content = body.encode()
    return new_example(c, store, replace(wanted, headers=[parse_header(h) for h in header_lines],
                                         body=content, fault=fault))


def new_example(c: Collection, store: CollectionStore, wanted: NewExample) -> Example:
    """Add one example to `c` (call inside `store.editing`), with `example add`'s defaults:
    the request with that method and URL, or a new one; a name like `200 OK`, unique in
    the request; the status's reason; a Content-Type guessed for a body without one."""
    status, content = wanted.status, wanted.body
    if not 100 <= status <= 599:
        raise UsageError(f"--status {status} is not an HTTP status (100-599)")
    pairs = list(wanted.headers)
    if content and not any(k.lower() == "content-type" for k, _ in pairs):
        pairs.append(("Content-Type", "application/json" if _is_json(content) else "text/plain"))
    method = wanted.method.upper()
    if not METHOD.fullmatch(method):
        raise MockrecError(f"method {method!r} is not an HTTP method")
    # A URL, a {{baseUrl}}-style one, or a bare path.
    path = wanted.path
    url = path if urlsplit(path).scheme or path.startswith("{{") else "/" + path.lstrip("/")
    request = next((r for r in c.requests if r.method == method and r.url == url), None)
    if request is None:
        request = Request(id=max((r.id for r in c.requests), default=0) + 1,
                          name=unique(wanted.request_name
                                      or f"{method} {example_path_and_query(url)[0]}",
                                      (r.name for r in c.requests)),
                          method=method, url=url)
        c.requests.append(request)
    (example_id,) = store.new_example_ids(c, 1)
    reason = reason_phrase(status) if wanted.reason is None else wanted.reason
    example = Example(
        id=example_id,
        name=unique(wanted.name or f"{status} {reason_phrase(status)}".strip(),
                    (e.name for e in request.examples)),
        request=ExampleRequest(method=method, url=url, headers=list(wanted.request_headers),
                               body=wanted.request_body),
        response=ExampleResponse(status=status, reason=reason, headers=pairs, body=content),
        sequence=wanted.sequence, fault=wanted.fault or "",
    )
    request.examples.append(example)
    return example


def add_example_document(store: CollectionStore, collection: str, doc: Any) -> Example:
    """Add an example given in the form `example show` prints (the admin API's
    `POST /__mockrec/examples`). Only `request.method`, `request.url` and
    `response.status` are needed; the rest defaults as in `example add`. An `id` is
    ignored: the example gets a new one. ValueError says what is wrong."""
    if not isinstance(doc, dict):
        raise ValueError("the example must be a JSON object")
    request, original = _object(doc, "request"), _object(doc, "originalRequest", {})
    response = _object(doc, "response")
    method, url = request.get("method"), request.get("url")
    if not isinstance(method, str) or not METHOD.fullmatch(method.strip().upper()):
        raise ValueError("request.method must be an HTTP method like GET")
    if not isinstance(url, str) or not url.strip():
        raise ValueError("request.url must be a path or URL, like /users/1")
    status = response.get("status")
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise ValueError(f"response.status {status!r} is not an HTTP status (100-599)")
    for where, value in (("name", doc.get("name")), ("request.name", request.get("name")),
                         ("response.reason", response.get("reason"))):
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{where} must be a string")
    conversation = _websocket(response.get("websocket"))
    body, stream = _streamed_body(response)
    with store.editing(collection) as c:
        try:
            example = new_example(c, store, NewExample(
                method.strip(), url.strip(), status,
                _header_lines(response.get("headers"), "response.headers"),
                body, doc.get("name"),
                reason=response.get("reason"), request_name=request.get("name"),
                request_headers=_header_lines(original.get("headers"),
                                              "originalRequest.headers"),
                request_body=_body(original.get("body"), "originalRequest.body")))
        except MockrecError as e:
            raise ValueError(str(e)) from None
        example.response.conversation = conversation
        example.response.stream = stream
        return example


def _websocket(value: Any) -> Conversation | None:
    """response.websocket: a conversation written by hand (recorder/conversation.py)."""
    return None if value is None else conversation_from_doc(value, "response.websocket")


def _streamed_body(response: dict) -> tuple[bytes, Stream | None]:
    """`response.body`, or the parts of `response.stream` (`{"parts": [{"offset": ms,
    "data": text}, ...]}`) joined, with their stream; a body beside them must agree."""
    body = _body(response.get("body"), "response.body")
    if response.get("stream") is None:
        return body, None
    try:
        joined, stream = Stream.from_pieces_doc(response["stream"])
    except ValueError as e:
        raise ValueError(f"response.stream: {e}") from None
    if body and body != joined:
        raise ValueError('response.body and response.stream differ: a streamed body is its '
                         'parts joined; leave the body out')
    return joined, stream


def add_sse_example(c: Collection, store: CollectionStore, wanted: NewExample,
                    header_lines: list[str], sse_file: Path) -> Example:
    """`example add --sse FILE`: one event a line, optionally led by its offset in ms
    (recorder/streams.py `sse_pieces`), as the example's stream."""
    try:
        body, stream = Stream.of_pieces(sse_pieces(sse_file.read_text(encoding="utf-8")))
    except OSError as e:
        raise MockrecError(f"cannot read the SSE file {sse_file}: {e.strerror}") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise UsageError(f"--sse {sse_file}: {e}") from None
    if not any(h.lower().startswith("content-type:") for h in header_lines):
        header_lines = [*header_lines, "Content-Type: text/event-stream"]
    example = add_example(c, store, wanted, header_lines, body)
    example.response.stream = stream
    return example


def _object(doc: dict, key: str, default: dict | None = None) -> dict:
    value = doc.get(key, default)
    if not isinstance(value, dict):
        raise ValueError(f"{key} must be an object" + (" (it is required)" if default is None
                                                       and value is None else ""))
    return value


def _header_lines(value: Any, where: str) -> list[Header]:
    """`["Name: value", ...]` as the file keeps them, or `{"Name": "value"}`."""
    if value is None:
        return []
    if isinstance(value, dict):
        value = [f"{k}: {v}" for k, v in value.items() if isinstance(v, str)] if all(
            isinstance(v, str) for v in value.values()) else None
    if not isinstance(value, list) or not all(isinstance(h, str) for h in value):
        raise ValueError(f'{where} must be a list of "Name: value" lines')
    try:
        return [parse_header(h) for h in value]
    except MockrecError as e:
        raise ValueError(f"{where}: {e}") from None


def _body(value: Any, where: str) -> bytes:
    """`{"text": ...}` or `{"base64": ...}` as `example show` prints it, or plain text."""
    if value is None:
        return b""
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, dict) and set(value) <= {"text", "base64", "size"} and (
            isinstance(value.get("text", ""), str) and isinstance(value.get("base64", ""), str)):
        if "text" in value:
            return value["text"].encode()
        try:
            return base64.b64decode(value.get("base64", ""), validate=True)
        except (ValueError, binascii.Error):
            raise ValueError(f"{where}.base64 is not base64") from None
    raise ValueError(f'{where} must be text, {{"text": ...}} or {{"base64": ...}}')


def _is_json(content: bytes) -> bool:
    try:
        json.loads(content)
    except ValueError:
        return False
    return True

"""Postman Collection v2.1 (and v2.0) in and out: folders, requests, saved examples, variables.

Import models the folder, name, method, URL, headers, body and how Postman saved it,
status, reason, variables and the examples' ids, and keeps everything else the file
has (scripts, auth, descriptions, options, unknown fields: recorder/interop/kept.py);
export writes it all back, so that `export(import(X)) == X` apart from what was
edited in mockrec. Path variables (`url.variable`) are resolved into the URLs as
Postman resolves them; form bodies (`urlencoded`, `formdata`) are kept as the bytes
Postman sends, with their Content-Type (recorder/interop/forms.py). A body that is not
UTF-8 travels base64 in `_mockrec_body_base64`, a field Postman ignores, so export
then import is exact; so do an example's position in a sequence (`_mockrec_sequence`)
and its fault (`_mockrec_fault`), and a WebSocket example's conversation
(`_mockrec_websocket`, recorder/conversation.py).

A GraphQL body (`body.mode: graphql`) is kept as the JSON Postman sends for it,
`{"query": ..., "variables": ...}`, with language "graphql", and exported back as
a GraphQL body.
"""

from __future__ import annotations

import base64
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from recorder.conversation import Conversation, ConversationError
from recorder.conversation import from_doc as conversation_from_doc
from recorder.errors import BadFile
from recorder.interop import forms, kept, limits
from recorder.models import (
    Collection,
    Example,
    ExampleRequest,
    ExampleResponse,
    Header,
    Request,
    counted,
    header_problem,
)
from recorder.promote.entries import DROPPED_RESPONSE_HEADERS
from recorder.serve import faults
from recorder.streams import Stream

# Folder names hold slashes (Adyen's "/payments/:id/captures"), so nesting is " / ".
FOLDER_SEPARATOR = " / "
# Examples are served from memory and live in one JSON file: a body this big is
# a mistake or an attack, not a mock.
MAX_BODY = 64 * 2**20
SCHEMA_21 = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
ITEM_KEYS = {"name", "request", "response", "item", "id", "_postman_id"}
# The recorded Content-Encoding/Length describe bytes Postman no longer has:
# its `body` holds the decoded text.
IMPORT_DROPPED = DROPPED_RESPONSE_HEADERS | {"content-encoding"}


class PostmanError(BadFile):
    """A file that is not a Postman collection mockrec can read, with the place."""


@dataclass
class ImportSummary:
    requests: int = 0
    examples: int = 0
    folders: int = 0
    ignored: Counter[str] = field(default_factory=Counter)  # kept, not modelled

    def text(self) -> str:
        lines = [f"{counted(self.requests, 'request')}, {counted(self.examples, 'example')}, "
                 f"{counted(self.folders, 'folder')}"]
        if self.ignored:
            lines.append("kept for export, not used by mockrec: " + ", ".join(
                f"{key} x{count}" for key, count in sorted(self.ignored.items())))
        return "\n".join(lines)


def _expect(value: Any, kind: type | tuple, where: str) -> Any:
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise PostmanError(f"{where}: expected {names}, found {type(value).__name__}")
    return value


def url_text(url: Any, where: str) -> str:
    """A Postman URL (string, or object with raw or host/path/query) as one string, its
    path variables resolved as Postman resolves them (`path_values`)."""
    text = _joined_url(url, where)
    values = path_values(url)
    return with_path_values(text, values) if values else text


def path_values(url: Any) -> dict[str, str]:
    """The values saved for a URL's `:name` segments (`url.variable`) that Postman would
    put in their place: a value as given, or a `{{variable}}` (resolved later like any
    other). A segment with no value, an empty one, or a type placeholder such as
    `<string>` (what openapi-to-postman writes for "a value of this type") stays
    `:name`, a wildcard."""
    rows = url.get("variable") if isinstance(url, dict) else None
    if not isinstance(rows, list):
        return {}
    return {str(r["key"]): str(r["value"]) for r in rows
            if isinstance(r, dict) and r.get("key") is not None and not r.get("disabled")
            and isinstance(r.get("value"), str | int | float) and str(r["value"]) != ""
            and not PLACEHOLDER.fullmatch(str(r["value"]))}


def with_path_values(text: str, values: dict[str, str]) -> str:
    """`{{base}}/products/:id?x=1` with `:id` replaced by values["id"]."""
    head, path = "", text
    if "://" in text:
        scheme, _, rest = text.partition("://")
        cut = rest.find("/")
        head, path = (text, "") if cut < 0 else (f"{scheme}://{rest[:cut]}", rest[cut:])
    elif text.startswith("{{") and "}}" in text:
        cut = text.index("}}") + 2
        head, path = text[:cut], text[cut:]
    path, mark, query = path.partition("?")
    path = "/".join(values.get(seg[1:], seg) if seg.startswith(":") else seg
                    for seg in path.split("/"))
    return head + path + mark + query


def _joined_url(url: Any, where: str) -> str:
    if url is None:
        return ""
    if isinstance(url, str):
        return url
    _expect(url, dict, where)
    if isinstance(url.get("raw"), str) and url["raw"]:
        return url["raw"]
    host = url.get("host") or []
    host = ".".join(host) if isinstance(host, list) else str(host)
    protocol = f"{url['protocol']}://" if url.get("protocol") else ""
    port = f":{url['port']}" if url.get("port") else ""
    path = url.get("path") or []
    path = "/".join(str(p) for p in path) if isinstance(path, list) else str(path)
    query = [q for q in url.get("query") or [] if isinstance(q, dict) and not q.get("disabled")]
    text = f"{protocol}{host}{port}/{path.lstrip('/')}"
    if query:
        text += "?" + "&".join(
            f"{q.get('key', '')}" + ("" if q.get("value") is None else f"={q.get('value')}")
            for q in query)
    return text


def _headers(rows: Any, where: str, drop: set[str] = frozenset()) -> list[Header]:
    if rows is None or isinstance(rows, str):
        return []  # v2.0 allows a raw header string; nothing to match on
    headers = []
    for i, row in enumerate(_expect(rows, list, where)):
        _expect(row, dict, f"{where}[{i}]")
        if row.get("disabled") or row.get("key") is None:
            continue
        if str(row["key"]).lower() in drop:
            continue
        header = (str(row["key"]), "" if row.get("value") is None else str(row["value"]))
        if problem := header_problem(*header):
            raise PostmanError(f"{where}[{i}]: {problem}")
        headers.append(header)
    return headers


GRAPHQL_HEAD = '{"query": '
GRAPHQL_MIDDLE = ', "variables": '


def graphql_body(query: str, variables: str) -> bytes:
    """The JSON Postman sends for a GraphQL body. The variables are JSON text that may
    hold `{{...}}`, so they go in as written (and come back out by `graphql_parts`)."""
    return (GRAPHQL_HEAD + json.dumps(query, ensure_ascii=False) + GRAPHQL_MIDDLE
            + (variables.strip() or "{}") + "}").encode()


def graphql_parts(body: bytes) -> tuple[str, str] | None:
    """(query, variables text) of a body `graphql_body` made, else None."""
    text = body.decode("utf-8", "replace")
    if not text.startswith(GRAPHQL_HEAD) or not text.endswith("}"):
        return None
    try:
        query, end = json.JSONDecoder().raw_decode(text, len(GRAPHQL_HEAD))
    except ValueError:
        return None
    if not isinstance(query, str) or not text.startswith(GRAPHQL_MIDDLE, end):
        return None
    variables = text[end + len(GRAPHQL_MIDDLE):-1]
    return query, "" if variables == "{}" else variables


def _request_body(body: Any, where: str) -> tuple[bytes, str]:
    """The body's bytes, and how Postman saved it (the language: json, graphql, ... or
    the form's mode, urlencoded or formdata)."""
    if not body:
        return b"", ""
    _expect(body, dict, where)
    mode = body.get("mode")
    if mode == "raw":
        options = body.get("options")
        raw_options = options.get("raw") if isinstance(options, dict) else None
        language = raw_options.get("language") if isinstance(raw_options, dict) else None
        raw = str(body.get("raw") or "").encode()
        return raw, str(language or "") if raw else ""
    if mode == "graphql":
        graphql = body.get("graphql") or {}
        _expect(graphql, dict, f"{where}.graphql")
        variables = graphql.get("variables") or ""
        if not isinstance(variables, str):  # some exporters write the object itself
            variables = json.dumps(variables)
        return graphql_body(str(graphql.get("query") or ""), variables), "graphql"
    if mode in ("urlencoded", "formdata") and isinstance(body.get(mode), list):
        return _form_body(mode, body[mode])
    return b"", ""


def _form_body(mode: str, rows: list) -> tuple[bytes, str]:
    """A form as the bytes Postman sends for it (its Content-Type is `form_type`)."""
    fields = [r for r in rows if isinstance(r, dict) and not r.get("disabled")
              and r.get("key") is not None]
    if mode == "urlencoded":
        return forms.urlencoded([(str(r["key"]), _text(r.get("value"))) for r in fields]), mode
    return forms.multipart([(str(r["key"]), _text(r.get("value")), _file_name(r))
                            for r in fields]), mode


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _file_name(row: dict) -> str | None:
    if row.get("type") != "file":
        return None
    src = row.get("src")
    src = src[0] if isinstance(src, list) and src else src
    return str(src or "").replace("\\", "/").rsplit("/", 1)[-1]


FORM_TYPES = {"urlencoded": forms.URLENCODED, "formdata": forms.MULTIPART}


def with_form_type(headers: list[Header], language: str) -> list[Header]:
    """The headers Postman sends with a form: its Content-Type added (a multipart one
    without the body's boundary replaced), as Postman adds it."""
    form_type = FORM_TYPES.get(language)
    if form_type is None:
        return headers
    given = next((v for k, v in headers if k.lower() == "content-type"), None)
    if given is not None and (language == "urlencoded" or "boundary=" in given):
        return headers
    return [*(h for h in headers if h[0].lower() != "content-type"), ("Content-Type", form_type)]


def _response_body(example: dict, where: str) -> bytes:
    if isinstance(example.get("_mockrec_body_base64"), str):
        body = base64.b64decode(example["_mockrec_body_base64"])
    else:
        body = b"" if example.get("body") is None else str(example["body"]).encode()
    if len(body) > MAX_BODY:
        raise PostmanError(f"{where}.body: {len(body) // 2**20} MB is over the "
                           f"{MAX_BODY // 2**20} MB an example body may have")
    return body


def _streamed_body(example: dict, where: str) -> tuple[bytes, Stream | None]:
    """The body, with the stream of `_mockrec_stream` (mockrec's export) when its parts
    joined are that body; a body edited in Postman since wins, answered whole."""
    body = _response_body(example, where)
    if example.get("_mockrec_stream") is None:
        return body, None
    try:
        joined, stream = Stream.from_pieces_doc(example["_mockrec_stream"])
    except ValueError as e:
        raise PostmanError(f"{where}._mockrec_stream: {e}") from None
    return (joined, stream) if joined == body else (body, None)


def _sequence(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise PostmanError(f"{where}._mockrec_sequence: {value!r} is not a position (1, 2 ...)")
    return value


def _conversation(value: Any, where: str) -> Conversation | None:
    if value is None:
        return None
    try:
        return conversation_from_doc(value, f"{where}._mockrec_websocket")
    except ConversationError as e:
        raise PostmanError(str(e)) from None


def _fault(value: Any, where: str) -> str:
    if value in (None, ""):
        return ""
    try:
        return str(faults.parse_fault(str(value)))
    except ValueError as e:
        raise PostmanError(f"{where}._mockrec_fault: {e}") from None


PLACEHOLDER = re.compile(r"<[A-Za-z][\w-]*>")
ITEMS_HINT = ("Postman names that list `item` (Collection v2.1: a top-level `info` "
              "object and an `item` list of requests and folders); rename it to import")


def load(path: Path) -> dict:
    doc = _expect(limits.read_json_file(path), dict, str(path))
    if isinstance(doc.get("items"), list) and "item" not in doc:
        raise PostmanError(f"{path}: the file lists its requests under `items`; {ITEMS_HINT}")
    if not isinstance(doc.get("info"), dict) or not isinstance(doc.get("item"), list):
        raise PostmanError(f"{path}: not a Postman collection (no info and item list)")
    if where := limits.lone_surrogate(doc):
        raise PostmanError(f"{path}: {where}: a lone surrogate (an unpaired \\ud800-\\udfff "
                           "escape) is not text; nothing was imported")
    return doc


class _Reader:
    """One Postman document read into a collection, with what it keeps for export."""

    def __init__(self, name: str, source: str) -> None:
        self.source = source
        self.summary = ImportSummary()
        self.collection = Collection(name=name)
        self.pending: list[tuple[Request, dict, list[tuple[str, dict]]]] = []
        self.limit = limits.MAX_ITEMS.value()
        self.counted = 0

    def count(self, n: int) -> None:
        self.counted += n
        if self.counted > self.limit:  # before anything more is built from the file
            raise limits.MAX_ITEMS.refuse(self.source.removesuffix(": ") or "collection")

    def variables(self, doc: dict) -> None:
        for i, var in enumerate(doc.get("variable") or []):
            _expect(var, dict, f"{self.source}variable[{i}]")
            if var.get("key") is not None and not var.get("disabled"):
                self.collection.variables[str(var["key"])] = _text(var.get("value"))

    def walk(self, items: list, folder: list[str], where: str, depth: int) -> None:
        if depth > 64:
            raise PostmanError(f"{where}: folders nested more than 64 deep")
        self.count(len(items))
        for i, item in enumerate(items):
            here = f"{where}[{i}]"
            _expect(item, dict, here)
            self.summary.ignored.update(k for k in item if k not in ITEM_KEYS)
            item_name = str(item.get("name") or f"item {i}")
            if "items" in item and "item" not in item and "request" not in item:
                raise PostmanError(f"{here}: a folder lists its requests under `items`; "
                                   f"{ITEMS_HINT}")
            if "item" in item:
                path = self.folder(item, folder, item_name, i)
                self.walk(_expect(item["item"], list, f"{here}.item"), path, f"{here}.item",
                          depth + 1)
                continue
            self.request(item, item_name, folder, here)

    def folder(self, item: dict, parent: list[str], name: str, position: int) -> list[str]:
        """The folder's path; two folders of one name side by side (Adyen has them) are
        told apart as `name (2)`, and export gives the second its name back."""
        self.summary.folders += 1
        folders = self.collection.postman.setdefault("folders", {})
        unique, n = name, 1
        while FOLDER_SEPARATOR.join([*parent, unique]) in folders:
            n += 1
            unique = f"{name} ({n})"
        shell = {k: [] if k == "item" else v for k, v in item.items()}
        folders[FOLDER_SEPARATOR.join([*parent, unique])] = {
            "at": position, "ops": kept.diff(_folder_doc(unique), shell)}
        return [*parent, unique]

    def request(self, item: dict, item_name: str, folder: list[str], here: str) -> None:
        req = _expect(item.get("request"), (dict, str), f"{here}.request")
        if isinstance(req, str):
            req = {"url": req, "method": "GET"}
        request = Request(id=len(self.pending) + 1, name=item_name,
                          method=str(req.get("method") or "GET").upper(),
                          url=url_text(req.get("url"), f"{here}.request.url"),
                          folder=FOLDER_SEPARATOR.join(folder))
        responses = _expect(item.get("response") or [], list, f"{here}.response")
        self.count(len(responses))
        examples = [(f"{here}.response[{j}]", _expect(r, dict, f"{here}.response[{j}]"))
                    for j, r in enumerate(responses)]
        self.pending.append((request, item, examples))

    def finish(self, request: Request, item: dict, examples: list[tuple[str, dict]]) -> None:
        for where, ex in examples:
            example = _example(ex, request, where)
            example.postman = kept.diff(_example_doc(example), ex) or None
            request.examples.append(example)
        shell = {k: [] if k == "response" else v for k, v in item.items()}
        request.postman = kept.diff(_item_doc(request), shell) or None
        self.collection.requests.append(request)


def _example(ex: dict, request: Request, where: str) -> Example:
    original = ex.get("originalRequest") or {}
    if isinstance(original, str):
        original = {"url": original}
    _expect(original, dict, f"{where}.originalRequest")
    code = ex.get("code", 200)
    if not isinstance(code, int) or not 100 <= code <= 599:
        raise PostmanError(f"{where}.code: {code!r} is not an HTTP status")
    body, language = _request_body(original.get("body"), f"{where}.originalRequest.body")
    headers = _headers(original.get("header"), f"{where}.originalRequest.header")
    postman_id = ex.get("id")
    answer, stream = _streamed_body(ex, where)
    return Example(
        id=0,  # given once the whole file has been read
        name=str(ex.get("name") or f"{code} {ex.get('status') or ''}".strip()),
        request=ExampleRequest(
            method=str(original.get("method") or request.method).upper(),
            url=url_text(original.get("url"), f"{where}.originalRequest.url") or request.url,
            headers=with_form_type(headers, language) if body else headers,
            body=body, language=language),
        response=ExampleResponse(
            status=code, reason=str(ex.get("status") or ""),
            headers=_headers(ex.get("header"), f"{where}.header", IMPORT_DROPPED),
            body=answer, stream=stream,
            conversation=_conversation(ex.get("_mockrec_websocket"), where)),
        # kept, so that `x-mock-response-id` finds it and export writes it back
        postman_id=None if postman_id in (None, "") else str(postman_id),
        sequence=_sequence(ex.get("_mockrec_sequence"), where),
        fault=_fault(ex.get("_mockrec_fault"), where),
    )


def to_collection(doc: dict, name: str, new_ids, source: str = "",
                  track=lambda items: items) -> tuple[Collection, ImportSummary]:
    """Build a collection from a parsed Postman document; `new_ids(n)` gives example ids."""
    reader = _Reader(name, source)
    reader.variables(doc)
    reader.walk(doc["item"], [], f"{source}item", 0)
    for request, item, examples in track(reader.pending):
        reader.finish(request, item, examples)
    collection, summary = reader.collection, reader.summary
    top = {k: [] if k == "item" else v for k, v in doc.items()}
    collection.postman["top"] = kept.diff(_top_doc(collection), top)
    # Only a file that read whole takes ids: a refused import leaves the data dir as it was.
    for example, example_id in zip(collection.examples, new_ids(len(collection.examples)),
                                   strict=True):
        example.id = example_id
    summary.requests = len(collection.requests)
    summary.examples = len(collection.examples)
    return collection, summary


# -- export ------------------------------------------------------------------------------

def url_object(raw: str) -> dict[str, Any]:
    """Postman's parsed URL beside the raw one; newman reads either."""
    obj: dict[str, Any] = {"raw": raw}
    rest = raw
    if "://" in raw:
        parts = urlsplit(raw)
        obj["protocol"] = parts.scheme
        obj["host"] = (parts.hostname or "").split(".")
        if parts.port:
            obj["port"] = str(parts.port)
        rest = raw.split("://", 1)[1]
        rest = rest[rest.find("/"):] if "/" in rest else ""
    elif raw.startswith("{{"):
        end = raw.find("}}") + 2
        obj["host"] = [raw[:end]]
        rest = raw[end:]
    path, _, query = rest.partition("?")
    obj["path"] = [p for p in path.split("/") if p != ""] if path.strip("/") else []
    if query:
        obj["query"] = [{"key": k, "value": v if sep else None}
                        for k, sep, v in (q.partition("=") for q in query.split("&"))]
    return obj


def _header_rows(headers: list[Header]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in headers]


def _form_doc(language: str, body: bytes, headers: list[Header]) -> dict[str, Any] | None:
    """A form body in its Postman mode, or None if the body is not a form of that kind."""
    if language == "urlencoded":
        return {"mode": "urlencoded", "urlencoded": [
            {"key": k, "value": v} for k, v in forms.urlencoded_fields(body)]}
    content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
    fields = forms.multipart_fields(body, content_type) if language == "formdata" else None
    if fields is None:
        return None
    return {"mode": "formdata", "formdata": [
        {"key": k, "type": "file", "src": f} if f is not None else
        {"key": k, "value": v, "type": "text"} for k, v, f in fields]}


def _body_doc(body: bytes, language: str, headers: list[Header]) -> dict[str, Any]:
    parts = graphql_parts(body) if language == "graphql" else None
    if parts is not None:
        return {"mode": "graphql", "graphql": {"query": parts[0], "variables": parts[1]}}
    form = _form_doc(language, body, headers) if language in FORM_TYPES else None
    if form is not None:
        return form
    doc: dict[str, Any] = {"mode": "raw", "raw": body.decode("utf-8", "replace")}
    if language and language not in FORM_TYPES:
        doc["options"] = {"raw": {"language": "json" if language == "graphql" else language}}
    return doc


def _request_doc(method: str, url: str, headers: list[Header], body: bytes,
                 language: str = "") -> dict[str, Any]:
    doc: dict[str, Any] = {"method": method, "header": _header_rows(headers),
                           "url": url_object(url)}
    if body:
        doc["body"] = _body_doc(body, language, headers)
    return doc


def _example_doc(e: Example) -> dict[str, Any]:
    """The example as mockrec writes it, before what its file kept is put back."""
    doc: dict[str, Any] = {"id": e.postman_id} if e.postman_id is not None else {}
    doc |= {
        "name": e.name,
        "originalRequest": _request_doc(e.request.method, e.request.url, e.request.headers,
                                        e.request.body, e.request.language),
        "status": e.response.reason,
        "code": e.response.status,
        "header": _header_rows(e.response.headers),
        "cookie": [],
    }
    try:
        doc["body"] = e.response.body.decode("utf-8")
    except UnicodeDecodeError:
        doc["body"] = ""
        doc["_mockrec_body_base64"] = base64.b64encode(e.response.body).decode()
    content_type = next((v for k, v in e.response.headers if k.lower() == "content-type"), "")
    doc["_postman_previewlanguage"] = "json" if "json" in content_type else "text"
    if e.sequence is not None:
        doc["_mockrec_sequence"] = e.sequence
    if e.fault:
        doc["_mockrec_fault"] = e.fault
    if e.response.conversation is not None:
        doc["_mockrec_websocket"] = e.response.conversation.to_doc()
    if e.response.stream is not None:  # the parts and their offsets; the body is them joined
        doc["_mockrec_stream"] = e.response.stream.pieces_doc(e.response.body)
    return doc


def _item_doc(r: Request) -> dict[str, Any]:
    """The item as mockrec writes it, its examples and what its file kept left out."""
    first = r.examples[0] if r.examples else None
    return {"name": r.name, "request": _request_doc(
        r.method, r.url, first.request.headers if first else [],
        first.request.body if first else b"", first.request.language if first else ""),
        "response": []}


def _folder_doc(name: str) -> dict[str, Any]:
    return {"name": name, "item": []}


def _top_doc(c: Collection) -> dict[str, Any]:
    # sorted: the collection file may keep variables in another order than the file's
    return {"info": {"name": c.name, "schema": SCHEMA_21}, "item": [],
            "variable": [{"key": k, "value": v} for k, v in sorted(c.variables.items())]}


class _Tree:
    """The item tree export writes: folders made on first use, or where the file had
    them (an empty folder too), each with what its file kept."""

    def __init__(self, c: Collection) -> None:
        self.root: list[dict] = []
        self.folders: dict[str, list[dict]] = {"": self.root}
        self.kept: dict[str, dict] = c.postman.get("folders") or {}

    def items(self, path: str) -> list[dict]:
        if path not in self.folders:
            parent, _, name = path.rpartition(FOLDER_SEPARATOR)
            node = kept.apply(_folder_doc(name), (self.kept.get(path) or {}).get("ops"))
            self.items(parent).append(node)
            self.folders[path] = node["item"]
        return self.folders[path]

    def empty_folders(self) -> None:
        """The file's folders that hold no request now, back where they stood."""
        for path, kept_folder in self.kept.items():
            if path in self.folders:
                continue
            parent, _, name = path.rpartition(FOLDER_SEPARATOR)
            node = kept.apply(_folder_doc(name), kept_folder.get("ops"))
            siblings = self.items(parent)
            at = kept_folder.get("at")
            siblings.insert(at if isinstance(at, int) else len(siblings), node)
            self.folders[path] = node["item"]


def from_collection(c: Collection) -> dict[str, Any]:
    tree = _Tree(c)
    for r in c.requests:
        item = kept.apply(_item_doc(r), r.postman)
        item["response"] = [kept.apply(_example_doc(e), e.postman) for e in r.examples]
        tree.items(r.folder).append(item)
    tree.empty_folders()
    doc = kept.apply(_top_doc(c), c.postman.get("top"))
    doc["item"] = tree.root
    return doc

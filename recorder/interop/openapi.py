"""OpenAPI 3.0/3.1 import: Postman's "Generate from API schema".

One request per operation, one example per documented response: each named
example (`examples`), else the `example`, else one generated from the schema
(types, formats, enums, required fields; `example` and `default` win). Path
parameters become `:name` wildcards, the first server becomes `{{baseUrl}}`.
YAML is read by PyYAML, `$ref`s are resolved by jsonref.

The document is untrusted: `$ref`s are followed inside it only, or with
`--allow-refs DIR` to local files under DIR, never to the network; YAML aliases
and `$ref`s may not expand past MOCKREC_IMPORT_MAX_VALUES values (a "billion
laughs" is refused at once rather than expanded).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import jsonref
import yaml

from recorder.errors import MockrecError
from recorder.interop import limits
from recorder.models import (
    Collection,
    Example,
    ExampleRequest,
    ExampleResponse,
    Request,
    reason_phrase,
)

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
MAX_DEPTH = 8


class OpenAPIError(MockrecError):
    """A document mockrec cannot read, and where."""


class RefRefused(Exception):
    """A `$ref` mockrec does not follow."""


def load(path: Path, allow_refs: Path | None = None) -> dict:
    """The document with its `$ref`s resolved: those inside it, and with `allow_refs`
    those to local files under that folder; never network ones."""
    doc = _read(path)
    if not isinstance(doc, dict) or not str(doc.get("openapi", "")).startswith("3."):
        raise OpenAPIError(f"{path}: not an OpenAPI 3.x document (no openapi: 3.x field)")
    if not isinstance(doc.get("paths"), dict):
        raise OpenAPIError(f"{path}: no paths object")
    limits.MAX_ITEMS.check(len(doc["paths"]), f"{path}: paths")
    base = path.resolve().as_uri() if allow_refs is not None else ""
    try:
        resolved = jsonref.replace_refs(doc, base_uri=base, loader=_loader(allow_refs),
                                        lazy_load=False, proxies=False)
    except jsonref.JsonRefError as e:
        ref = (e.reference or {}).get("$ref") if isinstance(e.reference, dict) else e.reference
        if isinstance(e.cause, RefRefused):
            raise OpenAPIError(f"{path}: $ref {ref!r} {e.cause}") from None
        if isinstance(e.cause, MockrecError):
            raise OpenAPIError(f"{path}: $ref {ref!r}: {e.cause}") from None
        raise OpenAPIError(f"{path}: bad $ref {ref!r}") from None
    except RecursionError:
        raise OpenAPIError(f"{path}: $refs nested too deeply to resolve") from None
    limits.expanded_size(resolved, f"{path}: $refs")
    return resolved


def _loader(allow: Path | None) -> Callable[[str], Any]:
    """jsonref's loader for refs outside the document: local files under `allow`, or none."""
    def load(uri: str) -> Any:
        parts = urlsplit(uri)
        if allow is None:
            raise RefRefused("points outside the document; mockrec follows refs inside it "
                             "only (--allow-refs DIR follows local files under DIR)")
        if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
            raise RefRefused("is not a local file: mockrec never fetches refs from the "
                             "network")
        target = Path(unquote(parts.path)).resolve()
        if not target.is_relative_to(allow.resolve()):
            raise RefRefused(f"is outside --allow-refs {allow}")
        return _read(target)
    return load


def _read(path: Path) -> Any:
    raw = limits.read_bytes(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise OpenAPIError(f"{path}: cannot read it ({e})") from None
    try:
        return _parse(text, str(path))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise OpenAPIError(f"{path}: neither JSON nor YAML{where}") from None
    except RecursionError:
        raise OpenAPIError(f"{path}: nested too deeply to read") from None


def _parse(text: str, where: str = "document") -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return yaml.load(text, Loader=_limited_loader(where))


def _limited_loader(where: str) -> type:
    class Loader(yaml.SafeLoader):
        """PyYAML's safe loader, refusing documents whose aliases expand past
        MOCKREC_IMPORT_MAX_VALUES before anything is built from them."""

        def compose_document(self):  # type: ignore[no-untyped-def]
            node = super().compose_document()
            _check_aliases(node, f"{where}: YAML aliases")
            return node

    return Loader


def _check_aliases(root: yaml.Node, where: str) -> None:
    limit = limits.MAX_VALUES.value()
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        if isinstance(node, yaml.ScalarNode):
            return 1
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise OpenAPIError(f"{where}: an alias refers to itself; refused")
        active.add(key)
        total = 1
        for child in node.value:
            for part in child if isinstance(child, tuple) else (child,):
                total += size(part)
            if total > limit:
                raise limits.MAX_VALUES.refuse(where)
        active.discard(key)
        sizes[key] = total
        return total

    size(root)


def sample(schema: Any, depth: int = 0) -> Any:
    """A value that fits `schema`, preferring its own example or default."""
    if not isinstance(schema, dict) or depth > MAX_DEPTH:
        return None
    for key in ("example", "default"):
        if key in schema:
            return schema[key]
    if isinstance(schema.get("examples"), list) and schema["examples"]:
        return schema["examples"][0]
    if schema.get("enum"):
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for combiner in ("oneOf", "anyOf"):
        if schema.get(combiner):
            return sample(schema[combiner][0], depth + 1)
    if schema.get("allOf"):
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            value = sample(part, depth + 1)
            if isinstance(value, dict):
                merged.update(value)
        return merged
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        return {name: sample(sub, depth + 1) for name, sub in props.items()}
    if kind == "array":
        item = sample(schema.get("items") or {}, depth + 1)
        return [] if item is None else [item]
    if kind == "integer":
        return int(schema.get("minimum", 0))
    if kind == "number":
        return float(schema.get("minimum", 0))
    if kind == "boolean":
        return True
    if kind == "string":
        return {"date-time": "2026-01-01T00:00:00Z", "date": "2026-01-01",
                "uuid": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "email": "user@example.com",
                "uri": "https://example.com", "ipv4": "192.0.2.1"}.get(
                    schema.get("format", ""), "string")
    return None


def _body(value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value, indent=2).encode()


def _status(code: str) -> int | None:
    code = str(code).upper()
    if code.isdigit() and 100 <= int(code) <= 599:
        return int(code)
    if len(code) == 3 and code.endswith("XX") and code[0] in "12345":
        return int(code[0]) * 100
    return None  # "default": no status to serve


def _media(content: Any) -> tuple[str, dict]:
    if not isinstance(content, dict) or not content:
        return "", {}
    for media in content:
        if "json" in media:
            return media, content[media] or {}
    media = next(iter(content))
    return media, content[media] or {}


def _examples(media: dict) -> list[tuple[str, Any]]:
    named = media.get("examples")
    if isinstance(named, dict) and named:
        return [(name, (ex or {}).get("value")) for name, ex in named.items()]
    if "example" in media:
        return [("", media["example"])]
    schema = media.get("schema")
    return [("", sample(schema))] if schema else [("", None)]


def to_collection(doc: dict, name: str, new_ids: Callable[[int], list[int]],
                  source: str = "", track: Callable = lambda items: items,
                  skipped: list[str] | None = None) -> Collection:
    """The collection; what is left out is added to `skipped`, with the reason."""
    skipped = [] if skipped is None else skipped
    collection = Collection(name=name)
    servers = doc.get("servers") or []
    if servers and isinstance(servers[0], dict) and servers[0].get("url"):
        collection.variables["baseUrl"] = str(servers[0]["url"]).rstrip("/")
    for path, item in track(list(doc["paths"].items())):
        if not isinstance(item, dict):
            raise OpenAPIError(f"{source}paths.{path}: expected an object")
        template = "/".join(f":{s[1:-1]}" if s.startswith("{") and s.endswith("}") else s
                            for s in str(path).split("/"))
        url = "{{baseUrl}}" + template
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            where = f"{source}paths.{path}.{method}"
            if not isinstance(op, dict):
                raise OpenAPIError(f"{where}: expected an object")
            request = Request(id=len(collection.requests) + 1,
                              name=str(op.get("summary") or op.get("operationId")
                                       or f"{method.upper()} {path}"),
                              method=method.upper(), url=url,
                              folder=str((op.get("tags") or [""])[0]))
            body_media, body = _media((op.get("requestBody") or {}).get("content"))
            request_body = _body(_examples(body)[0][1]) if body_media else b""
            request_headers = [("Content-Type", body_media)] if body_media else []
            responses = op.get("responses") or {}
            if not isinstance(responses, dict):
                raise OpenAPIError(f"{where}.responses: expected an object")
            for code, response in responses.items():
                status = _status(code)
                if status is None or not isinstance(response, dict):
                    skipped.append(f"{method.upper()} {path} response {code!r}: no HTTP status "
                                   "to serve")
                    continue
                media_type, media = _media(response.get("content"))
                for example_name, value in _examples(media):
                    reason = reason_phrase(status)
                    label = example_name or str(response.get("description") or reason)
                    request.examples.append(Example(
                        id=0, name=f"{status} {label}".strip()[:200],
                        request=ExampleRequest(method.upper(), url, request_headers,
                                               request_body),
                        response=ExampleResponse(
                            status, reason,
                            [("Content-Type", media_type)] if media_type else [],
                            _body(value) if media_type else b""),
                    ))
            collection.requests.append(request)
    for example, example_id in zip(collection.examples, new_ids(len(collection.examples)),
                                   strict=True):
        example.id = example_id
    return collection

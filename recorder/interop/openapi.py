"""OpenAPI 3.0/3.1 import: Postman's "Generate from API schema".

One request per operation, one example per documented response: each named
example (`examples`), else the `example`, else one generated from the schema
(types, formats, enums, required fields; `example` and `default` win). Path
parameters become `:name` wildcards, the first server becomes `{{baseUrl}}`.
YAML is read by PyYAML, `$ref`s are resolved by jsonref.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonref
import yaml

from recorder.errors import MockrecError
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


def load(path: Path) -> dict:
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise OpenAPIError(f"{path}: cannot read it ({e})") from None
    try:
        doc = _parse(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise OpenAPIError(f"{path}: neither JSON nor YAML{where}") from None
    except RecursionError:
        raise OpenAPIError(f"{path}: nested too deeply to read") from None
    if not isinstance(doc, dict) or not str(doc.get("openapi", "")).startswith("3."):
        raise OpenAPIError(f"{path}: not an OpenAPI 3.x document (no openapi: 3.x field)")
    if not isinstance(doc.get("paths"), dict):
        raise OpenAPIError(f"{path}: no paths object")
    try:
        return jsonref.replace_refs(doc, lazy_load=False, proxies=False)
    except jsonref.JsonRefError as e:
        raise OpenAPIError(f"{path}: bad $ref {e.reference!r}") from None


def _parse(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return yaml.safe_load(text)


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

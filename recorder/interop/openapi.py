"""OpenAPI 3.0/3.1 import: Postman's "Generate from API schema".

One request per operation, one example per documented response: each named
example (`examples`), else the `example`, else one generated from the schema so
that it validates against it (recorder/interop/samples.py). A JSON answer is JSON
(a string schema gives a JSON string). Path parameters become `:name` wildcards,
the first server becomes `{{baseUrl}}`. YAML is read by PyYAML, `$ref`s are
resolved by jsonref into shared objects (not copies).

The document is untrusted: `$ref`s are followed inside it only, or with
`--allow-refs DIR` to local files under DIR, never to the network. What is bounded
is what the import writes, as it writes it: YAML aliases may not expand past
MOCKREC_IMPORT_MAX_VALUES values, nor the examples copied or generated in all; a
generated example is cut to its smallest valid form past
MOCKREC_IMPORT_MAX_EXAMPLE_VALUES (samples.Budget). So a "billion laughs" or a
recursive schema with fan-out is refused or cut in one line, and a big spec whose
`$ref`s are shared (Stripe's) imports without being copied out.
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
from recorder.interop import forms, limits, samples
from recorder.models import (
    Collection,
    Example,
    ExampleRequest,
    ExampleResponse,
    Request,
    reason_phrase,
)

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


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
    # Shared `$ref`s stay shared (Stripe's 4 MB spec is billions of values copied out):
    # what the import writes is counted instead, as it is written (samples.Budget).
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


def sample(schema: Any) -> Any:
    """A value that fits `schema`, preferring its own example or default."""
    return samples.sample(schema)


def _body(value: Any, media_type: str) -> bytes:
    """The value as the media type's bytes: JSON for a JSON type (a string is a JSON
    string, unless it is the JSON text of an object or array, as authors write them)."""
    if "x-www-form-urlencoded" in media_type.lower() and isinstance(value, dict):
        return forms.urlencoded([(str(k), v if isinstance(v, str) else json.dumps(v))
                                 for k, v in value.items()])
    if "json" not in media_type.lower():
        if value is None:
            return b""
        return value.encode() if isinstance(value, str) else json.dumps(value, indent=2).encode()
    if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
        try:
            json.loads(value)
            return value.encode()
        except ValueError:
            pass
    return json.dumps(value, indent=2, ensure_ascii=False).encode()


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


def _examples(media: dict, generator: samples.Generator, where: str) -> list[tuple[str, Any]]:
    named = media.get("examples")
    if isinstance(named, dict) and named:
        return [(name, generator.given((ex or {}).get("value"), where))
                for name, ex in named.items()]
    if "example" in media:
        return [("", generator.given(media["example"], where))]
    schema = media.get("schema")
    return [("", generator.example(schema, where))] if schema else [("", None)]


def to_collection(doc: dict, name: str, new_ids: Callable[[int], list[int]],
                  source: str = "", track: Callable = lambda items: items,
                  skipped: list[str] | None = None, cut: list[str] | None = None) -> Collection:
    """The collection; what is left out is added to `skipped`, with the reason, and the
    generated examples cut to their smallest form to `cut`."""
    skipped = [] if skipped is None else skipped
    collection = Collection(name=name)
    servers = doc.get("servers") or []
    if servers and isinstance(servers[0], dict) and servers[0].get("url"):
        collection.variables["baseUrl"] = str(servers[0]["url"]).rstrip("/")
    generator = samples.Generator(source=source)
    for path, item in track(list(doc["paths"].items())):
        if not isinstance(item, dict):
            raise OpenAPIError(f"{source}paths.{path}: expected an object")
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            if not isinstance(op, dict):
                raise OpenAPIError(f"{source}paths.{path}.{method}: expected an object")
            request = _operation(str(path), method, op, generator, skipped)
            request.id = len(collection.requests) + 1
            collection.requests.append(request)
    for example, example_id in zip(collection.examples, new_ids(len(collection.examples)),
                                   strict=True):
        example.id = example_id
    if cut is not None:
        cut += [w.removeprefix(source) for w in generator.budget.cut_examples]
    return collection


def _operation(path: str, method: str, op: dict, generator: samples.Generator,
               skipped: list[str]) -> Request:
    """One operation's request, with an example per documented response."""
    where = f"{method.upper()} {path}"
    template = "/".join(f":{s[1:-1]}" if s.startswith("{") and s.endswith("}") else s
                        for s in path.split("/"))
    url = "{{baseUrl}}" + template
    request = Request(id=0, name=str(op.get("summary") or op.get("operationId") or where),
                      method=method.upper(), url=url, folder=str((op.get("tags") or [""])[0]))
    body_media, body = _media((op.get("requestBody") or {}).get("content"))
    request_body = (_body(_examples(body, generator, f"{where} request")[0][1], body_media)
                    if body_media else b"")
    request_headers = [("Content-Type", body_media)] if body_media else []
    responses = op.get("responses") or {}
    if not isinstance(responses, dict):
        raise OpenAPIError(f"paths.{path}.{method}.responses: expected an object")
    for code, response in responses.items():
        status = _status(code)
        if status is None or not isinstance(response, dict):
            skipped.append(f"{where} response {code!r}: no HTTP status to serve")
            continue
        media_type, media = _media(response.get("content"))
        for example_name, value in _examples(media, generator, f"{where} response {code}"):
            reason = reason_phrase(status)
            label = example_name or str(response.get("description") or reason)
            request.examples.append(Example(
                id=0, name=f"{status} {label}".strip()[:200],
                request=ExampleRequest(method.upper(), url, request_headers, request_body),
                response=ExampleResponse(
                    status, reason, [("Content-Type", media_type)] if media_type else [],
                    _body(value, media_type) if media_type else b""),
            ))
    return request

"""What Postman sends for a saved request: the client side of the self-consistency check.

Written from Postman's documented behaviour (postman-collection's Url and Request), not
from mockrec's import: `:name` path segments take their `url.variable` value (an empty
value gives an empty segment); `{{variables}}` are filled from the collection's
variables (an empty one gives "", an unknown one stays as written; `{{$guid}}` is a new
UUID); disabled headers, query parameters and form fields are left out; urlencoded and
formdata bodies are encoded with their Content-Type.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

VARIABLE = re.compile(r"\{\{([^{}]+)\}\}")


@dataclass
class Sent:
    method: str
    target: str  # path and query, what goes to the mock URL
    headers: list[tuple[str, str]]
    body: bytes


def fill(text: str, variables: dict[str, str]) -> str:
    def one(m: re.Match) -> str:
        name = m.group(1).strip()
        if name in ("$guid", "$randomUUID"):
            return str(uuid.uuid4())
        return variables.get(name, m.group(0))
    return VARIABLE.sub(one, text)


def _path(url: dict | str) -> tuple[list[str], list[dict]]:
    if isinstance(url, str):
        rest = url.split("://", 1)[1] if "://" in url else url
        if rest.startswith("{{"):
            rest = rest[rest.index("}}") + 2:]
        elif "://" in url:
            rest = rest[rest.find("/"):] if "/" in rest else ""
        path, _, query = rest.partition("?")
        rows = [{"key": k, "value": v if sep else None}
                for k, sep, v in (q.partition("=") for q in query.split("&") if q)]
        return [s for s in path.split("/") if s != ""] if path.strip("/") else [], rows
    if "path" not in url and url.get("raw"):
        segments, rows = _path(url["raw"])
        return segments, url.get("query", rows)
    path = url.get("path") or []
    segments = path.split("/") if isinstance(path, str) else [str(p) for p in path]
    values = {v.get("key"): v.get("value") for v in url.get("variable") or []
              if isinstance(v, dict)}
    out = []
    for segment in segments:
        if segment.startswith(":") and isinstance(values.get(segment[1:]), str):
            out.append(values[segment[1:]])
        else:
            out.append(segment)
    return out, url.get("query") or []


def _base_path(variables: dict[str, str], url: dict | str) -> str:
    """The path of the base the URL starts from (`{{baseUrl}}` = https://x/v3 -> /v3)."""
    raw = url if isinstance(url, str) else url.get("raw") or "".join(url.get("host") or [])
    base = fill(raw.split("/", 1)[0] if raw.startswith("{{") else "", variables)
    if "://" in raw and not raw.startswith("{{"):
        return ""
    return urlsplit(base).path.rstrip("/") if "://" in base else ""


def _body(body: Any, variables: dict[str, str]) -> tuple[bytes, str | None]:
    if not isinstance(body, dict):
        return b"", None
    mode = body.get("mode")
    if mode == "raw":
        return fill(str(body.get("raw") or ""), variables).encode(), None
    if mode == "urlencoded":
        fields = [f for f in body.get(mode) or [] if not f.get("disabled")]
        data = [(fill(str(f["key"]), variables), fill(str(f.get("value") or ""), variables))
                for f in fields]
        request = httpx.Request("POST", "http://x/", data=dict(data))
        return request.read(), request.headers["content-type"]
    if mode == "formdata":  # as a browser or Postman writes it, with a boundary of its own
        boundary = uuid.uuid4().hex
        parts = []
        for f in body.get(mode) or []:
            if f.get("disabled"):
                continue
            name = fill(str(f["key"]), variables)
            if f.get("type") == "file":
                src = f.get("src")
                src = src[0] if isinstance(src, list) and src else src
                filename = str(src or "file").rsplit("/", 1)[-1]
                parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                             f'filename="{filename}"\r\nContent-Type: application/pdf\r\n\r\n'
                             "%PDF-1.4 evidence\r\n")
            else:
                value = fill(str(f.get("value") or ""), variables)
                parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"'
                             f"\r\n\r\n{value}\r\n")
        return ("".join(parts) + f"--{boundary}--\r\n").encode(), \
            f"multipart/form-data; boundary={boundary}"
    return b"", None


def postman_sends(request: dict, variables: dict[str, str]) -> Sent:
    """The request Postman sends for `request` (an item's request or an originalRequest)."""
    url = request.get("url") or ""
    segments, query = _path(url)
    path = _base_path(variables, url) + "/" + "/".join(
        quote(fill(s, variables), safe="!$&'()*+,;=:@-._~") for s in segments)
    rows = [q for q in query if isinstance(q, dict) and not q.get("disabled")]
    if rows:
        path += "?" + "&".join(
            quote(fill(str(q.get("key") or ""), variables), safe="!$'()*+,;:@/?-._~")
            + ("" if q.get("value") is None
               else "=" + quote(fill(str(q["value"]), variables), safe="!$'()*+,;:@/?-._~"))
            for q in rows)
    headers = [(str(h["key"]), fill(str(h.get("value") or ""), variables))
               for h in request.get("header") or [] if isinstance(h, dict)
               and not h.get("disabled")]
    body, content_type = _body(request.get("body"), variables)
    if content_type and not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", content_type))
    return Sent(str(request.get("method") or "GET").upper(), path, headers, body)


def saved_examples(doc: dict) -> list[tuple[dict, dict]]:
    """(item, example) for every saved example of a collection, in file order."""
    found: list[tuple[dict, dict]] = []

    def walk(items: list) -> None:
        for item in items:
            if "item" in item:
                walk(item["item"])
            else:
                found.extend((item, ex) for ex in item.get("response") or [])
    walk(doc["item"])
    return found


def variables_of(doc: dict) -> dict[str, str]:
    return {str(v["key"]): "" if v.get("value") is None else str(v["value"])
            for v in doc.get("variable") or [] if not v.get("disabled")}

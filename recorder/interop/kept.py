"""What a Postman file holds that mockrec does not model, kept to be written back.

mockrec models a part of a Postman collection (names, methods, URLs, headers, bodies,
statuses, variables); a file also has scripts, auth blocks, descriptions, body
options, ids, settings and fields no one has defined yet. Rather than model them
all, import keeps, for each object it reads (the collection, a folder, an item, an
example), the difference between the file's JSON and what mockrec's export would
write for the object it made: a short list of operations. Export writes the object
as mockrec sees it now and replays the operations on it.

An operation names the place it changes and a digest of what export wrote there at
import time. It is replayed only where export still writes the same: a part mockrec
has since edited is written as edited, everything else as the file had it. So
`export(import(X)) == X`, apart from what was edited in mockrec.

    [{"at": ["url"], "was": "3f1c0a9e77b2", "raw": {...}},   # replace
     {"at": ["description"], "raw": "..."},                  # add (absent at import)
     {"at": ["cookie"], "was": "a41f0c3b2d11", "drop": true}, # remove
     {"at": [], "order": ["name", "id", ...]},                # the file's key order
     {"at": ["header", 0, "description"], "raw": "...",       # in a row of a list:
      "rows": [{"at": ["header", 0], "was": "9b2e4f7a1c03"}]}] # while the row is as it was
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

Ops = list[dict[str, Any]]
_ABSENT = object()


def digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def diff(written: Any, raw: Any, at: tuple = ()) -> Ops:
    """The operations that turn `written` (mockrec's export) into `raw` (the file)."""
    if isinstance(written, dict) and isinstance(raw, dict):
        ops: Ops = []
        for key, value in raw.items():
            if key in written:
                ops += diff(written[key], value, (*at, key))
            else:
                ops.append({"at": [*at, key], "raw": value})
        ops += [{"at": [*at, key], "was": digest(value), "drop": True}
                for key, value in written.items() if key not in raw]
        replayed = [k for k in written if k in raw] + [k for k in raw if k not in written]
        if replayed != list(raw):  # the file's key order, for a diff-friendly export
            ops.append({"at": list(at), "order": list(raw)})
        return ops
    if isinstance(written, list) and isinstance(raw, list) and _same_rows(written, raw):
        # Row by row (a header's description kept beside it): each row's operations are
        # replayed only while that row is as it was, so that an edited row, or rows in
        # another order, never take another row's fields.
        ops = []
        for i, (w, r) in enumerate(zip(written, raw, strict=True)):
            row = diff(w, r, (*at, i))
            guard = {"at": [*at, i], "was": digest(w)}
            ops += [{**op, "rows": [guard, *op.get("rows", [])]} for op in row]
        return ops
    if written == raw and type(written) is type(raw):
        return []
    return [{"at": list(at), "was": digest(written), "raw": raw}]


def _same_rows(written: list, raw: list) -> bool:
    """Whether two lists hold the same rows (the same length, and each pair the same
    kind of value with the same `key` or `name`): then they differ row by row."""
    if len(written) != len(raw):
        return False
    for w, r in zip(written, raw, strict=True):
        if isinstance(w, dict) and isinstance(r, dict):
            if (w.get("key"), w.get("name")) != (r.get("key"), r.get("name")):
                return False
        elif type(w) is not type(r) or w != r:
            return False
    return True


def _rows_hold(out: Any, op: dict) -> bool:
    for guard in op.get("rows") or ():
        at = guard.get("at")
        if not isinstance(at, list) or not at:
            return False
        value = _get(_parent(out, at), at[-1])
        if value is _ABSENT or digest(value) != guard.get("was"):
            return False
    return True


def _parent(doc: Any, at: list) -> Any:
    for step in at[:-1]:
        doc = _get(doc, step)
        if doc is _ABSENT:
            return None
    return doc


def _get(parent: Any, step: Any) -> Any:
    if isinstance(parent, dict) and isinstance(step, str):
        return parent.get(step, _ABSENT)
    if isinstance(parent, list) and isinstance(step, int) and 0 <= step < len(parent):
        return parent[step]
    return _ABSENT


def apply(written: Any, ops: Ops | None) -> Any:
    """`written` with the kept operations replayed where it still is as it was."""
    if not ops:
        return written
    out = copy.deepcopy(written)
    for op in ops:
        at = op.get("at")
        if not isinstance(at, list):
            continue
        if not _rows_hold(written, op):  # judged on what mockrec writes, before any op
            continue  # a row mockrec has since edited, removed or moved
        if "order" in op:
            out = _reorder(out, at, op["order"])
            continue
        if not at:  # the whole object was replaced
            if digest(out) == op.get("was"):
                out = copy.deepcopy(op.get("raw"))
            continue
        parent, step = _parent(out, at), at[-1]
        current = _get(parent, step)
        if parent is None or (current is _ABSENT and not isinstance(parent, dict)):
            continue
        if "was" not in op:  # added: only if mockrec has not written one since
            if current is _ABSENT:
                parent[step] = copy.deepcopy(op.get("raw"))
        elif current is not _ABSENT and digest(current) == op["was"]:
            if op.get("drop"):
                del parent[step]
            else:
                parent[step] = copy.deepcopy(op.get("raw"))
    return out


def _reorder(out: Any, at: list, order: Any) -> Any:
    target = out
    for step in at:
        target = _get(target, step)
    if not isinstance(target, dict) or not isinstance(order, list):
        return out
    keys = [k for k in order if k in target] + [k for k in target if k not in order]
    items = [(k, target.pop(k)) for k in keys]
    target.update(items)
    return out


def check(value: Any, where: str) -> Ops | None:
    """Kept operations read back from a collection file (None: nothing kept)."""
    if value is None:
        return None
    if not isinstance(value, list) or not all(
            isinstance(op, dict) and isinstance(op.get("at"), list) for op in value):
        raise ValueError(f"{where}: kept Postman fields are not a list of operations")
    return value

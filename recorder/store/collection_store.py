"""How collections are stored: one indented TinyDB file each, good to read and diff in git.

    collections/NAME.json       tables: collection (name, variables), requests,
                                examples (by id), tags (names and times)
    collections/NAME@TAG.json   the collection frozen by `collection tag NAME TAG`

A change is made on a `Collection` in memory and written in one atomic write
(TinyDB's caching middleware, flushed once), so a promote of 10,000 entries is
one write, and a crash leaves the old file or the new one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.middlewares import CachingMiddleware
from tinydb.table import Document

from recorder import conversation
from recorder.collector import collector_paused
from recorder.conversation import Conversation
from recorder.errors import MockrecError, NotFound, StoreCorrupt
from recorder.interop import kept
from recorder.models import (
    Collection,
    Example,
    ExampleRequest,
    ExampleResponse,
    Header,
    Request,
    Tag,
)
from recorder.serve import faults
from recorder.store.files import (
    AtomicJSONStorage,
    atomic_write,
    body_bytes,
    body_doc,
    damaged,
    ensure_private_dir,
    load_counter,
    locked,
    set_aside,
)
from recorder.store.names import check_name, valid_name
from recorder.streams import Stream

__all__ = ["CollectionStore", "check_name"]

log = logging.getLogger(__name__)
COUNTER = "next-example-id"


class CollectionStore:
    def __init__(self, data_dir: Path):
        self.root = data_dir / "collections"
        self._lock = self.root / ".lock"
        self._counter = self.root / f"{COUNTER}.json"
        self._next_example_id: int | None = None  # handed out, written once the edit lands

    def path(self, name: str, tag: str | None = None) -> Path:
        """The file of `name` (at `tag`); every way in goes through here, checked."""
        check_name(name)
        if name == COUNTER:
            raise MockrecError(f"{COUNTER!r} is the name of mockrec's own counter file: "
                               "pick another collection name")
        if tag:
            check_name(tag, "tag")
        return self.root / (f"{name}@{tag}.json" if tag else f"{name}.json")

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.stem for p in self.root.glob("*.json")
                      if valid_name(p.stem) and p.stem != COUNTER)

    def exists(self, name: str) -> bool:
        return self.path(name).exists()

    def require(self, name: str, tag: str | None = None) -> Path:
        """The file of `name` (at `tag`), or a NotFound saying what exists."""
        path = self.path(name, tag)
        if not path.exists():
            if tag and self.exists(name):
                raise NotFound(f"collection {name!r} has no tag {tag!r}: "
                               f"`mockrec collection show {name}` lists its tags")
            raise self.not_found(name)
        return path

    def not_found(self, name: str) -> NotFound:
        """Says where it looked: the default data dir depends on the current directory."""
        return NotFound(f"no collection {name!r} in {self.root.parent}: `mockrec collection "
                        "list` shows them (--data-dir or $MOCKREC_DATA_DIR picks another)")

    def load(self, name: str, tag: str | None = None) -> Collection:
        path = self.require(name, tag)
        # Hundreds of thousands of objects for a big collection, none of them garbage.
        with collector_paused():
            doc = AtomicJSONStorage(path, shape=_collection_problem).read() or {}
            try:
                return collection_from_doc(name, doc)
            except (KeyError, TypeError, ValueError, AttributeError) as e:
                raise damaged(path, f"not a mockrec collection: {e}") from None

    def variables(self, name: str, tag: str | None = None) -> dict[str, str]:
        """A collection's variables ({} if it does not exist)."""
        path = self.path(name, tag)
        if not path.exists():
            return {}
        doc = AtomicJSONStorage(path).read() or {}
        try:
            return dict(next(iter(doc.get("collection", {}).values()), {}).get("variables", {}))
        except (TypeError, ValueError, AttributeError) as e:
            raise damaged(path, f"not a mockrec collection: {e}") from None

    def all(self, damaged: list[str] | None = None) -> Iterator[Collection]:
        """Every collection. With `damaged`, a damaged file is skipped and its message
        added there, so that one bad file does not hide the others."""
        for name in self.names():
            try:
                yield self.load(name)
            except StoreCorrupt as e:
                if damaged is None:
                    raise
                damaged.append(str(e))

    def find_example(self, example_id: int, collection: str | None = None,
                     damaged: list[str] | None = None) -> tuple[Collection, Request, Example]:
        """The example with this id; `damaged` as in `all` (if it is not found and a file
        was damaged, that is the error: the example may be in it)."""
        found = []
        skipped: list[str] = []
        for c in [self.load(collection)] if collection else self.all(skipped):
            if hit := c.find_example(example_id):
                found.append((c, *hit))
        if damaged is not None:
            damaged.extend(skipped)
        if not found:
            if skipped:
                raise StoreCorrupt(f"no example {example_id} in the readable collections; "
                                   f"it may be in a damaged one: {skipped[0]}")
            raise NotFound(f"no example {example_id}: `mockrec example list` shows the ids")
        if len(found) > 1:
            names = ", ".join(c.name for c, _, _ in found)
            raise MockrecError(f"example {example_id} is in several collections ({names}): "
                               "name one with --collection")
        return found[0]

    # -- writing ---------------------------------------------------------------

    @contextlib.contextmanager
    def editing(self, name: str, *, create: bool = False) -> Iterator[Collection]:
        """Load, let the caller change, then write once; nothing is written on error."""
        check_name(name)
        ensure_private_dir(self.root)
        with locked(self._lock):
            if self.exists(name):
                collection = self.load(name)
            elif create:
                collection = Collection(name=name)
            else:
                raise self.not_found(name)
            self._next_example_id = None
            try:
                yield collection
                self._save(collection)
                # Ids move on only once the collection holding them is on disk.
                if self._next_example_id is not None:
                    atomic_write(self._counter, json.dumps(self._next_example_id).encode())
            finally:
                self._next_example_id = None

    def create(self, name: str) -> Collection:
        if self.exists(check_name(name)):
            raise MockrecError(f"collection {name!r} already exists")
        with self.editing(name, create=True) as collection:
            return collection

    def delete(self, name: str) -> list[tuple[Path, Path]]:
        """Delete a collection and its tags. A damaged file is kept aside instead
        (`set_aside`): returns those, each with where it went."""
        with locked(self._lock):
            if not self.exists(name):
                raise self.not_found(name)
            kept = []
            for path in [self.path(name), *self.root.glob(f"{glob_escape(name)}@*.json")]:
                tag = path.stem.partition("@")[2] or None
                try:
                    self.load(name, tag)
                except StoreCorrupt:
                    kept.append((path, set_aside(path)))
                else:
                    path.unlink()
            return kept

    def tag(self, name: str, tag: str) -> Tag:
        check_name(tag, "tag")
        with self.editing(name) as collection:
            if any(t.name == tag for t in collection.tags):
                raise MockrecError(f"collection {name!r} already has a tag {tag!r}: "
                                   "tags are frozen, pick a new name")
            frozen = Tag(name=tag, created=time.time())
            # The frozen copy is this state, without the tag list that keeps growing.
            AtomicJSONStorage(self.path(name, tag), indent=2).write(collection_doc(collection))
            collection.tags.append(frozen)
        return frozen

    def new_example_ids(self, collection: Collection, count: int) -> list[int]:
        """Ids unique across this data dir's collections; call inside `editing`, which
        moves the counter on only if the edit is saved."""
        counted = self._next_example_id
        if counted is None:
            counted = load_counter(self._counter)
        first = max([counted or 1] + [e.id + 1 for e in collection.examples])
        self._next_example_id = first + count
        return list(range(first, first + count))

    def _save(self, collection: Collection) -> None:
        path = self.path(collection.name)
        db = TinyDB(path, storage=CachingMiddleware(AtomicJSONStorage), indent=2)
        db.storage.WRITE_CACHE_SIZE = 1 << 30  # one write, at close
        db.storage.cache = {}  # no need to parse the old file: everything is replaced
        doc = collection_doc(collection)
        for table, rows in doc.items():
            db.table(table).insert_multiple(
                Document(row, doc_id=int(doc_id)) for doc_id, row in rows.items())
        db.close()


def _collection_problem(data: dict[str, Any]) -> str | None:
    if len(data.get("collection") or {}) != 1:
        return "not a mockrec collection: no collection table"
    return None


def glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


# -- documents: the file format, kept in this one place ---------------------------------

def _headers_doc(headers: list[Header]) -> list[str]:
    """`Name: value` lines: one line each in the file, in order, repeats kept."""
    return [f"{k}: {v}" for k, v in headers]


def collection_doc(c: Collection) -> dict[str, dict[str, Any]]:
    meta: dict[str, Any] = {"name": c.name, "variables": c.variables, "format": "mockrec/1"}
    if c.postman:  # what its Postman file had that mockrec does not model
        meta["postman"] = c.postman
    return {
        "collection": {"1": meta},
        "requests": {str(r.id): _request_doc(r) for r in c.requests},
        "examples": {str(e.id): example_doc(e, r.id) for r in c.requests for e in r.examples},
        "tags": {str(i): {"name": t.name, "created": t.created}
                 for i, t in enumerate(c.tags, start=1)},
    }


def _request_doc(r: Request) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": r.name, "method": r.method, "url": r.url, "folder": r.folder}
    if r.postman:
        doc["postman"] = r.postman
    return doc


def example_doc(e: Example, request_id: int) -> dict[str, Any]:
    original: dict[str, Any] = {"method": e.request.method, "url": e.request.url,
                                "headers": _headers_doc(e.request.headers),
                                "body": body_doc(e.request.body)}
    if e.request.language:  # how Postman saved the body: json, graphql, ...
        original["language"] = e.request.language
    source: dict[str, Any] = {"history": e.source_entry}
    if e.postman_id is not None:  # the id the example had in the Postman collection
        source["postman"] = e.postman_id
    doc: dict[str, Any] = {
        "request": request_id,
        "name": e.name,
        "originalRequest": original,
        "response": {"status": e.response.status, "reason": e.response.reason,
                     "headers": _headers_doc(e.response.headers),
                     "body": body_doc(e.response.body)},
        "source": source,
    }
    if e.response.conversation is not None:
        doc["response"]["websocket"] = e.response.conversation.to_doc()
    if e.response.stream is not None:  # parts with offsets (recorder/streams.py)
        doc["response"]["stream"] = e.response.stream.pieces_doc(e.response.body)
    # Only when set, so that files without sequences or faults read as before.
    if e.sequence is not None:
        doc["sequence"] = e.sequence
    if e.fault:
        doc["fault"] = e.fault
    if e.postman:  # what its Postman file had that mockrec does not model
        doc["postman"] = e.postman
    return doc


def example_from_doc(example_id: int, doc: dict[str, Any]) -> Example:
    """Raises KeyError/TypeError/ValueError on a malformed document."""
    req, resp = doc["originalRequest"], doc["response"]
    status = resp["status"]
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise ValueError(f"status {status!r} is not an HTTP status (100-599)")
    source = doc.get("source") or {}
    postman_id = source.get("postman")
    body, stream = _response_body(resp)
    return Example(
        id=example_id,
        name=str(doc["name"]),
        request=ExampleRequest(method=str(req["method"]).upper(), url=str(req["url"]),
                               headers=_pairs(req.get("headers", [])),
                               body=body_bytes(req.get("body", {})),
                               language=str(req.get("language") or "")),
        response=ExampleResponse(status=status, reason=str(resp.get("reason", "")),
                                 headers=_pairs(resp.get("headers", [])),
                                 body=body, stream=stream,
                                 conversation=_conversation(resp.get("websocket"))),
        source_entry=source.get("history"),
        postman_id=None if postman_id is None else str(postman_id),
        sequence=_position(doc.get("sequence")),
        fault=_fault(doc.get("fault")),
        postman=kept.check(doc.get("postman"), "postman"),
    )


def _conversation(value: Any) -> Conversation | None:
    return None if value is None else conversation.from_doc(value, "response.websocket")

def _response_body(resp: dict[str, Any]) -> tuple[bytes, Stream | None]:
    """The body, and its stream when it has one: then the body is the parts joined, and
    a `body` given beside them must be that (or left out)."""
    body = body_bytes(resp.get("body") or {})
    if resp.get("stream") is None:
        return body, None
    joined, stream = Stream.from_pieces_doc(resp["stream"])
    if body and body != joined:
        raise ValueError('response "body" and "stream" differ: a streamed body is its parts '
                         'joined; edit the parts and leave "body" out')
    return joined, stream


def _position(value: Any) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"sequence {value!r} is not a position (1, 2, 3 ...) or null")
    return value


def _fault(value: Any) -> str:
    if value in (None, ""):
        return ""
    if not isinstance(value, str):
        raise ValueError(f"fault {value!r} is not text")
    return str(faults.parse_fault(value))


def _pairs(rows: list) -> list[Header]:
    pairs = []
    for row in rows:
        name, sep, value = row.partition(":") if isinstance(row, str) else ("", "", "")
        if not sep or not name.strip():
            raise ValueError(f"header {row!r} is not a 'Name: value' line")
        pairs.append((name.strip(), value.removeprefix(" ")))
    return pairs


def collection_from_doc(name: str, doc: dict[str, Any]) -> Collection:
    meta = next(iter(doc.get("collection", {}).values()), {})
    requests = {int(i): Request(id=int(i), name=r["name"], method=r["method"], url=r["url"],
                                folder=r.get("folder", ""),
                                postman=kept.check(r.get("postman"), f"request {i}"))
                for i, r in doc.get("requests", {}).items()}
    for example_id, e in sorted(doc.get("examples", {}).items(), key=lambda kv: int(kv[0])):
        request = requests.get(e.get("request"))
        if request is None:
            continue
        try:
            request.examples.append(example_from_doc(int(example_id), e))
        except (KeyError, TypeError, ValueError) as err:
            # One broken example must not take the others down.
            log.warning(
                "collection %s: example %s skipped: %s", name, example_id, err)
    return Collection(
        name=name,
        requests=[requests[i] for i in sorted(requests)],
        variables=dict(meta.get("variables", {})),
        postman=dict(meta.get("postman") or {}),
        tags=[Tag(name=t["name"], created=t["created"]) for _, t in
              sorted(doc.get("tags", {}).items(), key=lambda kv: int(kv[0]))],
    )

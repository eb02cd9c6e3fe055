"""`drift --from-history`: the live answers are those already recorded.

Every history entry is an answer the real API gave (record, spy, passthrough, a
replay miss recorded, drift --record), so the newest entry of an example's request
(same method, host, path and query; secret query values aside, as promote redacted
them) says what the API answers now, without sending anything.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from urllib.parse import parse_qsl, urlsplit

from recorder.drift.plan import Fill, Skip, comparable, target_url
from recorder.match.matcher import VARIABLE
from recorder.models import Example, HistoryEntry, HistoryFilter
from recorder.promote.entries import BASE_URL
from recorder.redaction import REDACTED, SECRET_QUERY
from recorder.store.history import HistoryStore

Key = tuple[str, str, str, tuple[tuple[str, str], ...]]


def request_key(method: str, url: str) -> Key:
    """What two requests share to be the same request here; "" for an unknown host."""
    parts = urlsplit(url)
    query = sorted((k, "" if SECRET_QUERY.match(k) else v)
                   for k, v in parse_qsl(parts.query, keep_blank_values=True))
    return method.upper(), parts.netloc.lower(), parts.path or "/", tuple(query)


def example_key(example: Example, fill: Fill) -> Key:
    """The key of the request `example` stands for; Skip when its URL is incomplete."""
    comparable(example)
    url = example.request.url.replace(REDACTED, "")
    try:
        url = target_url(url, fill)
    except Skip:
        if fill.base is not None:
            raise
        url = "/" + url.removeprefix(BASE_URL).lstrip("/")  # no base: any host
        if missing := VARIABLE.search(url):
            raise Skip(f"its URL needs a value for {missing.group(0)}") from None
    return request_key(example.request.method, url)


def newest_entries(history: HistoryStore, keys: Iterable[Key],
                   since: datetime | None = None) -> dict[Key, HistoryEntry]:
    """The newest entry with a response for each key (a key with host "" takes any
    host), bodies loaded; keys with none are left out."""
    wanted = set(keys)
    found: dict[Key, int] = {}
    for entry in history.entries(HistoryFilter(since=since), newest_first=True):
        if entry.response is None or entry.id is None:
            continue
        key = request_key(entry.request.method, entry.request.url)
        for candidate in (key, (key[0], "", *key[2:])):
            if candidate in wanted and candidate not in found:
                found[candidate] = entry.id
        if len(found) == len(wanted):
            break
    bodies = history.get_many(set(found.values()))
    return {key: bodies[entry_id] for key, entry_id in found.items() if entry_id in bodies}

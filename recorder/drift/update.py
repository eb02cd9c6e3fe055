"""`drift --update`: the live answers written into the drifted examples.

An example keeps everything but its response: its id, name, request, position in a
sequence and fault. The new response is what promote would keep of the live answer
(secrets redacted, echoed ones too; volatile headers dropped; the body decoded).
"""

from __future__ import annotations

import copy
from collections import Counter

from recorder.drift.report import Result
from recorder.models import ExampleResponse
from recorder.promote.entries import example_from_entry
from recorder.store.collection_store import CollectionStore


def new_response(result: Result) -> ExampleResponse:
    """The response promote would make of `result`'s live answer."""
    assert result.live is not None and result.live.response is not None
    live = copy.deepcopy(result.live)  # promote's rules replace parts of what they take
    return example_from_entry(live, result.example.id, result.example.name,
                              keep_secrets=False, redacted=Counter()).response


def preview(results: list[Result]) -> list[str]:
    """What `--update` would change, a line per example."""
    return [f"example {r.example.id} ({r.request}, {r.example.name}): "
            + "; ".join(c.text() for c in r.changes) for r in results]


def write_updates(store: CollectionStore, collection: str, results: list[Result]) -> list[int]:
    """Give each result's example its live answer, in one write; returns the ids
    updated (an example deleted meanwhile is left out)."""
    updated = []
    with store.editing(collection) as c:
        for result in results:
            if result.live is None or result.live.response is None:
                continue
            found = c.find_example(result.example.id)
            if found is None:
                continue
            _, example = found
            example.response = new_response(result)
            if result.live.id is not None:  # stored in the history: where it came from
                example.source_entry = result.live.id
            updated.append(example.id)
    return updated

"""A drift check from start to end: choose the examples, ask the live API (or the
history), judge each answer, and keep the exchanges in the history if asked."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from recorder.drift import recorded
from recorder.drift.compare import answer_changes, as_served
from recorder.drift.plan import Fill, Outgoing, Skip, outgoing
from recorder.drift.report import Report, Result, Verdict
from recorder.drift.send import Sending, send_all
from recorder.models import Collection, Example, HistoryEntry, IdSpan, pick_ids
from recorder.store.history import HistoryStore


@dataclass
class DriftOptions:
    fill: Fill = field(default_factory=Fill)
    ids: list[IdSpan] = field(default_factory=list)
    values: bool = False  # compare JSON values too, not only the shape
    sending: Sending = field(default_factory=Sending)
    record: bool = False  # keep what was sent and answered in the history
    from_history: bool = False  # compare with the newest recorded answers; send nothing
    since: datetime | None = None  # with from_history: entries from then on


Progress = Callable[[Result], None]


def chosen(collection: Collection, ids: list[IdSpan]) -> list[Example]:
    """The examples `ids` name (all of them without ids), in the collection's order."""
    if not ids:
        return collection.examples
    picked = set(pick_ids(ids, (e.id for e in collection.examples), "example"))
    return [e for e in collection.examples if e.id in picked]


def judge(example: Example, live: HistoryEntry, values: bool,
          variables: dict[str, str] | None = None) -> Result:
    """The verdict on `example` given the live exchange (`variables` fill a dynamic
    example's templates, as replay fills them)."""
    result = Result(example, Verdict.OK, live=live)
    answer = result.live_answer
    if answer is None:
        result.verdict, result.reason = Verdict.FAILED, live.error or "no answer"
        return result
    served = as_served(example.response, live.request, variables or {})
    result.changes = answer_changes(served, answer, values=values,
                                    head=live.request.method.upper() == "HEAD")
    if result.changes:
        result.verdict = Verdict.DRIFTED
    return result


async def check(collection: Collection, options: DriftOptions, data_dir: Path,
                progress: Progress | None = None) -> Report:
    """Check `collection`'s examples (those `options.ids` name) against the live API,
    or against the history with `options.from_history`."""
    examples = chosen(collection, options.ids)
    fill = Fill(variables={**collection.variables, **options.fill.variables},
                headers=options.fill.headers, upstream=options.fill.upstream,
                all_methods=options.fill.all_methods)
    if options.from_history:
        results = from_history(examples, fill, options, HistoryStore(data_dir))
        for result in results.values():
            if progress is not None:
                progress(result)
    else:
        results = await from_live_api(examples, fill, options, progress)
        if options.record:
            keep(HistoryStore(data_dir), results.values())
    return Report(collection.name, [results[e.id] for e in examples])


async def from_live_api(examples: list[Example], fill: Fill, options: DriftOptions,
                        progress: Progress | None) -> dict[int, Result]:
    results: dict[int, Result] = {}
    to_send: list[tuple[int, Outgoing]] = []
    by_id = {e.id: e for e in examples}
    for example in examples:
        try:
            to_send.append((example.id, outgoing(example, fill)))
        except Skip as e:
            results[example.id] = Result(example, Verdict.SKIPPED, reason=str(e))
            if progress is not None:
                progress(results[example.id])

    def done(example_id: int, live: HistoryEntry) -> None:
        results[example_id] = judge(by_id[example_id], live, options.values, fill.variables)
        if progress is not None:
            progress(results[example_id])

    await send_all(to_send, options.sending, done)
    return results


def from_history(examples: list[Example], fill: Fill, options: DriftOptions,
                 history: HistoryStore) -> dict[int, Result]:
    results: dict[int, Result] = {}
    keys: dict[int, recorded.Key] = {}
    for example in examples:
        try:
            keys[example.id] = recorded.example_key(example, fill)
        except Skip as e:
            results[example.id] = Result(example, Verdict.SKIPPED, reason=str(e))
    newest = recorded.newest_entries(history, keys.values(), options.since)
    for example in examples:
        if example.id in results:
            continue
        entry = newest.get(keys[example.id])
        if entry is None:
            results[example.id] = Result(example, Verdict.SKIPPED,
                                         reason="no history entry of this request")
        else:
            results[example.id] = judge(example, entry, options.values, fill.variables)
            results[example.id].reason = f"history entry {entry.id}"
    return results


def keep(history: HistoryStore, results: Iterable[Result]) -> None:
    """Store the exchanges drift made in the history, byte-exact as `record` stores
    them (their ids then name the entries)."""
    history.append([r.live for r in results if r.live is not None])

"""The stores of a data dir as a whole: each mock's call log (a history of its own,
`DATA_DIR/calls/MOCK`), and every store's recovery files imported at once."""

from __future__ import annotations

from pathlib import Path

from recorder.errors import MockrecError, NotFound
from recorder.store.history import recovery
from recorder.store.history.segments import CALLS, HistoryStore


def call_log_root(mock: str) -> str:
    """Where a mock's call log lives in the data dir: a history of its own."""
    from recorder.store.names import check_name

    return f"{CALLS}/{check_name(mock, 'mock')}"


def call_logs(data_dir: Path) -> list[str]:
    """The mocks (or collections served without a mock) that have a call log."""
    calls_dir = data_dir / CALLS
    return sorted(p.name for p in calls_dir.iterdir() if p.is_dir()) if calls_dir.is_dir() else []


def open_call_log(data_dir: Path, mock: str | None) -> HistoryStore:
    """`mock`'s call log; with no name, the only one there is."""
    names = call_logs(data_dir)
    if mock is None:
        if len(names) != 1:
            raise MockrecError("name the mock: " + (", ".join(names) if names
                                                    else "no mock has served calls yet"))
        mock = names[0]
    elif mock not in names:
        raise NotFound(f"no calls logged for {mock!r}" + (f" (logged: {', '.join(names)})"
                                                           if names else ""))
    return HistoryStore(data_dir, call_log_root(mock))


def recover_all(data_dir: Path) -> dict[str, int]:
    """Import every recovery file of `data_dir` (the history's and the call logs');
    returns the entries imported per store."""
    return {root: HistoryStore(data_dir, root).recover() for root in recovery.roots(data_dir)}

"""The four modes of a mockrec proxy and what each one means, decided here only.

| mode        | answers from examples | forwards                 | records what it forwarded |
|-------------|-----------------------|--------------------------|---------------------------|
| record      | no                    | every request            | yes                       |
| replay      | yes                   | a miss, if --on-miss asks | with --on-miss record    |
| spy         | yes                   | a miss                   | yes                       |
| passthrough | no                    | every request            | no                        |

(In the spirit of vcrpy's `RecordMode` and Hoverfly's modes: one enum, the code asks it.)
"""

from __future__ import annotations

from enum import StrEnum


class OnMiss(StrEnum):
    """What replay mode does with a request no example matches."""

    NOT_FOUND = "404"
    FORWARD = "forward"
    RECORD = "record"


class Mode(StrEnum):
    RECORD = "record"
    REPLAY = "replay"
    SPY = "spy"
    PASSTHROUGH = "passthrough"

    def answers(self) -> bool:
        """Requests are matched against the examples (and logged as calls)."""
        return self in (Mode.REPLAY, Mode.SPY)

    def forwards(self, on_miss: str) -> bool:
        """Some requests go to the upstream, so the forwarding addons must be loaded."""
        return self is not Mode.REPLAY or on_miss != OnMiss.NOT_FOUND

    def forwards_miss(self, on_miss: str) -> bool:
        """A request that matched no example goes upstream rather than getting the 404."""
        return self is Mode.SPY or (self is Mode.REPLAY and on_miss != OnMiss.NOT_FOUND)

    def records(self, on_miss: str) -> bool:
        """What went to the upstream is kept in the history."""
        return self in (Mode.RECORD, Mode.SPY) or (
            self is Mode.REPLAY and on_miss == OnMiss.RECORD)

    def fast_path(self, on_miss: str) -> bool:
        """Every request is answered by mockrec itself, so replay's fast path may serve it."""
        return self is Mode.REPLAY and on_miss == OnMiss.NOT_FOUND


def choices(enum: type[StrEnum]) -> list[str]:
    return [m.value for m in enum]

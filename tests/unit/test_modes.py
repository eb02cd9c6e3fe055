"""recorder/modes.py: what each mode does, in one table."""

import pytest

from recorder.modes import Mode, OnMiss

# mode, on_miss: answers, forwards (needs the forwarding addons), forwards a miss, records,
# may use replay's fast path
TABLE = [
    (Mode.RECORD, OnMiss.NOT_FOUND, False, True, False, True, False),
    (Mode.PASSTHROUGH, OnMiss.NOT_FOUND, False, True, False, False, False),
    (Mode.SPY, OnMiss.NOT_FOUND, True, True, True, True, False),
    (Mode.REPLAY, OnMiss.NOT_FOUND, True, False, False, False, True),
    (Mode.REPLAY, OnMiss.FORWARD, True, True, True, False, False),
    (Mode.REPLAY, OnMiss.RECORD, True, True, True, True, False),
]


@pytest.mark.parametrize("mode, on_miss, answers, forwards, forwards_miss, records, fast", TABLE)
def test_each_mode_answers_the_questions_the_code_asks(mode, on_miss, answers, forwards,
                                                       forwards_miss, records, fast):
    assert mode.answers() is answers
    assert mode.forwards(on_miss) is forwards
    assert mode.forwards_miss(on_miss) is forwards_miss
    assert mode.records(on_miss) is records
    assert mode.fast_path(on_miss) is fast


def test_modes_are_their_names():
    assert Mode("spy") is Mode.SPY and Mode.SPY == "spy" and f"{Mode.SPY}" == "spy"
    with pytest.raises(ValueError):
        Mode("bogus")

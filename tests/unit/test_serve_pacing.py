"""Which bytes of a streamed answer go when (recorder/serve/pacing.py)."""

from __future__ import annotations

import pytest

from recorder.serve.faults import Fault, parse_fault
from recorder.serve.pacing import LAST_CHUNK, chunk, filled, pace, parse_speed
from recorder.streams import Stream

PIECES = [(0, b"data: a\n\n"), (300, b"data: b\n\n"), (600, b"data: [DONE]\n\n")]


@pytest.mark.parametrize("speed, expected", [
    (1.0, [0.0, 0.3, 0.6]), (2.0, [0.0, 0.15, 0.3]), (0.5, [0.0, 0.6, 1.2]),
    (0.0, [0.0, 0.0, 0.0])])
def test_offsets_divided_by_the_speed(speed, expected):
    paced = pace(PIECES, speed)
    assert [at for at, _ in paced.parts] == pytest.approx(expected)
    assert paced.body == b"".join(data for _, data in PIECES) and not paced.cut


def test_chunked_ends_with_the_last_chunk_unless_cut():
    steps = pace(PIECES, 1.0).chunked()
    assert steps[0] == (0.0, b"9\r\ndata: a\n\n\r\n")
    assert steps[-1] == (0.6, LAST_CHUNK)
    cut = pace(PIECES, 1.0, cut_after=2)
    assert cut.cut and [data for _, data in cut.chunked()] == [chunk(b"data: a\n\n"),
                                                                chunk(b"data: b\n\n")]
    assert pace(PIECES, 1.0, cut_after=0).chunked() == []


def test_templates_fill_inside_each_part():
    body, stream = Stream.of_pieces([(0, b"id {{n}}\n"), (50, b"again {{n}}\n")])
    assert filled(body, stream, lambda data: data.replace(b"{{n}}", b"42")) == [
        (0, b"id 42\n"), (50, b"again 42\n")]


@pytest.mark.parametrize("text, speed", [("1", 1.0), ("2.5", 2.5), ("0", 0.0), ("3x", 3.0)])
def test_speed(text, speed):
    assert parse_speed(text) == speed


@pytest.mark.parametrize("text", ["-1", "fast", "nan", "1e9"])
def test_a_bad_speed_says_what_a_speed_is(text):
    with pytest.raises(ValueError, match="speed"):
        parse_speed(text)


def test_the_cut_fault():
    assert parse_fault("cut:3") == Fault("cut", 3) and str(Fault("cut", 3)) == "cut:3"
    assert parse_fault("CUT:0").answers
    with pytest.raises(ValueError, match="cut:N"):
        parse_fault("cut:x")

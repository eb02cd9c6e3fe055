"""recorder/serve/faults.py: what a fault is, written down and parsed."""

from __future__ import annotations

import itertools

import pytest

from recorder.serve.faults import Fault, parse_fault, parse_rate, parse_seed, slow_pieces


@pytest.mark.parametrize("text, fault", [
    ("reset", Fault("reset")), ("CLOSE", Fault("close")), (" empty ", Fault("empty")),
    ("garbage", Fault("garbage")), ("slow-body:1500", Fault("slow-body", 1500)),
])
def test_parse_fault(text, fault):
    assert parse_fault(text) == fault
    assert parse_fault(str(fault)) == fault  # its text reads back


@pytest.mark.parametrize("text", ["", "boom", "slow-body", "slow-body:0", "slow-body:x",
                                  "slow-body:180001", "reset:5"])
def test_bad_faults_say_what_is_allowed(text):
    with pytest.raises(ValueError, match="slow-body:MS"):
        parse_fault(text)


def test_rates_and_seeds():
    assert parse_rate("10") == 10 and parse_rate("2.5%") == 2.5 and parse_rate("0") == 0
    for bad in ("-1", "101", "ten"):
        with pytest.raises(ValueError, match="percent"):
            parse_rate(bad)
    assert parse_seed("") is None and parse_seed("42") == 42
    with pytest.raises(ValueError):
        parse_seed("x")


def test_slow_pieces_spread_the_body_over_the_time():
    body = bytes(range(100))
    pieces = slow_pieces(body, 1000)
    assert b"".join(p for _, p in pieces) == body
    assert len(pieces) == 20  # one every 50 ms
    assert pieces[-1][0] == 1.0 and all(
        a[0] < b[0] for a, b in itertools.pairwise(pieces))
    assert slow_pieces(b"ab", 1000) == [(0.5, b"a"), (1.0, b"b")]  # no more pieces than bytes
    assert slow_pieces(b"", 300) == [(0.3, b"")]  # nothing to send: it just takes its time

import random

import pytest

from recorder.serve.delays import PROFILES, header_delay, parse_delay, parse_profile


@pytest.mark.parametrize("text, ms", [("off", 0), ("2g", 300), ("3G", 100), ("0", 0),
                                      ("250", 250), ("180000", 180000)])
def test_parse_delay(text, ms):
    assert parse_delay(text) == ms


@pytest.mark.parametrize("text", ["fast", "-1", "180001", "1.5", ""])
def test_parse_delay_rejects(text):
    with pytest.raises(ValueError, match="off, 2g, 3g"):
        parse_delay(text)


@pytest.mark.parametrize("value, ms", [("1", 1), ("500", 500), ("180000", 180000), ("0", None),
                                       ("180001", None), ("soon", None), (None, None)])
def test_header_delay(value, ms):
    assert header_delay(value) == ms


def test_profiles_make_bigger_bodies_slower():
    rng = random.Random(1)
    three_g = PROFILES["3g"]
    small, big = three_g.seconds(1_000, rng), three_g.seconds(1_000_000, rng)
    assert 0.08 <= small <= 0.14
    assert big == pytest.approx(0.1 + 1_000_000 * 8 / 750_000, abs=0.03)
    assert parse_profile("") is None and parse_profile("WiFi").name == "wifi"
    with pytest.raises(ValueError, match="gprs, 2g, 3g, 4g, wifi"):
        parse_profile("5g")

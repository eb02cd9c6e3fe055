"""Network delays: Postman's presets, a fixed number of ms, or a bandwidth profile.

    off      no delay
    2g       300 ms (Postman's preset)
    3g       100 ms (Postman's preset)
    MS       a fixed delay, 0-180000 ms

A profile adds bandwidth, so a bigger body takes longer:
latency + body size / throughput, plus or minus a random jitter.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

PRESETS = {"off": 0, "2g": 300, "3g": 100}
MAX_MS = 180_000


@dataclass(frozen=True)
class Profile:
    name: str
    latency_ms: int
    throughput_kbps: int  # kilobits per second
    jitter_ms: int

    def seconds(self, size: int, rng: random.Random) -> float:
        transfer = size * 8 / (self.throughput_kbps * 1000)
        jitter = rng.uniform(-self.jitter_ms, self.jitter_ms) / 1000
        return max(0.0, self.latency_ms / 1000 + transfer + jitter)


PROFILES = {p.name: p for p in (
    Profile("gprs", 500, 50, 100),
    Profile("2g", 300, 250, 50),
    Profile("3g", 100, 750, 20),
    Profile("4g", 40, 9_000, 10),
    Profile("wifi", 5, 30_000, 2),
)}


def parse_delay(text: str) -> int:
    """`off`, `2g`, `3g` or milliseconds (0-180000) -> milliseconds."""
    value = text.strip().lower()
    if value in PRESETS:
        return PRESETS[value]
    if value.isdigit() and int(value) <= MAX_MS:
        return int(value)
    raise ValueError(f"delay {text!r} is not off, 2g, 3g or a number of ms from 0 to {MAX_MS}")


def parse_profile(name: str) -> Profile | None:
    if not name:
        return None
    try:
        return PROFILES[name.strip().lower()]
    except KeyError:
        raise ValueError(f"profile {name!r} is unknown: use one of "
                         f"{', '.join(PROFILES)}") from None


def header_delay(value: str | None) -> int | None:
    """`x-mock-response-delay: MS`, 1-180000; anything else is ignored."""
    return checked_header_delay(value)[0]


def checked_header_delay(value: str | None) -> tuple[int | None, str | None]:
    """The delay a request asks for, and why it was ignored if it was (as Postman
    ignores it): None, None when the header is absent."""
    if value is None:
        return None, None
    text = value.strip()
    if text.isdigit() and 1 <= int(text) <= MAX_MS:
        return int(text), None
    return None, (f"x-mock-response-delay {value!r} ignored: not a number of ms from 1 to "
                  f"{MAX_MS}")

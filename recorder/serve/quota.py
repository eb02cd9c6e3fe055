"""Call quota and rate limit of a replaying mock: 429 once reached.

The `Responder` (responder.py) asks `check` for each call that reaches matching (not
for 401s, preflights or admin requests).
"""

from __future__ import annotations

import collections
import math
import time
from typing import NamedTuple


class Limited(NamedTuple):
    """A limit was reached: the 429's error name and message, and when to retry."""

    name: str  # usageLimitError, rateLimitError
    message: str
    retry_after: int | None = None  # seconds


class Quota:
    def __init__(self) -> None:
        self.calls = 0
        self.limit = self.rate = 0
        self.recent: collections.deque[float] = collections.deque()

    def configure(self, limit: int, rate: int) -> None:
        """`limit` calls in all, `rate` calls a minute; 0: none. The counts stay."""
        self.limit, self.rate = limit, rate

    def reset(self) -> None:
        """`mockrec reset`: the quota and the rate limit start afresh."""
        self.calls = 0
        self.recent.clear()

    def check(self) -> Limited | None:
        """Count one call; what limit it reached, else None."""
        limit, rate = self.limit, self.rate
        if limit:
            self.calls += 1
            if self.calls > limit:
                return Limited("usageLimitError", f"This mock's quota of {limit} calls is used up.")
        if rate:
            now = time.monotonic()
            while self.recent and self.recent[0] <= now - 60:
                self.recent.popleft()
            if len(self.recent) >= rate:
                retry = max(1, math.ceil(60 - (now - self.recent[0])))
                return Limited("rateLimitError",
                               f"This mock allows {rate} calls a minute; retry in {retry} s.",
                               retry)
            self.recent.append(now)
        return None

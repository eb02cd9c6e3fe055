"""Call quota and rate limit of a replaying mock: 429 once reached.

Part of the replay addon (which calls `check` first thing for each request),
not an addon of its own: every addon costs a lookup on every mitmproxy event.
"""

from __future__ import annotations

import collections
import math
import time

from mitmproxy import http

from addons.answers import json_response
from recorder.settings import ReplaySettings


class Quota:
    def __init__(self) -> None:
        self.calls = 0
        self.limit = self.rate = 0
        self.recent: collections.deque[float] = collections.deque()

    def configure(self, settings: ReplaySettings) -> None:
        self.limit, self.rate = settings.max_calls, settings.rate_limit

    def reset(self) -> None:
        """Start counting again, as at the proxy's start."""
        self.calls = 0
        self.recent.clear()

    def check(self) -> http.Response | None:
        """Count one call; the 429 to answer when a limit is reached, else None."""
        limit, rate = self.limit, self.rate
        if limit:
            self.calls += 1
            if self.calls > limit:
                return json_response(429, {"error": {
                    "name": "usageLimitError",
                    "message": f"This mock's quota of {limit} calls is used up.",
                }})
        if rate:
            now = time.monotonic()
            while self.recent and self.recent[0] <= now - 60:
                self.recent.popleft()
            if len(self.recent) >= rate:
                retry = max(1, math.ceil(60 - (now - self.recent[0])))
                return json_response(429, {"error": {
                    "name": "rateLimitError",
                    "message": f"This mock allows {rate} calls a minute; retry in {retry} s.",
                }}, [(b"Retry-After", str(retry).encode())])
            self.recent.append(now)
        return None

"""Call quota and rate limit of a replaying mock: 429 once reached."""

from __future__ import annotations

import collections
import math
import time

from mitmproxy import ctx, http

from addons.answers import json_response, mark_answered


class Quota:
    name = "mockrec_quota"

    def __init__(self) -> None:
        self.calls = 0
        self.recent: collections.deque[float] = collections.deque()

    def load(self, loader) -> None:
        loader.add_option("mockrec_max_calls", int, 0,
                          "Answer 429 usageLimitError after this many calls; 0: no quota.")
        loader.add_option("mockrec_rate_limit", int, 0,
                          "Answer 429 rateLimitError above this many calls a minute; 0: none.")

    def request(self, flow: http.HTTPFlow) -> None:
        if flow.response or flow.error or not flow.live:
            return
        if ctx.options.mockrec_mode not in ("replay", "spy"):
            return
        limit, rate = ctx.options.mockrec_max_calls, ctx.options.mockrec_rate_limit
        if limit:
            self.calls += 1
            if self.calls > limit:
                return mark_answered(flow, json_response(429, {"error": {
                    "name": "usageLimitError",
                    "message": f"This mock's quota of {limit} calls is used up.",
                }}))
        if rate:
            now = time.monotonic()
            while self.recent and self.recent[0] <= now - 60:
                self.recent.popleft()
            if len(self.recent) >= rate:
                retry = max(1, math.ceil(60 - (now - self.recent[0])))
                return mark_answered(flow, json_response(429, {"error": {
                    "name": "rateLimitError",
                    "message": f"This mock allows {rate} calls a minute; retry in {retry} s.",
                }}, [(b"Retry-After", str(retry).encode())]))
            self.recent.append(now)

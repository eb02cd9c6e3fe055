"""`ServeConfig`: the replay settings compiled once into what answering uses.

`ReplaySettings` (recorder/settings.py) holds the settings as given (text such as
`3g`, `slow-body:300`, `40`); `ServeConfig.compile` parses each of them once into the
value the `Responder` (responder.py) uses. A change of any setting compiles a new
`ServeConfig`, which replaces the old one whole: there is no second copy to keep in
step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from recorder.match.matcher import MatchSettings
from recorder.modes import Mode
from recorder.serve import delays, faults, pacing
from recorder.settings import ReplaySettings, SequenceEnd
from recorder.store.mocks import hash_key


@dataclass(frozen=True)
class ServeConfig:
    mode: Mode = Mode.REPLAY
    on_miss: str = "404"
    cors: bool = True
    key_sha256: str = ""  # a private mock's x-api-key, hashed; "": a public mock
    match: MatchSettings = field(default_factory=MatchSettings)
    sequence_end: SequenceEnd = SequenceEnd.LAST
    delay_ms: int = 0
    profile: delays.Profile | None = None
    fault: faults.Fault | None = None  # --fault, for `fault_rate` percent of the answers
    fault_rate: float = 100.0
    seed: int | None = None  # of the random sources (fault rate, {{$random...}}, jitter)
    max_calls: int = 0
    rate_limit: int = 0  # calls a minute
    stream_speed: float = 1.0  # a streamed answer's offsets are divided by it; 0: at once

    @classmethod
    def compile(cls, settings: ReplaySettings, mode: Mode = Mode.REPLAY) -> ServeConfig:
        """Parse `settings` once; ValueError for the first bad value."""
        s = settings
        return cls(
            mode=mode, on_miss=s.on_miss, cors=s.cors,
            # Only the key's hash is kept and compared (a plain api_key is hashed here).
            key_sha256=s.api_key_sha256 or (hash_key(s.api_key) if s.api_key else ""),
            match=MatchSettings(strict=s.strict, match_body=s.match_body, match_headers=[
                h.strip().lower() for h in s.match_headers.split(",") if h.strip()]),
            sequence_end=SequenceEnd(s.sequence_end),
            delay_ms=delays.parse_delay(s.delay),
            profile=delays.parse_profile(s.profile),
            fault=faults.parse_fault(s.fault) if s.fault else None,
            fault_rate=faults.parse_rate(s.fault_rate),
            seed=faults.parse_seed(s.seed), stream_speed=pacing.parse_speed(s.stream_speed),
            max_calls=s.max_calls, rate_limit=s.rate_limit)

    @property
    def may_delay(self) -> bool:
        """Does every answer wait (--delay, --profile)?"""
        return self.delay_ms > 0 or self.profile is not None

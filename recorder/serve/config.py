"""`ServeConfig`: the replay settings compiled once into what answering uses.

`ReplaySettings` (recorder/settings.py) holds the settings as given (text such as
`3g`, `slow-body:300`, `40`), and each field says how it is parsed (its `check`);
`ServeConfig.compile` takes those parsed values, for the `Responder` (responder.py).
A change of any setting compiles a new `ServeConfig`, which replaces the old one
whole: there is no second copy to keep in step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from recorder.match.matcher import MatchSettings
from recorder.modes import Mode
from recorder.serve import delays, faults
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
        """`settings` as their fields' `check`s parse them; ValueError for a bad one."""
        c = settings.compiled()
        return cls(
            mode=mode, on_miss=c["on_miss"], cors=c["cors"],
            # Only the key's hash is kept and compared (a plain api_key is hashed here).
            key_sha256=c["api_key_sha256"] or (hash_key(c["api_key"]) if c["api_key"] else ""),
            match=MatchSettings(strict=c["strict"], match_body=c["match_body"],
                                match_headers=c["match_headers"]),
            sequence_end=c["sequence_end"], delay_ms=c["delay"], profile=c["profile"],
            fault=c["fault"], fault_rate=c["fault_rate"], seed=c["seed"],
            stream_speed=c["stream_speed"],
            max_calls=c["max_calls"], rate_limit=c["rate_limit"])

    @property
    def may_delay(self) -> bool:
        """Does every answer wait (--delay, --profile)?"""
        return self.delay_ms > 0 or self.profile is not None

"""`ReplaySettings`: the one place a replay setting is declared.

Everything else is derived from these fields:
- the mitmproxy options `mockrec_<field>` (`declare`, `from_options`, `options`), which
  `--set`, `mockrec mode` and the control socket change live;
- the command-line flags of `mockrec replay`, `proxy`, `mock create` and `mock update`
  (`recorder/cli/settings.py` builds them from the fields' metadata, the way mitmproxy's
  `tools/cmdline.py` builds flags from declared options);
- a named mock's file (`recorder.store.mocks.Mock` extends this class).

Adding a setting: a field here (default, help, and how the command line takes it), the
code that uses it, and its test.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any, TypedDict, Unpack

from recorder.errors import UsageError
from recorder.modes import OnMiss
from recorder.serve import delays, faults, pacing

OPTION_PREFIX = "mockrec_"


class How(TypedDict, total=False):
    """How a setting is taken and kept (`setting`'s keywords; the field's metadata)."""

    cli: bool  # a flag of the replay commands (`--name`, `--name/--no-name` for booleans)
    stored: bool  # kept in a named mock's file (an API key in plain text never is)
    choices: type[StrEnum] | None  # the allowed values
    parse: Callable[[str], Any] | None  # the flag's text into the value (it then takes text)
    check: Callable[[Any], Any] | None  # raises ValueError for a bad value, before a start
    metavar: str | None
    secret: bool  # also from `--name-file FILE` and `$MOCKREC_NAME`, which `ps` does not show


HOW: How = {"cli": True, "stored": True, "choices": None, "parse": None, "check": None,
            "metavar": None, "secret": False}


def setting(default: Any, help: str, **how: Unpack[How]) -> Any:
    """A field of `ReplaySettings`: its default, its help, and `How` it is taken and kept."""
    unknown = sorted(set(how) - set(HOW))
    if unknown:
        raise TypeError(f"setting() got unknown keywords {unknown}")
    return field(default=default, metadata={"help": help, **HOW, **how})


def parse_rate(text: str) -> int:
    """`N/min` (or a bare N) -> requests per minute; '' or 0 -> no limit."""
    value = text.strip().lower().removesuffix("/min").removesuffix("/m")
    if value in ("", "0"):
        return 0
    if not value.isdigit():
        raise UsageError(f"rate limit {text!r} is not N/min, like 60/min")
    return int(value)


class SequenceEnd(StrEnum):
    """What a sequence answers once its last position was served."""

    LAST = "last"  # the last again
    CYCLE = "cycle"  # the first again
    NOT_FOUND = "404"

def parse_size(text: str) -> int:
    """`4m`, `512k`, `1g` or a number of bytes."""
    value = text.strip().lower().removesuffix("b")
    scale = {"k": 2**10, "m": 2**20, "g": 2**30}.get(value[-1:], 1)
    number = value[:-1] if scale > 1 else value
    if not number.isdigit():
        raise UsageError(f"size {text!r} is not a number of bytes, like 4m, 512k or 1000")
    return int(number) * scale


MAX_BODY = 4 * 2**20
BODY_LIMIT = 32 * 2**20


def _non_negative(value: int) -> None:
    if value < 0:
        raise ValueError(f"{value} is negative")


@dataclass
class ReplaySettings:
    collection: str = setting(
        "", "Collection whose examples replay answers from.", cli=False)
    tag: str = setting(
        "", "Release tag of the collection to serve; empty serves it as it is.",
        metavar="TAG")
    env: str = setting(
        "", "Environment whose variables fill {{...}} in the examples.", metavar="ENV")
    delay: str = setting(
        "off", "Delay before each answer: off, 2g (300 ms), 3g (100 ms) or milliseconds.",
        check=delays.parse_delay, metavar="off|2g|3g|MS")
    profile: str = setting(
        "", "Network profile adding bandwidth and jitter: " + ", ".join(delays.PROFILES) + ".",
        check=delays.parse_profile, metavar="NAME")
    api_key: str = setting(
        "", "Make the mock private: requests need this x-api-key header (every local user "
        "sees a command line in ps: prefer --api-key-file or $MOCKREC_API_KEY).", stored=False,
        metavar="KEY", secret=True)
    api_key_sha256: str = setting(
        "", "Private mock with a stored key: the SHA-256 hex of its x-api-key.", cli=False)
    on_miss: str = setting(
        OnMiss.NOT_FOUND.value, "When no example matches in replay mode: answer 404, forward "
        "to the upstream, or forward and record.", choices=OnMiss)
    cors: bool = setting(
        True, "Answer CORS preflights and add Access-Control-Allow-Origin to answers.")
    strict: bool = setting(
        False, "Match paths strictly: no ID-like or similar-path matches.")
    match_body: bool = setting(
        False, "Only serve examples whose request body equals the request's.")
    match_headers: str = setting(
        "", "Comma-separated headers that must equal the example's.", metavar="H1,H2")
    max_calls: int = setting(
        0, "Answer 429 usageLimitError after this many calls; 0: no quota.",
        check=_non_negative, metavar="N")
    rate_limit: int = setting(
        0, "Answer 429 rateLimitError above this many calls a minute (N/min); 0: none.",
        parse=parse_rate, check=_non_negative, metavar="N/min")
    call_log: int = setting(
        10_000, "Calls kept in the mock's call log; 0 keeps no call log.",
        check=_non_negative, metavar="N")
    redact_calls: bool = setting(
        False, "Redact secrets in the call log as promote does (Authorization, Cookie, "
        "X-Api-Key, API-key-like query parameters, Set-Cookie); a private mock's own key "
        "is never kept either way.")
    max_body: int = setting(
        MAX_BODY, "Bytes of each body the call log keeps; a longer one is cut there and "
        "the call marked truncated.", parse=parse_size, check=_non_negative,
        metavar="BYTES")
    body_limit: int = setting(
        BODY_LIMIT, "Largest body mockrec reads whole: a bigger request gets 413 when "
        "examples answer (replay, spy); record and passthrough stream it through, and "
        "the history entry is marked truncated. 0: no limit.", parse=parse_size,
        check=_non_negative, metavar="BYTES")
    mock: str = setting(
        "", "Name of the mock, for its call log; empty: the collection's name.",
        cli=False, stored=False)
    sequence_end: str = setting(
        SequenceEnd.LAST.value, "After a sequence's last answer (recorded repeats answer in "
        "order): answer the last again, start over (cycle), or answer 404.",
        choices=SequenceEnd)
    fault: str = setting(
        "", "Answer matched requests with a fault: reset, close, empty, garbage, "
        "slow-body:MS or cut:N (a stream ends after N parts); a share of them with "
        "--fault-rate.", check=faults.check_fault, metavar="KIND")
    fault_rate: str = setting(
        "100", "Percent of matched answers that get --fault.", check=faults.parse_rate,
        metavar="P")
    stream_speed: str = setting(
        "1", "Streamed answers (SSE, NDJSON): each part goes at its recorded offset divided "
        "by this; 1 as recorded, 2 twice as fast, 0 everything at once.",
        check=pacing.parse_speed, metavar="F")
    seed: str = setting(
        "", "Seed of the random source of --fault-rate and of {{$random...}} values, for "
        "runs that repeat; empty: a new one each run.", check=faults.parse_seed,
        metavar="N")
    save_url_to: str = setting(
        "", "Store the mock URL as mockUrl in this environment, with the port the proxy "
        "listens on (also for --port 0) as soon as it does.", metavar="ENV")

    # -- derived views --------------------------------------------------------------------

    @classmethod
    def setting_fields(cls) -> tuple[dataclasses.Field, ...]:
        return tuple(f for f in fields(ReplaySettings))

    @classmethod
    def option_name(cls, name: str) -> str:
        return OPTION_PREFIX + name

    @classmethod
    def declare(cls, loader) -> None:
        """Declare every setting as a mitmproxy option (an addon's `load`)."""
        for f in cls.setting_fields():
            choices = [c.value for c in f.metadata["choices"]] if f.metadata["choices"] else None
            loader.add_option(cls.option_name(f.name), type(f.default), f.default,
                              f.metadata["help"], choices=choices)

    @classmethod
    def from_options(cls, options) -> ReplaySettings:
        return ReplaySettings(**{f.name: getattr(options, cls.option_name(f.name))
                                 for f in cls.setting_fields()})

    @classmethod
    def changed(cls, updated: set[str]) -> set[str]:
        """The settings (field names) among mitmproxy's updated options."""
        return {f.name for f in cls.setting_fields() if cls.option_name(f.name) in updated}

    def options(self) -> dict[str, Any]:
        """These settings as mitmproxy options."""
        return {self.option_name(f.name): getattr(self, f.name) for f in self.setting_fields()}

    def replay_settings(self) -> ReplaySettings:
        """Just the settings (a `Mock` also has its name and port)."""
        return ReplaySettings(**{f.name: getattr(self, f.name) for f in self.setting_fields()})

    def with_overrides(self, **given: Any):
        """A copy with the given values (None: not given, keep this one's), checked."""
        changed = {k: v for k, v in given.items() if v is not None}
        unknown = set(changed) - {f.name for f in fields(self)}
        if unknown:
            raise TypeError(f"unknown settings: {sorted(unknown)}")
        result = dataclasses.replace(self, **changed)
        result.check()
        return result

    def check(self) -> None:
        """One line for the first bad value."""
        for f in self.setting_fields():
            value = getattr(self, f.name)
            allowed = [c.value for c in f.metadata["choices"] or ()]
            if allowed and value not in allowed:
                raise UsageError(f"--{f.name.replace('_', '-')} {value!r} is not one of "
                                   + ", ".join(allowed))
            try:
                if f.metadata["check"] is not None:
                    f.metadata["check"](value)
            except ValueError as e:
                raise UsageError(f"--{f.name.replace('_', '-')}: {e}") from None
        if not self.fault and faults.parse_rate(self.fault_rate) != 100:
            raise UsageError("--fault-rate needs --fault KIND: the fault to answer with")

    def stored(self) -> dict[str, Any]:
        """What a named mock's file keeps: every field but the unstored ones."""
        hidden = {f.name for f in self.setting_fields() if not f.metadata["stored"]}
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in hidden}

"""`ReplaySettings` and `ProxySettings`: the one place each setting is declared.

`ReplaySettings` are a mock's: what it serves and how. `ProxySettings` are the proxy's
own (mode, data dir, recording, grace, upstream timeout, fast path), which each addon
declares the ones it reads of (`ProxySettings.declare(loader, "mode", ...)`).

Everything else is derived from these fields:
- the mitmproxy options `mockrec_<field>` (`declare`, `from_options`, `options`), which
  `--set`, `mockrec mode` and the control socket change live;
- the command-line flags of `mockrec replay`, `proxy`, `mock create` and `mock update`
  (`recorder/cli/settings.py` builds them from the fields' metadata, the way mitmproxy's
  `tools/cmdline.py` builds flags from declared options);
- a named mock's file (`recorder.store.mocks.Mock` extends this class).

Each field's `check` parses its value once into what serving uses (`compiled()`;
recorder/serve/config.py's `ServeConfig` is made of those values), and says a bad one
before anything starts (`check()`). Code matches no option name as a string: it asks
`changed(updated)` which fields changed, and `option_name(field)` for a name.

Adding a setting: a field here (default, help, how the command line takes it, how it
is parsed), the code that uses it, and its test.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any, TypedDict, Unpack

from recorder.errors import UsageError
from recorder.modes import Mode, OnMiss, choices
from recorder.serve import delays, faults, pacing

OPTION_PREFIX = "mockrec_"


class How(TypedDict, total=False):
    """How a setting is taken and kept (`setting`'s keywords; the field's metadata)."""

    cli: bool  # a flag of the replay commands (`--name`, `--name/--no-name` for booleans)
    stored: bool  # kept in a named mock's file (an API key in plain text never is)
    choices: type[StrEnum] | None  # the allowed values
    parse: Callable[[str], Any] | None  # the flag's text into the value (it then takes text)
    # parses the value into what serving uses (`compiled()`), ValueError for a bad one
    check: Callable[[Any], Any] | None
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


def _non_negative(value: int) -> int:
    if value < 0:
        raise ValueError(f"{value} is negative")
    return value


def header_list(text: str) -> list[str]:
    """`H1, H2` -> ["h1", "h2"]."""
    return [h.strip().lower() for h in text.split(",") if h.strip()]


def optional_fault(text: str) -> faults.Fault | None:
    """'' (none) or a fault."""
    return faults.parse_fault(text) if text else None


class Declared:
    """What a settings dataclass derives from its fields: mitmproxy options named
    `mockrec_<field>`, declared, read, changed."""

    @classmethod
    def setting_fields(cls) -> tuple[dataclasses.Field, ...]:
        """The declaring class's fields (a `Mock`'s name and port are not settings)."""
        owner = next(c for c in cls.__mro__ if Declared in c.__bases__)
        return fields(owner)

    @classmethod
    def option_name(cls, name: str) -> str:
        return OPTION_PREFIX + name

    @classmethod
    def declare(cls, loader, *names: str) -> None:
        """Declare these settings (all without names) as mitmproxy options (an addon's
        `load`); mitmproxy takes a repeated identical declaration."""
        for f in cls.setting_fields():
            if names and f.name not in names:
                continue
            choices = [c.value for c in f.metadata["choices"]] if f.metadata["choices"] else None
            loader.add_option(cls.option_name(f.name), type(f.default), f.default,
                              f.metadata["help"], choices=choices)

    @classmethod
    def from_options(cls, options):
        return cls(**{f.name: getattr(options, cls.option_name(f.name))
                      for f in cls.setting_fields()})

    @classmethod
    def read(cls, options, name: str, default: Any = None) -> Any:
        """One setting's option, or `default` where no addon declared it."""
        return getattr(options, cls.option_name(name), default)

    @classmethod
    def changed(cls, updated: set[str]) -> set[str]:
        """The settings (field names) among mitmproxy's updated options."""
        return {f.name for f in cls.setting_fields() if cls.option_name(f.name) in updated}

    def options(self, *names: str) -> dict[str, Any]:
        """These settings (all without names) as mitmproxy options."""
        return {self.option_name(f.name): getattr(self, f.name) for f in self.setting_fields()
                if not names or f.name in names}

    def compiled(self) -> dict[str, Any]:
        """Each setting parsed by its `check` into what serving uses (the others as
        they are); BadSetting for the first bad value."""
        values = {}
        for f in self.setting_fields():
            value = getattr(self, f.name)
            flag = "--" + f.name.replace("_", "-")
            allowed = [c.value for c in f.metadata["choices"] or ()]
            if allowed and value not in allowed:
                why = f"{value!r} is not one of " + ", ".join(allowed)
                raise BadSetting(why, f"{flag} {why}")
            try:
                values[f.name] = (f.metadata["check"](value) if f.metadata["check"] is not None
                                  else value)
            except ValueError as e:
                raise BadSetting(str(e), f"{flag}: {e}") from None
        return values

    def agree(self, values: dict[str, Any]) -> None:
        """ValueError where settings that are each good do not go together."""

    def check(self) -> None:
        """One line (a UsageError) for the first bad value, as the flags say it."""
        try:
            self.agree(self.compiled())
        except BadSetting as e:
            raise UsageError(e.flagged) from None
        except ValueError as e:
            raise UsageError(str(e)) from None


class BadSetting(ValueError):
    """A setting's value its `check` refuses: why (as the option's error), and the same
    naming its flag (as the command line's)."""

    def __init__(self, why: str, flagged: str) -> None:
        super().__init__(why)
        self.flagged = flagged


@dataclass
class ReplaySettings(Declared):
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
        "", "Comma-separated headers that must equal the example's.", check=header_list,
        metavar="H1,H2")
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
        choices=SequenceEnd, check=SequenceEnd)
    fault: str = setting(
        "", "Answer matched requests with a fault: reset, close, empty, garbage, "
        "slow-body:MS or cut:N (a stream ends after N parts); a share of them with "
        "--fault-rate.", check=optional_fault, metavar="KIND")
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

    def agree(self, values: dict[str, Any]) -> None:
        # The command line's rule; a running proxy whose --fault is cleared keeps its rate.
        if not self.fault and values["fault_rate"] != 100:
            raise ValueError("--fault-rate needs --fault KIND: the fault to answer with")

    def stored(self) -> dict[str, Any]:
        """What a named mock's file keeps: every field but the unstored ones."""
        hidden = {f.name for f in self.setting_fields() if not f.metadata["stored"]}
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in hidden}


def proxy_setting(default: Any, help: str, **more: Any) -> Any:
    return setting(default, help, cli=False, stored=False, **more)


@dataclass
class ProxySettings(Declared):
    """The proxy's own options: one declaration each, whichever addons read them."""

    mode: str = proxy_setting(
        Mode.REPLAY.value, "What the proxy does with a request: " + ", ".join(choices(Mode))
        + " (recorder/modes.py).", choices=Mode, check=Mode)
    data_dir: str = proxy_setting(
        "", "Directory where mockrec keeps its history, collections and mocks. "
        "Empty means $MOCKREC_DATA_DIR, or ./.mockrec.")
    record: bool = proxy_setting(
        True, "Record every exchange that reaches the upstream into mockrec's history.")
    redact: bool = proxy_setting(
        False, "Store history entries with secrets redacted as promote does (Authorization, "
        "Cookie, X-Api-Key, API-key-like query parameters, Set-Cookie), rather than "
        "byte-exact.")
    grace: float = proxy_setting(
        3.0, "Seconds exchanges in flight get to finish when the proxy stops (SIGINT, "
        "SIGTERM); those still in flight then are cut and recorded as 'proxy stopping'.")
    upstream_timeout: int = proxy_setting(
        30_000, "Milliseconds to wait for the upstream's response headers before answering "
        "504 Gateway Timeout. 0 waits for ever.", check=_non_negative)
    fast_replay: bool = proxy_setting(
        False, "Answer replayed cleartext HTTP/1 requests inside the connection, without "
        "mitmproxy's request and response events: for when no other addon needs them "
        "(mockrec turns it on then).")

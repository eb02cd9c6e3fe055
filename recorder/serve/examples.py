"""The examples a mock serves: a collection (at a tag), with an environment's variables,
loaded into a `Matcher`; and the files to look at for edits while it serves (`Served`:
opened when the settings name a collection, opened again when one of its files changes)."""

from __future__ import annotations

import logging
from pathlib import Path

from recorder.errors import MockrecError, NotFound
from recorder.match.matcher import Matcher
from recorder.models import Collection
from recorder.serve import dynamic
from recorder.serve.responder import Responder
from recorder.settings import ReplaySettings
from recorder.store.collection_store import CollectionStore
from recorder.store.files import file_key
from recorder.store.mocks import EnvironmentStore

log = logging.getLogger(__name__)


class Examples:
    """Collection `name` (at `tag`; None: as it is) with environment `env`'s variables
    ("": none). `load()` reads them; `stale()` says whether a file changed since."""

    def __init__(self, data_dir: Path, name: str, tag: str | None = None, env: str = "") -> None:
        self.store = CollectionStore(data_dir)
        self.environments = EnvironmentStore(data_dir)
        self.name, self.tag, self.env = name, tag, env
        self.sources = [str(self.store.path(name, tag))] + (
            [str(self.environments.files.path(env))] if env else [])
        # Versions taken before reading: an edit landing meanwhile is reloaded next time.
        self.keys = [file_key(p) for p in self.sources]
        self.collection: Collection | None = None
        self.matcher: Matcher | None = None

    def load(self) -> Matcher:
        """Read the collection and the environment: NotFound if the collection is not
        there (yet: `stale()` says when it comes), MockrecError for a damaged file."""
        collection = self.store.load(self.name, self.tag)
        variables = self.environments.get(self.env) if self.env else {}
        if any(dynamic.needs_faker(e.response.body) or any(
                dynamic.needs_faker(v) for _, v in e.response.headers)
               for e in collection.examples):
            dynamic.warm_up()  # Faker's import, in a thread, before the first answer needs it
        self.collection, self.matcher = collection, Matcher(collection, variables)
        return self.matcher

    def stale(self) -> bool:
        """Has one of its files changed since they were read (or last looked at)? A
        change is said once: a broken edit is not read again until the next one."""
        keys = [file_key(p) for p in self.sources]
        if keys == self.keys:
            return False
        self.keys = keys
        return True


class Served:
    """What `responder` answers from: the collection the settings name (`open`), read
    again when one of its files changed (`refresh`), so that an edit (mockrec example
    edit, or by hand) is served from the next request on."""

    def __init__(self, responder: Responder) -> None:
        self.responder = responder
        self.examples: Examples | None = None
        self._opened: tuple[Path, ReplaySettings] | None = None
        self._looked_in: int | None = None  # the round of the last look at the files

    @property
    def collection(self) -> Collection | None:
        return self.examples.collection if self.examples is not None else None

    def open(self, data_dir: Path, settings: ReplaySettings, answers: bool) -> None:
        """Load the collection `settings` name (none named: no examples). One that is
        not there yet is NotFound when the mode `answers`; otherwise (recording needs
        none) it is watched and loaded once it comes. A damaged file: MockrecError."""
        self._opened = data_dir, settings
        if not settings.collection:
            self.examples = None
            self.responder.load(None)
            return
        examples = Examples(data_dir, settings.collection, settings.tag or None, settings.env)
        try:
            self.responder.load(examples.load())
        except NotFound as e:
            if answers:
                raise NotFound(
                    f"{e}; create it first (mockrec promote, mockrec example add)") from e
            self.responder.load(None)
        self.examples = examples

    def refresh(self, round: int | None, answers: bool) -> None:
        """Read the files again if one changed; looked at once a `round` (of the event
        loop's polls: None, every time). What cannot be read leaves the examples as
        they were, with a warning."""
        if round is not None and round == self._looked_in:
            return
        self._looked_in = round
        if self.examples is None or self._opened is None or not self.examples.stale():
            return
        try:
            self.open(*self._opened, answers)
        except MockrecError as e:
            log.warning("mockrec: keeping the examples loaded before: %s", e)

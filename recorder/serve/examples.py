"""The examples a mock serves: a collection (at a tag), with an environment's variables,
loaded into a `Matcher`; and the files to look at for edits while it serves."""

from __future__ import annotations

from pathlib import Path

from recorder.match.matcher import Matcher
from recorder.models import Collection
from recorder.serve import dynamic
from recorder.store.collection_store import CollectionStore
from recorder.store.files import file_key
from recorder.store.mocks import EnvironmentStore


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

"""Named mocks and environments: what `mockrec replay MOCK` serves, and with which variables.

    mocks/NAME.json          collection, tag, environment, delay or profile, matching,
                             private (the API key stored hashed), quotas, port
    environments/NAME.json   variables resolved in examples at replay time
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from recorder.errors import MockrecError, UsageError
from recorder.settings import ReplaySettings
from recorder.store.collection_store import CollectionStore, check_name
from recorder.store.files import NamedDocuments, damaged


def hash_key(key: str) -> str:
    """SHA-256 hex of a key as sent: header text round-trips to its bytes, whatever they are."""
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def local_url(host: str, port: int) -> str:
    """The URL a client on this machine uses for a proxy listening on host:port."""
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


@dataclass
class Mock(ReplaySettings):
    """A named mock: its settings (`ReplaySettings`), a name and a port."""

    name: str = ""
    port: int = 8080

    def __post_init__(self) -> None:
        self.mock = self.mock or self.name  # its call log is named after it

    @property
    def url(self) -> str:
        return local_url("127.0.0.1", self.port)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Mock:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in doc.items() if k in known})

    def to_doc(self) -> dict[str, Any]:
        return {"name": self.name, **self.stored()}


class MockStore:
    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.files = NamedDocuments(data_dir / "mocks", "mock")

    def get(self, name: str) -> Mock:
        doc = self.files.get(name)
        mock = None
        with contextlib.suppress(TypeError):
            mock = Mock.from_doc(doc)
        if mock is None or not isinstance(mock.collection, str) or not mock.collection:
            raise damaged(self.files.path(name), "not a mock: it names no collection")
        return mock

    def all(self) -> list[Mock]:
        return [self.get(name) for name in self.files.names()]

    def exists(self, name: str) -> bool:
        return self.files.path(name).exists()

    def save(self, mock: Mock) -> None:
        check_name(mock.name, "mock")
        self.validate(mock)
        self.files.put(mock.name, mock.to_doc())

    def delete(self, name: str) -> Path | None:
        """Delete a mock; a damaged file is kept aside instead, at the path returned."""
        return self.files.delete(name, self.get)

    def validate(self, mock: Mock) -> None:
        mock.check()
        CollectionStore(self.data_dir).require(mock.collection, mock.tag or None)
        if mock.env:
            EnvironmentStore(self.data_dir).get(mock.env)
        if not 0 <= mock.port <= 65535:
            raise MockrecError(f"port {mock.port} is not a TCP port")

    @staticmethod
    def new_api_key() -> str:
        return "mrk_" + secrets.token_urlsafe(24)


class EnvironmentStore:
    def __init__(self, data_dir: Path):
        self.files = NamedDocuments(data_dir / "environments", "env", "environment")

    def names(self) -> list[str]:
        return self.files.names()

    def get(self, name: str) -> dict[str, str]:
        values = self.files.get(name).get("values", {})
        if not isinstance(values, dict):
            raise damaged(self.files.path(name), "not an environment: its values are not "
                                                 "a JSON object")
        return dict(values)

    def set(self, name: str, values: dict[str, str]) -> dict[str, str]:
        check_name(name, "environment")
        current = self.get(name) if self.files.path(name).exists() else {}
        current.update(values)
        self.files.put(name, {"name": name, "values": current})
        return current

    def delete(self, name: str) -> Path | None:
        """Delete an environment; a damaged file is kept aside instead, at the path
        returned."""
        return self.files.delete(name, self.get)


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    values = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{pair!r} is not KEY=VALUE")
        values[key.strip()] = value
    return values

"""WebSocket conversations: what the history, an example and the call log keep.

A conversation is the messages of one WebSocket, in the order they crossed the proxy,
each with its direction, type (text or binary), payload and offset (milliseconds after
the 101), then how it closed, in one document shape (`to_doc` / `from_doc`):

    {"messages": [{"from": "client" | "server", "type": "text", "data": "..."},
                  {"from": "server", "type": "binary", "base64": "...", "offset": 12.5}],
     "close": {"code": 1000, "reason": "", "by": "server" | "client"} | null,
     "cut": false}

`offset` is optional when written by hand (0: right after what preceded it). A recording
cut short (the proxy stopped) has no close and `cut: true`. How replay plays one:
recorder/serve/websocket.py.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

# What a close reason may hold (a close frame's payload is at most 125 bytes, 2 for the code).
_MAX_REASON = 120


class ConversationError(ValueError):
    """A conversation document that is not one (the message says where)."""


@dataclass
class WsMessage:
    from_client: bool
    data: bytes
    text: bool = True
    offset: float = 0.0  # ms after the 101

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"from": "client" if self.from_client else "server",
                               "type": "text" if self.text else "binary"}
        if self.text:
            doc["data"] = self.data.decode("utf-8", "replace")
        else:
            doc["base64"] = base64.b64encode(self.data).decode("ascii")
        doc["offset"] = round(self.offset, 3)
        return doc

    @property
    def shown(self) -> str:
        """One line for people: the text, or the size of a binary payload."""
        if self.text:
            return self.data.decode("utf-8", "replace")
        return f"<{len(self.data)} bytes binary>"


@dataclass
class Close:
    code: int | None = 1000
    reason: str = ""
    by_client: bool = False

    def to_doc(self) -> dict[str, Any]:
        return {"code": self.code, "reason": self.reason,
                "by": "client" if self.by_client else "server"}


@dataclass
class Conversation:
    messages: list[WsMessage] = field(default_factory=list)
    close: Close | None = None
    cut: bool = False

    def to_doc(self) -> dict[str, Any]:
        return {"messages": [m.to_doc() for m in self.messages],
                "close": self.close.to_doc() if self.close else None,
                "cut": self.cut}

    @property
    def server_messages(self) -> int:
        return sum(1 for m in self.messages if not m.from_client)

    def lines(self) -> list[str]:
        """The conversation as `history show` and `example show` print it."""
        out = [f"{m.offset:>9.1f} ms  {'>' if m.from_client else '<'} "
               f"{'text' if m.text else 'binary'}  {m.shown}" for m in self.messages]
        if self.close is not None:
            who = "client" if self.close.by_client else "server"
            reason = f" {self.close.reason}" if self.close.reason else ""
            out.append(f"{'':>12}  closed by the {who}: {self.close.code}{reason}")
        if self.cut:
            out.append(f"{'':>12}  cut: the proxy stopped before the conversation ended")
        return out


def from_doc(doc: Any, where: str = "websocket") -> Conversation:
    """A conversation from its document (an example edited by hand, the admin API, a
    stored entry); ConversationError names the first thing that is wrong."""
    if not isinstance(doc, dict):
        raise ConversationError(f"{where} must be an object with 'messages'")
    messages = doc.get("messages", [])
    if not isinstance(messages, list):
        raise ConversationError(f"{where}.messages must be a list")
    return Conversation(
        messages=[_message(m, f"{where}.messages[{i}]") for i, m in enumerate(messages)],
        close=_close(doc.get("close"), f"{where}.close"),
        cut=bool(doc.get("cut", False)),
    )


def _message(doc: Any, where: str) -> WsMessage:
    if not isinstance(doc, dict):
        raise ConversationError(f"{where} must be an object")
    direction = doc.get("from", "server")
    if direction not in ("client", "server"):
        raise ConversationError(f"{where}.from must be 'client' or 'server'")
    kind = doc.get("type", "text")
    if kind not in ("text", "binary"):
        raise ConversationError(f"{where}.type must be 'text' or 'binary'")
    offset = doc.get("offset", 0)
    if isinstance(offset, bool) or not isinstance(offset, int | float) \
            or not 0 <= offset < 86_400_000:
        raise ConversationError(f"{where}.offset must be milliseconds from 0 to a day")
    return WsMessage(direction == "client", _payload(doc, kind, where), kind == "text",
                     float(offset))


def _payload(doc: dict, kind: str, where: str) -> bytes:
    if kind == "binary" and "base64" in doc:
        try:
            return base64.b64decode(str(doc["base64"]), validate=True)
        except ValueError:
            raise ConversationError(f"{where}.base64 is not base64") from None
    data = doc.get("data", "")
    if not isinstance(data, str):  # a JSON message written as JSON, not as its text
        data = json.dumps(data, separators=(",", ":"))
    return data.encode("utf-8", "surrogateescape")


def _close(doc: Any, where: str) -> Close | None:
    if doc is None:
        return None
    if not isinstance(doc, dict):
        raise ConversationError(f"{where} must be an object or null")
    code = doc.get("code", 1000)
    if code is not None and (isinstance(code, bool) or not isinstance(code, int)
                             or not 1000 <= code <= 4999):
        raise ConversationError(f"{where}.code must be a close code from 1000 to 4999")
    reason = doc.get("reason", "")
    if not isinstance(reason, str) or len(reason.encode()) > _MAX_REASON:
        raise ConversationError(f"{where}.reason must be text of at most {_MAX_REASON} bytes")
    return Close(code, reason, doc.get("by", "server") == "client")


def same_message(got: bytes, want: bytes) -> bool:
    """Equal payloads, or equal JSON documents (as parsed: spacing and key order aside)."""
    if got == want:
        return True
    try:
        return json.loads(got) == json.loads(want)
    except ValueError:
        return False




def conversation_lines(doc: Any) -> list[str]:
    """A stored conversation as people read it; one line if the document is damaged."""
    try:
        return from_doc(doc).lines()
    except ConversationError as e:
        return [f"(a damaged conversation: {e})"]

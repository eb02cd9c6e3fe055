"""HAR files (browser DevTools, Charles, mitmproxy) and mitmproxy flow files into history.

mitmproxy reads both (its own HAR import gives bodies as the client got them,
compressed again where the headers say so); this module adds what a user needs
around it: the entry that is wrong, and all or nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

from mitmproxy import exceptions, http
from mitmproxy.io import FlowReader
from mitmproxy.io.har import request_to_flow

from recorder.capture import Capture
from recorder.errors import BadFile, NotFound
from recorder.interop import limits
from recorder.models import HistoryEntry


def read_har(path: Path, track=lambda items: items) -> list[HistoryEntry]:
    doc = limits.read_json_file(path)
    entries = doc.get("log", {}).get("entries") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise BadFile(f"{path}: not a HAR file (no log.entries list)")
    limits.MAX_ITEMS.check(len(entries), f"{path}: log.entries")
    out = []
    for i, entry in track(list(enumerate(entries))):
        try:
            flow = request_to_flow(entry)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise BadFile(f"{path}: log.entries[{i}] cannot be read ({type(e).__name__}: "
                               f"{e}); nothing was imported") from None
        out.append(Capture.from_flow(flow, "import").to_entry())
    return out


def read_flows(path: Path, skipped: list[str] | None = None) -> list[HistoryEntry]:
    limit = limits.MAX_ITEMS.value()
    try:
        with path.open("rb") as f:
            limits.MAX_MB.check(os.fstat(f.fileno()).st_size, str(path))
            flows = []
            for flow in FlowReader(f).stream():
                flows.append(flow)
                if len(flows) > limit:
                    raise limits.MAX_ITEMS.refuse(f"{path}: flows")
    except exceptions.FlowReadException as e:
        raise BadFile(f"{path}: not a mitmproxy flow file ({e}); nothing was "
                           "imported") from None
    except FileNotFoundError:
        raise NotFound(f"{path}: no such file") from None
    except OSError as e:
        raise BadFile(f"{path}: {e.strerror}") from None
    entries = []
    for i, flow in enumerate(flows):
        if not isinstance(flow, http.HTTPFlow):
            (skipped if skipped is not None else []).append(
                f"flow {i}: a {flow.type} flow, not HTTP")
        elif flow.response is None:
            (skipped if skipped is not None else []).append(
                f"flow {i}: no response ({flow.error.msg if flow.error else 'unfinished'})")
        else:
            entries.append(Capture.from_flow(flow, "import").to_entry())
    return entries

"""How history entries are stored, one module per concern.

- `segments`: `HistoryStore`, bounded TinyDB segments (a write touches only the
  newest, whatever the size of the history), reading, writing, pruning;
- `documents`: an entry's stored form, its body files, the shape check;
- `recovery`: recovery files for what could not be stored;
- `calllogs`: the mocks' call logs, and every store's recovery at once;
- `writer`: `HistoryWriter`, batches on a thread, failed writes retried;
- `process`: `HistoryWriterProcess`, that writer in a child process, so the proxy's
  event loop neither waits for the disk nor shares its core with JSON encoding.
"""

from recorder.store.history.calllogs import call_log_root, call_logs, open_call_log, recover_all
from recorder.store.history.documents import INLINE_BODY_LIMIT, SEGMENT_SIZE
from recorder.store.history.process import WRITER_NICENESS, HistoryWriterProcess, writer_child
from recorder.store.history.recovery import RECOVERY_PREFIX
from recorder.store.history.segments import CALLS, HistoryStore
from recorder.store.history.writer import HistoryWriter

__all__ = [
    "CALLS",
    "INLINE_BODY_LIMIT",
    "RECOVERY_PREFIX",
    "SEGMENT_SIZE",
    "WRITER_NICENESS",
    "HistoryStore",
    "HistoryWriter",
    "HistoryWriterProcess",
    "call_log_root",
    "call_logs",
    "open_call_log",
    "recover_all",
    "writer_child",
]

"""Replay's fast path: HTTP/1 requests answered inside the connection's layer."""

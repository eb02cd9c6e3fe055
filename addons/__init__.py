"""mockrec's mitmproxy addons: the thin seam between mitmproxy flows and the recorder library."""

"""mockrec: record API traffic through mitmproxy, promote it to examples, replay it."""

__version__ = "0.1.0"

"""`mockrec ui`: a local web app over the data dir (history, Mock Request, collections,
mocks and proxies, the live call log). The server (tornado) is imported only when the
command runs: `recorder.ui.server`."""

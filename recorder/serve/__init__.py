"""How an answer is made, free of mitmproxy: templates, delays, CORS, keys."""

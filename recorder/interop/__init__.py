"""Other tools' files in and out: Postman, OpenAPI, HAR and mitmproxy flows."""

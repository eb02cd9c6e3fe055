"""Form bodies as Postman keeps them and as they go on the wire.

Postman saves a form as a list of fields (`body.mode` `urlencoded` or `formdata`) and
sends it encoded, with the Content-Type it sets itself. mockrec keeps the body as the
bytes Postman would send, with that Content-Type, so that matching and answering see
what a client sends; `{{variables}}` stay as written (not percent-encoded), to be
resolved or matched as wildcards like anywhere else. Export reads the fields back.

    urlencoded  grant_type=client_credentials&code={{auth_code}}
    formdata    multipart/form-data; boundary=mockrec-form-data, one part per field;
                a file field is a part with its file name and no content
"""

from __future__ import annotations

import re
from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import quote, unquote_plus

URLENCODED = "application/x-www-form-urlencoded"
BOUNDARY = "mockrec-form-data"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
TEMPLATE = re.compile(r"(\{\{[^{}]+\}\})")


def _encode(text: str) -> str:
    """Percent-encoded as a browser encodes a form field, `{{variables}}` left as they are."""
    return "".join(part if TEMPLATE.fullmatch(part) else quote(part, safe="")
                   for part in TEMPLATE.split(text))


def urlencoded(fields: list[tuple[str, str]]) -> bytes:
    return "&".join(f"{_encode(k)}={_encode(v)}" for k, v in fields).encode()


def urlencoded_fields(body: bytes) -> list[tuple[str, str]]:
    """The fields of a urlencoded body, in order, blank values kept."""
    fields = []
    for pair in body.decode("utf-8", "replace").split("&"):
        if pair:
            key, _, value = pair.partition("=")
            fields.append((unquote_plus(key), unquote_plus(value)))
    return fields


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def multipart(fields: list[tuple[str, str, str | None]]) -> bytes:
    """(name, value, file name or None) as a multipart/form-data body with BOUNDARY."""
    parts = []
    for name, value, filename in fields:
        disposition = f'form-data; name="{_quoted(name)}"'
        if filename is not None:
            disposition += f'; filename="{_quoted(filename)}"'
        parts.append(f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n"
                     f"{'' if filename is not None else value}\r\n")
    return ("".join(parts) + f"--{BOUNDARY}--\r\n").encode()


def multipart_fields(body: bytes, content_type: str) -> list[tuple[str, str, str | None]] | None:
    """(name, value, file name or None) of each part of a multipart/form-data body, or None
    when it is not one. The parts' text is decoded as UTF-8 (replacing what is not)."""
    if "multipart/form-data" not in content_type.lower() or "boundary=" not in content_type:
        return None
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    if not message.is_multipart():
        return None
    fields = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name is None:
            continue
        payload = part.get_payload(decode=True) or b""
        fields.append((str(name), payload.decode("utf-8", "replace"), part.get_filename()))
    return fields

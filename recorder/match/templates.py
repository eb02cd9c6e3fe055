"""URL paths as segments: wildcards, ID-like segments and path templates.

A template segment is a wildcard when it is a whole `{{name}}` or `:name`
(Postman's two spellings). Promote writes templates, replay matches them.
"""

from __future__ import annotations

import re

WILDCARD = re.compile(r"^(?:\{\{\s*([^{}\s]+)\s*\}\}|:([A-Za-z_][\w-]*))$")
UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
                  r"[0-9a-fA-F]{12}$")
MIXED_ID = re.compile(r"^(?=[^/]*\d)(?=[^/]*[A-Za-z])[A-Za-z0-9_-]{6,}$")


def split(path: str) -> list[str]:
    """`/a/b/` -> ['a', 'b', '']: the trailing slash stays visible as an empty segment."""
    return path.split("?", 1)[0].lstrip("/").split("/")


def wildcard_name(segment: str) -> str | None:
    match = WILDCARD.match(segment)
    return (match.group(1) or match.group(2)) if match else None


def is_id_like(segment: str) -> bool:
    """Digits (`42`), UUIDs, or ids of 6+ letters and digits with at least one of each."""
    return bool(segment.isdigit() or UUID.match(segment) or MIXED_ID.match(segment))


def match_template(template: str, path: str) -> dict[str, str] | None:
    """The wildcard captures if `path` fits `template` segment by segment, else None.

    >>> match_template("/users/{{userId}}/posts/:postId", "/users/7/posts/9")
    {'userId': '7', 'postId': '9'}
    """
    want, got = split(template), split(path)
    if len(want) != len(got):
        return None
    captures: dict[str, str] = {}
    for expected, actual in zip(want, got, strict=True):
        name = wildcard_name(expected)
        if name is not None:
            if not actual:
                return None
            captures[name] = actual
        elif expected != actual:
            return None
    return captures


def singular(word: str) -> str:
    """`users` -> `user`, `categories` -> `category`, `addresses` -> `address`; a word that
    is not a plural stays (`status`, `analysis`, `address`)."""
    lower = word.lower()
    if lower.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if re.search(r"(ss|x|ch|sh)es$", lower):
        return word[:-2]
    if lower.endswith("s") and not re.search(r"(ss|us|is)$", lower) and len(word) > 2:
        return word[:-1]
    return word


def variable_name(segment: str) -> str:
    """A path segment as a camel-case name, its last word singular:
    `relative-redirect` -> `relativeRedirect`, `user_profiles` -> `userProfile`."""
    words = [w for w in re.split(r"[^A-Za-z0-9]+", segment) if w]
    if not words:
        return ""
    words[-1] = singular(words[-1])
    first = words[0][0].lower() + words[0][1:]
    return first + "".join(w[0].upper() + w[1:] for w in words[1:])


def infer_template(path: str) -> str:
    """Replace ID-like segments by wildcards named after the segment before them.

    >>> infer_template("/users/42/orders/7f3c9e1a-0b2d-4c5e-8f9a-1b2c3d4e5f60")
    '/users/{{userId}}/orders/{{orderId}}'
    """
    segments = split(path)
    used: set[str] = set()
    out = []
    for i, segment in enumerate(segments):
        if is_id_like(segment):
            before = variable_name(segments[i - 1]) if i else ""
            base = f"{before}Id" if before and not is_id_like(segments[i - 1]) else "id"
            name, n = base, 2
            while name in used:
                name, n = f"{base}{n}", n + 1
            used.add(name)
            out.append(f"{{{{{name}}}}}")
        else:
            out.append(segment)
    return "/" + "/".join(out)

"""The matcher without its index: every example of the method scored for each request.

tests/unit/test_match_matcher.py holds the indexed matcher (recorder/match/matcher.py)
to what this full scan gives. The rules are the matcher's own, imported, not copied:
the types, the path step table, the query score, the scoring of one example
(`score`) and the choice among matches (`Scan`); so are the picks by id and name, the
HEAD answered as a GET and the host an example is for. What is left here is what the
index replaces: every example of the method is scored, each one the request's host
may not use is a miss, and so is every example of another method.

`similar` is the similar-path step as Postman states it (a plain edit distance), the
definition that the matcher's bounded distance and trie walk (recorder/match/similar.py)
are held to.
"""

from __future__ import annotations

from recorder.match import matcher
from recorder.match.matcher import (
    Asked,
    Incoming,
    Match,
    MatchSettings,
    Miss,
    Outcome,
    Scan,
    host_miss,
    method_miss,
)
from recorder.match.similar import SIMILAR, similarity

__all__ = ["Incoming", "Match", "MatchSettings", "Matcher", "Miss", "Outcome", "similar"]


def similar(template: list[str], path: list[str]) -> bool:
    return similarity("/".join(template), "/".join(path)) >= SIMILAR


class Matcher(matcher.Matcher):
    """The indexed matcher's rules with a full scan instead of its index, and nothing
    remembered between requests."""

    def match(self, incoming: Incoming, settings: MatchSettings | None = None) -> Outcome:
        return self._match_any(incoming, settings or MatchSettings())

    def _scan(self, asked: Asked) -> Outcome:
        every = (self.every if asked.code is not None else self.heads).all.by_method
        incoming = asked.incoming
        scan = Scan(asked)
        same = every.get(asked.method, [])
        scan.consider(i for i in same if self._serves(i, incoming))
        if scan.best is not None:
            return Outcome(scan.best)
        for method, items in every.items():
            if method != asked.method:
                scan.misses.extend(method_miss(i, asked) for i in items
                                   if self._serves(i, incoming))
        scan.misses.extend(host_miss(i, asked) for i in same if not self._serves(i, incoming))
        return scan.missed()

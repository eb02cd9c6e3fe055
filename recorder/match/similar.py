"""The similar-path step's edit distance, and the walk that finds similar paths.

Postman's similar-path step takes an example whose path is within 0.8 of the
request's (`similarity`: one minus the edit distance over the longer length).
Computing that against every example would cost a distance per example per
request; `SimilarPaths` keeps the distinct paths by length, sorted, walks them as
a trie with a banded edit distance that gives up beyond the threshold, and spends
at most a budget of trie nodes per request. `fits_similar` is the same test for
one pair, with a bounded distance.
"""

from __future__ import annotations

import bisect
from typing import Generic, TypeVar

T = TypeVar("T")

# Postman's threshold: one minus the edit distance over the longer length. The walk's
# bounds (a fifth of the longer length: `// 5`, `0.2 *`) are this threshold's.
SIMILAR = 0.8


def levenshtein(a: str, b: str) -> int:
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def similarity(a: str, b: str) -> float:
    longest = max(len(a), len(b)) or 1
    return 1 - levenshtein(a, b) / longest


def _bounded_levenshtein(a: str, b: str, k: int) -> int:
    """The edit distance of `a` and `b` if it is at most `k`, else k + 1: only the
    diagonal band of width 2k+1 is computed, and it stops once a row is all above k."""
    la, lb = len(a), len(b)
    if abs(la - lb) > k:
        return k + 1
    over = k + 1
    previous = [j if j <= k else over for j in range(lb + 1)]
    for i in range(1, la + 1):
        ca = a[i - 1]
        row = [over] * (lb + 1)
        lo, hi = max(1, i - k), min(lb, i + k)
        if i <= k:
            row[0] = i
        best = row[0]
        left = row[lo - 1]
        for j in range(lo, hi + 1):
            v = previous[j - 1] + (b[j - 1] != ca)
            up = previous[j] + 1
            if up < v:
                v = up
            if left + 1 < v:
                v = left + 1
            if v > over:
                v = over
            row[j] = left = v
            if v < best:
                best = v
        if best > k:
            return over
        previous = row
    return previous[lb]


def fits_similar(a: str, b: str) -> bool:
    """Postman's similar-path test, `similarity(a, b) >= 0.8`, with a bounded distance."""
    longest = max(len(a), len(b))
    if abs(len(a) - len(b)) > 0.2 * longest:
        return False  # the distance is at least the difference in length
    d = _bounded_levenshtein(a, b, longest // 5)
    return d <= longest // 5 and 1 - d / (longest or 1) >= SIMILAR


def _prefix_end(prefix: str) -> str | None:
    """The least string above every string that starts with `prefix`."""
    last = ord(prefix[-1])
    return prefix[:-1] + chr(last + 1) if last < 0x10FFFF else None


class _Run:
    """The example paths of one length, sorted: a trie to walk for `SimilarPaths`."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = sorted(keys)
        self.size = len(self.keys[0])
        self.alphabet = frozenset("".join(self.keys))
        # common[i]: how many leading characters keys[i] shares with keys[i - 1]
        self.common = [0] * len(self.keys)
        previous = ""
        for i, key in enumerate(self.keys):
            n = 0
            for a, b in zip(previous, key):  # noqa: B905 (lengths are equal)
                if a != b:
                    break
                n += 1
            self.common[i] = n
            previous = key

    def within(self, q: str, budget: list[int]) -> list[str]:
        """The paths here within 0.8 of `q`; each trie node visited spends one of
        `budget[0]`, and when it is spent the walk stops with what it found."""
        size, lq = self.size, len(q)
        k = max(size, lq) // 5  # the largest distance that passes for this length
        # Characters of q that no path here has must each be deleted or replaced:
        # foreign[j] of them are in q[j:].
        foreign = [0] * (lq + 1)
        for j in range(lq - 1, -1, -1):
            foreign[j] = foreign[j + 1] + (q[j] not in self.alphabet)
        if foreign[0] > k:
            return []
        if size == 0:
            return [""] if lq <= k else []
        return _Walk(self, q, k, foreign, budget).run()


class _Walk:
    """One walk of a `_Run`'s trie for `q`: the distance rows of the path so far
    (rows[d] is the row of path[:d]), and the rows of siblings whose character q does
    not hold, made once."""

    def __init__(self, trie: _Run, q: str, k: int, foreign: list[int],
                 budget: list[int]) -> None:
        self.trie, self.q, self.k, self.foreign, self.budget = trie, q, k, foreign, budget
        over = k + 1
        self.rows = [[j if j <= k else over for j in range(len(q) + 1)]]
        self.made: list[tuple[list[int], dict[str | None, tuple[list[int], bool]]]] = []
        self.found: list[str] = []

    def run(self) -> list[str]:
        keys, shared, n = self.trie.keys, self.trie.common, len(self.trie.keys)
        path = ""
        i, last = 0, -1
        while i < n:
            s = keys[i]
            if last == i - 1:  # the key before: the prefix it shares is known
                common = min(shared[i], len(path))
            else:
                common = 0
                while common < len(path) and path[common] == s[common]:
                    common += 1
            del self.rows[common + 1:]
            dead = self._descend(s, common)
            if dead is None:  # the budget is spent
                return self.found
            path = s[:len(self.rows) - 1]
            if dead:
                i = _skip(keys, i, s[:dead])
                last = -1
                continue
            i = self._last_characters(i)
            last = i - 1
        return self.found

    def _descend(self, s: str, common: int) -> int | None:
        """The rows of `s` past the `common` prefix, up to its last character: 0, or
        the depth past which no path can end within k, or None once the budget is
        spent."""
        rows, made, q = self.rows, self.made, self.q
        for d in range(common, self.trie.size - 1):
            ch, previous = s[d], rows[d]
            if len(made) <= d:
                made.append((previous, {}))
            elif made[d][0] is not previous:
                made[d] = (previous, {})
            memo = made[d][1]
            cls = ch if ch in q else None
            known = memo.get(cls)
            self.budget[0] -= 1  # a trie node visited
            if known is None:
                if self.budget[0] < 0:
                    return None
                known = memo[cls] = _next_row(previous, ch, d + 1, q, self.k, self.trie.size,
                                              self.foreign)
            row, alive = known
            rows.append(row)
            if not alive:
                return d + 1
        return 0

    def _last_characters(self, i: int) -> int:
        """The paths from `i` on that differ from it in the last character only: those
        within k go to `found`; returns the index after them."""
        trie = self.trie
        keys, shared, n, size = trie.keys, trie.common, len(trie.keys), trie.size
        q, k, lq = self.q, self.k, len(self.q)
        parent, last_cells = self.rows[size - 1], {}
        size_or_one = max(size, lq) or 1
        while True:
            ch = keys[i][-1]
            cls = ch if ch in q else None
            distance = last_cells.get(cls)
            self.budget[0] -= 1
            if distance is None:
                distance = last_cells[cls] = _next_row(
                    parent, ch, size, q, k, size, self.foreign)[0][lq]
            if distance <= k and 1 - distance / size_or_one >= SIMILAR:
                self.found.append(keys[i])
            i += 1
            if i >= n or shared[i] < size - 1:
                return i


def _skip(keys: list[str], i: int, prefix: str) -> int:
    """The first index after `i` whose key does not start with `prefix` (keys sorted):
    galloping, as the paths under a prefix are usually few."""
    end = _prefix_end(prefix)
    if end is None:
        return i + 1
    n, step = len(keys), 1
    while i + step < n and keys[i + step] < end:
        step *= 2
    return bisect.bisect_left(keys, end, i + step // 2 + 1, min(n, i + step))


def _next_row(previous: list[int], ch: str, depth: int, q: str, k: int, size: int,
              foreign: list[int]) -> tuple[list[int], bool]:
    """The banded distance row of a prefix one character longer, and whether a path of
    `size` starting with that prefix can still end within `k` of `q`: the rest of
    the path against the rest of q costs at least the difference of their lengths,
    and at least the characters of q that no path has."""
    lq = len(q)
    over = k + 1
    row = [over] * (lq + 1)
    lo, hi = max(1, depth - k), min(lq, depth + k)
    tail = size - depth - lq
    if depth <= k:
        row[0] = depth
    alive = row[0] + max(abs(tail), foreign[0]) <= k
    left = row[lo - 1]
    for j in range(lo, hi + 1):
        v = previous[j - 1] + (q[j - 1] != ch)
        up = previous[j] + 1
        if up < v:
            v = up
        if left + 1 < v:
            v = left + 1
        if v > over:
            v = over
        row[j] = left = v
        if not alive and v <= k:
            rest = tail + j
            if rest < 0:
                rest = -rest
            if foreign[j] > rest:
                rest = foreign[j]
            alive = v + rest <= k
    return row, alive


class SimilarPaths(Generic[T]):
    """The similar-path step's candidates for a path, without a distance per example.

    The distinct example paths are kept by length, and sorted, which makes each
    length's paths a trie: walking them in order, each path reuses the distance
    rows of the prefix it shares with the one before. For paths of one length
    the largest distance that still passes is known (a fifth of the longer of
    the two), and so is how far a prefix still is from the end: a prefix that
    cannot end within that distance, whatever follows it, skips every path that
    starts with it (found by bisection). Rows are banded to that distance, so a
    request costs about its length times the distance for each trie node it
    visits, and only lengths within a fifth of its own are looked at.
    """

    def __init__(self, groups: dict[str, list[T]]) -> None:
        self.groups = groups
        by_length: dict[int, list[str]] = {}
        for path in groups:
            by_length.setdefault(len(path), []).append(path)
        self.by_length = {n: _Run(keys) for n, keys in by_length.items()}
        self.keys = sorted(groups)

    # Trie nodes one request may visit (a distance row each, about 2/5 of its length in
    # cells, unless a sibling's is reused): some 10 ms at most. Near misses take about
    # a thousand (`/userz/12345` among 100,000 `/users/N`: 1,028; `/usrs/4242`: 1,547);
    # a long path among thousands of its length with varying ids can take tens of
    # thousands, and the event loop would wait. Past it the step gives up with what it
    # found (the outcome is kept per path all the same).
    BUDGET = 2000

    def within(self, q: str) -> list[str]:
        """The example paths with similarity(path, q) >= 0.8 (those found within the
        budget)."""
        lq = len(q)
        found: list[str] = []
        budget = [self.BUDGET]
        for size in range(lq - lq // 5, lq + lq // 4 + 2):
            run = self.by_length.get(size)
            if run is not None and size - lq <= max(size, lq) // 5:
                found.extend(run.within(q, budget))
                if budget[0] < 0:
                    break
        return found

    def near(self, q: str, count: int) -> list[str]:
        """About `count` example paths around `q` in sorted order: those sharing the
        longest prefix with it (the 404's closest examples). All when there are few."""
        keys = self.keys
        if len(keys) <= count:
            return keys
        at = bisect.bisect_left(keys, q)
        lo = max(0, at - count // 2)
        return keys[lo:lo + count]

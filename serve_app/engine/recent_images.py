"""The last photos the dispatcher decoded, by a hash of their encoded bytes.

A client that clicks again and again on one photo (segment, then erase or inpaint of the same
photo) sends the same file with every request; decoding it costs more than the click itself
(a 512x512 PNG: 8-10 ms in the dispatcher, against ~35 ms for SAM's decoder). The same bytes
always decode to the same pixels, so the decoded arrays are kept (read-only) for a short
while, within a byte budget, least recently used out first, per account.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable

from serve_app.engine.images import Decoded

KEEP_S = 120.0


def digest(data: bytes, account: str = "") -> bytes:
    """Per account: whether another customer sent the same file lately stays unknowable
    (a faster decode would tell)."""
    return hashlib.blake2b(data, digest_size=16, key=account.encode()[:64]).digest()


def _size(decoded: Decoded) -> int:
    return sum(a.nbytes for a in (decoded.rgb, decoded.alpha) if a is not None)


def _frozen(decoded: Decoded) -> Decoded:
    # one array may now reach several jobs: none of them may change it
    for array in (decoded.rgb, decoded.alpha):
        if array is not None:
            array.flags.writeable = False
    return decoded


class RecentImages:
    def __init__(self, budget_bytes: int, clock: Callable[[], float] = time.monotonic):
        self.budget = budget_bytes
        self.clock = clock
        self.entries: OrderedDict[bytes, tuple[Decoded, float]] = OrderedDict()
        self.held = 0

    def get(self, key: bytes) -> Decoded | None:
        self.expire()
        found = self.entries.get(key)
        if found is None:
            return None
        self.entries[key] = (found[0], self.clock())
        self.entries.move_to_end(key)
        return found[0]

    def put(self, key: bytes, decoded: Decoded) -> Decoded:
        """Keep `decoded` (if it fits the budget at all); returns it, read-only."""
        size = _size(decoded)
        if size > self.budget or key in self.entries:
            return decoded
        self.entries[key] = (_frozen(decoded), self.clock())
        self.held += size
        while self.held > self.budget:
            self._drop_oldest()
        return decoded

    def expire(self) -> None:
        """Memory comes back: nothing is kept KEEP_S after its last use."""
        cutoff = self.clock() - KEEP_S
        while self.entries and next(iter(self.entries.values()))[1] < cutoff:
            self._drop_oldest()

    def _drop_oldest(self) -> None:
        _, (decoded, _) = self.entries.popitem(last=False)
        self.held -= _size(decoded)

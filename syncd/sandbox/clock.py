"""The tenant's clock: wall time plus an offset that the control API can advance, or frozen.

It never goes backwards, so stamps taken in order sort in order.
"""

from __future__ import annotations

import time

from syncd.sandbox.timefmt import iso


class Clock:
    def __init__(self, start: float | None = None, frozen: bool = False) -> None:
        self._offset = 0.0 if start is None else start - time.time()
        self._frozen_at: float | None = None
        self._last = 0.0
        if frozen:
            self.freeze()
            if start is not None:
                # Exactly ``start``: going through the wall-clock offset would add float noise.
                self._frozen_at = self._last = max(start, 0.0)

    def now(self) -> float:
        t = self._frozen_at if self._frozen_at is not None else time.time() + self._offset
        # Millisecond resolution is what the API shows; never step back.
        t = max(t, self._last)
        self._last = t
        return t

    def now_iso(self) -> str:
        return iso(self.now())

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        if self._frozen_at is not None:
            self._frozen_at += seconds
        else:
            self._offset += seconds

    def set(self, ts: float) -> None:
        if ts < self.now():
            raise ValueError("the clock only moves forward")
        self.advance(ts - self.now())

    def freeze(self) -> None:
        self._frozen_at = self.now()

    def unfreeze(self) -> None:
        if self._frozen_at is not None:
            self._offset = self._frozen_at - time.time()
            self._frozen_at = None

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

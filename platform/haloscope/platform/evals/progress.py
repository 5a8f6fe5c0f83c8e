"""A dependency-free progress bar on stderr."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

BAR_WIDTH = 30


class ProgressBar:
    """``label [#####-----] done/total rate/s``; redrawn in place on a terminal, printed at
    every 10% otherwise (CI logs), silent when disabled."""

    def __init__(
        self, total: int, label: str, *, enabled: bool = True, stream: TextIO | None = None
    ) -> None:
        self.total = max(total, 1)
        self.label = label
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.done = 0
        self._lock = threading.Lock()
        self._started = time.perf_counter()
        self._tty = self.stream.isatty()
        self._last_decile = -1

    def advance(self, count: int = 1) -> int:
        """Record ``count`` more finished items and redraw; the items done so far."""
        with self._lock:
            self.done += count
            if not self.enabled:
                return self.done
            decile = self.done * 10 // self.total
            if self._tty or decile != self._last_decile or self.done == self.total:
                self._last_decile = decile
                self._draw()
            return self.done

    def _draw(self) -> None:
        filled = self.done * BAR_WIDTH // self.total
        rate = self.done / max(time.perf_counter() - self._started, 1e-9)
        line = (
            f"{self.label} [{'#' * filled}{'-' * (BAR_WIDTH - filled)}] "
            f"{self.done}/{self.total} {rate:.1f}/s"
        )
        end = "" if self._tty and self.done < self.total else "\n"
        self.stream.write(("\r" if self._tty else "") + line + end)
        self.stream.flush()

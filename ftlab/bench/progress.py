"""A progress bar for bench runs: drawn on stderr, only when stderr is a terminal, and only
once the run has lasted more than a second (short runs print nothing)."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

DELAY_S = 1.0  # nothing is drawn before this
REFRESH_S = 0.2
WIDTH = 28


class Progress:
    """`with Progress(total, "ftrace-ops") as p: ... p.advance("label")`.

    A background thread redraws the bar every REFRESH_S once DELAY_S has passed, so a long
    single step still shows the clock moving. `enabled=None` draws iff the stream is a tty."""

    def __init__(self, total: int, title: str, stream: TextIO | None = None,
                 enabled: bool | None = None) -> None:
        self.total = max(int(total), 1)
        self.title = title
        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = bool(isatty and isatty())
        self.enabled = enabled
        self.done = 0
        self.label = ""
        self.start = time.perf_counter()
        self._drawn = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Progress:
        self.start = time.perf_counter()
        if self.enabled:
            self._thread = threading.Thread(target=self._tick, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def advance(self, label: str = "", steps: int = 1) -> None:
        with self._lock:
            self.done = min(self.done + steps, self.total)
            self.label = label
        self._draw()

    def set_label(self, label: str) -> None:
        with self._lock:
            self.label = label

    def line(self) -> str:
        frac = self.done / self.total
        filled = int(round(frac * WIDTH))
        bar = "#" * filled + "-" * (WIDTH - filled)
        elapsed = time.perf_counter() - self.start
        text = f"{self.title} [{bar}] {self.done}/{self.total} {elapsed:5.1f}s"
        return f"{text} {self.label}"[:118]

    def _draw(self) -> None:
        if not self.enabled or time.perf_counter() - self.start < DELAY_S:
            return
        with self._lock:
            self.stream.write("\r\x1b[2K" + self.line())
            self.stream.flush()
            self._drawn = True

    def _tick(self) -> None:
        while not self._stop.wait(REFRESH_S):
            self._draw()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._drawn:
            with self._lock:
                self.stream.write("\r\x1b[2K")
                self.stream.flush()
                self._drawn = False

"""Read streamed answers in ticks: one wake-up of the process per tick for all of them.

Why: a token is one small TCP segment, and waking the process for it costs far more than handling
it. On the 2-core VMs here one sleep-to-wake of the event loop costs 100-240 us of CPU (the kernel's
and the VM's), against about 5 us to parse a token; read as it arrives, a lone stream costs ~190 us
per token and 20 streams ~55 us (measured with a bare asyncio protocol, no HTTP parsing at all).

So once an answer's text is flowing, its connection is *held* after each read: reading is paused
(`transport.pause_reading()`, the kernel keeps the bytes) until the pacer's next tick, when every
held connection resumes at once and each reads all that arrived meanwhile in one go. Ticks are
shared: they fall on multiples of the interval on the event loop's clock, and one timer serves them
all. Held this way, 20 streams at 50 tokens/s cost ~9 us per token at the transport (0.25 s ticks).

The interval grows with the streams being read, because so does the wait for Slack's budget: a lone
answer in a quiet workspace is read every 0.1 s (its text shows ~0.05 s later on average, its end at
most 0.1 s later), a dozen or more every 0.25 s, when each of them gets an edit every few seconds
at most. Nothing waits for a tick before the first text: a connection is held only once the client
says its answer has started (`start()`), so the first token is read the moment it arrives.
"""

from __future__ import annotations

import asyncio
import math

__all__ = ["ReadPacer"]

LONE_INTERVAL = 0.1  # seconds between reads of a stream while few are being read
BUSY_INTERVAL = 0.25  # ... and the most, from BUSY_STREAMS streams on
BUSY_STREAMS = 10


class ReadPacer:
    """Holds connections between reads until a shared tick; one per event loop (not thread-safe)."""

    def __init__(
        self,
        *,
        lone_interval: float = LONE_INTERVAL,
        busy_interval: float = BUSY_INTERVAL,
        busy_streams: int = BUSY_STREAMS,
    ) -> None:
        self._lone = lone_interval
        self._busy = max(busy_interval, lone_interval)
        self._busy_streams = max(busy_streams, 1)
        self._held: dict[asyncio.Transport, None] = {}  # in the order they were held
        self._tick: asyncio.TimerHandle | None = None
        self.streams = 0  # streams being paced now

    def interval(self) -> float:
        """Seconds between ticks for the streams being read now."""
        if self.streams <= 1:
            return self._lone
        share = min(self.streams - 1, self._busy_streams - 1) / max(self._busy_streams - 1, 1)
        return self._lone + (self._busy - self._lone) * share

    def opened(self) -> None:
        """A stream starts being paced (its text has started)."""
        self.streams += 1

    def closed(self) -> None:
        self.streams = max(self.streams - 1, 0)

    def hold(self, transport: asyncio.Transport) -> None:
        """Pause reading `transport` until the next tick."""
        if transport.is_closing():
            return
        transport.pause_reading()
        self._held[transport] = None
        if self._tick is None:
            loop = asyncio.get_running_loop()
            step = self.interval()
            now = loop.time()
            at = math.ceil(now / step) * step
            self._tick = loop.call_at(at if at > now else at + step, self._release)

    def release(self, transport: asyncio.Transport) -> None:
        """Resume `transport` now if it is held (its stream ends, or goes back to the pool)."""
        if self._held.pop(transport, False) is None and not transport.is_closing():
            transport.resume_reading()

    def _release(self) -> None:
        self._tick = None
        held, self._held = self._held, {}
        for transport in held:
            if not transport.is_closing():
                transport.resume_reading()

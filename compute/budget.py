"""A request budget: an asyncio token bucket that callers await before they call a rate-limited API.

Used for Azure Resource Manager writes (per subscription) and for Teams sends. Pure asyncio, no SDK.

`acquire()` waits until a token is free. Waiters are served first come, first served: one waiter at a
time holds an internal lock while it waits for the next token, so a thousand waiters cost one timer,
not a thousand wake-ups per token.

`pause_for(seconds)` is for a 429 with `Retry-After`: every acquirer, present and future, waits until
then. The bucket is also emptied, so traffic resumes at the refill rate instead of a burst that the
server, whose own bucket is empty, would refuse again.

`outstanding` (optional) counts tokens taken whose requests the server may not have seen yet. The
server takes a token when a request arrives, not when the client took it: while those requests
travel, a full server bucket wastes its refill, and a client that refilled its own meanwhile would
believe in tokens the server never had (ARM answered 429 after the first burst of every sweep). So
the bucket never holds more than `burst - outstanding()`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

_EPSILON = 1e-9
"""Waits shorter than this count as none: float refill arithmetic may leave 0.99999999999 tokens."""


class AsyncTokenBucket:
    """`rate_per_s` tokens a second, at most `burst` saved up; the bucket starts full."""

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        clock: Clock = time.monotonic,
        *,
        sleep: Sleep = asyncio.sleep,
        outstanding: Callable[[], int] = lambda: 0,
    ) -> None:
        if rate_per_s <= 0:
            raise ValueError("rate_per_s must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._outstanding = outstanding
        self._tokens = float(burst)
        self._updated = clock()
        self._paused_until = float("-inf")
        self._turn = asyncio.Lock()

    @property
    def tokens(self) -> float:
        """Tokens available now (fractional while refilling)."""
        self._refill(self._clock())
        return self._tokens

    @property
    def paused_until(self) -> float | None:
        """The clock time a pause ends, or None when not paused."""
        return self._paused_until if self._paused_until > self._clock() else None

    async def acquire(self) -> None:
        """Wait for a token and take it."""
        async with self._turn:
            while True:
                wait = self._wait_needed()
                if wait <= _EPSILON:
                    self._tokens -= 1
                    return
                await self._sleep(wait)

    def try_acquire(self) -> bool:
        """Take a token if one is free right now and nobody is queued; never waits."""
        if self._turn.locked() or self._wait_needed() > _EPSILON:
            return False
        self._tokens -= 1
        return True

    def pause_for(self, seconds: float) -> None:
        """Hold every acquirer for `seconds` from now (a pause never shortens an earlier one)."""
        now = self._clock()
        self._refill(now)
        self._paused_until = max(self._paused_until, now + max(0.0, seconds))
        self._tokens = 0.0
        self._updated = self._paused_until

    def _wait_needed(self) -> float:
        """Seconds until a token can be taken; zero or less means now."""
        now = self._clock()
        if now < self._paused_until:
            return self._paused_until - now
        self._refill(now)
        return (1.0 - self._tokens) / self.rate_per_s

    def _refill(self, now: float) -> None:
        if now <= self._updated:
            return
        most = max(0.0, float(self.burst - self._outstanding()))  # what the server may still hold
        self._tokens = min(most, self._tokens + (now - self._updated) * self.rate_per_s)
        self._updated = now

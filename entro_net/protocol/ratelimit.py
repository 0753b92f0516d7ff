"""Rate limits with time passed in: when to warn about drops, when a sender floods.

Both take ``now`` (seconds, any monotonic clock) as an argument, so they
are tested without waiting and the socket loops own the clock.
"""

from __future__ import annotations

from collections import OrderedDict

from entro_net.config import FLOOD_BURST, FLOOD_MAX_PER_S, MAX_TRACKED_SENDERS


class WarnLimiter:
    """Lets a warning per key through at most once every ``interval_s``.

    The socket loop calls ``admit`` for every event (e.g. every drop, keyed
    by reason) and logs only when it returns a count > 0: the number of
    events the warning stands for, this one and those held back since the
    last warning for that key.
    """

    def __init__(self, interval_s: float) -> None:
        if not interval_s > 0.0:
            raise ValueError(f"interval_s must be > 0, not {interval_s}")
        self.interval_s = interval_s
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def admit(self, key: str, now: float) -> int:
        """Record one event for ``key`` at ``now``.

        Returns:
            0 to stay silent, else how many events the warning covers.
        """
        held = self._held.get(key, 0) + 1
        last = self._last.get(key)
        if last is not None and now - last < self.interval_s:
            self._held[key] = held
            return 0
        self._last[key] = now
        self._held[key] = 0
        return held

    def held(self, key: str) -> int:
        """Events for ``key`` held back since its last warning."""
        return self._held.get(key, 0)


class FloodGuard:
    """A token bucket per sender: refuses what goes beyond a steady rate.

    Each sender may send ``burst`` messages at once and ``rate_per_s`` a
    second after that. Only ``max_senders`` buckets are kept; the sender
    heard from least recently loses its bucket first (and gets a full one
    when it comes back).
    """

    def __init__(
        self,
        rate_per_s: float = FLOOD_MAX_PER_S,
        burst: int = FLOOD_BURST,
        max_senders: int = MAX_TRACKED_SENDERS,
    ) -> None:
        if not (rate_per_s > 0.0 and burst >= 1 and max_senders >= 1):
            raise ValueError(
                "FloodGuard needs rate_per_s > 0, burst >= 1, max_senders >= 1; "
                f"got {rate_per_s}, {burst}, {max_senders}"
            )
        self.rate_per_s = rate_per_s
        self.burst = float(burst)
        self.max_senders = max_senders
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def admit(self, sender: str, now: float) -> bool:
        """Whether one more message from ``sender`` at ``now`` is within limits."""
        tokens, last = self._buckets.pop(sender, (self.burst, now))
        tokens = min(self.burst, tokens + max(0.0, now - last) * self.rate_per_s)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._buckets[sender] = (tokens, max(now, last))
        if len(self._buckets) > self.max_senders:
            self._buckets.popitem(last=False)
        return allowed

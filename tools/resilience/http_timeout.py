"""An HTTP client's timeout, cut to what is left of the call's deadline.

httpx timeouts are fixed per client, but a guarded call has a deadline (its total budget,
or the caller's, whichever ends first). The async path is cancelled at that deadline; a
sync request cannot be interrupted, so without this it would wait its full client
timeout. Passing ``request_timeout(client_timeout)`` with every request makes both end
at the deadline.
"""

from __future__ import annotations

import httpx

from tools.resilience.deadline import remaining

# A request whose budget is already spent still gets a moment to fail with a timeout.
MIN_TIMEOUT_S = 0.001


def _cut(configured: float | None, left: float) -> float:
    return left if configured is None else min(configured, left)


def request_timeout(configured: httpx.Timeout) -> httpx.Timeout:
    """``configured``, with every phase (connect, read, write, pool) bounded by the time
    left in the active deadline; unchanged outside a deadline."""
    left = remaining()
    if left is None:
        return configured
    left = max(left, MIN_TIMEOUT_S)
    return httpx.Timeout(
        connect=_cut(configured.connect, left),
        read=_cut(configured.read, left),
        write=_cut(configured.write, left),
        pool=_cut(configured.pool, left),
    )

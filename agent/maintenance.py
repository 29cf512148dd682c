"""The memory sweep on a schedule, inside a running server.

Expired and long-forgotten memories must go even when no operator types ``support-agent
sweep``. Every worker runs the schedule; the job lock the CLI uses ("memory-sweep", Redis
when configured) lets one of them sweep per round and the others skip. The outcome of the
last round is shown in the health report and counted in metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from storage.locks import JobLocks
from tools import metrics

if TYPE_CHECKING:
    from agent.services import Services

logger = logging.getLogger(__name__)

SWEEP_LOCK = "memory-sweep"
SWEEP_LOCK_TTL_S = 300


@dataclass
class SweepStatus:
    interval_s: float
    rounds: int = 0
    last_at: float | None = None
    last_outcome: str | None = None
    last_deleted: int | None = None
    last_error: str | None = None


class SweepSchedule:
    """Runs ``MemoryStore.asweep`` every ``interval_s`` seconds until stopped.

    The services are asked for at each round, not at start: a server that is only probed
    never builds them, and a round after a restart of the services uses the new ones.
    """

    def __init__(self, services: Callable[[], Awaitable[Services]], interval_s: float) -> None:
        self.services = services
        self.status = SweepStatus(interval_s)
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> str:
        """One round: "done", "skipped" (another worker holds the lock) or "error"."""
        deleted: int | None = None
        error: str | None = None
        try:
            services = await self.services()
            locks = JobLocks(services.redis)
            async with locks.ahold(SWEEP_LOCK, ttl_s=SWEEP_LOCK_TTL_S) as lock:
                if lock is None:
                    outcome = "skipped"
                else:
                    deleted = await services.memory.asweep()
                    outcome = "done"
        except Exception as exc:  # the schedule outlives one failed round; the next retries
            outcome, error = "error", getattr(exc, "code", type(exc).__name__)
            logger.warning("scheduled sweep failed", extra={"error_code": error})
        metrics.SWEEPS.labels(outcome).inc()
        now = time.time()
        if outcome == "done":
            metrics.LAST_SWEEP.set(now)
            logger.info("scheduled sweep done", extra={"deleted": deleted})
        self.status.rounds += 1
        self.status.last_at = now
        self.status.last_outcome = outcome
        self.status.last_deleted = deleted
        self.status.last_error = error
        return outcome

    async def _forever(self) -> None:
        while True:
            await asyncio.sleep(self.status.interval_s)
            await self.run_once()

    def start(self) -> None:
        """Start the schedule on the running loop (interval 0: never)."""
        if self._task is None and self.status.interval_s > 0:
            self._task = asyncio.get_running_loop().create_task(
                self._forever(), name="memory-sweep-schedule"
            )

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def report(self) -> dict[str, Any]:
        return {
            "running": self._task is not None and not self._task.done(),
            "interval_s": self.status.interval_s,
            "rounds": self.status.rounds,
            "last_at": self.status.last_at,
            "last_outcome": self.status.last_outcome,
            "last_deleted": self.status.last_deleted,
            **({"last_error": self.status.last_error} if self.status.last_error else {}),
        }

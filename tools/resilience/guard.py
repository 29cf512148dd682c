"""One guarded dependency operation: the layers of a call, outside in.

error boundary (span, metrics, total deadline) → rate limit → retry → circuit breaker →
bulkhead → per-attempt timeout. Everything a call needs (policy, breaker, bulkhead, span
name) is resolved once when the guard is built, so the success path is a handful of
attribute reads; tenacity only takes over after a first retryable failure.

Sync attempts are not pre-empted (Python cannot stop a running thread safely): the
attempt's deadline is published through ``deadline.remaining()`` for the callee's own
socket or statement timeouts. Async attempts are cancelled at the attempt deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from langgraph.errors import GraphBubbleUp
from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode
from pybreaker import STATE_CLOSED
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    wait_random_exponential,
)

from tools.errors import DependencyError, DependencyTimeoutError, ToolError
from tools.resilience import metrics
from tools.resilience.classify import to_tool_error
from tools.resilience.deadline import NodeAttempt, TaskFailures, _deadline, node_attempt
from tools.resilience.scope import current_scope

if TYPE_CHECKING:
    from tools.resilience.breaker import Breaker
    from tools.resilience.bulkhead import Bulkhead
    from tools.resilience.config import DependencyPolicy
    from tools.resilience.rate_limit import RateLimiter

T = TypeVar("T")

tracer = trace.get_tracer("support_agent.resilience")


class Guard:
    """The resilience layers for one (dependency, operation)."""

    def __init__(
        self,
        dependency: str,
        operation: str | None,
        *,
        policy: DependencyPolicy,
        breaker: Breaker,
        bulkhead: Bulkhead,
        limiter: RateLimiter,
        task_failures: TaskFailures,
        retry: bool,
    ) -> None:
        self.dependency = dependency
        self.operation = operation
        self.policy = policy
        self.breaker = breaker
        self.bulkhead = bulkhead
        self.limiter = limiter
        self.task_failures = task_failures
        self.retry = retry and policy.max_attempts > 1
        self.span_name = f"{dependency}.{operation}" if operation else dependency
        self._limit_name = self.span_name
        self._attributes = {"dependency": dependency, "operation": operation or ""}
        self._rate_limited = policy.rate_limited
        self._retry_codes = frozenset(policy.retry_on_codes)
        self._timeouts = metrics.TIMEOUTS.labels(dependency)
        self._retries = metrics.RETRIES.labels(dependency)
        self._ok_seconds = metrics.CALL_SECONDS.labels(dependency, "ok")
        self._wait = wait_random_exponential(
            multiplier=policy.backoff_initial_s, max=policy.backoff_max_s
        )

    # The boundary: span, total deadline, rate limit, errors.

    def _begin(self) -> tuple[Span, float, float, NodeAttempt | None]:
        span = tracer.start_span(self.span_name, attributes=self._attributes)
        now = time.monotonic()
        deadline = now + self.policy.total_timeout_s
        outer = _deadline.get()
        if outer is not None and outer < deadline:
            deadline = outer
        node = node_attempt()
        if node is not None and node.attempt > 1:
            # A LangGraph retry of the node shares the first attempt's budget (a first
            # attempt may legitimately run longer, making many calls one after another).
            deadline = min(deadline, node.first_attempt_monotonic + self.policy.total_timeout_s)
        return span, now, deadline, node

    def _failed(self, span: Span, error: BaseException) -> str:
        """Record a failed call on its span; returns the outcome label for the latency."""
        code = error.code if isinstance(error, ToolError) else "error"
        if isinstance(error, ToolError):
            metrics.FAILURES.labels(self.dependency, error.code).inc()
            span.set_attribute("error.code", error.code)
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        return code

    def _end(self, span: Span, began: float, outcome: str) -> None:
        seconds = time.monotonic() - began
        if outcome == "ok":
            self._ok_seconds.observe(seconds)
        else:
            metrics.CALL_SECONDS.labels(self.dependency, outcome).observe(seconds)
        span.end()

    def call(self, func: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
        span, began, deadline, node = self._begin()
        token = _deadline.set(deadline)
        outcome = "ok"
        try:
            if self._rate_limited:
                self.limiter.check(self._limit_name, self.policy, current_scope())
            try:
                return self._attempt(func, args, kwargs, deadline, node)
            except ToolError as error:
                if not (self.retry and self._retryable(error)):
                    raise
                return self._retrying(deadline, error)(
                    self._attempt, func, args, kwargs, deadline, node
                )
        except GraphBubbleUp:
            raise
        except BaseException as error:
            outcome = self._failed(span, error)
            raise
        finally:
            _deadline.reset(token)
            self._end(span, began, outcome)

    async def acall(
        self,
        func: Callable[..., Awaitable[T]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> T:
        span, began, deadline, node = self._begin()
        token = _deadline.set(deadline)
        outcome = "ok"
        try:
            if self._rate_limited:
                await self.limiter.acheck(self._limit_name, self.policy, current_scope())
            try:
                return await self._aattempt(func, args, kwargs, deadline, node)
            except ToolError as error:
                if not (self.retry and self._retryable(error)):
                    raise
                return await self._aretrying(deadline, error)(
                    self._aattempt, func, args, kwargs, deadline, node
                )
        except GraphBubbleUp:
            raise
        except BaseException as error:
            outcome = self._failed(span, error)
            raise
        finally:
            _deadline.reset(token)
            self._end(span, began, outcome)

    # One attempt: deadline check, breaker, bulkhead, timeout.

    def _check_budget(self, deadline: float, node: NodeAttempt | None) -> float:
        """Seconds left for the next attempt; raises when the call's budget is used up."""
        left = deadline - time.monotonic()
        if left <= 0:
            self._timeouts.inc()
            raise DependencyTimeoutError(
                f"{self.dependency}: the time budget of this call is used up",
                dependency=self.dependency,
            )
        if node is not None and (
            self.task_failures.get(node.task_id, self.dependency) >= self.policy.max_attempts
        ):
            metrics.REJECTIONS.labels(self.dependency, "budget_exhausted").inc()
            raise DependencyError(
                f"{self.dependency} already failed {self.policy.max_attempts} times in this "
                "step; not retrying again",
                retryable=False,
                dependency=self.dependency,
            )
        return left

    def _open(self, deadline: float, node: NodeAttempt | None) -> tuple[bool, float]:
        """Breaker and bulkhead for a sync attempt; returns (half-open probe?, time left)."""
        left = self._check_budget(deadline, node)
        probe = False
        try:
            if self.breaker.storage.state != STATE_CLOSED:
                probe = self.breaker.admit()
            self.bulkhead.acquire(left)
        except BaseException as exc:
            self._rejected(exc)
            self.breaker.failed(exc, probe)
            raise
        return probe, min(left, self.policy.timeout_s)

    async def _aopen(self, left: float) -> tuple[bool, float]:
        """Breaker and bulkhead for an async attempt that may have to wait for either."""
        probe = False
        try:
            if self.breaker.storage.state != STATE_CLOSED:
                probe = await self.breaker.aadmit()
            await self.bulkhead.aacquire(left)
        except BaseException as exc:
            self._rejected(exc)
            await self.breaker.afailed(exc, probe)
            raise
        return probe, min(left, self.policy.timeout_s)

    def _rejected(self, exc: BaseException) -> None:
        if isinstance(exc, ToolError):
            metrics.REJECTIONS.labels(self.dependency, exc.code).inc()

    def _outcome_error(
        self, exc: BaseException, node: NodeAttempt | None, timed_out: bool
    ) -> BaseException:
        """The error the caller sees for an attempt that raised ``exc``."""
        if isinstance(exc, GraphBubbleUp) or not isinstance(exc, Exception):
            return exc
        if node is not None and self.breaker.is_outcome(exc):
            self.task_failures.add(node.task_id, self.dependency)
        if timed_out:
            self._timeouts.inc()
            return DependencyTimeoutError(
                f"{self.dependency} did not answer within {self.policy.timeout_s:g} s",
                dependency=self.dependency,
            )
        error = to_tool_error(exc, self.dependency)
        if isinstance(error, DependencyTimeoutError):
            self._timeouts.inc()
        return error

    def _failure(
        self,
        exc: BaseException,
        probe: bool,
        started: float,
        node: NodeAttempt | None,
        retried: bool = False,
    ) -> BaseException:
        """Close a failed sync attempt; returns what to raise (``exc`` itself or a ToolError).

        A retried attempt's failure is not counted again: the call's first failure was."""
        self.bulkhead.release()
        self.breaker.failed(exc, probe, time.perf_counter() - started, count=not retried)
        return self._outcome_error(exc, node, timed_out=False)

    async def _afailure(
        self,
        exc: BaseException,
        probe: bool,
        started: float,
        node: NodeAttempt | None,
        timed_out: bool,
        retried: bool = False,
    ) -> BaseException:
        self.bulkhead.release()
        await self.breaker.afailed(exc, probe, time.perf_counter() - started, count=not retried)
        return self._outcome_error(exc, node, timed_out=timed_out)

    def _success(self, probe: bool, started: float, retried: bool = False) -> None:
        self.bulkhead.release()
        self.breaker.succeeded(probe, time.perf_counter() - started, count=not retried)

    async def _asuccess(self, probe: bool, started: float, retried: bool = False) -> None:
        self.bulkhead.release()
        await self.breaker.asucceeded(probe, time.perf_counter() - started, count=not retried)

    def _attempt(
        self,
        func: Callable[..., T],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        deadline: float,
        node: NodeAttempt | None,
        retried: bool = False,
    ) -> T:
        probe, left = self._open(deadline, node)
        started = time.perf_counter()
        token = _deadline.set(time.monotonic() + left)
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            error = self._failure(exc, probe, started, node, retried)
            if error is exc:
                raise
            raise error from exc
        finally:
            _deadline.reset(token)
        self._success(probe, started, retried)
        return result

    async def _aattempt(
        self,
        func: Callable[..., Awaitable[T]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        deadline: float,
        node: NodeAttempt | None,
        retried: bool = False,
    ) -> T:
        left = self._check_budget(deadline, node)
        if self.breaker.storage.state == STATE_CLOSED and self.bulkhead.try_acquire():
            probe, left = False, min(left, self.policy.timeout_s)  # nothing to wait for
        else:
            probe, left = await self._aopen(left)
        started = time.perf_counter()
        token = _deadline.set(time.monotonic() + left)
        timeout = asyncio.timeout(left)
        try:
            async with timeout:
                result = await func(*args, **kwargs)
        except BaseException as exc:
            error = await self._afailure(exc, probe, started, node, timeout.expired(), retried)
            if error is exc:
                raise
            raise error from exc
        finally:
            _deadline.reset(token)
        if self.breaker.success_needs_io(probe):
            await self._asuccess(probe, started, retried)
        else:
            self._success(probe, started, retried)
        return result

    # Retry: tenacity, entered only after a first retryable failure.

    def _retryable(self, error: BaseException) -> bool:
        return isinstance(error, ToolError) and error.retryable and error.code in self._retry_codes

    def _next_wait(self, state: RetryCallState) -> float:
        wait = self._wait(state)
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, ToolError) and error.retry_after_s:
            wait = max(wait, error.retry_after_s)
        return wait

    def _stop(self, deadline: float) -> Callable[[RetryCallState], bool]:
        max_attempts = self.policy.max_attempts

        def stop(state: RetryCallState) -> bool:
            # Give up when attempts are used up or the next one could not start in time.
            if state.attempt_number >= max_attempts:
                return True
            return time.monotonic() + (state.upcoming_sleep or 0.0) >= deadline

        return stop

    def _before_sleep(self, state: RetryCallState) -> None:
        self._retries.inc()

    def _retry_options(self, deadline: float) -> dict[str, Any]:
        return {
            "stop": self._stop(deadline),
            "wait": self._next_wait,
            "retry": retry_if_exception(self._retryable),
            "before_sleep": self._before_sleep,
            "reraise": True,
        }

    def _retrying(self, deadline: float, first: ToolError) -> Callable[..., Any]:
        """tenacity for attempts 2..N; its attempt 1 replays the failure that happened."""
        retrying = Retrying(**self._retry_options(deadline))
        pending = [first]

        def attempt(*args: Any) -> Any:
            if pending:
                raise pending.pop()
            return args[0](*args[1:], retried=True)

        return lambda *args: retrying(attempt, *args)

    def _aretrying(self, deadline: float, first: ToolError) -> Callable[..., Awaitable[Any]]:
        retrying = AsyncRetrying(**self._retry_options(deadline))
        pending = [first]

        async def attempt(*args: Any) -> Any:
            if pending:
                raise pending.pop()
            return await args[0](*args[1:], retried=True)

        return lambda *args: retrying(attempt, *args)

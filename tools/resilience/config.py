"""Resilience settings: a policy per kind of dependency, a default, per-dependency overrides.

A dependency's policy is built in layers, each only naming what differs: the field
defaults below (fit for HTTP services: CRM, webhook, knowledge base), then its kind's
defaults (``KIND_DEFAULTS``: the chat model, the databases), then the fields set in
``default``, then its own override, e.g.
``SUPPORT_RESILIENCE__DEPENDENCIES='{"crm": {"timeout_s": 2, "max_attempts": 2}}'``.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field, PrivateAttr, model_validator
from pydantic_settings import NoDecode

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*\.?\d*)\s*([a-z]+)\s*$")
_PERIODS = {
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "m": 60.0,
    "min": 60.0,
    "minute": 60.0,
    "h": 3600.0,
    "hour": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
}


def _keyword_list(value: Any) -> Any:
    """Accept a list, a JSON list or a comma-separated string (handy in env files)."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


KeywordList = Annotated[list[str], NoDecode, BeforeValidator(_keyword_list)]


class RateLimit(BaseModel):
    """``limit`` calls per ``period_s``, with up to ``burst`` calls at once (GCRA)."""

    limit: int = Field(ge=1, description="Calls allowed per period.")
    period_s: float = Field(default=1.0, gt=0, description="Period length in seconds.")
    burst: int | None = Field(
        default=None, ge=1, description="Calls allowed back to back (default: limit)."
    )

    @model_validator(mode="before")
    @classmethod
    def _parse_text(cls, value: Any) -> Any:
        """Accept ``"10/s"``, ``"100/minute"``, ``"5/10s"``."""
        if not isinstance(value, str):
            return value
        match = _RATE.match(value.lower())
        unit = match.group(3).removesuffix("s") if match and match.group(3) != "s" else "s"
        if match is None or unit not in _PERIODS:
            raise ValueError(f"rate limit {value!r}: expected e.g. '10/s' or '100/minute'")
        multiple = float(match.group(2)) if match.group(2) else 1.0
        return {"limit": int(match.group(1)), "period_s": multiple * _PERIODS[unit]}

    @property
    def capacity(self) -> int:
        return self.burst or self.limit

    def divided(self, replicas: int) -> RateLimit:
        """The share of one replica, used while Redis (the shared counter) is down."""
        if replicas <= 1:
            return self
        return RateLimit(
            limit=max(1, self.limit // replicas),
            period_s=self.period_s,
            burst=max(1, self.capacity // replicas),
        )


class DependencyPolicy(BaseModel):
    """How calls to one dependency are bounded, retried, broken and limited."""

    timeout_s: float = Field(default=10.0, gt=0, le=600, description="Per-attempt timeout.")
    total_timeout_s: float = Field(
        default=30.0, gt=0, le=3600, description="Deadline for a call, retries included."
    )
    max_attempts: int = Field(default=3, ge=1, le=10, description="Attempts per call budget.")
    backoff_initial_s: float = Field(
        default=0.05, ge=0, le=60, description="First retry backoff (jittered, exponential)."
    )
    backoff_max_s: float = Field(default=2.0, ge=0, le=300, description="Longest backoff.")
    retry_on_codes: KeywordList = Field(
        default_factory=lambda: ["timeout", "dependency_error"],
        description="Error codes retried when the error is also marked retryable.",
    )
    fail_max: int = Field(
        default=5, ge=1, le=10_000, description="Consecutive failures that open the breaker."
    )
    reset_timeout_s: float = Field(
        default=30.0, gt=0, le=86_400, description="How long an open breaker stays open."
    )
    half_open_permits: int = Field(
        default=1, ge=1, le=100, description="Probe calls admitted cluster-wide when half-open."
    )
    success_threshold: int = Field(
        default=1, ge=1, le=100, description="Probe successes that close the breaker."
    )
    failure_rate_threshold: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="Open when this share of the sliding window failed (empty: off).",
    )
    slow_call_threshold_s: float | None = Field(
        default=None, gt=0, description="A call slower than this counts as slow (empty: off)."
    )
    slow_call_rate_threshold: float = Field(
        default=1.0, gt=0, le=1, description="Open when this share of the window was slow."
    )
    window_size: int = Field(default=100, ge=2, le=10_000, description="Sliding window calls.")
    minimum_calls: int = Field(
        default=20, ge=1, le=10_000, description="Calls needed before rates are judged."
    )
    excluded_codes: KeywordList = Field(
        default_factory=lambda: ["invalid_input", "not_found"],
        description="Error codes that are the caller's fault: never counted by the breaker.",
    )
    max_concurrent: int = Field(
        default=64, ge=1, le=100_000, description="Bulkhead: concurrent calls per process."
    )
    max_wait_s: float = Field(
        default=0.1, ge=0, le=60, description="Bulkhead: longest wait for a free slot."
    )
    rate_limit_session: RateLimit | None = Field(
        default=None, description="Per session (e.g. '5/s'); empty: unlimited."
    )
    rate_limit_tenant: RateLimit | None = Field(
        default=None, description="Per tenant; empty: unlimited."
    )
    rate_limit_tool: RateLimit | None = Field(
        default=None, description="Per tool for all callers together; empty: unlimited."
    )

    @property
    def rate_limited(self) -> bool:
        return bool(self.rate_limit_session or self.rate_limit_tenant or self.rate_limit_tool)


# The kind of each dependency the code calls; any other name is an HTTP-like service.
DEPENDENCY_KINDS: dict[str, str] = {"llm": "model", "memory": "database", "tickets": "database"}


def kind_defaults(kind: str | None, model_timeout_s: float) -> dict[str, Any]:
    """What a kind of dependency needs that the field defaults do not give it.

    - model: an answer may legitimately take as long as the model settings allow, so the
      attempt timeout is ``llm.timeout_s`` (streaming: the longest wait for the first
      token and between tokens) and the call gets room for retries on top. Only errors
      that are safe to re-send are retried (429 with its Retry-After, 5xx, a connection
      refused or reset before any byte: ``dependency_error``); a read timeout is not,
      since the server may still be generating and would bill the answer twice. One
      retry at most (the customer is waiting), and three failed calls open the breaker:
      the turn is then answered offline at once instead of waiting on a dead model.
    - database: a restart fails every in-flight statement at once, so consecutive
      failures say nothing; the breaker opens on a failure rate over a sliding window
      with a minimum of calls (resilience4j), and probes again after one second, so a
      short restart costs seconds rather than a long ``reset_timeout``.
    """
    if kind == "model":
        return {
            "timeout_s": model_timeout_s,
            "total_timeout_s": model_timeout_s + 30.0,
            "retry_on_codes": ["dependency_error"],
            "max_attempts": 2,
            "backoff_initial_s": 0.5,
            "backoff_max_s": 8.0,
            "fail_max": 3,
        }
    if kind == "database":
        return {
            "failure_rate_threshold": 0.5,
            "window_size": 50,
            "minimum_calls": 10,
            "fail_max": 10_000,  # the window decides, not a consecutive count
            "reset_timeout_s": 1.0,
        }
    return {}


class ResilienceConfig(BaseModel):
    default: DependencyPolicy = Field(
        default_factory=DependencyPolicy, description="Policy of every dependency."
    )
    dependencies: dict[str, DependencyPolicy] = Field(
        default_factory=dict,
        description='Per-dependency overrides as JSON, e.g. {"crm": {"timeout_s": 2}}.',
    )
    replicas: int = Field(
        default=1,
        ge=1,
        le=10_000,
        description="Processes sharing the limits; each takes limit/replicas while Redis is down.",
    )
    redis_poll_interval_s: float = Field(
        default=0.5, gt=0, le=60, description="Longest a breaker snapshot goes unrefreshed."
    )
    redis_probe_interval_s: float = Field(
        default=0.5, gt=0, le=60, description="How often an unreachable Redis is retried."
    )
    key_ttl_s: int = Field(
        default=86_400, ge=60, description="Expiry of breaker and rate-limit keys in Redis."
    )
    executor_max_workers: int = Field(
        default=8,
        ge=1,
        le=256,
        description="Threads for blocking dependency clients (the vector store) called from async code.",
    )

    @model_validator(mode="before")
    @classmethod
    def _merge_overrides(cls, data: Any) -> Any:
        """Overrides are partial: fill the fields they leave out from the default policy."""
        if not isinstance(data, dict):
            return data
        overrides = data.get("dependencies")
        if isinstance(overrides, str):
            overrides = json.loads(overrides)
        if not overrides:
            return data
        default = data.get("default") or {}
        if isinstance(default, BaseModel):
            default = default.model_dump(exclude_unset=True)
        merged = {}
        for name, override in overrides.items():
            if isinstance(override, BaseModel):
                override = override.model_dump(exclude_unset=True)
            merged[name] = {**default, **override}
        return {**data, "dependencies": merged}

    # Set from ``llm.timeout_s`` by the settings (not a setting of its own: one knob).
    _model_timeout_s: float = PrivateAttr(default=30.0)

    def with_model_timeout(self, timeout_s: float) -> ResilienceConfig:
        """This configuration with the chat model's per-request timeout."""
        config = self.model_copy()
        config._model_timeout_s = timeout_s
        return config

    def policy(self, dependency: str) -> DependencyPolicy:
        """The layers in order: field defaults, kind, ``default``, the dependency's own."""
        explicit = self.dependencies.get(dependency, self.default).model_dump(exclude_unset=True)
        kind = kind_defaults(DEPENDENCY_KINDS.get(dependency), self._model_timeout_s)
        if not kind:
            return self.dependencies.get(dependency, self.default)
        return DependencyPolicy.model_validate({**kind, **explicit})

"""Configuration models of the tool pack (composed into ``agent.settings.Settings``).

Plain Pydantic models, so ``tools`` never reads the environment: one section per tool family.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode


class KnowledgeBaseConfig(BaseModel):
    chunk_size: int = Field(
        default=1000,
        ge=100,
        le=8000,
        description="Characters per chunk (the local model reads ~256 tokens, about 1,000 chars).",
    )
    chunk_overlap: int = Field(
        default=150, ge=0, le=2000, description="Characters shared by neighbouring chunks."
    )
    default_k: int = Field(default=5, ge=1, le=50, description="Results when the model names no k.")
    max_k: int = Field(default=20, ge=1, le=100, description="Most results one search may ask for.")
    max_query_chars: int = Field(
        default=8000,
        ge=100,
        le=100_000,
        description="Longest query accepted; longer ones are cut into sub-queries, not refused.",
    )
    cache_ttl_s: float = Field(
        default=300.0,
        ge=0,
        le=86_400,
        description="Cached answers expire after this (0: no cache).",
    )
    cache_max_entries: int = Field(
        default=2048, ge=1, le=1_000_000, description="In-process cache size (without Redis)."
    )
    max_file_mb: float = Field(
        default=20.0, gt=0, le=1024, description="Larger files are reported and skipped by ingest."
    )
    hnsw_ef_search: int = Field(
        default=100, ge=10, le=2000, description="HNSW search breadth (set at collection creation)."
    )
    hnsw_ef_construction: int = Field(
        default=200, ge=10, le=2000, description="HNSW build breadth (set at collection creation)."
    )
    hnsw_max_neighbors: int = Field(
        default=32, ge=4, le=256, description="HNSW links per node (set at collection creation)."
    )

    @model_validator(mode="after")
    def _check(self) -> KnowledgeBaseConfig:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("chunk_overlap must be smaller than chunk_size")
        if self.default_k > self.max_k:
            raise ValueError("default_k must not exceed max_k")
        return self


Priority = Literal["low", "normal", "high", "urgent"]


def parse_word_list(value: Any) -> Any:
    """Accept a list, a JSON array or a comma-separated string (how operators write env vars)."""
    if isinstance(value, str):
        text = value.strip()
        value = json.loads(text) if text.startswith("[") else text.split(",")
    if isinstance(value, list | tuple):
        return [" ".join(str(item).casefold().split()) for item in value if str(item).strip()]
    return value


WordList = Annotated[list[str], NoDecode]


class CRMConfig(BaseModel):
    backend: Literal["sql", "http"] = Field(
        default="sql",
        description="sql: CRM tables in our database (load with `support-agent crm-load`); http: a CRM API.",
    )
    base_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s]+$",
        description="CRM API base URL (backend=http), e.g. https://crm.example.com/api/v1.",
    )
    api_key: SecretStr | None = Field(
        default=None, description="CRM API key, sent as a Bearer token (backend=http)."
    )
    timeout_s: float = Field(default=5.0, gt=0, le=120, description="CRM API read timeout.")
    connect_timeout_s: float = Field(
        default=2.0, gt=0, le=60, description="CRM API connect timeout."
    )
    max_connections: int = Field(
        default=20, ge=1, le=1000, description="Pooled connections to the CRM API."
    )
    max_results: int = Field(
        default=5, ge=1, le=50, description="Most customers one lookup returns to the model."
    )

    @model_validator(mode="after")
    def _http_needs_url(self) -> CRMConfig:
        if self.backend == "http" and not self.base_url:
            raise ValueError("crm.base_url is required with crm.backend=http")
        return self


_ANGER = [
    "unacceptable",
    "ridiculous",
    "furious",
    "outraged",
    "fed up",
    "sick of",
    "worst service",
    "worst company",
    "disgusting",
    "pathetic",
    "joke of a",
    "never buying",
    "very angry",
    "so angry",
]
_ABUSE = [
    "idiot",
    "idiots",
    "moron",
    "morons",
    "useless bot",
    "stupid bot",
    "you stupid",
    "you're stupid",
    "you are stupid",
    "shut up",
    "screw you",
    "fuck you",
    "fuck off",
    "piss off",
    "damn you",
    "scammers",
    "you scam*",
]
_PROFANITY = [
    "fuck*",
    "wtf",
    "shit*",
    "bullshit",
    "crap",
    "crappy",
    "damn",
    "ffs",
    "bloody hell",
]
_LEGAL = [
    "lawyer",
    "attorney",
    "lawsuit",
    "sue you",
    "sue your",
    "suing",
    "legal action",
    "small claims",
    "take you to court",
    "see you in court",
    "court case",
    "chargeback",
    "consumer protection",
    "better business bureau",
    "report you",
    "gdpr",
    "data protection",
]
_SAFETY = [
    "caught fire",
    "on fire",
    "fire hazard",
    "smoke came",
    "sparks",
    "exploded",
    "explode",
    "burned",
    "burnt my",
    "electric shock",
    "electrocuted",
    "injured",
    "injury",
    "hospital",
    "choking",
    "poisoned",
    "allergic reaction",
    "kill myself",
    "suicide",
    "self harm",
    "hurt myself",
]
_UNRESOLVED = [
    "still not working",
    "still doesn't work",
    "still does not work",
    "still broken",
    "still haven't",
    "still not",
    "didn't help",
    "did not help",
    "doesn't help",
    "not helpful",
    "that's not what i asked",
    "you already said",
    "i already told you",
    "same problem",
    "again and again",
    "third time",
    "not resolved",
    "nothing works",
]


class EscalationConfig(BaseModel):
    webhook_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s]+$",
        description="POST each new ticket here (empty: tickets stay in the database only).",
    )
    webhook_secret: SecretStr | None = Field(
        default=None,
        description="HMAC-SHA256 key; the webhook body is signed in the X-Support-Signature header.",
    )
    webhook_timeout_s: float = Field(
        default=5.0, gt=0, le=60, description="Per-attempt webhook timeout."
    )
    sla_minutes: dict[Priority, int] = Field(
        default_factory=lambda: {"urgent": 60, "high": 240, "normal": 1440, "low": 4320},
        description="Time to first human response per priority (minutes), sets the SLA due time.",
    )
    human_request_phrases: WordList = Field(
        default_factory=list,
        description=(
            "Extra phrases that ask for a human, on top of the built-in request grammar "
            "(list, JSON array or comma-separated)."
        ),
    )
    anger_words: WordList = Field(
        default_factory=lambda: list(_ANGER), description="Words and phrases of anger."
    )
    abuse_words: WordList = Field(
        default_factory=lambda: list(_ABUSE), description="Insults aimed at us or the bot."
    )
    profanity_words: WordList = Field(
        default_factory=lambda: list(_PROFANITY),
        description="Swearing: abuse unless the message is praise ('fucking brilliant, thanks').",
    )
    legal_words: WordList = Field(
        default_factory=lambda: list(_LEGAL), description="Legal threats and regulator names."
    )
    safety_words: WordList = Field(
        default_factory=lambda: list(_SAFETY),
        description="Injury, fire and self-harm phrases (always urgent).",
    )
    unresolved_phrases: WordList = Field(
        default_factory=lambda: list(_UNRESOLVED),
        description="Phrases saying an earlier answer did not solve the problem.",
    )
    repeated_failure_threshold: int = Field(
        default=2,
        ge=1,
        le=20,
        description="Unresolved turns or failed tool calls before escalating.",
    )
    critical_dependencies: WordList = Field(
        default_factory=lambda: ["crm", "llm"],
        description="Dependencies whose open circuit breaker escalates the conversation.",
    )

    @field_validator(
        "human_request_phrases",
        "anger_words",
        "abuse_words",
        "profanity_words",
        "legal_words",
        "safety_words",
        "unresolved_phrases",
        "critical_dependencies",
        mode="before",
    )
    @classmethod
    def _word_list(cls, value: Any) -> Any:
        return parse_word_list(value)

    @field_validator("sla_minutes", mode="before")
    @classmethod
    def _sla_json(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _every_priority_has_sla(self) -> EscalationConfig:
        missing = {"low", "normal", "high", "urgent"} - set(self.sla_minutes)
        if missing:
            raise ValueError(f"escalation.sla_minutes lacks {sorted(missing)}")
        if any(minutes <= 0 for minutes in self.sla_minutes.values()):
            raise ValueError("escalation.sla_minutes values must be positive")
        return self

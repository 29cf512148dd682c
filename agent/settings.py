"""The one settings object of the process.

Built once at start-up (``Settings()`` reads ``SUPPORT_*`` variables and ``.env``), validated,
then passed down; no other module reads the environment. Secrets are ``SecretStr`` and may be
given as references, ``env://NAME`` or ``file:///path``, resolved here so the value never sits
in a config file. In production, plaintext secrets and SQLite are refused. A ``SUPPORT_*``
variable that names no setting is refused too.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal, get_origin

from pydantic import BaseModel, Field, SecretStr, ValidationError, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from graphs.support.model import ChatModelConfig
from storage.config import (
    ChromaConfig,
    DatabaseConfig,
    EmbeddingConfig,
    EncryptionConfig,
    MemoryConfig,
    RedisConfig,
)
from storage.ids import ID_PATTERN
from storage.sealing import Keyring, SealingError
from tools.config import CRMConfig, EscalationConfig, KnowledgeBaseConfig
from tools.resilience.config import ResilienceConfig

SECRET_SCHEMES = ("env://", "file://")
ENV_PREFIX = "SUPPORT_"
ENV_DELIMITER = "__"


class SettingsError(ValueError):
    """Raised for a configuration that must not start; names the offending setting."""


class ObservabilityConfig(BaseModel):
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Log level."
    )
    log_format: Literal["auto", "json", "console"] = Field(
        default="auto", description="Log rendering (auto: console on a terminal, else JSON)."
    )
    library_log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO",
        description="Floor for third-party loggers that print customer text at DEBUG.",
    )
    otlp_endpoint: str | None = Field(
        default=None, description="OTLP/HTTP endpoint for traces (empty: no exporter)."
    )
    langsmith_tracing: bool = Field(default=False, description="Send traces to LangSmith.")
    langsmith_api_key: SecretStr | None = Field(default=None, description="LangSmith API key.")
    langsmith_project: str = Field(default="support-agent", description="LangSmith project.")


class AuthConfig(BaseModel):
    """Who may call the LangGraph server (``agent/auth.py``); empty: every request is refused."""

    api_keys: SecretStr | None = Field(
        default=None,
        description='API keys, stored hashed: a JSON list of {"sha256": ..., "tenant_id": ..., '
        '"user_id": ..., "role": "customer|agent|admin"} (make entries with `support-agent '
        "api-key`); give it as file:///run/secrets/NAME or env://NAME.",
    )
    jwt_key: SecretStr | None = Field(
        default=None,
        description="Verification key for JWT bearer tokens: a PEM public key (or an HMAC "
        "secret with HS256). Claims: sub (user), tenant_id, role.",
    )
    jwt_algorithms: list[str] = Field(
        default_factory=lambda: ["RS256", "ES256"], description="Accepted JWT algorithms."
    )
    jwt_audience: str | None = Field(default=None, description="Required JWT audience.")
    jwt_issuer: str | None = Field(default=None, description="Required JWT issuer.")


class ServerConfig(BaseModel):
    """The LangGraph server that holds conversations, for ``export`` and ``purge``."""

    url: str | None = Field(
        default=None,
        description="LangGraph server URL (empty: no server; conversations live only in the "
        "checkpointer of the configured database).",
    )
    api_key: SecretStr | None = Field(
        default=None,
        description="An admin API key of the tenant to export or purge (empty: connect as "
        "LangGraph Studio, which only a `langgraph dev` server accepts).",
    )


class _WellKnownURLs(PydanticBaseSettingsSource):
    """Reads the conventional ``DATABASE_URL`` / ``REDIS_URL`` that platforms inject."""

    NAMES: ClassVar[dict[str, str]] = {"DATABASE_URL": "database", "REDIS_URL": "redis"}

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for env_name, section in self.NAMES.items():
            value = os.environ.get(env_name)
            if value:
                found[section] = {"url": value}
        return found


class Settings(BaseSettings):
    """Every setting of the process; see ``.env.example`` for the full list."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_DELIMITER,
        env_file=".env",
        extra="ignore",
        validate_default=True,
    )

    environment: Literal["development", "test", "production"] = Field(
        default="development", description="production refuses plaintext secrets and SQLite."
    )
    data_dir: Path = Field(
        default=Path(".data"), description="Where embedded SQLite and Chroma keep their files."
    )
    tenant_id: str = Field(
        default="default",
        pattern=ID_PATTERN,
        description="Tenant used when a caller does not name one (CLI, demo).",
    )
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    redis: RedisConfig = Field(default_factory=RedisConfig)
    chroma: ChromaConfig = Field(default_factory=ChromaConfig)
    embeddings: EmbeddingConfig = Field(default_factory=EmbeddingConfig)
    llm: ChatModelConfig = Field(default_factory=ChatModelConfig)
    knowledge_base: KnowledgeBaseConfig = Field(default_factory=KnowledgeBaseConfig)
    crm: CRMConfig = Field(default_factory=CRMConfig)
    escalation: EscalationConfig = Field(default_factory=EscalationConfig)
    memory: MemoryConfig = Field(default_factory=MemoryConfig)
    encryption: EncryptionConfig = Field(default_factory=EncryptionConfig)
    resilience: ResilienceConfig = Field(default_factory=ResilienceConfig)
    observability: ObservabilityConfig = Field(default_factory=ObservabilityConfig)
    auth: AuthConfig = Field(default_factory=AuthConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            _WellKnownURLs(settings_cls),
            dotenv_settings,
            file_secret_settings,
        )

    @model_validator(mode="after")
    def _resolve(self) -> Settings:
        in_file = DotEnvSettingsSource(type(self)).env_vars
        unknown = unknown_variables(type(self), os.environ) + [
            f"{name.upper()} (in .env)" for name in unknown_variables(type(self), in_file)
        ]
        if unknown:
            raise SettingsError(
                f"{', '.join(unknown)}: no such setting (misspelt or renamed? see .env.example)"
            )
        _resolve_secrets(self, "", production=self.environment == "production")
        if self.database.url is None:
            self.database.url = f"sqlite:///{self.data_dir / 'support.db'}"
        if self.chroma.persist_dir is None:
            self.chroma.persist_dir = self.data_dir / "chroma"
        self.resilience = self.resilience.with_model_timeout(self.llm.timeout_s)
        if self.environment == "production" and self.database.url.startswith("sqlite"):
            raise SettingsError(
                "database.url: SQLite is not allowed with environment=production; "
                "set SUPPORT_DATABASE__URL (or DATABASE_URL) to a PostgreSQL URL"
            )
        if self.environment == "production" and self.encryption.keys is None:
            raise SettingsError(
                "encryption.keys: required with environment=production (customer text is "
                "encrypted at rest); set SUPPORT_ENCRYPTION__KEYS to env://NAME or file:///path"
            )
        try:
            Keyring(self.encryption.keys)
        except SealingError as exc:
            raise SettingsError(exc.message) from exc
        return self


def setting_fields(
    model: type[BaseModel], prefix: str = ENV_PREFIX
) -> Iterator[tuple[str, FieldInfo]]:
    """(variable, field) of every leaf setting; a nested model is walked, not yielded."""
    for name, field in model.model_fields.items():
        variable = f"{prefix}{name.upper()}"
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from setting_fields(annotation, f"{variable}{ENV_DELIMITER}")
        else:
            yield variable, field


def unknown_variables(model: type[BaseModel], names: Iterable[str]) -> list[str]:
    """``SUPPORT_*`` variables that name no setting.

    pydantic-settings ignores them, so a typo or a renamed setting would leave the default
    in force without a word. A section may be given whole (as JSON), and below a setting
    that holds a mapping any key is data, not a setting name.
    """
    leaves = dict(setting_fields(model))
    sections = {
        ENV_DELIMITER.join(parts[:depth])
        for parts in (leaf.split(ENV_DELIMITER) for leaf in leaves)
        for depth in range(1, len(parts))
    }
    mappings = [leaf for leaf, field in leaves.items() if get_origin(field.annotation) is dict]

    def known(name: str) -> bool:
        name = name.upper()
        return (
            name in leaves
            or name in sections
            or any(name.startswith(f"{leaf}{ENV_DELIMITER}") for leaf in mappings)
        )

    return sorted(name for name in names if name.upper().startswith(ENV_PREFIX) and not known(name))


def resolve_secret_reference(value: str, setting: str) -> str:
    """Return the secret an ``env://NAME`` or ``file:///path`` reference points to."""
    if value.startswith("env://"):
        name = value.removeprefix("env://")
        if name not in os.environ:
            raise SettingsError(f"{setting}: environment variable {name!r} is not set")
        return os.environ[name]
    path = Path(value.removeprefix("file://"))
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SettingsError(
            f"{setting}: cannot read secret file {str(path)!r} ({exc.strerror})"
        ) from None


def _resolve_secrets(model: BaseModel, prefix: str, *, production: bool) -> None:
    for name in type(model).model_fields:
        value = getattr(model, name)
        setting = f"{prefix}{name}"
        if isinstance(value, BaseModel):
            _resolve_secrets(value, f"{setting}.", production=production)
        elif isinstance(value, SecretStr):
            raw = value.get_secret_value()
            if raw.startswith(SECRET_SCHEMES):
                object.__setattr__(model, name, SecretStr(resolve_secret_reference(raw, setting)))
            elif production and raw:
                raise SettingsError(
                    f"{setting}: plaintext secrets are refused with environment=production; "
                    "give it as env://NAME or file:///path"
                )


def load_settings(**overrides: Any) -> Settings:
    """Build the settings, turning validation failures into one error that echoes no input.

    Pydantic's own message repeats the input values, which may hold a secret.
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for error in exc.errors(include_input=False, include_url=False):
            location = ".".join(str(part) for part in error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            lines.append(f"{location}: {message}" if location else message)
        raise SettingsError("invalid configuration:\n  " + "\n  ".join(lines)) from None

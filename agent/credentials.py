"""Credentials the LangGraph server accepts, and who each one is.

- **API keys**, stored only as SHA-256 digests (keys are 256-bit random tokens, so a fast
  hash is enough and a leaked key list reveals no key). Each maps to a tenant, a user and a
  role. ``new_api_key`` makes a key and the entry to add to ``SUPPORT_AUTH__API_KEYS``.
- **JWT bearer tokens** (optional), verified with PyJWT against ``SUPPORT_AUTH__JWT_KEY``:
  signature, expiry, and audience/issuer when configured. ``sub`` is the user, ``tenant_id``
  and ``role`` are claims.

Every id follows ``storage.ids``; a credential naming an invalid id or role is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any

import jwt
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.settings import AuthConfig
from storage.ids import Identifier, key
from tools.runtime import Role

KEY_PREFIX = "sk-support-"


class InvalidCredentials(Exception):
    """The credential is missing, unknown, expired or malformed; the message says which."""


class Principal(BaseModel):
    """An authenticated caller."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    tenant_id: Identifier
    user_id: Identifier
    role: Role = "customer"

    @property
    def identity(self) -> str:
        """Unique across tenants (the server's owner filters compare it)."""
        return key(self.tenant_id, self.user_id)


class _KeyEntry(Principal):
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


def digest(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def new_api_key(tenant_id: str, user_id: str, role: Role) -> tuple[str, dict[str, Any]]:
    """A fresh key, and its entry for the key list (which holds no key, only its digest)."""
    principal = Principal(tenant_id=tenant_id, user_id=user_id, role=role)
    api_key = KEY_PREFIX + secrets.token_urlsafe(32)
    return api_key, {"sha256": digest(api_key), **principal.model_dump()}


@dataclass(frozen=True)
class Verifier:
    keys: dict[str, Principal]
    jwt_key: str | None
    config: AuthConfig

    @classmethod
    def from_config(cls, config: AuthConfig) -> Verifier:
        raw = config.api_keys.get_secret_value() if config.api_keys else "[]"
        try:
            entries = [_KeyEntry.model_validate(item) for item in json.loads(raw)]
        except (ValueError, TypeError, ValidationError) as exc:
            raise ValueError(
                f"SUPPORT_AUTH__API_KEYS is not a JSON list of key entries ({type(exc).__name__})"
            ) from None
        keys = {entry.sha256: Principal.model_validate(entry.model_dump()) for entry in entries}
        jwt_key = config.jwt_key.get_secret_value() if config.jwt_key else None
        return cls(keys, jwt_key, config)

    def verify(self, credential: str | None) -> Principal:
        """The principal of an API key or a JWT; ``InvalidCredentials`` otherwise."""
        if not credential:
            raise InvalidCredentials("missing credentials: send Authorization: Bearer <key>")
        if credential.startswith(KEY_PREFIX):
            return self._api_key(credential)
        if self.jwt_key is not None and credential.count(".") == 2:
            return self._jwt(credential)
        raise InvalidCredentials("unknown credentials")

    def _api_key(self, api_key: str) -> Principal:
        wanted = digest(api_key)
        for known, principal in self.keys.items():
            if hmac.compare_digest(known, wanted):
                return principal
        raise InvalidCredentials("unknown API key")

    def _jwt(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self.jwt_key,
                algorithms=self.config.jwt_algorithms,
                audience=self.config.jwt_audience,
                issuer=self.config.jwt_issuer,
                options={"require": ["exp", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidCredentials("the token has expired") from None
        except jwt.InvalidTokenError:
            raise InvalidCredentials("the token is not valid") from None
        try:
            return Principal(
                tenant_id=claims.get("tenant_id"),
                user_id=claims["sub"],
                role=claims.get("role", "customer"),
            )
        except ValidationError:
            raise InvalidCredentials("the token's tenant_id, sub or role is malformed") from None

"""Customer text at rest, sealed with a per-tenant data key (envelope encryption).

Each tenant gets 64 random bytes in ``tenant_keys``: an AES-256-GCM key for text and vectors
and an HMAC key for the hashes dedup compares. The row holds them only wrapped (Fernet) by the
key-encryption key from the settings (``encryption.keys``), so a copy of the database or a
backup reveals no customer's words without the settings' secret. Several keys may be given,
newest first (``MultiFernet``): data keys wrapped by an older one stay readable, new ones are
wrapped by the newest, and ``rewrap`` moves every data key to the newest so the old one can go.
Deleting a tenant's row (``destroy``) erases that tenant's data in every copy and backup at
once: values sealed under a key that no longer exists read as erased (``None``).

Encryption off (the embedded demo): ``PLAIN`` stores values as they are and hashes with plain
sha256, through the same calls, so stores have one code path. Sealed values carry a header
(version, key id), so rows written before encryption was turned on stay readable.
The key is read in the caller's transaction on every call (one primary-key lookup): no
process keeps a tenant's key after it is destroyed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr
from sqlalchemy import Connection, Insert, LargeBinary, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import Field, SQLModel

from storage.ids import validate_id

VERSION = b"\x01"
KEY_ID_BYTES = 8
NONCE_BYTES = 12
OVERHEAD = len(VERSION) + KEY_ID_BYTES + NONCE_BYTES + 16  # + the GCM tag
TEXT_PREFIX = "sealed1:"
SEALED_FIELD = "sealed"
SETTING = "encryption.keys"


class SealingError(Exception):
    """A sealed value or a data key cannot be opened with the configured keys."""

    code = "encryption_error"
    retryable = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TenantKeyRow(SQLModel, table=True):
    __tablename__ = "tenant_keys"

    tenant_id: str = Field(primary_key=True, max_length=128)
    key_id: str = Field(max_length=2 * KEY_ID_BYTES)
    wrapped: bytes = Field(sa_type=LargeBinary)
    created_at: float


tenant_keys = TenantKeyRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class TenantKey:
    """One tenant's data key, or ``PLAIN`` (no key: values pass through, plain sha256)."""

    key_id: bytes
    secret: bytes = field(repr=False)
    # Built once per key: constructing it costs as much as opening a vector, and a recall
    # opens every vector of the customer (100 vectors: 300 µs with one per call, 150 µs shared).
    cipher: AESGCM | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cipher", AESGCM(self.secret[:32]) if self.key_id else None)

    @property
    def sealing(self) -> bool:
        return bool(self.key_id)

    def digest(self, text: str) -> str:
        """The dedup hash: HMAC-SHA256 under the tenant's key (sha256 without one)."""
        if not self.sealing:
            return hashlib.sha256(text.encode()).hexdigest()
        return hmac.new(self.secret[32:], text.encode(), hashlib.sha256).hexdigest()

    def token(self, name: str) -> str:
        """A short keyed stand-in for a name the database compares but must not show (a
        slot key such as ``allergy:latex``); the name itself without encryption."""
        if not self.sealing:
            return name
        return hmac.new(self.secret[32:], b"token\x00" + name.encode(), hashlib.sha256).hexdigest()[
            :16
        ]

    @property
    def hash_key(self) -> bytes:
        """Key for other keyed fingerprints (SimHash shingles); empty without encryption."""
        return self.secret[32:]

    def seal(self, data: bytes) -> bytes:
        if self.cipher is None:
            return data
        header = VERSION + self.key_id
        nonce = os.urandom(NONCE_BYTES)
        return header + nonce + self.cipher.encrypt(nonce, data, header)

    def open(self, data: bytes) -> bytes | None:
        """The plaintext of a value ``seal`` wrote; ``None`` if its key was destroyed."""
        header = data[: len(VERSION) + KEY_ID_BYTES]
        if self.cipher is None or header[1:] != self.key_id:
            return None
        body = data[len(header) :]
        try:
            return self.cipher.decrypt(body[:NONCE_BYTES], body[NONCE_BYTES:], header)
        except InvalidTag as exc:
            raise SealingError("a sealed value failed authentication (altered?)") from exc

    def seal_text(self, text: str) -> str:
        if not self.sealing:
            return text
        return TEXT_PREFIX + base64.b64encode(self.seal(text.encode())).decode("ascii")

    def open_text(self, value: str) -> str | None:
        if not value.startswith(TEXT_PREFIX):
            return value  # written with encryption off
        opened = self.open(base64.b64decode(value[len(TEXT_PREFIX) :]))
        return None if opened is None else opened.decode()

    def seal_json(self, value: dict[str, Any]) -> dict[str, Any]:
        """A JSON column's value as ``{"sealed": token}`` (the column keeps its type)."""
        if not self.sealing:
            return value
        return {SEALED_FIELD: self.seal_text(json.dumps(value, separators=(",", ":")))}

    def open_json(self, value: dict[str, Any]) -> dict[str, Any] | None:
        token = value.get(SEALED_FIELD) if len(value) == 1 else None
        if not isinstance(token, str) or not token.startswith(TEXT_PREFIX):
            return value  # written with encryption off
        opened = self.open_text(token)
        return None if opened is None else json.loads(opened)

    def open_sized(self, data: bytes, plain_size: int) -> bytes | None:
        """A fixed-size value (a vector): plaintext if stored unsealed, else opened."""
        if len(data) == plain_size:
            return data
        if len(data) != plain_size + OVERHEAD:
            return None
        return self.open(data)


PLAIN = TenantKey(key_id=b"", secret=b"")


class Keyring:
    """The key-encryption keys from the settings, and the ``tenant_keys`` statements."""

    def __init__(self, keys: SecretStr | None) -> None:
        raw = [] if keys is None else keys.get_secret_value().split(",")
        try:
            fernets = [Fernet(key.strip()) for key in raw if key.strip()]
        except ValueError as exc:
            raise SealingError(
                f"{SETTING}: each key must be a Fernet key (32 url-safe base64 bytes)"
            ) from exc
        self._kek = MultiFernet(fernets) if fernets else None

    @property
    def enabled(self) -> bool:
        return self._kek is not None

    def __repr__(self) -> str:
        return f"Keyring(enabled={self.enabled})"

    def _new_row(self, tenant_id: str, now: float) -> dict[str, object]:
        assert self._kek is not None
        return {
            "tenant_id": tenant_id,
            "key_id": os.urandom(KEY_ID_BYTES).hex(),
            "wrapped": self._kek.encrypt(os.urandom(64)),
            "created_at": now,
        }

    def _unwrap(self, row: object) -> TenantKey:
        assert self._kek is not None
        try:
            secret = self._kek.decrypt(bytes(row.wrapped))  # type: ignore[attr-defined]
        except InvalidToken as exc:
            raise SealingError(
                f"a data key in tenant_keys is wrapped by a key not in {SETTING} "
                "(removed too early?)"
            ) from exc
        return TenantKey(key_id=bytes.fromhex(row.key_id), secret=secret)  # type: ignore[attr-defined]

    def key_for(self, connection: Connection, tenant_id: str, now: float) -> TenantKey:
        """The tenant's data key, created on first use, read in the caller's transaction."""
        if self._kek is None:
            return PLAIN
        row = connection.execute(_SELECT, {"tenant_id": tenant_id}).one_or_none()
        if row is None:
            connection.execute(_insert(connection.dialect.name), self._new_row(tenant_id, now))
            row = connection.execute(_SELECT, {"tenant_id": tenant_id}).one()
        return self._unwrap(row)

    async def akey_for(self, connection: AsyncConnection, tenant_id: str, now: float) -> TenantKey:
        if self._kek is None:
            return PLAIN
        row = (await connection.execute(_SELECT, {"tenant_id": tenant_id})).one_or_none()
        if row is None:
            new_row = self._new_row(tenant_id, now)
            await connection.execute(_insert(connection.dialect.name), new_row)
            row = (await connection.execute(_SELECT, {"tenant_id": tenant_id})).one()
        return self._unwrap(row)

    def rewrap(self, connection: Connection) -> int:
        """Wrap every data key with the newest key-encryption key; returns keys rewrapped."""
        if self._kek is None:
            return 0
        rows = connection.execute(select(tenant_keys.c.tenant_id, tenant_keys.c.wrapped)).all()
        for tenant_id, wrapped in rows:
            connection.execute(
                update(tenant_keys)
                .where(tenant_keys.c.tenant_id == tenant_id)
                .values(wrapped=self._kek.rotate(bytes(wrapped)))
            )
        return len(rows)


def destroy(connection: Connection, tenant_id: str) -> bool:
    """Crypto-erase a tenant: its sealed values become unreadable everywhere, backups too.

    Only a tenant's key: ``tenant_id`` must follow the id rule, which the reserved rows of
    ``tenant_keys`` (the checkpoint key, ``#checkpoints``) break, so no typo erases every
    conversation at once."""
    tenant_id = validate_id("tenant_id", tenant_id)
    deleted = connection.execute(delete(tenant_keys).where(tenant_keys.c.tenant_id == tenant_id))
    return deleted.rowcount > 0


_SELECT = select(tenant_keys.c.key_id, tenant_keys.c.wrapped).where(
    tenant_keys.c.tenant_id == bindparam("tenant_id")
)


def _insert(dialect: str) -> Insert:
    """INSERT that leaves a concurrent writer's key in place (the SELECT after it reads it)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(tenant_keys).on_conflict_do_nothing(index_elements=["tenant_id"])

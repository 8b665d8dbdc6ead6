"""API keys: created once, shown once, stored only as a hash; scoped to users; admin for the library.

A key looks like ``vr_<12 hex id>_<64 hex secret>``: 256 random bits from :mod:`secrets`. At rest
the table keeps the id, the SHA-256 of the whole key, the users it may act for, and whether it is an
admin key. SHA-256 (not bcrypt/argon2) is the right hash here: slow, salted hashes exist to make
guessing *low-entropy human passwords* expensive, but nobody can enumerate 2^256 random secrets, so a
fast hash loses no security while every request verifies in microseconds instead of ~100 ms of CPU
(which on a 2-core server would cap the API at ~20 requests/s). The id in the key finds the row by
primary key; the hash is compared in constant time.

Scopes: a key may read and change the data of the users it was created for (403 for any other
user); an admin key may do that for every user and may also change the library (ingest, remove).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Boolean, DateTime, String, Text, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from api.db import ApiBase, ensure_tables, make_engine
from retrieval.errors import (
    AuthenticationError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)

log = logging.getLogger(__name__)

KEY_PREFIX = "vr"
_KEY_RE = re.compile(r"^vr_([0-9a-f]{12})_([0-9a-f]{64})$")
MAX_USER_ID = 200
_LAST_USED_EVERY = timedelta(minutes=1)  # at most one write per key per minute


class ApiKeyRow(ApiBase):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(12), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    users: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of user ids
    admin: Mapped[bool] = mapped_column(Boolean, default=False)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key id and what it may touch."""

    key_id: str
    users: frozenset[str]
    admin: bool = False

    def can_access(self, user_id: str) -> bool:
        return self.admin or user_id in self.users

    def check_user(self, user_id: str) -> None:
        """Raise 403 unless this key may act for ``user_id``."""
        if not self.can_access(user_id):
            allowed = ", ".join(sorted(self.users)) or "no users"
            raise PermissionDeniedError(
                f"This API key may not access the data of user {user_id!r}",
                expected=f"one of the key's users ({allowed})",
                got=repr(user_id),
                hint="Use a key created with `vidrec keys create --user <id>`, or an admin key",
            )

    def check_admin(self, what: str) -> None:
        if not self.admin:
            raise PermissionDeniedError(
                f"Only admin keys may {what}",
                expected="an admin key",
                got=f"user key {self.key_id}",
                hint="Create one with `vidrec keys create --admin`",
            )

    def default_user(self, user_id: str | None) -> str:
        """The user a call acts for: the given one (checked), or the key's only user."""
        if user_id:
            self.check_user(user_id)
            return user_id
        if len(self.users) == 1:
            return next(iter(self.users))
        raise InvalidInputError(
            "Which user is this for?",
            expected="a user id (`user_id`, or `user` in chat completions)",
            got="nothing",
            hint="Pass the user id; a key with exactly one user uses that one by default",
        )


LOCAL_ADMIN = Principal(key_id="local", users=frozenset(), admin=True)
"""The principal when keys are not required (``api.require_keys = false``) and for stdio MCP."""


@dataclass(frozen=True)
class KeyInfo:
    """A key as listed (never the secret)."""

    id: str
    users: tuple[str, ...]
    admin: bool
    label: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True)
class NewKey:
    """A freshly created key: ``secret`` is the only copy anywhere."""

    info: KeyInfo
    secret: str


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def extract_key(headers: Mapping[str, str]) -> str | None:
    """The key from ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``."""
    auth = headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    key = headers.get("x-api-key")
    return key.strip() if key and key.strip() else None


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _check_user_id(user_id: str) -> str:
    value = user_id.strip() if isinstance(user_id, str) else ""
    if not value or len(value) > MAX_USER_ID:
        raise InvalidInputError(
            "Invalid user id for an API key",
            expected=f"a non-empty id of at most {MAX_USER_ID} characters",
            got=repr(user_id),
        )
    return value


class KeyStore:
    """API keys in SQL (thread-safe)."""

    def __init__(self, url: str, *, engine: Engine | None = None) -> None:
        self._engine = engine or make_engine(url)
        ensure_tables(self._engine)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)

    def close(self) -> None:
        self._engine.dispose()

    @staticmethod
    def _info(row: ApiKeyRow) -> KeyInfo:
        return KeyInfo(
            id=row.id,
            users=tuple(json.loads(row.users or "[]")),
            admin=bool(row.admin),
            label=row.label or "",
            created_at=_utc(row.created_at) or datetime.now(UTC),
            revoked_at=_utc(row.revoked_at),
            last_used_at=_utc(row.last_used_at),
        )

    def create(self, users: Iterable[str] = (), *, admin: bool = False, label: str = "") -> NewKey:
        """Create a key for ``users`` (and/or admin); the returned secret is shown once."""
        user_ids = sorted({_check_user_id(u) for u in users})
        if not user_ids and not admin:
            raise InvalidInputError(
                "A key needs at least one user or --admin",
                expected="--user <id> (repeatable) and/or --admin",
                got="neither",
            )
        key_id = secrets.token_hex(6)
        secret = f"{KEY_PREFIX}_{key_id}_{secrets.token_hex(32)}"
        row = ApiKeyRow(
            id=key_id,
            key_hash=hash_key(secret),
            users=json.dumps(user_ids),
            admin=admin,
            label=label[:200],
            created_at=datetime.now(UTC),
        )
        with self._sessions.begin() as db:
            db.add(row)
        log.info("created API key %s (users=%s admin=%s)", key_id, user_ids, admin)
        return NewKey(info=self._info(row), secret=secret)

    def list(self) -> list[KeyInfo]:
        with self._sessions() as db:
            rows = db.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at)).all()
            return [self._info(r) for r in rows]

    def revoke(self, key_id: str) -> KeyInfo:
        with self._sessions.begin() as db:
            row = db.get(ApiKeyRow, key_id)
            if row is None:
                raise NotFoundError(
                    f"No API key with id {key_id!r}",
                    hint="List the keys with `vidrec keys list`",
                )
            if row.revoked_at is None:
                row.revoked_at = datetime.now(UTC)
            info = self._info(row)
        log.info("revoked API key %s", key_id)
        return info

    def verify(self, key: str | None) -> Principal:
        """The principal for ``key``; ``AuthenticationError`` (401) when missing, unknown or revoked."""
        if not key:
            raise AuthenticationError(
                "An API key is required",
                expected="a header 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
                got="no key",
                hint="Ask the operator for a key (`vidrec keys create --user <id>`)",
            )
        match = _KEY_RE.match(key)
        row = None
        if match:
            with self._sessions() as db:
                row = db.get(ApiKeyRow, match.group(1))
        if row is None or not hmac.compare_digest(row.key_hash, hash_key(key)):
            raise AuthenticationError(
                "The API key is not valid",
                expected="a key created by `vidrec keys create` (vr_<id>_<secret>)",
                got="an unknown key",
                hint="Check you copied the whole key",
            )
        if row.revoked_at is not None:
            raise AuthenticationError(
                f"The API key {row.id} was revoked",
                expected="an active key",
                got="a revoked key",
                hint="Ask the operator for a new key",
            )
        self._touch(row)
        return Principal(
            key_id=row.id, users=frozenset(json.loads(row.users or "[]")), admin=bool(row.admin)
        )

    def _touch(self, row: ApiKeyRow) -> None:
        now = datetime.now(UTC)
        last = _utc(row.last_used_at)
        if last is not None and now - last < _LAST_USED_EVERY:
            return
        try:
            with self._sessions.begin() as db:
                db.execute(update(ApiKeyRow).where(ApiKeyRow.id == row.id).values(last_used_at=now))
        except Exception:  # bookkeeping only: never fail a request over it
            log.warning("could not record last use of key %s", row.id, exc_info=True)

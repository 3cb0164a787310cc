"""Signed tracking links for any email: build, read and check open and click URLs.

Every token is signed (HMAC-SHA256) or, with encryption keys, sealed with Fernet
(AES with an HMAC-SHA256, so recipients cannot read the metadata either). A token
that was forged, tampered with, truncated, signed with a retired key or past its
expiry is refused: nobody can make this service redirect to a site of their
choosing or record an event that was never sent.

    tracker = Tracker("https://pixel.example.com", keys=["a long random secret"])
    tracker.open_url({"ticket_id": 42, "campaign": "november"})
    tracker.click_url("https://example.com/offer", {"campaign": "november"})
    tracker.opt_out_url({"recipient": "ann@example.com"})  # the recipient stops being tracked
    tracker.decode(token)  # -> Link(meta={...}, target="https://example.com/offer")
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from itsdangerous import BadSignature, URLSafeSerializer

OPEN_PREFIX = "/o/"
CLICK_PREFIX = "/c/"
OPT_OUT_PREFIX = "/opt-out/"
_SALT = "tracking-link"
_FERNET_START = "gAAAAA"  # every Fernet token starts with its version byte, 0x80
# Whitespace, control characters and backslashes: browsers and header writers read them differently.
_UNSAFE = re.compile(r"[\s\x00-\x1f\x7f\\]")
# Letters (any script), digits, dots and hyphens, or an IPv6 literal: no %-escapes, no header tricks.
_HOST = re.compile(r"[\w.-]+|[0-9a-f:.]+")
META_MAX = 4000  # characters of a link's metadata as the service stores it (see stored_meta)


class TokenError(ValueError):
    """A token this service did not issue, or no longer honours."""


class TargetError(ValueError):
    """A click target that is not a plain absolute http(s) URL."""


class MetaTooLong(ValueError):
    """Metadata whose stored form would not fit the service's store."""


def stored_meta(meta: dict) -> str:
    """The JSON a link's metadata is stored as."""
    return json.dumps(meta)


@dataclass(frozen=True)
class Link:
    """What a token carries."""

    meta: dict
    target: str | None = None  # where a click goes; None for an open


@dataclass(frozen=True)
class Tracker:
    """Builds and reads tracking URLs for one service address and set of keys."""

    base_url: str
    keys: tuple[str, ...] = field(repr=False)  # newest first: the first signs, all verify
    encryption_keys: tuple[str, ...] = field(default=(), repr=False)  # Fernet keys, newest first
    default_meta: dict = field(default_factory=dict)  # carried by every link unless overridden
    _signer: URLSafeSerializer = field(init=False, repr=False, compare=False)
    _sealer: MultiFernet | None = field(init=False, repr=False, compare=False)
    _verified: object = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if not self.keys:
            raise ValueError("a Tracker needs at least one signing key")
        # itsdangerous signs with the last key of the list and verifies with all.
        signer = URLSafeSerializer(
            list(reversed(self.keys)), salt=_SALT, signer_kwargs={"digest_method": hashlib.sha256}
        )
        sealer = MultiFernet([Fernet(key) for key in self.encryption_keys]) if self.encryption_keys else None
        object.__setattr__(self, "_signer", signer)
        object.__setattr__(self, "_sealer", sealer)
        # A token's string never changes: check its signature once (a loaded email
        # is loaded again and again), keep the payload as JSON so callers get copies.
        object.__setattr__(self, "_verified", lru_cache(maxsize=10_000)(self._payload_json))

    def open_url(self, meta: dict, expires_in: float | None = None) -> str:
        """Return the URL of a tracking pixel carrying `meta`."""
        return f"{self.base_url.rstrip('/')}{OPEN_PREFIX}{self.encode(meta, None, expires_in)}.gif"

    def click_url(self, target: str, meta: dict, expires_in: float | None = None) -> str:
        """Return a URL that records a click, then sends the reader on to `target`."""
        return f"{self.base_url.rstrip('/')}{CLICK_PREFIX}{self.encode(meta, check_target(target), expires_in)}"

    def opt_out_url(self, meta: dict, expires_in: float | None = None) -> str:
        """Return a URL where the `recipient` of `meta` can stop being tracked by every link (after confirming)."""
        recipient = {**self.default_meta, **meta}.get("recipient")
        if not isinstance(recipient, str | int) or isinstance(recipient, bool) or not str(recipient).strip():
            raise ValueError("an opt-out link needs a recipient in its metadata, e.g. {'recipient': 'ann@example.com'}")
        return f"{self.base_url.rstrip('/')}{OPT_OUT_PREFIX}{self.encode(meta, None, expires_in)}"

    def encode(self, meta: dict, target: str | None = None, expires_in: float | None = None) -> str:
        """Make a token; JSON-serialisable metadata only."""
        payload: dict = {"m": {**self.default_meta, **meta}}
        stored = len(stored_meta(payload["m"]))
        if stored > META_MAX:  # refused here, where it enters: the store never cuts it
            raise MetaTooLong(f"the metadata is stored as {stored} characters of JSON; the limit is {META_MAX}")
        if target is not None:
            payload["u"] = target
        if expires_in is not None:
            payload["x"] = int(time.time() + expires_in)
        if self._sealer is not None:
            compact = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
            return self._sealer.encrypt(compact).decode().rstrip("=")
        return self._signer.dumps(payload)

    def decode(self, token: str) -> Link:
        """Read a token; raise TokenError unless it is genuine, whole and current."""
        payload = json.loads(self._verified(token))
        if not isinstance(payload, dict) or not isinstance(payload.get("m"), dict):
            raise TokenError("not a tracking token")
        expiry = payload.get("x")
        if expiry is not None and (not isinstance(expiry, int) or time.time() > expiry):
            raise TokenError("expired")
        target = payload.get("u")
        if target is not None:
            try:
                check_target(target)  # signed targets were checked; check again all the same
            except TargetError:
                raise TokenError("bad target") from None
        return Link(payload["m"], target)

    def _payload_json(self, token: str) -> str:
        """Verify (and decrypt) a token; its payload as JSON."""
        return json.dumps(self._open(token))

    def _open(self, token: str):
        """Verify (and decrypt) a token's payload."""
        if token.startswith(_FERNET_START):
            if self._sealer is None:
                raise TokenError("encrypted token, but no encryption key is set")
            padded = token + "=" * (-len(token) % 4)
            try:
                return json.loads(self._sealer.decrypt(padded.encode()))
            except (InvalidToken, ValueError, TypeError):
                raise TokenError("not a token of ours") from None
        try:
            return self._signer.loads(token)
        except (BadSignature, ValueError, TypeError, UnicodeError):
            raise TokenError("not a token of ours") from None


def check_target(target: str) -> str:
    """Accept only a plain absolute http(s) URL with a host: no scheme tricks, no protocol-relative links."""
    if not isinstance(target, str) or _UNSAFE.search(target) or target != target.strip():
        raise TargetError(f"not a plain URL: {target!r}")
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.netloc or not parts.hostname:
        raise TargetError(f"click targets must be absolute http(s) URLs: {target!r}")
    try:
        parts.port  # noqa: B018 -- raises for a port that is not a number from 0 to 65535
    except ValueError:
        raise TargetError(f"click targets need a valid port: {target!r}") from None
    if not _HOST.fullmatch(parts.hostname):
        raise TargetError(f"click targets need a plain host name: {target!r}")
    if parts.username or parts.password:
        raise TargetError(f"click targets may not carry credentials: {target!r}")
    return target

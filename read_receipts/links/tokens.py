"""Signed tracking links for any email: build, read and check open and click URLs.

Every token is signed (HMAC-SHA256) or, with encryption keys, sealed with Fernet
(AES with an HMAC-SHA256, so recipients cannot read the metadata either). A token
that was forged, tampered with, truncated, signed with a retired key or past its
expiry is refused: nobody can make this service redirect to a site of their
choosing or record an event that was never sent.

    tracker = Tracker("https://pixel.example.com", keys=["a long random secret, 32 characters or more"])
    tracker.open_url({"ticket_id": 42, "campaign": "november"})
    tracker.click_url("https://example.com/offer", {"campaign": "november"})
    tracker.opt_out_url({"recipient": "ann@example.com"})  # the recipient stops being tracked
    tracker.decode(token)  # -> Link(meta={...}, target="https://example.com/offer")
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
import re
import time
import zlib
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
KEY_MIN = 32  # characters of a signing key, as the service's TRACKING_KEYS demands: short secrets can be guessed
# zlib's defaults set up 256 KB of state for every token (most of its cost); a 4 KB window fits a link's payload.
_DEFLATE = (6, zlib.DEFLATED, 12, 2)  # level, method, window bits, memory level
_URL_SAFE = bytes.maketrans(b"+/", b"-_")


class TokenError(ValueError):
    """A token this service did not issue, or no longer honours."""


class TargetError(ValueError):
    """A click target that is not a plain absolute http(s) URL."""


class MetaTooLong(ValueError):
    """Metadata whose stored form would not fit the service's store."""


def stored_meta(meta: dict) -> str:
    """The JSON a link's metadata is stored as."""
    return json.dumps(meta)


def _b64(data: bytes) -> bytes:
    """URL-safe base64 without padding, as itsdangerous.encoding.base64_encode (minus its type checks)."""
    return binascii.b2a_base64(data, newline=False).translate(_URL_SAFE).rstrip(b"=")


def _compact(value) -> bytes:
    """JSON as itsdangerous writes a payload: no spaces, UTF-8."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Target:
    """A click target that passed check_target, with its JSON made once for every copy that links to it."""

    url: str
    json: bytes

    @classmethod
    def checked(cls, url: str) -> Target:
        """Check a click target (raise TargetError) and keep it ready to sign."""
        if not isinstance(url, str):
            check_target(url)  # raises TargetError
        return _checked_target(url)


@lru_cache(maxsize=1024)  # a campaign links to the same few targets for every recipient
def _checked_target(url: str) -> Target:
    """A checked click target, made once per distinct URL."""
    return Target(check_target(url), _compact(url))


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
    _key: bytes = field(init=False, repr=False, compare=False)
    _verified: object = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if isinstance(self.keys, str | bytes):
            raise TypeError("keys is a sequence of secrets, newest first: keys=(secret,)")
        if not self.keys:
            raise ValueError("a Tracker needs at least one signing key")
        if any(len(key) < KEY_MIN for key in self.keys):
            raise ValueError(
                f"tracking keys must be at least {KEY_MIN} characters, as the service's TRACKING_KEYS; make one with "
                '`python3 -c "import secrets; print(secrets.token_urlsafe(32))"`'
            )
        # itsdangerous signs with the last key of the list and verifies with all.
        signer = URLSafeSerializer(
            list(reversed(self.keys)), salt=_SALT, signer_kwargs={"digest_method": hashlib.sha256}
        )
        sealer = MultiFernet([Fernet(key) for key in self.encryption_keys]) if self.encryption_keys else None
        object.__setattr__(self, "_signer", signer)
        object.__setattr__(self, "_sealer", sealer)
        # The newest key, derived as itsdangerous derives it for its HMAC: once, not for every token.
        object.__setattr__(self, "_key", signer.make_signer().derive_key())
        # A token's string never changes: check its signature once (a loaded email
        # is loaded again and again), keep the payload as JSON so callers get copies.
        object.__setattr__(self, "_verified", lru_cache(maxsize=10_000)(self._payload_json))

    def open_url(self, meta: dict, expires_in: float | None = None) -> str:
        """Return the URL of a tracking pixel carrying `meta`."""
        return self.links_for(meta, expires_in).open_url()

    def click_url(self, target: str, meta: dict, expires_in: float | None = None) -> str:
        """Return a URL that records a click, then sends the reader on to `target`."""
        return self.links_for(meta, expires_in).click_url(Target.checked(target))

    def links_for(self, meta: dict, expires_in: float | None = None) -> CopyLinks:
        """Return the signer of one recipient's links: many links carrying the same `meta` (one email's copy)."""
        return CopyLinks(self, meta, expires_in)

    def opt_out_url(self, meta: dict, expires_in: float | None = None) -> str:
        """Return a URL where the `recipient` of `meta` can stop being tracked by every link (after confirming)."""
        recipient = {**self.default_meta, **meta}.get("recipient")
        if not isinstance(recipient, str | int) or isinstance(recipient, bool) or not str(recipient).strip():
            raise ValueError("an opt-out link needs a recipient in its metadata, e.g. {'recipient': 'ann@example.com'}")
        return f"{self.base_url.rstrip('/')}{OPT_OUT_PREFIX}{self.encode(meta, None, expires_in)}"

    def encode(self, meta: dict, target: str | None = None, expires_in: float | None = None) -> str:
        """Make a token; JSON-serialisable metadata only."""
        return self.links_for(meta, expires_in).token(None if target is None else Target(target, _compact(target)))

    def _seal(self, payload: bytes) -> str:
        """A token for a payload's JSON: URLSafeSerializer's format, or Fernet's."""
        if self._sealer is not None:
            return self._sealer.encrypt(payload).decode().rstrip("=")
        # URLSafeSerializer.dumps, written out: its zlib set-up and its key derivation on every call were most of
        # a link's cost. Compressed only when shorter, then ".<signature>"; URLSafeSerializer.loads verifies it.
        squeezer = zlib.compressobj(*_DEFLATE)
        squeezed = squeezer.compress(payload) + squeezer.flush()
        value = b"." + _b64(squeezed) if len(squeezed) < len(payload) - 1 else _b64(payload)
        return (value + b"." + _b64(hmac.digest(self._key, value, "sha256"))).decode()

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


class CopyLinks:
    """Signs the links of one recipient's copy: its metadata is checked and encoded once, then each link is signed."""

    def __init__(self, tracker: Tracker, meta: dict, expires_in: float | None = None):
        merged = {**tracker.default_meta, **meta}
        if tracker.encryption_keys:  # encrypted payloads have always been written with sorted keys
            encoded = json.dumps(merged, separators=(",", ":"), sort_keys=True).encode()
        else:
            encoded = _compact(merged)
        # The stored form takes at most 12 characters for one of the compact form (an astral character as
        # two \u escapes): only metadata that could pass the limit is encoded a second time to measure it.
        if len(encoded) * 12 > META_MAX and (stored := len(stored_meta(merged))) > META_MAX:
            raise MetaTooLong(f"the metadata is stored as {stored} characters of JSON; the limit is {META_MAX}")
        self._tracker = tracker
        self._base = tracker.base_url.rstrip("/")
        self._head = b'{"m":' + encoded
        self._tail = b"}" if expires_in is None else b',"x":%d}' % int(time.time() + expires_in)

    def token(self, target: Target | None = None) -> str:
        """The token of this copy's open pixel, or of its click link to `target`."""
        if target is None:
            return self._tracker._seal(self._head + self._tail)
        return self._tracker._seal(self._head + b',"u":' + target.json + self._tail)

    def open_url(self) -> str:
        """The URL of this copy's tracking pixel."""
        return f"{self._base}{OPEN_PREFIX}{self.token()}.gif"

    def click_url(self, target: Target) -> str:
        """The URL that records this copy's click on `target`, then sends the reader on."""
        return f"{self._base}{CLICK_PREFIX}{self.token(target)}"


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

"""The Zendesk Tickets API, as this service uses it: read a ticket, add a private note, change tags and a field."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from enum import StrEnum
from time import time
from typing import Protocol
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 3.05


class ZendeskVerdict(StrEnum):
    """What an answer of Zendesk means for the call that got it."""

    OK = "ok"  # done
    FINAL = "final"  # refused for good (404, 422, another 4xx): never tried again
    AUTH = "auth"  # the credentials were refused (401, 403)
    THROTTLED = "throttled"  # 429: wait as long as Retry-After says
    RETRY = "retry"  # no answer, 5xx or 409: try again after a while


@dataclass(frozen=True)
class Answer:
    """What one Zendesk call came back with."""

    status: int | None  # None: no answer (timeout, refused, dropped)
    body: dict | None = None
    retry_after: float | None = None
    error: str = ""

    @property
    def verdict(self) -> ZendeskVerdict:
        """Classify the answer (see ZendeskVerdict)."""
        if self.status is None or self.status >= 500 or self.status == 409:
            return ZendeskVerdict.RETRY
        if self.status < 300:
            return ZendeskVerdict.OK
        if self.status == 429:
            return ZendeskVerdict.THROTTLED
        if self.status in (401, 403):
            return ZendeskVerdict.AUTH
        return ZendeskVerdict.FINAL

    def describe(self) -> str:
        """Say what happened, for logs and the delivery record (no secrets)."""
        if self.status is None:
            return self.error
        detail = _error_detail(self.body)
        return f"HTTP {self.status}" + (f": {detail}" if detail else "")


@dataclass(frozen=True)
class TicketChange:
    """Tags to add and remove and custom fields to set, in one ticket update (never `tags`: it replaces them all)."""

    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()
    fields: tuple[tuple[int, str], ...] = ()  # (field id, value)

    def __bool__(self) -> bool:
        return bool(self.add_tags or self.remove_tags or self.fields)

    def payload(self) -> dict:
        """The request body of the update."""
        ticket: dict = {}
        if self.add_tags:
            ticket["additional_tags"] = list(self.add_tags)
        if self.remove_tags:
            ticket["remove_tags"] = list(self.remove_tags)
        if self.fields:
            ticket["custom_fields"] = [{"id": field_id, "value": value} for field_id, value in self.fields]
        return {"ticket": ticket}

    def holds_in(self, ticket) -> bool:
        """Whether a ticket as Zendesk shows it already has what this update would make it have."""
        if not isinstance(ticket, dict):
            return False
        tags = set(ticket.get("tags") or ())
        values = {f.get("id"): f.get("value") for f in ticket.get("custom_fields") or () if isinstance(f, dict)}
        return (
            tags.issuperset(self.add_tags)
            and tags.isdisjoint(self.remove_tags)
            and all(values.get(field_id) == value for field_id, value in self.fields)
        )

    def describe(self) -> str:
        """Say what the update does, for the log."""
        parts = [f"add tag {tag}" for tag in self.add_tags] + [f"remove tag {tag}" for tag in self.remove_tags]
        parts += [f"set field {field_id} to {value}" for field_id, value in self.fields]
        return ", ".join(parts)


class ZendeskClient(Protocol):
    """What the courier asks of Zendesk: implemented by Zendesk (the account) and DryRun (no credentials)."""

    dry_run: bool  # True: nothing is checked against, notes are only logged

    def ticket(self, ticket_id: int) -> Answer:
        """Read a ticket (requester, status and tags)."""
        ...

    def comments(self, ticket_id: int, next_page: str = "") -> Answer:
        """Read one page of a ticket's comments, newest first."""
        ...

    def add_private_note(self, ticket_id: int, body: str, tag: str = "") -> Answer:
        """Add an internal comment to a ticket, optionally tagging it."""
        ...

    def update_ticket(self, ticket_id: int, change: TicketChange) -> Answer:
        """Add and remove tags and set custom fields of a ticket, without a comment."""
        ...

    def me(self) -> Answer:
        """Read the authenticated user (the cheapest credentials check)."""
        ...

    def user(self, user_id: int) -> Answer:
        """Read one user (a comment's author Zendesk did not side-load)."""
        ...


class Zendesk:
    """A client for one Zendesk account."""

    dry_run = False

    def __init__(self, base_url: str, authorization: str, timeout: float):
        self.base_url = base_url
        self.timeout = (CONNECT_TIMEOUT, timeout)
        self.session = requests.Session()
        # Retries happen in the durable delivery queue, never inside a call.
        self.session.mount("http://", HTTPAdapter(max_retries=0))
        self.session.mount("https://", HTTPAdapter(max_retries=0))
        self.session.headers.update(
            {"Authorization": authorization, "Accept": "application/json", "User-Agent": "zendesk-read-receipts"}
        )

    def ticket(self, ticket_id: int) -> Answer:
        """Read a ticket (requester and status)."""
        return self._call("GET", f"/api/v2/tickets/{ticket_id}.json")

    def comments(self, ticket_id: int, next_page: str = "") -> Answer:
        """Read one page of a ticket's comments, newest first (`next_page`: the previous page's links.next)."""
        # include=users side-loads the authors' names in the same call: no read per author
        first = f"/api/v2/tickets/{ticket_id}/comments.json?sort_order=desc&page%5Bsize%5D=100&include=users"
        path = _same_host_path(next_page, first)
        if "include=users" not in path:
            path += ("&" if "?" in path else "?") + "include=users"
        return self._call("GET", path)

    def add_private_note(self, ticket_id: int, body: str, tag: str = "") -> Answer:
        """Add an internal comment to a ticket, optionally tagging it."""
        ticket: dict = {"comment": {"body": body, "public": False}}
        if tag:
            ticket["additional_tags"] = [tag]  # never `tags`: it replaces them all
        return self._call("PUT", f"/api/v2/tickets/{ticket_id}.json", {"ticket": ticket})

    def update_ticket(self, ticket_id: int, change: TicketChange) -> Answer:
        """Add and remove tags and set custom fields of a ticket, without a comment."""
        return self._call("PUT", f"/api/v2/tickets/{ticket_id}.json", change.payload())

    def me(self) -> Answer:
        """Read the authenticated user (the cheapest credentials check)."""
        return self._call("GET", "/api/v2/users/me.json")

    def user(self, user_id: int) -> Answer:
        """Read one user (a comment's author Zendesk did not side-load)."""
        return self._call("GET", f"/api/v2/users/{int(user_id)}.json")

    def _call(self, method: str, path: str, payload: dict | None = None) -> Answer:
        """Make one request; every failure becomes an Answer, never an exception."""
        try:
            response = self.session.request(method, self.base_url + path, json=payload, timeout=self.timeout)
        except requests.Timeout:
            return Answer(None, error=f"no answer within {self.timeout[1]:g} s")
        except requests.RequestException as exc:
            return Answer(None, error=f"connection failed ({type(exc).__name__})")
        return Answer(response.status_code, _json(response), _retry_after(response))


class DryRun:
    """Stands in for Zendesk when no credentials are set: logs what it would post."""

    dry_run = True

    def ticket(self, ticket_id: int) -> Answer:
        """Pretend every ticket exists (there is nothing to check against)."""
        return Answer(200, {"ticket": {"id": ticket_id, "requester_id": None, "status": "open"}})

    def comments(self, ticket_id: int, next_page: str = "") -> Answer:
        """There are no comments to read."""
        return Answer(200, {"comments": [], "meta": {"has_more": False}})

    def add_private_note(self, ticket_id: int, body: str, tag: str = "") -> Answer:
        """Log the note instead of posting it."""
        tagged = f" (tag {tag})" if tag else ""
        log.info("dry run: would add a private note to ticket %s%s: %s", ticket_id, tagged, body)
        return Answer(200, {})

    def update_ticket(self, ticket_id: int, change: TicketChange) -> Answer:
        """Log the update instead of making it."""
        log.info("dry run: would update ticket %s: %s", ticket_id, change.describe())
        return Answer(200, {})

    def me(self) -> Answer:
        """There is no account to check."""
        return Answer(None, error="no Zendesk credentials are set")

    def user(self, user_id: int) -> Answer:
        """There are no users to read."""
        return Answer(404, {})


def _same_host_path(link: str, default: str) -> str:
    """The path and query of a paging link, sent to our own base URL only (never to a host an answer names)."""
    if not link:
        return default
    parts = urlsplit(link)
    if not parts.path.startswith("/api/v2/tickets/"):
        return default
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _json(response: requests.Response) -> dict | None:
    """Parse a JSON object body; 429s and proxies may send plain text."""
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _retry_after(response: requests.Response) -> float | None:
    """Read Retry-After as seconds (it may also be an HTTP date)."""
    raw = response.headers.get("Retry-After", "").strip()
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(raw).timestamp() - time())
    except (TypeError, ValueError):
        return None


def _error_detail(body: dict | None) -> str:
    """Pull a short, secret-free reason out of a Zendesk error body."""
    if not body:
        return ""
    error = body.get("error")
    if isinstance(error, dict):
        error = error.get("title") or error.get("message")
    description = body.get("description")
    parts = [str(part) for part in (error, description) if part]
    return "; ".join(parts)[:200]

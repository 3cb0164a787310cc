"""A strict Zendesk stand-in: a real HTTP server on 127.0.0.1 that keeps the API's contract."""

from __future__ import annotations

import base64
import json
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

TICKET_PATH = re.compile(r"^/api/v2/tickets/(\d+)\.json$")
COMMENTS_PATH = re.compile(r"^/api/v2/tickets/(\d+)/comments\.json$")
USER_PATH = re.compile(r"^/api/v2/users/(\d+)\.json$")
DEFAULT_REPLIES = range(1, 21)  # a ticket's public comments unless a test says otherwise
REPLIES_WRITTEN = 1795352580  # 2026-11-22T13:03:00Z: comment N was written N minutes after it
AUTHOR = (501, "Ann")  # the agent who wrote the replies, unless a test says otherwise
SIDELOADS = {"users"}  # what the comments endpoint side-loads (include=...)
ACCOUNT_UPDATES_PER_MINUTE = 100
TICKET_UPDATES_PER_10_MINUTES = 30
UPDATE_KEYS = frozenset({"comment", "additional_tags", "remove_tags", "custom_fields"})  # what the service may send
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
API_USER = 1  # the id of the user the token authenticates as: the author of every comment added through the API
NOTE_IDS = 10_000_000  # ids of comments added through the API start here, above any reply id a test names


@dataclass
class Comment:
    """A comment the stand-in accepted."""

    ticket_id: int
    body: str
    public: bool
    at: float
    tags: list = field(default_factory=list)


@dataclass
class Update:
    """A ticket update the stand-in accepted, as it was sent."""

    ticket_id: int
    body: dict
    at: float


class ZendeskStandIn:
    """Tickets, users and faults, served over real HTTP."""

    def __init__(self, email: str = "agent@example.com", token: str = "test-token", oauth: str = "oauth-test"):
        self.email, self.token, self.oauth = email, token, oauth
        self.agent_name: str | None = "API Agent"  # the token's user; Zendesk answers null for a user without one
        self.tickets: dict[int, dict] = {}
        self.replies: dict[int, list[int]] = {}
        self.users: dict[int, dict] = {
            1: {"id": 1, "name": self.agent_name},
            AUTHOR[0]: {"id": AUTHOR[0], "name": AUTHOR[1]},
        }
        self.authors: dict[tuple[int, int], int] = {}  # (ticket, comment) -> author id, when not AUTHOR
        self.side_loads_users = True  # False: comments come without `users`, as Zendesk sometimes answers
        self.user_faults: deque = deque()  # faults for the next user reads only (as fail_next's)
        self.comments: list[Comment] = []
        self.updates: list[Update] = []
        self.fields: dict[int, str] = {}  # the account's custom ticket fields: id -> "date" or "text"
        self.calls: list[tuple[str, str, int | None]] = []
        self.faults: deque = deque()
        self.delay = 0.0
        self.down = False
        self.gate = threading.Event()  # cleared: every request waits until it is set
        self.gate.set()
        self.waiting = 0
        self.updates_gate = threading.Event()  # cleared: ticket updates wait until it is set, then are applied
        self.updates_gate.set()
        self.updates_waiting = 0
        self.violations: list[str] = []
        self._updates: list[tuple[float, int]] = []
        self.requests_per_minute: int | None = None  # the account's general API limit, when a test sets one
        self._requests: deque = deque()
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        """Base URL for ZENDESK_URL."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def env(self) -> dict[str, str]:
        """Settings that point the service at this stand-in."""
        return {"ZENDESK_URL": self.url, "ZENDESK_EMAIL": self.email, "ZENDESK_API_TOKEN": self.token}

    def start(self) -> ZendeskStandIn:
        """Start serving in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    def add_ticket(
        self,
        ticket_id: int,
        requester_id: int,
        status: str = "open",
        replies: Iterable[int] = DEFAULT_REPLIES,
        email_ccs: Iterable[int] | None = None,
        collaborators: Iterable[int] | None = None,
    ) -> None:
        """Create a ticket whose public comments (the replies its emails carried) have the ids given.

        With CCs on, Zendesk lists a ticket's people in copy in `email_cc_ids` (and CCs and followers in
        `collaborator_ids`); accounts without CCs have `collaborator_ids` only.
        """
        ticket = {"id": ticket_id, "requester_id": requester_id, "status": status, "tags": []}
        ticket["custom_fields"] = [{"id": field_id, "value": None} for field_id in self.fields]
        ticket["collaborator_ids"] = sorted(set(collaborators or ()) | set(email_ccs or ()))
        if email_ccs is not None:
            ticket.update(email_cc_ids=sorted(email_ccs), follower_ids=sorted(set(collaborators or ())))
        self.tickets[ticket_id] = ticket
        self.replies[ticket_id] = sorted(replies)

    def add_user(self, user_id: int, name: str | None) -> None:
        """Create a user (an agent who writes replies); Zendesk answers null for a user without a name."""
        self.users[user_id] = {"id": user_id, "name": name}

    def written_at(self, comment_id: int) -> float:
        """When a reply of the stand-in was written (comment N, N minutes after REPLIES_WRITTEN)."""
        return REPLIES_WRITTEN + 60 * comment_id

    def add_field(self, field_id: int, kind: str = "date") -> None:
        """Create a custom ticket field ("date" or "text") on every ticket, empty."""
        self.fields[field_id] = kind
        for ticket in self.tickets.values():
            ticket["custom_fields"].append({"id": field_id, "value": None})

    def field_of(self, ticket_id: int, field_id: int) -> str | None:
        """A custom field's value on one ticket."""
        with self._lock:
            return next(f["value"] for f in self.tickets[ticket_id]["custom_fields"] if f["id"] == field_id)

    def tags_of(self, ticket_id: int) -> list[str]:
        """One ticket's tags."""
        with self._lock:
            return list(self.tickets[ticket_id]["tags"])

    def updates_of(self, ticket_id: int) -> list[dict]:
        """The bodies of the updates accepted on one ticket, oldest first."""
        with self._lock:
            return [u.body for u in self.updates if u.ticket_id == ticket_id]

    def wait_for(self, condition, timeout: float = 15.0) -> bool:
        """Wait until a condition on the stand-in holds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.05)
        return bool(condition())

    def fail_next(self, *faults) -> None:
        """Queue faults for the next requests: an int status, ('429', secs), 'drop' or ('slow', secs)."""
        self.faults.extend(faults)

    def notes_on(self, ticket_id: int) -> list[Comment]:
        """Comments accepted on one ticket."""
        with self._lock:
            return [c for c in self.comments if c.ticket_id == ticket_id]

    def wait_for_notes(self, count: int, timeout: float = 10.0, ticket_id: int | None = None) -> list[Comment]:
        """Wait until at least `count` notes arrived (on one ticket, if given)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.notes_on(ticket_id) if ticket_id else list(self.comments)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        return self.notes_on(ticket_id) if ticket_id else list(self.comments)

    def count_calls(self, method: str | None = None, ticket_path: str = "") -> int:
        """How many requests arrived (of one method; to a path that starts with `ticket_path` and ends in .json)."""
        with self._lock:
            return sum(
                1
                for m, path, _ in self.calls
                if method in (None, m) and path.startswith(ticket_path) and (not ticket_path or TICKET_PATH.match(path))
            )

    def user_reads(self) -> list[str]:
        """The paths of the user reads that arrived (`users/me.json` left out), oldest first."""
        with self._lock:
            return [path for _, path, _ in self.calls if USER_PATH.match(path)]

    # -- the API ---------------------------------------------------------------

    def answer(self, method: str, path: str, headers, body: bytes):
        """Return (status, headers, json) or 'drop' for one request."""
        with self._lock:
            fault = self.faults.popleft() if self.faults else None
            self.waiting += 1
        self.gate.wait(30)
        with self._lock:
            self.waiting -= 1
        if method == "PUT":  # applied once the gate opens, whether or not the caller still waits for the answer
            with self._lock:
                self.updates_waiting += 1
            self.updates_gate.wait(30)
            with self._lock:
                self.updates_waiting -= 1
        if self.down or fault == "drop":
            return "drop"
        if isinstance(fault, tuple) and fault[0] == "slow":
            time.sleep(fault[1])
        elif self.delay:
            time.sleep(self.delay)
        if isinstance(fault, tuple) and fault[0] == 429:
            return 429, {"Retry-After": str(fault[1])}, None
        if isinstance(fault, int):
            return fault, {}, {"error": "InternalError"} if fault >= 500 else {"error": "Conflict"}
        if not self._authorized(headers.get("Authorization", "")):
            return 401, {}, {"error": "Couldn't authenticate you"}
        if self._over_request_limit():
            return 429, {"Retry-After": "10"}, None
        path, _, query = path.partition("?")
        comments = COMMENTS_PATH.match(path)
        if comments and method == "GET":
            return self._comments(int(comments.group(1)), parse_qs(query))
        if path == "/api/v2/users/me.json" and method == "GET":
            return 200, {}, {"user": {"id": API_USER, "name": self.agent_name, "email": self.email, "role": "admin"}}
        user = USER_PATH.match(path)
        if user:
            return self._user(method, int(user.group(1)))
        match = TICKET_PATH.match(path)
        if not match:
            return 404, {}, {"error": "InvalidEndpoint"}
        ticket = self.tickets.get(int(match.group(1)))
        if ticket is None:
            return 404, {}, {"error": "RecordNotFound", "description": "Not found"}
        if method == "GET":
            return 200, {}, {"ticket": dict(ticket)}
        if method == "PUT":
            return self._update(ticket, body)
        return 405, {}, {"error": "MethodNotAllowed"}

    def _over_request_limit(self) -> bool:
        """Count a request against the per-minute limit, if one is set; True when it is over."""
        if self.requests_per_minute is None:
            return False
        now = time.time()
        with self._lock:
            while self._requests and now - self._requests[0] >= 60:
                self._requests.popleft()
            if len(self._requests) >= self.requests_per_minute:
                self.violations.append("general API rate limit exceeded")
                return True
            self._requests.append(now)
        return False

    def _comments(self, ticket_id: int, query: dict):
        """List a ticket's comments newest first, by cursor pages, as Zendesk does."""
        if ticket_id not in self.tickets:
            return 404, {}, {"error": "RecordNotFound", "description": "Not found"}
        if query.get("sort_order") != ["desc"]:
            self.violations.append("comments read oldest first: a new reply would be on the last page")
        size = min(100, int(query.get("page[size]", ["100"])[0]))
        replies = [self._comment(ticket_id, i) for i in sorted(self.replies.get(ticket_id, []), reverse=True)]
        with self._lock:  # the comments added through the API are the newest, each by the API user
            added = [
                {
                    "id": NOTE_IDS + n,
                    "public": c.public,
                    "author_id": API_USER,
                    "body": c.body,
                    "created_at": _iso(c.at),
                }
                for n, c in enumerate(self.comments)
                if c.ticket_id == ticket_id
            ]
        listed = added[::-1] + replies
        start = int(query.get("page[after]", ["0"])[0])
        page = listed[start : start + size]
        more = start + size < len(listed)
        sideloads = set(",".join(query.get("include", [])).split(",")) - {""}
        if sideloads - SIDELOADS:
            self.violations.append(f"comments read with include={','.join(sorted(sideloads))}: only users side-load")
        include = "&include=users" if "users" in sideloads else ""
        after = f"{self.url}/api/v2/tickets/{ticket_id}/comments.json?sort_order=desc&page[size]={size}{include}"
        body = {
            "comments": page,
            "meta": {"has_more": more},
            "links": {"next": f"{after}&page[after]={start + size}" if more else None},
        }
        if "users" in sideloads and self.side_loads_users:  # the authors of this page's comments, side-loaded
            authors = sorted({c["author_id"] for c in page})
            body["users"] = [dict(self.users[a]) for a in authors if a in self.users]
        return 200, {}, body

    def _user(self, method: str, user_id: int):
        """Show one user (GET only); 404 for a user the account does not have."""
        if method != "GET":
            return 405, {}, {"error": "MethodNotAllowed"}
        with self._lock:
            fault = self.user_faults.popleft() if self.user_faults else None
        if fault == "drop":
            return "drop"
        if isinstance(fault, tuple) and fault[0] == "slow":
            time.sleep(fault[1])
        elif isinstance(fault, int):
            return fault, {}, {"error": "InternalError"}
        if user_id not in self.users:
            return 404, {}, {"error": "RecordNotFound", "description": "Not found"}
        return 200, {}, {"user": dict(self.users[user_id])}

    def _comment(self, ticket_id: int, comment_id: int) -> dict:
        """One public comment as the comments endpoint lists it."""
        written = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.written_at(comment_id)))
        author = self.authors.get((ticket_id, comment_id), AUTHOR[0])
        return {"id": comment_id, "public": True, "created_at": written, "author_id": author, "body": "..."}

    def _authorized(self, header: str) -> bool:
        """Accept API-token Basic auth or the OAuth bearer token."""
        basic = base64.b64encode(f"{self.email}/token:{self.token}".encode()).decode()
        return header in (f"Basic {basic}", f"Bearer {self.oauth}")

    def _update(self, ticket: dict, body: bytes):
        """Apply a ticket update the way Zendesk does, rate limits included."""
        try:
            update = json.loads(body)["ticket"]
        except (ValueError, KeyError, TypeError):
            return 400, {}, {"error": "InvalidJSON"}
        if not isinstance(update, dict):
            return 400, {}, {"error": "InvalidJSON"}
        if "tags" in update:
            self.violations.append("sent `tags`, which replaces every tag on the ticket")
        if set(update) - UPDATE_KEYS - {"tags"}:
            self.violations.append(f"sent {sorted(set(update) - UPDATE_KEYS)} on ticket {ticket['id']}")
        if not set(update) & (UPDATE_KEYS | {"tags"}):
            self.violations.append(f"an update of ticket {ticket['id']} that changes nothing")
        invalid = self._invalid_change(update)
        if invalid:
            return 422, {}, {"error": "RecordInvalid", "description": "Record validation errors", "details": invalid}
        if ticket["status"] == "closed":
            return (
                422,
                {},
                {
                    "error": "RecordInvalid",
                    "description": "Record validation errors",
                    "details": {"status": [{"description": "Status: closed prevents ticket update"}]},
                },
            )
        limited = self._rate_limited(ticket["id"])
        if limited:
            return 429, {"Retry-After": str(limited)}, None
        tags = list(update.get("additional_tags") or [])
        with self._lock:
            self.updates.append(Update(ticket["id"], update, time.time()))
            kept = set(update["tags"]) if "tags" in update else set(ticket["tags"])  # `tags` replaces them all
            ticket["tags"] = sorted((kept | set(tags)) - set(update.get("remove_tags") or []))
            for change in update.get("custom_fields") or []:
                for custom in ticket["custom_fields"]:
                    if custom["id"] == change["id"]:
                        custom["value"] = change["value"]
        if "comment" in update:
            comment = update["comment"] or {}
            public = comment.get("public", True)
            if public is not False:
                self.violations.append(f"comment on ticket {ticket['id']} was not explicitly private")
            with self._lock:
                self.comments.append(
                    Comment(
                        ticket["id"], comment.get("body", ""), public is not False and bool(public), time.time(), tags
                    )
                )
        return 200, {}, {"ticket": dict(ticket), "audit": {"id": len(self.updates)}}

    def _invalid_change(self, update: dict) -> dict:
        """Zendesk's validation errors of an update's tags and custom fields (empty when valid)."""
        errors: dict = {}
        for key in ("additional_tags", "remove_tags"):
            tags = update.get(key, [])
            if not isinstance(tags, list) or not all(isinstance(t, str) and t and " " not in t for t in tags):
                errors[key] = [{"description": f"{key} must be a list of tags"}]
        fields = update.get("custom_fields", [])
        if not isinstance(fields, list) or not all(isinstance(f, dict) and set(f) == {"id", "value"} for f in fields):
            return {**errors, "custom_fields": [{"description": "custom_fields must be a list of {id, value}"}]}
        for wanted in fields:
            kind = self.fields.get(wanted["id"])
            if kind is None:
                self.violations.append(f"custom field {wanted['id']} does not exist")
            elif kind == "date" and not (isinstance(wanted["value"], str) and DATE.match(wanted["value"])):
                errors[str(wanted["id"])] = [{"description": "a date field takes YYYY-MM-DD"}]
        return errors

    def _rate_limited(self, ticket_id: int) -> int:
        """Return Retry-After seconds when an update limit is exceeded, else 0."""
        now = time.time()
        with self._lock:
            self._updates = [(t, i) for t, i in self._updates if now - t < 600]
            per_minute = sum(1 for t, _ in self._updates if now - t < 60)
            per_ticket = sum(1 for _, i in self._updates if i == ticket_id)
            if per_minute >= ACCOUNT_UPDATES_PER_MINUTE or per_ticket >= TICKET_UPDATES_PER_10_MINUTES:
                self.violations.append(f"rate limit exceeded on ticket {ticket_id}")
                return 10
            self._updates.append((now, ticket_id))
        return 0


class _QuietServer(ThreadingHTTPServer):
    """A server that does not print clients hanging up (the service's timeouts do that)."""

    def handle_error(self, request, client_address):
        pass


def _handler(standin: ZendeskStandIn):
    """Build a request handler class bound to one stand-in."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep test output quiet
            pass

        def _serve(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            result = standin.answer(self.command, self.path, self.headers, body)
            if result == "drop":
                with standin._lock:
                    standin.calls.append((self.command, self.path, None))
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            status, headers, payload = result
            with standin._lock:
                standin.calls.append((self.command, self.path, status))
            data = json.dumps(payload).encode() if payload is not None else b"Too Many Requests"
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if payload is not None else "text/plain")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_POST = _serve

    return Handler


def _iso(at: float) -> str:
    """A time as Zendesk writes it."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))

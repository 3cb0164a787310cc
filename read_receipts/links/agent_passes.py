"""Agent passes: short-lived, single-use, signed proofs that the sidebar app asked for an agent."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from itsdangerous import BadSignature, TimestampSigner

PASS_SECONDS = 120  # the agent's browser uses its pass at once; this covers a slow network, not a later reuse
SALT = "read-receipts agent pass"


@dataclass(frozen=True)
class AgentPass:
    """What a genuine, unexpired pass says."""

    agent_id: int
    pass_id: str  # remembered once used, so the pass works once


class _ClockSigner(TimestampSigner):
    """itsdangerous's timestamped signer, on a clock that tests can set."""

    def __init__(self, *args, clock: Callable[[], float] = time.time, **kwargs):
        super().__init__(*args, **kwargs)
        self.clock = clock

    def get_timestamp(self) -> int:
        """Now, in whole seconds, by this signer's clock."""
        return int(self.clock())


class AgentPasses:
    """Issues passes bound to a Zendesk agent, and reads them back (signature compared in constant time)."""

    def __init__(self, secret: str, clock: Callable[[], float] = time.time, seconds: int = PASS_SECONDS):
        self.signer = _ClockSigner(secret, salt=SALT, clock=clock)
        self.seconds = seconds

    def issue(self, agent_id: int) -> str:
        """Sign a new pass for one agent."""
        return self.signer.sign(f"{agent_id}-{secrets.token_hex(16)}").decode()

    def read(self, token: str, agent_id: int | None) -> AgentPass | None:
        """The pass, if it is genuine, not expired and was issued to this agent; else None."""
        try:
            value = self.signer.unsign(token.encode(), max_age=self.seconds).decode()
        except (BadSignature, UnicodeError):  # forged, altered or expired (SignatureExpired is a BadSignature)
            return None
        issued_to, _, pass_id = value.partition("-")
        if agent_id is None or not issued_to.isdigit() or int(issued_to) != agent_id or len(pass_id) != 32:
            return None
        return AgentPass(agent_id, pass_id)

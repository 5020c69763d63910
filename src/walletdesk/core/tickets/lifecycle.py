"""Which status a ticket may move to from which, and what a customer message does to it."""

from __future__ import annotations

from walletdesk.core.tickets.models import Status

ALLOWED_TRANSITIONS: dict[Status, frozenset[Status]] = {
    # closed straight from new is for spam and duplicates
    Status.NEW: frozenset(
        {Status.OPEN, Status.PENDING, Status.ON_HOLD, Status.SOLVED, Status.CLOSED}
    ),
    Status.OPEN: frozenset({Status.PENDING, Status.ON_HOLD, Status.SOLVED}),
    Status.PENDING: frozenset({Status.OPEN, Status.ON_HOLD, Status.SOLVED}),
    Status.ON_HOLD: frozenset({Status.OPEN, Status.PENDING, Status.SOLVED}),
    Status.SOLVED: frozenset({Status.OPEN, Status.CLOSED}),
    # closed is final: a customer who writes again gets a follow-up ticket
    Status.CLOSED: frozenset(),
}


class TransitionError(ValueError):
    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"a ticket cannot go from {current} to {target}")
        self.current = current
        self.target = target


def can_transition(current: str, target: str) -> bool:
    return Status(target) in ALLOWED_TRANSITIONS[Status(current)]


def check_transition(current: str, target: str) -> None:
    if current != target and not can_transition(current, target):
        raise TransitionError(current, target)


def status_after_customer_message(current: str) -> str:
    """A customer writing reopens a solved ticket and ends a wait on them; new stays new."""
    if current in (Status.SOLVED, Status.PENDING, Status.ON_HOLD):
        return Status.OPEN
    return current

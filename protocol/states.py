"""The life of an incoming document at its recipient: states and allowed transitions.

One table, checked in one place (storage.documents.change_state); drawn in
docs/STATES.md. A recall (thu hồi) runs beside the main state: the sender's
request (13) opens it, the recipient agrees (15, the document becomes
RECALLED) or refuses (16, the document keeps its state).
"""

from enum import StrEnum

from lienthong.crypto.errors import LienthongError
from lienthong.protocol.codes import StatusCode


class TransitionError(LienthongError):
    """A document cannot move from its current state to the one asked for."""


class DocState(StrEnum):
    ARRIVED = "arrived"
    REJECTED = "rejected"
    ACCEPTED = "accepted"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    RECALLED = "recalled"


class RecallState(StrEnum):
    NONE = "none"
    REQUESTED = "requested"
    AGREED = "agreed"
    REFUSED = "refused"


# Terminal states have no entry. ASSIGNED -> ASSIGNED is a re-assignment.
TRANSITIONS: dict[DocState, frozenset[DocState]] = {
    DocState.ARRIVED: frozenset({DocState.ACCEPTED, DocState.REJECTED, DocState.RECALLED}),
    DocState.ACCEPTED: frozenset(
        {DocState.ASSIGNED, DocState.IN_PROGRESS, DocState.COMPLETED, DocState.RECALLED}
    ),
    DocState.ASSIGNED: frozenset(
        {DocState.ASSIGNED, DocState.IN_PROGRESS, DocState.COMPLETED, DocState.RECALLED}
    ),
    DocState.IN_PROGRESS: frozenset({DocState.ASSIGNED, DocState.COMPLETED, DocState.RECALLED}),
    DocState.COMPLETED: frozenset({DocState.RECALLED}),
}

RECALL_TRANSITIONS: dict[RecallState, frozenset[RecallState]] = {
    RecallState.NONE: frozenset({RecallState.REQUESTED}),
    RecallState.REFUSED: frozenset({RecallState.REQUESTED}),
    RecallState.REQUESTED: frozenset({RecallState.AGREED, RecallState.REFUSED}),
}

# The status a recipient sends when its document enters a state.
STATUS_OF_STATE: dict[DocState, StatusCode] = {
    DocState.ARRIVED: StatusCode.ARRIVED,
    DocState.REJECTED: StatusCode.REJECTED,
    DocState.ACCEPTED: StatusCode.ACCEPTED,
    DocState.ASSIGNED: StatusCode.ASSIGNED,
    DocState.IN_PROGRESS: StatusCode.IN_PROGRESS,
    DocState.COMPLETED: StatusCode.COMPLETED,
    DocState.RECALLED: StatusCode.RECALL_AGREED,
}


def check_transition(current: DocState, new: DocState, recall: RecallState) -> None:
    """Raise TransitionError unless `current -> new` is allowed with this recall state."""
    allowed = TRANSITIONS.get(current, frozenset())
    if new not in allowed:
        names = ", ".join(sorted(s.value for s in allowed)) or "none (final state)"
        raise TransitionError(
            f"a document in state {current.value!r} cannot become {new.value!r}; allowed: {names}"
        )
    if new is DocState.RECALLED and recall is not RecallState.REQUESTED:
        raise TransitionError(
            "a document becomes 'recalled' only when its sender asked to recall it"
        )


def check_recall_transition(current: RecallState, new: RecallState) -> None:
    """Raise TransitionError unless the recall may move from `current` to `new`."""
    if new not in RECALL_TRANSITIONS.get(current, frozenset()):
        raise TransitionError(f"a recall in state {current.value!r} cannot become {new.value!r}")

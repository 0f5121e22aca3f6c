"""The life of an incoming document at its recipient: states and allowed transitions.

One table, checked in one place (storage.documents.change_state); drawn in
docs/STATES.md. A recall (thu hồi) runs beside the main state: the sender's
request (13) opens it, the recipient agrees (15, the document becomes
RECALLED) or refuses (16, the document keeps its state). A document that a
replacement (thay thế) names becomes SUPERSEDED when the recipient registers the
replacement. Codes 15 and 16 also answer an update or a replacement
(edXML has one pair of codes for both): `answer_of` says which they answer.
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
    SUPERSEDED = "superseded"  # a replacement this unit registered names it


class RecallState(StrEnum):
    NONE = "none"
    REQUESTED = "requested"
    AGREED = "agreed"
    REFUSED = "refused"


# Terminal states have no entry. ASSIGNED -> ASSIGNED is a re-assignment. Any state but
# the final ones may be superseded (a rejected or recalled document is out of the unit's
# work already); a superseded document may still be recalled by its sender.
TRANSITIONS: dict[DocState, frozenset[DocState]] = {
    DocState.ARRIVED: frozenset(
        {DocState.ACCEPTED, DocState.REJECTED, DocState.RECALLED, DocState.SUPERSEDED}
    ),
    DocState.ACCEPTED: frozenset(
        {
            DocState.ASSIGNED,
            DocState.IN_PROGRESS,
            DocState.COMPLETED,
            DocState.RECALLED,
            DocState.SUPERSEDED,
        }
    ),
    DocState.ASSIGNED: frozenset(
        {
            DocState.ASSIGNED,
            DocState.IN_PROGRESS,
            DocState.COMPLETED,
            DocState.RECALLED,
            DocState.SUPERSEDED,
        }
    ),
    DocState.IN_PROGRESS: frozenset(
        {DocState.ASSIGNED, DocState.COMPLETED, DocState.RECALLED, DocState.SUPERSEDED}
    ),
    DocState.COMPLETED: frozenset({DocState.RECALLED, DocState.SUPERSEDED}),
    DocState.SUPERSEDED: frozenset({DocState.RECALLED}),
}

RECALL_TRANSITIONS: dict[RecallState, frozenset[RecallState]] = {
    RecallState.NONE: frozenset({RecallState.REQUESTED}),
    RecallState.REFUSED: frozenset({RecallState.REQUESTED}),
    RecallState.REQUESTED: frozenset({RecallState.AGREED, RecallState.REFUSED}),
}

# The status a recipient sends when its document enters a state. SUPERSEDED sends none of
# its own: the 15 that answers the replacement says it.
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


# An update or a replacement in these states was applied: its recipient registered it.
APPLIED = frozenset(
    {
        DocState.ACCEPTED,
        DocState.ASSIGNED,
        DocState.IN_PROGRESS,
        DocState.COMPLETED,
        DocState.SUPERSEDED,
    }
)

# What a 15 or 16 answers (edXML: "15/16 answer a revoke or update request").
RECALL, UPDATE, REPLACE = "recall", "update", "replace"
ANSWERS = (RECALL, UPDATE, REPLACE)


def answer_of(code: int, business: str) -> str | None:
    """What a status answers, from its code and the business of the envelope it names
    ("new", "update" or "replace"): a 15 or 16 about an update or a replacement answers
    it, about any other envelope a recall. Exact, because an update or a replacement is
    never recalled on its own (docs/STATES.md). None for every other code."""
    if code not in (StatusCode.RECALL_AGREED, StatusCode.RECALL_REFUSED):
        return None
    return business if business in (UPDATE, REPLACE) else RECALL


def check_recall_transition(current: RecallState, new: RecallState) -> None:
    """Raise TransitionError unless the recall may move from `current` to `new`."""
    if new not in RECALL_TRANSITIONS.get(current, frozenset()):
        raise TransitionError(f"a recall in state {current.value!r} cannot become {new.value!r}")

"""The peer API's bodies and headers (docs/PROTOCOL.md §17): the inbox batch and its answer,
blob upload numbers, and the directory's entity tags. Pure: bytes in, values out.

node/unit/peer_api.py serves these routes and node/unit/delivery.py calls them; both
only move bytes and call the functions here, so the strict decoding of Part I (size cap
before parsing, exact types, every error naming its field) holds for Part II too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from lienthong.crypto.stream import ciphertext_size
from lienthong.protocol.errors import InvalidField, LimitExceeded
from lienthong.protocol.ids import BLOB_ID
from lienthong.protocol.incremental import IncrementalDecoder
from lienthong.protocol.limits import (
    MAX_ATTACHMENT_SIZE,
    MAX_ATTACHMENTS,
    MAX_ENVELOPE_BYTES,
    MAX_STATUS_BYTES,
)
from lienthong.protocol.text import pattern
from lienthong.protocol.wire import Fields, pack, unpack

# Every msgpack body of Part II, request or answer (docs/PROTOCOL.md §16.3).
CONTENT_TYPE = "application/x-lienthong"

# Items in one inbox request: bounds the work (signature checks, one transaction) that a
# single request can cause.
MAX_INBOX_ITEMS = 500
# 500 envelopes of ~100 KB; the hard cap on each item is its own message limit
# (MAX_ENVELOPE_BYTES, MAX_STATUS_BYTES), checked when the item is verified.
MAX_INBOX_BYTES = 64 * 1024 * 1024
# An item of a batch is one complete wrapper, an envelope or a smaller status: a longer one
# refuses the request, so a request being decoded holds at most this much (and a piece)
# besides the items it decoded (protocol/incremental.py).
MAX_ITEM_BYTES = MAX_ENVELOPE_BYTES
# An inbox answer carries one 01 (a status, <= MAX_STATUS_BYTES) per envelope and a refusal
# message per refused item: far below the request's own cap, which bounds it too.
MAX_INBOX_ANSWER_BYTES = MAX_INBOX_BYTES
# The name of a refused item's error: a class name of section 12 or 17.1 ("MissingBlobs").
MAX_ERROR_NAME = 64
ERROR_NAME = pattern("error name", "[A-Za-z][A-Za-z0-9]{0,63}", "MissingBlobs")
# A refusal's message may quote what was refused (an unknown field's name, the missing blob
# ids), so it is bounded only by the answer that carries it.
MAX_ANSWER_MESSAGE = MAX_INBOX_ANSWER_BYTES

# The ciphertext of the largest attachment (64 GiB): an upload's Upload-Length.
MAX_BLOB_BYTES = ciphertext_size(MAX_ATTACHMENT_SIZE)
# A peer's uploads not yet tied to a letter (docs/PROTOCOL.md 17.2.1), at one node: a quota,
# so that no unit can fill another's disk, or the centre's, with blobs no envelope names.
# 8 GiB holds the attachments of many letters in flight (a sender's batch keeps under a
# quarter of it, node/unit/delivery.py). An upload is admitted whatever its length when its
# uploader holds no other, so one attachment of any size (MAX_BLOB_BYTES) always goes.
MAX_UNTIED_UPLOAD_BYTES = 8 * 1024**3
# ...and their number, whatever their sizes: bounds the quota's query and the sweep.
MAX_UNTIED_UPLOADS = 1000
# An upload that no stored or deposited envelope names this long after its uploader last
# sent or asked about it (PUT, HEAD) is removed with its bytes, unfinished or not. A sender
# posts the envelope seconds after its blobs and retries within minutes (its back-off is
# capped at 10 minutes), so only an abandoned upload is this old.
UPLOAD_TIE_SECONDS = 6 * 3600
# Upload-Offset and Upload-Length: ASCII decimal digits, no sign, at most 19 (MAX_BLOB_BYTES
# has 11); int() alone would take "1_0", " 7" or other scripts' digits.
UPLOAD_NUMBER = pattern("upload byte count", "[0-9]{1,19}", "1048576")

# If-None-Match lists the directory versions a client holds: one or two in practice.
MAX_ETAGS = 16

WHAT_BATCH = "inbox request"
WHAT_ANSWER = "inbox answer"
KEYS = ("envelopes", "statuses")


class Batch(NamedTuple):
    """One inbox request: complete envelope wrappers and status wrappers, in request order."""

    envelopes: list[bytes]
    statuses: list[bytes]


def encode_batch(envelopes: Sequence[bytes], statuses: Sequence[bytes]) -> bytes:
    """The body of `POST /v1/inbox`."""
    return pack({"envelopes": list(envelopes), "statuses": list(statuses)})


def batch_decoder() -> IncrementalDecoder[Batch]:
    """An inbox request decoded as its bytes arrive (`feed`, then `finish`), as decode_batch."""
    return IncrementalDecoder(
        WHAT_BATCH, max_bytes=MAX_INBOX_BYTES, max_item_bytes=MAX_ITEM_BYTES, build=_batch
    )


def decode_batch(data: bytes) -> Batch:
    """An inbox request from untrusted bytes; DecodeError, LimitExceeded or InvalidField.

    Either key may be absent (= empty), but neither may be nil; no other key; no item
    longer than MAX_ITEM_BYTES.
    """
    return batch_decoder().decode(data)


def _batch(value: Any) -> Batch:
    f = Fields(value, WHAT_BATCH)
    present = f.raw_keys()
    lists = [f.list(key, max_items=MAX_INBOX_ITEMS) if key in present else [] for key in KEYS]
    f.done()
    envelopes, statuses = lists
    check_items(WHAT_BATCH, envelopes, statuses, limit=MAX_INBOX_ITEMS)
    return Batch(envelopes, statuses)


def check_items(what: str, envelopes: list[Any], statuses: list[Any], *, limit: int) -> None:
    """At most `limit` items in all, each binary (an inbox request and a relay deposit)."""
    count = len(envelopes) + len(statuses)
    if count > limit:
        raise LimitExceeded(
            f"{what}: fields 'envelopes' and 'statuses': {count} items is over the limit of "
            f"{limit} in one request"
        )
    for key, items in (("envelopes", envelopes), ("statuses", statuses)):
        for i, item in enumerate(items):
            if type(item) is not bytes:
                raise InvalidField(what, f"{key}[{i}]", "expected binary (one complete wrapper)")


@dataclass(frozen=True, slots=True)
class ItemAnswer:
    """The answer to one item of an inbox request (docs/PROTOCOL.md §17.1)."""

    ok: bool
    status: bytes | None = None  # an envelope taken: the recipient's signed 01
    error: str | None = None  # a refusal: the error's name
    message: str | None = None  # a refusal: what was wrong
    missing: tuple[str, ...] | None = None  # MissingBlobs: the blob ids not uploaded yet

    @classmethod
    def taken(cls, status: bytes) -> ItemAnswer:
        return cls(ok=True, status=status)

    @classmethod
    def applied(cls) -> ItemAnswer:
        return cls(ok=True)

    @classmethod
    def refused(cls, error: str, message: str, missing: Sequence[str] | None = None) -> ItemAnswer:
        return cls(
            ok=False,
            error=error,
            message=message,
            missing=None if missing is None else tuple(missing),
        )

    def describe(self) -> str:
        """The refusal as a sender keeps it: `<ErrorName>: <message>` (the message cut)."""
        return f"{self.error}: {str(self.message)[:300]}"


class BatchAnswer(NamedTuple):
    envelopes: list[ItemAnswer]
    statuses: list[ItemAnswer]


def _answer_to_wire(answer: ItemAnswer) -> dict[str, Any]:
    if answer.ok:
        return {"ok": True} if answer.status is None else {"ok": True, "status": answer.status}
    value: dict[str, Any] = {"ok": False, "error": answer.error, "message": answer.message}
    if answer.missing is not None:
        value["missing"] = list(answer.missing)
    return value


def encode_batch_answer(envelopes: Sequence[ItemAnswer], statuses: Sequence[ItemAnswer]) -> bytes:
    """The `200` body of `POST /v1/inbox`: one answer per item, in request order."""
    return pack(
        {
            "envelopes": [_answer_to_wire(a) for a in envelopes],
            "statuses": [_answer_to_wire(a) for a in statuses],
        }
    )


def decode_batch_answer(data: bytes, *, envelopes: int, statuses: int) -> BatchAnswer:
    """A peer's answer to a batch of `envelopes` and `statuses` items, strictly checked.

    Both keys are required and hold exactly one answer per item sent; an envelope taken
    carries its 01, a status applied nothing else, a refusal its error name and message
    (and, for MissingBlobs, the missing blob ids). DecodeError, LimitExceeded or InvalidField.
    """
    f = Fields(unpack(data, what=WHAT_ANSWER, max_bytes=MAX_INBOX_ANSWER_BYTES), WHAT_ANSWER)
    answers = []
    for key, sent in zip(KEYS, (envelopes, statuses), strict=True):
        items = f.list(key, max_items=MAX_INBOX_ITEMS)
        if len(items) != sent:
            raise InvalidField(WHAT_ANSWER, key, f"{len(items)} answers for {sent} items sent")
        answers.append(
            [_item_answer(v, f"{key}[{i}]", key == "envelopes") for i, v in enumerate(items)]
        )
    f.done()
    return BatchAnswer(*answers)


def _item_answer(value: Any, where: str, envelope: bool) -> ItemAnswer:
    what = f"{WHAT_ANSWER}: {where}"
    f = Fields(value, what)
    if f.bool("ok"):
        status = f.bytes("status", max_len=MAX_STATUS_BYTES) if envelope else None
        f.done()
        return ItemAnswer(ok=True, status=status)
    error = f.str("error", min_len=1, max_len=MAX_ERROR_NAME)
    if not ERROR_NAME.matches(error):
        raise InvalidField(what, "error", f"{error[:40]!r} is not an error name")
    message = f.str("message", max_len=MAX_ANSWER_MESSAGE)
    missing = None
    if error == "MissingBlobs":
        missing = f.strs("missing", max_items=MAX_ATTACHMENTS, max_len=64)
        for i, blob_id in enumerate(missing):
            if not BLOB_ID.matches(blob_id):
                raise InvalidField(what, f"missing[{i}]", "expected 64 lowercase hex digits")
    f.done()
    return ItemAnswer(ok=False, error=error, message=message, missing=missing)


# -- blobs and the directory: headers -------------------------------------------------------


def parse_upload_number(value: str) -> int | None:
    """A byte count from `Upload-Offset` or `Upload-Length`; None unless 1-19 ASCII digits."""
    return int(value) if UPLOAD_NUMBER.matches(value) else None


def directory_etag(version: int, form: int = 1) -> str:
    """The entity tag of directory `version` in `form`: `"v<version>"` for form 1 (as a
    version-1 node writes it), `"v<version>.<form>"` otherwise, so that a cache of one
    form never answers for the other."""
    return f'"v{version}"' if form == 1 else f'"v{version}.{form}"'


def held_etags(header: str) -> set[str]:
    """The entity tags an `If-None-Match` header lists: the first MAX_ETAGS, `W/` dropped."""
    tags = set()
    for item in header.split(",")[:MAX_ETAGS]:
        tag = item.strip()
        tags.add(tag[2:] if tag.startswith("W/") else tag)
    return tags

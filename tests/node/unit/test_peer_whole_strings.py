"""Over a unit's real peer API (mutual TLS on 127.0.0.1): an envelope or a status whose ids or
unit codes carry a trailing newline is refused item by item with InvalidField naming the
field, no 01 is signed for it, and the receiver stores nothing."""

from __future__ import annotations

import pytest

from lienthong.crypto import signing
from lienthong.node.context import NodeContext
from lienthong.protocol.codes import StatusCode
from lienthong.protocol.ids import new_ulid
from lienthong.protocol.status import verify_status
from lienthong.protocol.wire import pack, unit_signer, wrap
from tests.node.tls_federation import A, B, C, Federation, post_inbox, row_counts, send
from tests.protocol.forge import body_map, forge_envelope, header

# What a peer can make a unit store; a refusal leaves each as it was.
TABLES = ("documents", "status_events", "status_outbox", "outbox", "blobs")


async def stored(ctx: NodeContext) -> dict[str, int]:
    return await row_counts(ctx, TABLES)


def envelope_from_a(fed: Federation, *, signer: str | None = None, body=None, **fields) -> bytes:
    """A's envelope to B and C, built byte by byte, with header fields replaced."""
    directory = fed.centre.directory.current
    h = header(new_ulid(fed.clock()), A, fed.serial(A), [B, C], fed.clock())
    return forge_envelope(
        keys=fed.units[A].ctx.keys,
        signer=signer or unit_signer(A, fed.serial(A)),
        header={**h, **fields},
        enc_keys=[directory.current(B).enc_key, directory.current(C).enc_key],
        body=body,
    )


async def test_the_forged_envelope_is_taken_when_nothing_is_wrong(fed):
    """The control: the hand-built envelope is a valid one, answered with a 01 naming it."""
    a, c = fed.units[A], fed.units[C]
    (answer,) = (await post_inbox(a, c, envelopes=[envelope_from_a(fed)]))["envelopes"]
    assert answer["ok"] is True
    assert verify_status(answer["status"], a.ctx.directory.key_lookup).status.code == 1


@pytest.mark.parametrize(
    ("field", "change"),
    [
        ("id", lambda fed: {"id": new_ulid(fed.clock()) + "\n"}),
        ("reply_to", lambda fed: {"reply_to": new_ulid(fed.clock()) + "\n"}),
        ("recipients[0]", lambda fed: {"recipients": [B + "\n", C]}),
        ("sender", lambda fed: {"sender": A + "\n"}),
    ],
)
async def test_a_header_field_with_a_trailing_newline_is_refused_and_nothing_stored(
    fed, field, change
):
    """header.id, reply_to, a recipient and the sender with "\\n": InvalidField naming the
    field, no 01, nothing stored (a prefix match would have stored it and signed a 01 whose
    `envelope` a strict implementation refuses)."""
    a, c = fed.units[A], fed.units[C]
    before = await stored(c.ctx)
    (answer,) = (await post_inbox(a, c, envelopes=[envelope_from_a(fed, **change(fed))]))[
        "envelopes"
    ]
    assert (answer["ok"], answer["error"]) == (False, "InvalidField")
    assert f"field {field!r}" in answer["message"]
    assert "status" not in answer
    assert await stored(c.ctx) == before


async def test_a_sender_code_with_a_newline_in_the_hint_is_invalid_not_unknown(fed):
    """The signer hint "<code>\\n:<serial>" is a malformed field (`signer`), not an unknown
    signer: the client is told its bytes are wrong, not to wait for a directory."""
    a, c = fed.units[A], fed.units[C]
    before = await stored(c.ctx)
    hint = f"{A}\n:{fed.serial(A)}"
    (answer,) = (await post_inbox(a, c, envelopes=[envelope_from_a(fed, signer=hint)]))["envelopes"]
    assert (answer["ok"], answer["error"]) == (False, "InvalidField")
    assert "field 'signer'" in answer["message"]
    assert await stored(c.ctx) == before


async def test_an_issuer_code_with_a_trailing_newline_is_refused_and_nothing_stored(fed):
    """issuer.code is in the encrypted body: the recipient refuses it on opening."""
    a, c = fed.units[A], fed.units[C]
    before = await stored(c.ctx)
    raw = envelope_from_a(fed, body=body_map(code=A + "\n"))
    (answer,) = (await post_inbox(a, c, envelopes=[raw]))["envelopes"]
    assert (answer["ok"], answer["error"]) == (False, "InvalidField")
    assert "issuer: field 'code'" in answer["message"]
    assert await stored(c.ctx) == before


async def test_a_status_naming_an_envelope_with_a_trailing_newline_is_refused(fed):
    """B answers A's real envelope with a status whose `envelope` carries "\\n": refused
    with InvalidField, and A's record of the delivery does not change."""
    a, b = fed.units[A], fed.units[B]
    envelope_id, _ = await send(a, [B])
    signed = pack(
        {
            "v": 1,
            "kind": "status",
            "id": new_ulid(fed.clock()),
            "envelope": envelope_id + "\n",
            "sender": B,
            "serial": fed.serial(B),
            "to": A,
            "code": int(StatusCode.IN_PROGRESS),
            "at": fed.clock(),
            "receipt": None,
            "number": None,
            "year": None,
            "reason": None,
            "assignee": None,
            "staff": None,
            "note": None,
        }
    )
    raw = wrap(
        signed,
        signing.sign(b.ctx.keys.signing, signing.STATUS, signed),
        unit_signer(B, fed.serial(B)),
    )
    before = await stored(a.ctx)
    (answer,) = (await post_inbox(b, a, statuses=[raw]))["statuses"]
    assert (answer["ok"], answer["error"]) == (False, "InvalidField")
    assert "field 'envelope'" in answer["message"]
    assert await stored(a.ctx) == before

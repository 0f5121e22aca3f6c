"""Envelopes built byte by byte, as an outside implementation (or an attacker) would: any
header and any body map, encrypted and validly signed, with no check of our own on the way."""

from __future__ import annotations

import os
from typing import Any

from lienthong.crypto import aead, sealing, signing
from lienthong.crypto.keys import NodeKeys
from lienthong.protocol.document import body_to_wire
from lienthong.protocol.envelope import BODY_AAD_PREFIX
from lienthong.protocol.wire import pack, wrap
from tests.protocol.fixtures import letter_2340


def body_map(**issuer: Any) -> dict[str, Any]:
    """The wire map of letter 2340, with fields of its issuer replaced."""
    wire = body_to_wire(letter_2340())
    wire["metadata"]["issuer"].update(issuer)
    return wire


def forge_envelope(
    *,
    keys: NodeKeys,
    signer: str,
    header: dict[str, Any],
    enc_keys: list[bytes],
    body: dict[str, Any] | None = None,
) -> bytes:
    """An envelope with exactly `header` (sealed to `enc_keys`, one per recipient) and `body`
    (letter 2340 by default), signed by `keys` under the hint `signer`."""
    content_key, nonce = os.urandom(aead.KEY_BYTES), os.urandom(aead.NONCE_BYTES)
    plaintext = pack(body if body is not None else body_map())
    aad = BODY_AAD_PREFIX + str(header["id"]).encode()
    signed = pack(
        {
            "v": 1,
            "kind": "envelope",
            "header": header,
            "body": {
                "keys": [sealing.seal(k, content_key) for k in enc_keys],
                "nonce": nonce,
                "ciphertext": aead.encrypt(content_key, nonce, plaintext, aad),
            },
        }
    )
    return wrap(signed, signing.sign(keys.signing, signing.ENVELOPE, signed), signer)


def header(
    envelope_id: str, sender: str, serial: int, recipients: list[str], created: int
) -> dict[str, Any]:
    """A header map of a new document, every field written (section 4.1)."""
    return {
        "id": envelope_id,
        "business": "new",
        "sender": sender,
        "serial": serial,
        "recipients": recipients,
        "created": created,
        "reply_to": None,
        "target": None,
        "blobs": [],
    }

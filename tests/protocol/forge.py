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


def body_map(version: int = 2, **issuer: Any) -> dict[str, Any]:
    """The wire map of letter 2340 in protocol `version`, with fields of its issuer replaced."""
    wire = body_to_wire(letter_2340(), version)
    wire["metadata"]["issuer"].update(issuer)
    return wire


def forge_envelope(
    *,
    keys: NodeKeys,
    signer: str,
    header: dict[str, Any],
    enc_keys: list[bytes],
    body: dict[str, Any] | None = None,
    version: int = 2,
) -> bytes:
    """An envelope of protocol `version` with exactly `header` (sealed to `enc_keys`, one per
    recipient) and `body` (letter 2340 in that version by default), signed by `keys` under
    the hint `signer`."""
    content_key, nonce = os.urandom(aead.KEY_BYTES), os.urandom(aead.NONCE_BYTES)
    plaintext = pack(body if body is not None else body_map(version))
    aad = BODY_AAD_PREFIX + str(header["id"]).encode()
    signed = pack(
        {
            "v": version,
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
    envelope_id: str,
    sender: str,
    serial: int,
    recipients: list[str],
    created: int,
    version: int = 2,
) -> dict[str, Any]:
    """A header map of a new document, every field written (section 4.1): version 2 names a
    list `targets`, version 1 one `target`."""
    fields: dict[str, Any] = {
        "id": envelope_id,
        "business": "new",
        "sender": sender,
        "serial": serial,
        "recipients": recipients,
        "created": created,
        "reply_to": None,
    }
    if version == 1:
        fields["target"] = None
    else:
        fields["targets"] = []
    return {**fields, "blobs": []}

"""Certificate renewal: the key rotation a running unit asks for by itself, before its
certificate ends or after (docs/FEDERATION.md §7, docs/PROTOCOL.md 18).

The request is the rotation request of `lienthong keys rotate` (docs/PROTOCOL.md 9.2: the
old key signs the new keys), for a new signing key and a new TLS key. The encryption key
stays: letters sealed to it before the renewal (waiting in a sender's outbox or at the
relay, up to the relay's retention) still open afterwards. Where it goes:

* `POST /v1/rotate` over mutual TLS, the first time, while the certificate is valid;
* `POST /v1/renew`, TLS to the centre's CA without a client certificate, once the
  certificate has ended (its X.509 twin has ended too, so no handshake would present it)
  and for every repeat of a request made before: after a `202` the operator's approval
  replaces the certificate the unit would present, so only this path finds the answer.

The new keys wait beside the old ones (`*.next`, as for `keys rotate`) until the centre
answers; a repeat sends the same keys and gets the same certificate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import nacl.signing

from lienthong.bootstrap.answer import CheckedAnswer, check_answer, install_answer, raw_public
from lienthong.bootstrap.answer import write_file as write_atomically
from lienthong.bootstrap.enrolment import (
    REQUEST_TIMEOUT,
    Pending,
    centre_context,
    endpoints_of,
    outcome_of,
    post_request,
)
from lienthong.bootstrap.errors import CentreRefused
from lienthong.bootstrap.rotation import _current_state, _swap_keys, pending_path, tls_algorithm
from lienthong.bootstrap.settings import NodeSettings
from lienthong.crypto import x509 as tls
from lienthong.crypto.keys import NodeKeys
from lienthong.crypto.keystore import is_sealed, load_keys, save_keys
from lienthong.protocol.certificate import make_registration

ROTATE_PATH = "/v1/rotate"
RENEW_PATH = "/v1/renew"


@dataclass(frozen=True)
class Renewed:
    """A checked answer for the new keys, not installed yet (finish_renewal does it)."""

    answer: CheckedAnswer
    keys: NodeKeys
    old_serial: int
    centre_url: str


@dataclass(frozen=True)
class Held:
    """The centre holds the request for its operator: ask again later with the same keys."""

    message: str
    sign_public: bytes  # the new key whose fingerprint the operator is shown


@dataclass(frozen=True)
class RenewalKeys:
    keys: NodeKeys
    tls_key: tls.TlsPrivateKey
    repeat: bool  # made by an earlier request (a lost answer, or one held for approval)


def renewal_keys(
    settings: NodeSettings, key_path: Path, old: NodeKeys, passphrase: bytes | None
) -> RenewalKeys:
    """The keys of the renewal in progress (`*.next`), or new ones, saved first: a new
    signing key with the old encryption key, and a new TLS key of the federation's
    algorithm (its CA's); both sealed with `passphrase` when the identity key is."""
    next_keys, next_tls = pending_path(key_path), pending_path(settings.tls_key_path)
    if next_keys.exists() and next_tls.exists():
        keys = load_keys(next_keys, passphrase)
        tls_key = tls.key_from_pem(next_tls.read_bytes(), passphrase)
        return RenewalKeys(keys, tls_key, repeat=True)
    keys = NodeKeys(nacl.signing.SigningKey.generate(), old.encryption)
    tls_key = tls.generate_tls_key(tls_algorithm(settings))
    save_keys(next_keys, keys, passphrase, overwrite=True)
    write_atomically(next_tls, tls.key_to_pem(tls_key, passphrase), mode=0o600)  # as the identity
    return RenewalKeys(keys, tls_key, repeat=False)


def in_progress(settings: NodeSettings) -> bool:
    """Whether new keys wait for the centre's answer (a renewal or a `keys rotate`)."""
    return pending_path(settings.identity_key_path).exists()


async def request_renewal(
    settings: NodeSettings, *, passphrase: bytes | None, clock: Callable[[], int]
) -> Renewed | Held:
    """Ask the centre to certify new keys on the strength of the current key; the answer
    checked, nothing installed. Raises NotEnrolled, CentreRefused, CentreUnreachable or
    AnswerRejected; Held while the operator has not approved."""
    base, root, key_path, old_keys, current = _current_state(settings, passphrase)
    seal = passphrase if is_sealed(key_path) else None
    new = renewal_keys(settings, key_path, old_keys, seal)
    now = clock()
    request = make_registration(
        new.keys,
        code=settings.code,
        name=settings.name,
        tls_key=raw_public(new.tls_key.public_key()),
        endpoints=endpoints_of(settings),
        reachable=settings.reachable,
        created=now,
        old_keys=old_keys,
        old_serial=current.serial,
    )
    if new.repeat or now > current.not_after:
        path, context = RENEW_PATH, centre_context(settings.ca_path.read_bytes())
    else:
        path = ROTATE_PATH
        context = tls.client_context(
            settings.tls_cert_path, settings.tls_key_path, settings.ca_path, passphrase
        )
    async with aiohttp.ClientSession(timeout=REQUEST_TIMEOUT) as session:
        status, body = await post_request(session, base + path, request, context=context)
    outcome = outcome_of(status, body, settings.code, "certificate renewal")
    if isinstance(outcome, CentreRefused):
        raise outcome
    if isinstance(outcome, Pending):
        return Held(outcome.message, new.keys.sign_public)
    answer = check_answer(
        outcome,
        code=settings.code,
        keys=new.keys,
        tls_public=raw_public(new.tls_key.public_key()),
        root_public=root,
        now=clock(),
    )
    return Renewed(answer, new.keys, current.serial, base)


def finish_renewal(settings: NodeSettings, renewed: Renewed) -> None:
    """Write the certificates, keep the old identity key as `identity.key.<serial>.old`
    and put the new keys in place (the caller has accepted the answer's directory)."""
    install_answer(settings, renewed.answer)
    _swap_keys(settings.identity_key_path, settings.tls_key_path, renewed.old_serial)

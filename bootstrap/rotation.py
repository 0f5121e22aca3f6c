"""Key rotation: new keys certified by the centre on the strength of the old key.

The request carries the new keys and the old key's signature over them
(docs/PROTOCOL.md 9.2) and goes to POST /v1/rotate over mutual TLS with the
current certificate. The new keys wait beside the old ones (`*.next`) until
the centre answers, so running the command again after a lost answer sends
the same keys and gets the same certificate back. The old key file is kept as
keys/identity.key.<old serial>.old: envelopes sealed to the old encryption key
can still be opened, and the old certificate stays listed in the directory, so
what the old key signed still verifies.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import aiohttp

from lienthong.bootstrap.answer import check_answer, load_ca, raw_public, write_file
from lienthong.bootstrap.enrolment import (
    REQUEST_TIMEOUT,
    Enrolled,
    Pending,
    endpoints_of,
    enrolled_from,
    https_base,
    install,
    outcome_of,
    post_request,
)
from lienthong.bootstrap.errors import CentreRefused, NotEnrolled
from lienthong.bootstrap.settings import NodeSettings
from lienthong.crypto import x509 as tls
from lienthong.crypto.errors import LienthongError
from lienthong.crypto.keys import NodeKeys, normalise_fingerprint
from lienthong.crypto.keystore import is_sealed, load_keys, save_keys
from lienthong.protocol.certificate import NodeCertificate, make_registration, verify_certificate
from lienthong.storage.db import unix_ms

PENDING_SUFFIX = ".next"  # keys of a rotation in progress, kept until the centre answers


async def rotate(
    settings: NodeSettings, *, passphrase: bytes | None, clock: Callable[[], int] = unix_ms
) -> Enrolled:
    """Replace the node's keys and certificates; `passphrase` opens (and seals) the key file.

    Raises NotEnrolled, CentreRefused, CentreUnreachable or AnswerRejected;
    the key files change only after the answer checks out. Restart a running
    node afterwards: it holds the old keys in memory.
    """
    base, root, key_path, old_keys, current = _current_state(settings, passphrase)
    seal = passphrase if is_sealed(key_path) else None
    new_keys, new_tls = _pending_keys(settings, key_path, seal, tls_algorithm(settings))
    request = make_registration(
        new_keys,
        code=settings.code,
        name=settings.name,
        tls_key=raw_public(new_tls.public_key()),
        endpoints=endpoints_of(settings),
        reachable=settings.reachable,
        created=clock(),
        old_keys=old_keys,
        old_serial=current.serial,
    )
    mutual = tls.client_context(
        settings.tls_cert_path, settings.tls_key_path, settings.ca_path, passphrase
    )
    async with aiohttp.ClientSession(timeout=REQUEST_TIMEOUT) as session:
        status, body = await post_request(session, f"{base}/v1/rotate", request, context=mutual)
    outcome = outcome_of(status, body, settings.code, "key rotation")
    if isinstance(outcome, CentreRefused):
        raise outcome
    if isinstance(outcome, Pending):
        raise CentreRefused(
            f"the centre did not issue a certificate: {outcome.message}",
            status=202,
            error="Pending",
        )
    answer = check_answer(
        outcome,
        code=settings.code,
        keys=new_keys,
        tls_public=raw_public(new_tls.public_key()),
        root_public=root,
        now=clock(),
    )
    await install(settings, answer, root, clock, source=f"key rotation at {base}")
    _swap_keys(key_path, settings.tls_key_path, current.serial)
    pinned = settings.federation.centre_fingerprint
    return enrolled_from(answer, base, normalise_fingerprint(pinned) if pinned else "")


def _current_state(
    settings: NodeSettings, passphrase: bytes | None
) -> tuple[str, bytes, Path, NodeKeys, NodeCertificate]:
    """Centre URL, root key, key file, old keys and current certificate; all must agree."""
    for path in (settings.certificate_path, settings.ca_path, settings.tls_cert_path):
        if not path.exists():
            raise NotEnrolled(f"{path} is missing: enrol the node first (lienthong enrol)")
    url = settings.federation.centre_url
    if not url:
        raise NotEnrolled("federation.centre_url is not set in node.toml: enrol the node first")
    _, root = load_ca(settings.ca_path.read_bytes(), str(settings.ca_path))
    key_path = settings.identity_key_path
    old_keys = load_keys(key_path, passphrase)
    try:
        current = verify_certificate(settings.certificate_path.read_bytes(), root)
    except LienthongError as exc:
        raise NotEnrolled(f"{settings.certificate_path}: {exc}") from None
    if current.sign_key != old_keys.sign_public:
        raise NotEnrolled(
            f"{settings.certificate_path} (serial {current.serial}) is not for the key in "
            f"{key_path}: restore the key file that matches it"
        )
    return https_base(url), root, key_path, old_keys, current


def tls_algorithm(settings: NodeSettings) -> str:
    """The algorithm of the federation's TLS keys: that of the CA certificate's key."""
    try:
        return tls.algorithm_of(tls.cert_from_pem(settings.ca_path.read_bytes()).public_key())
    except LienthongError as exc:
        raise NotEnrolled(f"{settings.ca_path}: {exc}") from None


def pending_path(path: Path) -> Path:
    """Where the new key of a rotation in progress waits (`<name>.next`)."""
    return path.with_name(path.name + PENDING_SUFFIX)


def _pending_keys(
    settings: NodeSettings, key_path: Path, passphrase: bytes | None, algorithm: str
) -> tuple[NodeKeys, tls.TlsPrivateKey]:
    """The new keys of this rotation: those of an interrupted run, or fresh ones (the TLS
    key of the federation's `algorithm`), saved."""
    next_keys, next_tls = pending_path(key_path), pending_path(settings.tls_key_path)
    if next_keys.exists() and next_tls.exists():
        return load_keys(next_keys, passphrase), tls.key_from_pem(next_tls.read_bytes(), passphrase)
    keys, tls_key = NodeKeys.generate(), tls.generate_tls_key(algorithm)
    save_keys(next_keys, keys, passphrase, overwrite=True)
    write_file(next_tls, tls.key_to_pem(tls_key, passphrase), mode=0o600)  # sealed as the identity
    return keys, tls_key


def _swap_keys(key_path: Path, tls_key_path: Path, old_serial: int) -> None:
    """Keep the old identity key as `<name>.<serial>.old`, then put the new keys in place."""
    archive = key_path.with_name(f"{key_path.name}.{old_serial}.old")
    if not archive.exists():
        write_file(archive, key_path.read_bytes(), mode=0o600)
    os.replace(pending_path(key_path), key_path)
    os.replace(pending_path(tls_key_path), tls_key_path)

"""Joining the federation: enrolment with a token (online or by files) and key rotation.

Online enrolment, step by step (docs/FEDERATION.md has the centre's side):
1. GET /v1/ca without checking the server: the CA certificate's key is the
   centre's root key, or one the root key endorses in it, so the fingerprint pinned
   out of band authenticates it. A wrong fingerprint stops here; nothing else is sent.
   The CA's key algorithm (Ed25519 or ECDSA P-256) is the one of our TLS key.
2. POST /v1/enrol over TLS checked against that CA (host name checked too),
   with a registration request signed by our key and bound to the token.
3. Check the answer (bootstrap/answer.py) and only then write it: the
   directory into the store, certificate.bin, tls/cert.pem, tls/ca.pem and
   the pinned centre into node.toml.

Key rotation is in bootstrap/rotation.py. What is read of the node's
configuration comes as a NodeSettings (bootstrap/settings.py); the caller
passes `save_federation`, which records the centre in node.toml
(node/datadir.py federation_saver does it for node/cli/commands/enrol.py).
"""

from __future__ import annotations

import base64
import binascii
import json
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

from lienthong.bootstrap.answer import (
    MAX_ANSWER_BYTES,
    CheckedAnswer,
    check_answer,
    check_pin,
    decode_answer,
    install_answer,
    load_ca,
    raw_public,
    write_file,
)
from lienthong.bootstrap.directory import DirectoryState, read_capped
from lienthong.bootstrap.errors import (
    AlreadyEnrolled,
    CentreRefused,
    CentreUnreachable,
    FetchFailed,
    FingerprintMismatch,
    InvalidToken,
    NotEnrolled,
)
from lienthong.bootstrap.settings import NodeSettings, SaveFederation
from lienthong.crypto import x509 as tls
from lienthong.crypto.keys import NodeKeys, normalise_fingerprint
from lienthong.protocol.certificate import MAX_TOKEN_ID, make_registration
from lienthong.protocol.text import pattern
from lienthong.storage.db import Store, unix_ms

CONTENT_TYPE = "application/x-lienthong"
# A token is typed by a technician: an id of at most MAX_TOKEN_ID characters, a dot and a
# base32 secret; anything longer is a mistake, refused before it is looked at.
MAX_TOKEN_TEXT = MAX_TOKEN_ID + 1 + 128
MIN_SECRET_BYTES = 16  # the centre makes 20 random bytes; fewer is a truncated token
TOKEN_ID = pattern("enrolment token id", f"[0-9A-Za-z]{{1,{MAX_TOKEN_ID}}}", "3f9a0c7e21")
# base32 in either case and optional padding, in groups split by the spaces and dashes a
# person types.
TOKEN_SECRET = pattern(
    "enrolment token secret", "[A-Za-z2-7=]+(?:[ -]+[A-Za-z2-7=]+)*", "MFRG-GZDF MZTW-Q2LK"
)
# A refusal or a pending answer is a short JSON object.
MAX_STATUS_BODY = 64 * 1024
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=300, connect=10)


@dataclass(frozen=True)
class Enrolled:
    """What enrolment (or rotation) installed."""

    code: str
    serial: int
    not_after: int
    directory_version: int
    centre_url: str
    fingerprint: str


@dataclass(frozen=True)
class Pending:
    """The centre keeps the request until an operator approves it; run the same command again."""

    code: str
    message: str


def parse_token(token: str) -> tuple[str, bytes]:
    """Split an enrolment token `<token_id>.<secret>` as `lienthong centre add-unit` prints it.

    token_id: the text before the dot, lower-cased (the centre prints it as hex).
    secret: the text after the dot, spaces and dashes removed, upper-cased and
    decoded as RFC 4648 base32 (padding optional). These decoded bytes (20 at
    the centre) are the HMAC-SHA256 key of the token MAC, docs/PROTOCOL.md 9.2.
    """
    text = token.strip()
    if len(text) > MAX_TOKEN_TEXT:
        raise InvalidToken(f"the token is {len(text)} characters, over the limit {MAX_TOKEN_TEXT}")
    token_id, dot, secret_text = text.partition(".")
    if not dot or not token_id or not secret_text:
        raise InvalidToken("the token must look like <token id>.<secret>, as the centre printed")
    if not TOKEN_ID.matches(token_id):
        raise InvalidToken(f"the token id {token_id[:20]!r} is not the centre's form (hex)")
    if not TOKEN_SECRET.matches(secret_text):  # "ı".upper() would be a base32 "I"
        raise InvalidToken("the token secret (after the dot) is not base32 (A-Z, 2-7)")
    compact = "".join(ch for ch in secret_text.upper() if ch not in " -")
    try:
        secret = base64.b32decode(compact + "=" * (-len(compact) % 8))
    except (binascii.Error, ValueError):
        raise InvalidToken("the token secret (after the dot) is not base32 (A-Z, 2-7)") from None
    if len(secret) < MIN_SECRET_BYTES:
        raise InvalidToken(
            f"the token secret is {len(secret)} bytes, at least {MIN_SECRET_BYTES} expected: "
            "is the token complete?"
        )
    return token_id.lower(), secret


def endpoints_of(settings: NodeSettings) -> list[str]:
    """The peer URL to publish: none for a node that cannot accept inbound connections."""
    if not settings.reachable:
        return []
    url = settings.peer_url
    host = urlsplit(url).hostname or ""
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - refused, not bound
        raise NotEnrolled(
            f"the peer URL {url} is not an address other nodes can reach: set node.public_url "
            "in node.toml (e.g. https://10.0.0.5:7443)"
        )
    return [url]


def tls_key_for(
    settings: NodeSettings, passphrase: bytes | None = None, algorithm: str = tls.ED25519
) -> tuple[tls.TlsPrivateKey, bool]:
    """The node's TLS key from keys/tls.key (opened with `passphrase` if it is sealed), or a
    new one of `algorithm`, the federation's (True: not written yet).

    A key file of another algorithm is replaced: no centre has certified it or bound a
    token to it, since a centre refuses a TLS key of another algorithm than its CA's
    before it stores anything (docs/FEDERATION.md, "TLS key algorithm")."""
    path = settings.tls_key_path
    if path.exists():
        key = tls.key_from_pem(path.read_bytes(), passphrase)
        if tls.algorithm_of(key) == algorithm:
            return key, False
    return tls.generate_tls_key(algorithm), True


def build_request(
    settings: NodeSettings, keys: NodeKeys, tls_key: tls.TlsPrivateKey, token: str, now: int
) -> bytes:
    """The registration request for this unit, authorised by the token."""
    token_id, secret = parse_token(token)
    return make_registration(
        keys,
        code=settings.code,
        name=settings.name,
        tls_key=raw_public(tls_key.public_key()),
        endpoints=endpoints_of(settings),
        reachable=settings.reachable,
        created=now,
        token_id=token_id,
        token_secret=secret,
    )


def _refuse_if_enrolled(settings: NodeSettings) -> None:
    if settings.certificate_path.exists():
        raise AlreadyEnrolled(
            f"{settings.data_dir} is enrolled already ({settings.certificate_path} exists); to "
            "change keys use 'lienthong keys rotate'"
        )


# -- online ---------------------------------------------------------------------------------


async def enrol_online(
    settings: NodeSettings,
    keys: NodeKeys,
    *,
    centre_url: str,
    fingerprint: str,
    token: str,
    save_federation: SaveFederation,
    passphrase: bytes | None = None,
    clock: Callable[[], int] = unix_ms,
) -> Enrolled | Pending:
    """Enrol with the centre at `centre_url`, whose root key has the pinned `fingerprint`;
    keys/tls.key is sealed with `passphrase` (the identity key's) when one is given.

    Returns Pending while an operator must approve (the TLS key is kept, so the
    same command later sends the same keys). Raises FingerprintMismatch,
    CentreRefused, CentreUnreachable or AnswerRejected; nothing of the answer
    is written unless all of it checks out.
    """
    _refuse_if_enrolled(settings)
    pinned = normalise_fingerprint(fingerprint)
    base = https_base(centre_url)
    parse_token(token)
    async with aiohttp.ClientSession(timeout=REQUEST_TIMEOUT) as session:
        ca_pem = await _get(session, f"{base}/v1/ca", context=False, limit=tls.MAX_PEM_BYTES)
        ca, root = load_ca(ca_pem, f"the centre at {base}")
        check_pin(root, pinned, f"the centre at {base}")
        tls_key, new_key = tls_key_for(settings, passphrase, tls.algorithm_of(ca.public_key()))
        request = build_request(settings, keys, tls_key, token, clock())
        try:
            status, body = await post_request(
                session, f"{base}/v1/enrol", request, context=centre_context(ca_pem)
            )
        except CentreUnreachable:
            if new_key:  # the centre may have bound the token to this key: keep it for a re-run
                write_file(settings.tls_key_path, tls.key_to_pem(tls_key, passphrase), mode=0o600)
            raise
    outcome = outcome_of(status, body, settings.code, "enrolment")
    if isinstance(outcome, CentreRefused):
        raise outcome
    if isinstance(outcome, Pending):
        if new_key:  # the re-run after approval must present the same key
            write_file(settings.tls_key_path, tls.key_to_pem(tls_key, passphrase), mode=0o600)
        return outcome
    answer = check_answer(
        outcome,
        code=settings.code,
        keys=keys,
        tls_public=raw_public(tls_key.public_key()),
        root_public=root,
        now=clock(),
    )
    await install(settings, answer, root, clock, source=f"enrolment at {base}")
    if new_key:
        write_file(settings.tls_key_path, tls.key_to_pem(tls_key, passphrase), mode=0o600)
    save_federation(base, pinned)
    return enrolled_from(answer, base, pinned)


def centre_context(ca_pem: bytes) -> ssl.SSLContext:
    """TLS 1.3 client context trusting only the centre's CA, with the host name checked."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.verify_mode = ssl.CERT_REQUIRED
    context.check_hostname = True
    context.load_verify_locations(cadata=ca_pem.decode("ascii"))
    return context


def https_base(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme != "https" or not parts.hostname:
        raise NotEnrolled(f"the centre URL {url[:100]!r} is not an https URL")
    return url.strip().rstrip("/")


async def _get(
    session: aiohttp.ClientSession, url: str, *, context: ssl.SSLContext | bool, limit: int
) -> bytes:
    try:
        async with session.get(url, ssl=context) as response:
            if response.status != 200:
                body = await response.content.read(MAX_STATUS_BODY)
                raise _refusal(response.status, body, f"GET {url}")
            return await read_capped(response, limit, url)
    except FetchFailed as exc:
        raise CentreUnreachable(str(exc)) from None
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise CentreUnreachable(f"cannot reach {url}: {type(exc).__name__}: {exc}") from None


async def post_request(
    session: aiohttp.ClientSession, url: str, body: bytes, *, context: ssl.SSLContext
) -> tuple[int, bytes]:
    headers = {"Content-Type": CONTENT_TYPE}
    try:
        async with session.post(url, data=body, headers=headers, ssl=context) as response:
            limit = MAX_ANSWER_BYTES if response.status == 200 else MAX_STATUS_BODY
            return response.status, await read_capped(response, limit, url)
    except FetchFailed as exc:
        raise CentreUnreachable(str(exc)) from None
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise CentreUnreachable(f"cannot reach {url}: {type(exc).__name__}: {exc}") from None


def _refusal(status: int, body: bytes, what: str) -> CentreRefused:
    try:
        data = json.loads(body.decode("utf-8"))
        error, message = str(data["error"]), str(data["message"])
    except (ValueError, KeyError, TypeError):
        error, message = "HTTPError", body[:300].decode("utf-8", "replace")
    return CentreRefused(
        f"the centre refused the {what} ({error}, HTTP {status}): {message}",
        status=status,
        error=error,
    )


def outcome_of(status: int, body: bytes, code: str, what: str) -> bytes | Pending | CentreRefused:
    """The 200 answer's bytes, a Pending (202), or the refusal to raise."""
    if status == 200:
        return body
    if status == 202:
        try:
            message = str(json.loads(body.decode("utf-8"))["message"])
        except (ValueError, KeyError, TypeError):
            message = "the centre's operator must approve this enrolment"
        return Pending(code, message)
    return _refusal(status, body, what)


async def install(
    settings: NodeSettings,
    answer: CheckedAnswer,
    root: bytes,
    clock: Callable[[], int],
    *,
    source: str,
) -> None:
    """The directory into the store first (it refuses a rollback), then the files."""
    async with await Store.open(
        settings.store_path, synchronous=settings.store_synchronous, clock=clock
    ) as store:
        state = await DirectoryState.load(store, root, clock)
        if answer.directory.version >= state.version:
            await state.accept(answer.directory.raw, source=source)
    install_answer(settings, answer)


def enrolled_from(answer: CheckedAnswer, url: str, pinned: str) -> Enrolled:
    cert = answer.certificate
    return Enrolled(
        code=cert.code,
        serial=cert.serial,
        not_after=cert.not_after,
        directory_version=answer.directory.version,
        centre_url=url,
        fingerprint=pinned,
    )


# -- offline --------------------------------------------------------------------------------


def write_request(
    settings: NodeSettings,
    keys: NodeKeys,
    token: str,
    out_path: Path,
    *,
    passphrase: bytes | None = None,
    tls_algorithm: str = tls.ED25519,
    clock: Callable[[], int] = unix_ms,
) -> bytes:
    """Write the registration request for the air-gapped path to `out_path`; return it.

    The TLS key is created now if absent or of another algorithm than `tls_algorithm`
    (the federation's, which the enrolment sheet names; keys/tls.key, 0600, sealed with
    `passphrase` when one is given): the certificate file that comes back is for it.
    """
    _refuse_if_enrolled(settings)
    tls_key, new_key = tls_key_for(settings, passphrase, tls_algorithm)
    request = build_request(settings, keys, tls_key, token, clock())
    if new_key:
        write_file(settings.tls_key_path, tls.key_to_pem(tls_key, passphrase), mode=0o600)
    write_file(Path(out_path), request)
    return request


async def import_certificate(
    settings: NodeSettings,
    keys: NodeKeys,
    path: Path,
    *,
    fingerprint: str | None = None,
    save_federation: SaveFederation,
    passphrase: bytes | None = None,
    clock: Callable[[], int] = unix_ms,
) -> Enrolled:
    """Install the certificate file the centre made from our request (`centre sign-request`);
    `passphrase` opens a sealed keys/tls.key.

    Its CA must match federation.centre_fingerprint when node.toml pins one,
    else `fingerprint`; the rest is checked as for online enrolment.
    """
    _refuse_if_enrolled(settings)
    pinned = _offline_pin(settings, fingerprint)
    path = Path(path)
    if not path.is_file():
        raise NotEnrolled(f"the certificate file {path} does not exist")
    if path.stat().st_size > MAX_ANSWER_BYTES:
        raise NotEnrolled(f"{path} is over the limit of {MAX_ANSWER_BYTES} bytes")
    if not settings.tls_key_path.exists():
        raise NotEnrolled(
            f"{settings.tls_key_path} is missing: the request was not made from this data "
            "directory (lienthong enrol --request-out makes it)"
        )
    data = path.read_bytes()
    _, root = load_ca(decode_answer(data)["ca_certificate"], f"the certificate file {path}")
    check_pin(root, pinned, f"the certificate file {path}")
    tls_key = tls.key_from_pem(settings.tls_key_path.read_bytes(), passphrase)
    answer = check_answer(
        data,
        code=settings.code,
        keys=keys,
        tls_public=raw_public(tls_key.public_key()),
        root_public=root,
        now=clock(),
    )
    url = settings.federation.centre_url or answer.directory.centre_url
    await install(settings, answer, root, clock, source=f"certificate file {path.name}")
    save_federation(url, pinned)
    return enrolled_from(answer, url, pinned)


def _offline_pin(settings: NodeSettings, fingerprint: str | None) -> str:
    pinned = settings.federation.centre_fingerprint
    given = normalise_fingerprint(fingerprint) if fingerprint else None
    if pinned:
        pinned = normalise_fingerprint(pinned)
        if given and given != pinned:
            raise FingerprintMismatch(
                f"--fingerprint {given} differs from federation.centre_fingerprint {pinned} "
                "pinned in node.toml"
            )
        return pinned
    if given is None:
        raise NotEnrolled(
            "no centre fingerprint is pinned in node.toml: give --fingerprint (from the "
            "enrolment sheet)"
        )
    return given

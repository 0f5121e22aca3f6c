"""The centre's rules: units, enrolment tokens, approval, rotation and renewal, revocation,
re-signing.

One place for each rule: the CLI (node/cli/commands/centre.py) and the HTTP API
(node/centre/api.py) both call a Centre; what the root key signs is made by
node/centre/issuer.py. Every refusal of a request is written to the audit log
and changes nothing else. docs/FEDERATION.md explains the flow.
"""

from __future__ import annotations

import base64
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from lienthong.crypto.keys import NodeKeys, fingerprint
from lienthong.crypto.keystore import is_sealed, load_keys
from lienthong.crypto.x509 import TlsPrivateKey
from lienthong.node.centre.errors import (
    CentreError,
    CodeMismatch,
    MalformedRequest,
    NothingToApprove,
    RenewalTooLate,
    RequestSignature,
    RequestTooLarge,
    RotationSignature,
    StaleCertificate,
    TokenCancelled,
    TokenExpired,
    TokenUsed,
    UnitExists,
    UnitRevoked,
    UnknownCertificate,
    UnknownToken,
    UnknownUnit,
    WrongToken,
)
from lienthong.node.centre.issuer import MS_PER_DAY, Issuer, endpoint_hosts, utc_datetime
from lienthong.node.config import Config, load_config
from lienthong.node.context import NodeContext, ServiceKey
from lienthong.node.datadir import (
    ROOT_PASSPHRASE_CREDENTIAL,
    ROOT_PASSPHRASE_ENV,
    SYSTEM_DATA_DIRS,
    root_passphrase,
)
from lienthong.protocol.certificate import (
    RegistrationRequest,
    RotationAuth,
    TokenAuth,
    check_rotation,
    check_token,
    verify_registration,
)
from lienthong.protocol.directory import Directory, verify_directory
from lienthong.protocol.errors import BadSignature, ProtocolError
from lienthong.protocol.limits import MAX_REGISTRATION_BYTES, MAX_SHORT_TEXT
from lienthong.protocol.units import validate_unit_code
from lienthong.storage import audit
from lienthong.storage import centre as db
from lienthong.storage.db import Store, Tx, unix_ms
from lienthong.storage.directory import latest_directory
from lienthong.storage.store_pg import open_store

DEPLOYMENT_STATES = ("Đã triển khai", "Thử nghiệm")  # the columns of the province's unit list
TOKEN_ID_BYTES = 8  # 64 bits: names the token; guessing one gains nothing without the secret
TOKEN_SECRET_BYTES = 20  # 160 bits: the HMAC key of the token MAC (docs/PROTOCOL.md 9.2)
# The centre's own certificates (node and TLS) live as long as its CA (centre_setup):
# its keys sit beside the root key, so a shorter life would protect nothing, and a
# centre certificate that ends cuts every unit off from enrolment, relay and directory.
CENTRE_OWN_VALIDITY_DAYS = 20 * 365
# A unit whose latest certificate has ended may still renew it with that certificate's key,
# the operator approving, for this long after its end; later it enrols again with a new
# token. A year covers an office closed for a season or a server restored from an old
# backup, not a key found on a disk thrown away long ago (docs/FEDERATION.md §7).
RENEWAL_GRACE_DAYS = 365


@dataclass(frozen=True)
class Issued:
    """A certificate issued (or issued before, for a repeated request) and what the unit stores."""

    certificate: db.CertificateRecord
    bundle: bytes  # msgpack map: certificate, tls_certificate, ca_certificate, directory


@dataclass(frozen=True)
class Pending:
    """The request is stored and waits for `lienthong centre approve`."""

    code: str
    message: str


@dataclass(frozen=True)
class NewToken:
    code: str
    name: str
    state: str
    token: str  # "<token_id>.<secret>", shown once
    expires_at: int
    centre_url: str
    fingerprint: str
    tls_key: str = "ed25519"  # the federation's TLS key algorithm: an offline request needs it


def format_token(token_id: str, secret: bytes) -> str:
    """What the operator hands over: hex id, a dot, the secret in base32 without padding."""
    return f"{token_id}.{base64.b32encode(secret).decode('ascii').rstrip('=')}"


def load_root_keys(config: Config) -> NodeKeys:
    """The root key, with the passphrase from $LIENTHONG_ROOT_PASSPHRASE or the systemd
    credential root-passphrase if it is sealed."""
    path = config.root_key_path
    passphrase = root_passphrase()
    if is_sealed(path) and passphrase is None:
        raise CentreError(
            f"{path} is sealed with a passphrase: export {ROOT_PASSPHRASE_ENV}, or give it as "
            f"the systemd credential {ROOT_PASSPHRASE_CREDENTIAL}"
        )
    return load_keys(path, passphrase)


# The sheet's commands name no --data-dir: `lienthong` then keeps the node where its platform
# keeps services' data (node/datadir.py), and the sheet says where that is on each.
SHEET_DATA_DIRS = ", ".join(f"{SYSTEM_DATA_DIRS[p]} ({p})" for p in ("Linux", "Windows"))


class Centre:
    """The centre's registry and signing, over its store, root key and CA certificate."""

    def __init__(
        self,
        config: Config,
        store: Store,
        root: NodeKeys,
        *,
        clock: Callable[[], int] = unix_ms,
        random: Callable[[int], bytes] = os.urandom,
        on_directory: Callable[[Directory], None] | None = None,
        ca_key: TlsPrivateKey | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.root = root
        self.clock = clock
        self.random = random
        self.on_directory = on_directory
        self.published_version = 0
        self.issuer = Issuer(config, root, clock, ca_key=ca_key)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.root.sign_public)

    @property
    def url(self) -> str:
        return self.config.peer_url

    @property
    def ca_pem(self) -> bytes:
        return self.issuer.ca_pem

    # Units and tokens

    async def add_unit(
        self,
        code: str,
        name: str,
        *,
        state: str = DEPLOYMENT_STATES[0],
        new_token: bool = False,
        actor: str = "operator",
    ) -> NewToken:
        """Register a unit (status pending) and make its one-time enrolment token."""
        validate_unit_code(code, self.config.get("unit", "code_pattern"))
        if not 1 <= len(name) <= MAX_SHORT_TEXT:
            raise CentreError(f"unit name must be 1 to {MAX_SHORT_TEXT} characters", code)
        if state not in DEPLOYMENT_STATES:
            raise CentreError(f"state must be one of {', '.join(DEPLOYMENT_STATES)}", code)
        now = self.clock()
        token_id = self.random(TOKEN_ID_BYTES).hex()
        secret = self.random(TOKEN_SECRET_BYTES)
        expires_at = now + self.config.get("centre", "token_validity_days") * MS_PER_DAY
        async with self.store.write() as tx:
            unit = await db.get_unit(tx, code)
            if unit is not None and unit.status == "active":
                raise UnitExists(
                    f"unit {code} is enrolled already (certificate {unit.serial}): its keys are "
                    "replaced by 'lienthong keys rotate' at the unit, or revoke it first",
                    code,
                )
            if unit is not None and unit.status == "pending" and not new_token:
                raise UnitExists(
                    f"unit {code} is registered and waits for enrolment: add --new-token to "
                    "issue a new token (the earlier one stops working)",
                    code,
                )
            await db.put_unit(tx, code, name, state, "pending", now)
            cancelled = await db.cancel_tokens(tx, code, now)
            await db.add_token(tx, token_id, code, secret, now, expires_at)
            await audit.append(
                tx,
                at=now,
                actor=actor,
                action="unit.added" if unit is None else "unit.token_issued",
                subject=code,
                details={
                    "name": name,
                    "state": state,
                    "token_id": token_id,
                    "expires_at": expires_at,
                    "tokens_cancelled": cancelled,
                    "was": None if unit is None else unit.status,
                },
            )
        token = format_token(token_id, secret)
        return NewToken(
            code, name, state, token, expires_at, self.url, self.fingerprint,
            self.issuer.tls_algorithm,
        )  # fmt: skip

    async def units(self) -> list[db.UnitRecord]:
        async with self.store.read() as conn:
            return await db.list_units(conn)

    # Enrolment

    async def enrol(self, raw: bytes, *, origin: str = "-") -> Issued | Pending:
        """Answer a registration request authorised by an enrolment token.

        A used token is accepted again only with exactly the keys it was first
        used with: then the same certificate comes back (a lost answer, or the
        re-run after approval). Refusals raise a CentreError, audited.
        """
        try:
            return await self._enrol(raw, origin)
        except CentreError as exc:
            await self.record_refusal("enrolment.refused", exc, origin)
            raise

    async def _enrol(self, raw: bytes, origin: str) -> Issued | Pending:
        request = self._decode(raw)
        code = request.code
        auth = request.auth
        if not isinstance(auth, TokenAuth):
            raise MalformedRequest(
                f"the request of {code} is a key rotation: it goes to /v1/rotate", code
            )
        async with self.store.write() as tx:
            now = self.clock()
            token = await db.get_token(tx, auth.token_id.lower())
            if token is None:
                raise UnknownToken(f"enrolment token {auth.token_id[:20]!r} is not known", code)
            try:
                check_token(request, auth.token_id, token.secret)
            except BadSignature:
                raise WrongToken(
                    f"the request of {code} names token {token.token_id} but was not made with "
                    "its secret: check the token as typed",
                    code,
                ) from None
            if code != token.code:
                raise CodeMismatch(
                    f"the request is for unit {code} but the token was issued to {token.code}",
                    code,
                )
            unit = await db.get_unit(tx, code)
            assert unit is not None  # a token always belongs to a registered unit
            if token.cancelled_at is not None:
                if unit.status == "revoked":
                    raise UnitRevoked(f"unit {code} is revoked: its tokens no longer work", code)
                raise TokenCancelled(
                    f"token {token.token_id} was replaced by a newer token for {code}", code
                )
            keys = (request.sign_key, request.enc_key, request.tls_key)
            if token.used_at is not None:
                if keys != (token.sign_key, token.enc_key, token.tls_key):
                    raise TokenUsed(
                        f"token {token.token_id} was already used by other keys: the operator "
                        f"issues a new one (lienthong centre add-unit --code {code} --new-token)",
                        code,
                    )
                if token.serial is None:
                    return self._pending(code)
                cert = await db.get_certificate(tx, token.serial)
                return Issued(cert, await self.issuer.bundle_with_latest(tx, cert))
            if now > token.expires_at:
                raise TokenExpired(
                    f"token {token.token_id} expired at "
                    f"{utc_datetime(token.expires_at).isoformat()}",
                    code,
                )
            await db.bind_token(tx, token.token_id, now, *keys, request.raw)
            if self.config.get("centre", "require_approval"):
                await audit.append(
                    tx,
                    at=now,
                    actor=code,
                    action="enrolment.pending",
                    subject=code,
                    details={"origin": origin, "key": fingerprint(request.sign_key)},
                )
                return self._pending(code)
            cert = await self._issue_requested(tx, request, unit, via="enrolment")
            await db.token_issued(tx, token.token_id, cert.serial)
            await db.mark_enrolled(tx, code, now, approved=False)
            await self._audit_issue(tx, "enrolment", code, cert, origin)
            directory = await self.issuer.sign_directory(tx)
            bundle = self.issuer.bundle(cert, directory.raw)
        self.publish(directory)
        return Issued(cert, bundle)

    def _pending(self, code: str) -> Pending:
        return Pending(
            code,
            f"the enrolment of {code} waits for the centre operator's approval: run the same "
            "command again once the centre has approved it",
        )

    async def approve(self, code: str, *, actor: str = "operator") -> Issued:
        """Issue the certificate for the request of `code` waiting for approval: its
        enrolment, or the renewal of its latest certificate."""
        async with self.store.write() as tx:
            unit = await db.get_unit(tx, code)
            if unit is None:
                raise UnknownUnit(f"unit {code} is not registered at this centre", code)
            if unit.status == "revoked":
                raise UnitRevoked(f"unit {code} is revoked", code)
            token = await db.waiting_token(tx, code)
            if token is None or token.request is None:
                renewal = await db.waiting_renewal(tx, code)
                if renewal is None:
                    raise NothingToApprove(
                        f"no enrolment or renewal request of {code} waits for approval"
                        + (" (it is enrolled already)" if unit.status == "active" else ""),
                        code,
                    )
                cert = await self._approve_renewal(tx, unit, renewal, actor)
            else:
                request = verify_registration(token.request)
                cert = await self._issue_requested(tx, request, unit, via="enrolment")
                await db.token_issued(tx, token.token_id, cert.serial)
                await db.mark_enrolled(tx, code, self.clock(), approved=True)
                await self._audit_issue(tx, "enrolment.approved", code, cert, actor)
            directory = await self.issuer.sign_directory(tx)
            bundle = self.issuer.bundle(cert, directory.raw)
        self.publish(directory)
        return Issued(cert, bundle)

    async def _approve_renewal(
        self, tx: Tx, unit: db.UnitRecord, renewal: db.RenewalRecord, actor: str
    ) -> db.CertificateRecord:
        code = unit.code
        if unit.serial != renewal.old_serial:  # revoke closes renewals; this is a safeguard
            raise StaleCertificate(
                f"the renewal of {code} asks to replace certificate {renewal.old_serial}, but "
                f"its latest certificate is {unit.serial}",
                code,
            )
        request = verify_registration(renewal.request)
        cert = await self._issue_requested(
            tx, request, unit, via="rotation", replaces=renewal.old_serial
        )
        await db.renewal_issued(tx, renewal.id, cert.serial)
        await self._audit_issue(
            tx, "renewal.approved", code, cert, actor, replaces=renewal.old_serial
        )
        return cert

    # Rotation and revocation

    async def rotate(self, raw: bytes, *, peer: str, origin: str = "-") -> Issued | Pending:
        """A new certificate for keys signed by the unit's current key, the unit calling over
        mutual TLS (POST /v1/rotate); the old one stays listed. Pending when the centre
        requires approval."""
        try:
            return await self._rotation(raw, origin, peer=peer)
        except CentreError as exc:
            await self.record_refusal("rotation.refused", exc, origin, actor=peer)
            raise

    async def renew(self, raw: bytes, *, origin: str = "-") -> Issued | Pending:
        """The same request authorised by the key of the unit's latest certificate alone, no
        client certificate needed (POST /v1/renew): issued at once while that certificate
        is valid and the centre does not require approval; held for the operator once it has
        ended (for at most RENEWAL_GRACE_DAYS) or when approval is required."""
        try:
            return await self._rotation(raw, origin, peer=None)
        except CentreError as exc:
            await self.record_refusal("renewal.refused", exc, origin)
            raise

    async def _rotation(self, raw: bytes, origin: str, *, peer: str | None) -> Issued | Pending:
        request = self._decode(raw)
        code, auth = request.code, request.auth
        if not isinstance(auth, RotationAuth):
            raise MalformedRequest(f"the request of {code} carries no key-rotation signature", code)
        if peer is not None and code != peer:
            raise CodeMismatch(f"the request is for {code} but the TLS client is {peer}", code)
        async with self.store.write() as tx:
            now = self.clock()
            unit = await db.get_unit(tx, code)
            if unit is None:
                raise UnknownUnit(f"unit {code} is not registered at this centre", code)
            if unit.status == "revoked":
                raise UnitRevoked(f"unit {code} is revoked: it cannot rotate its keys", code)
            old = await db.find_certificate(tx, auth.serial)
            if old is None or old.code != code:
                raise UnknownCertificate(f"certificate {auth.serial} is not one of {code}", code)
            if old.revoked_at is not None:
                raise UnitRevoked(f"certificate {auth.serial} of {code} is revoked", code)
            try:
                check_rotation(request, old.sign_key)
            except BadSignature as exc:
                raise RotationSignature(str(exc), code) from None
            again = await db.certificate_replacing(
                tx, code, old.serial, request.sign_key, request.enc_key, request.tls_key
            )
            if again is not None:
                return Issued(again, await self.issuer.bundle_with_latest(tx, again))
            if unit.serial != old.serial:
                raise StaleCertificate(
                    f"certificate {old.serial} of {code} was replaced by {unit.serial}: "
                    "rotate from the current certificate",
                    code,
                )
            ended = now > old.not_after
            if ended and now - old.not_after > RENEWAL_GRACE_DAYS * MS_PER_DAY:
                raise RenewalTooLate(
                    f"certificate {old.serial} of {code} ended at "
                    f"{utc_datetime(old.not_after).isoformat()}, more than "
                    f"{RENEWAL_GRACE_DAYS} days ago: the unit enrols again with a new token "
                    f"(lienthong centre add-unit --code {code} after revoking it)",
                    code,
                )
            if ended or self.config.get("centre", "require_approval"):
                return await self._hold_renewal(tx, request, old, origin, ended=ended)
            cert = await self._issue_requested(
                tx, request, unit, via="rotation", replaces=old.serial
            )
            await db.touch_unit(tx, code, now)
            await self._audit_issue(tx, "rotation", code, cert, origin, replaces=old.serial)
            directory = await self.issuer.sign_directory(tx)
            bundle = self.issuer.bundle(cert, directory.raw)
        self.publish(directory)
        return Issued(cert, bundle)

    async def _hold_renewal(
        self,
        tx: Tx,
        request: RegistrationRequest,
        old: db.CertificateRecord,
        origin: str,
        *,
        ended: bool,
    ) -> Pending:
        """Keep the request for the operator (the same keys again change nothing; other keys
        replace the request that waited, both being authorised by the same key)."""
        code = request.code
        keys = (request.sign_key, request.enc_key, request.tls_key)
        pending = Pending(
            code,
            f"the renewal of certificate {old.serial} of {code} waits for the centre "
            "operator's approval (lienthong centre approve, or the console); the same request "
            "then gets the certificate (a running node asks again by itself)",
        )
        waiting = await db.waiting_renewal(tx, code)
        if waiting is not None and (waiting.old_serial, waiting.keys) == (old.serial, keys):
            return pending
        now = self.clock()
        await db.add_renewal(tx, code, old.serial, keys, request.raw, now, origin)
        await audit.append(
            tx, at=now, actor=code, action="renewal.pending", subject=code,
            details={"origin": origin, "replaces": old.serial,
                     "key": fingerprint(request.sign_key),
                     "ended_at": old.not_after if ended else None,
                     "replaces_request": waiting is not None},
        )  # fmt: skip
        return pending

    async def revoke(self, code: str, *, actor: str = "operator") -> list[int]:
        """Revoke every certificate of the unit and its tokens; return the revoked serials."""
        async with self.store.write() as tx:
            unit = await db.get_unit(tx, code)
            if unit is None:
                raise UnknownUnit(f"unit {code} is not registered at this centre", code)
            if code == self.config.code:
                raise CentreError(f"{code} is this centre's own code: it cannot be revoked", code)
            if unit.status == "revoked":
                raise UnitRevoked(f"unit {code} is revoked already", code)
            now = self.clock()
            serials = await db.revoke_certificates(tx, code, now)
            await db.cancel_all_tokens(tx, code, now)
            await db.close_renewals(tx, code, now)
            await db.mark_revoked(tx, code, now)
            await audit.append(
                tx, at=now, actor=actor, action="unit.revoked", subject=code,
                details={"serials": serials, "was": unit.status},
            )  # fmt: skip
            directory = await self.issuer.sign_directory(tx)
        self.publish(directory)
        return serials

    # Certificates

    async def issue_own(self, keys: NodeKeys, tls_public: bytes) -> db.CertificateRecord:
        """Register the centre's own unit and certify its identity and TLS keys (centre init)."""
        code, name = self.config.code, self.config.name
        async with self.store.write() as tx:
            now = self.clock()
            await db.put_unit(tx, code, name, DEPLOYMENT_STATES[0], "pending", now)
            unit = await db.get_unit(tx, code)
            assert unit is not None
            cert = await self.issuer.certify(
                tx, unit, keys.sign_public, keys.enc_public, tls_public,
                endpoints=(self.url,), reachable=True, via="centre",
                extra_hosts=("localhost", "127.0.0.1"), validity_days=CENTRE_OWN_VALIDITY_DAYS,
            )  # fmt: skip
            await db.mark_enrolled(tx, code, now, approved=False)
            await self._audit_issue(tx, "centre.created", code, cert, "centre init")
            directory = await self.issuer.sign_directory(tx)
        self.publish(directory)
        return cert

    async def _issue_requested(
        self,
        tx: Tx,
        request: RegistrationRequest,
        unit: db.UnitRecord,
        *,
        via: str,
        replaces: int | None = None,
    ) -> db.CertificateRecord:
        return await self.issuer.certify(
            tx, unit, request.sign_key, request.enc_key, request.tls_key,
            endpoints=request.endpoints, reachable=request.reachable, via=via, replaces=replaces,
        )  # fmt: skip

    def _decode(self, raw: bytes) -> RegistrationRequest:
        if len(raw) > MAX_REGISTRATION_BYTES:
            raise RequestTooLarge(
                f"registration request is {len(raw)} bytes, over the limit of "
                f"{MAX_REGISTRATION_BYTES}"
            )
        try:
            request = verify_registration(raw)
        except BadSignature as exc:
            raise RequestSignature(str(exc)) from None
        except ProtocolError as exc:
            raise MalformedRequest(str(exc)) from None
        endpoint_hosts(request.endpoints, request.code)  # before a request is stored or used
        self.issuer.check_tls_key(request.tls_key, request.code)  # the federation's algorithm
        return request

    def publish(self, directory: Directory) -> None:
        """Hand a directory signed in a committed transaction to the running centre."""
        if directory.version > self.published_version:
            self.published_version = directory.version
            if self.on_directory is not None:
                self.on_directory(directory)

    async def resign_if_due(self) -> bool:
        """Re-sign when less than half of the newest directory's validity remains, or when
        it has no form 2.

        Also publishes a newer directory signed by another process (a CLI
        command run while the centre serves) to the running centre.
        """
        async with self.store.read() as conn:
            times = await db.directory_times(conn)
        if times is not None and not self._due(times):
            if times[0] > self.published_version:
                async with self.store.read() as conn:
                    latest = await latest_directory(conn)
                assert latest is not None
                self.publish(verify_directory(latest.raw, self.root.sign_public, now=self.clock()))
            return False
        async with self.store.write() as tx:
            times = await db.directory_times(tx)
            if times is not None and not self._due(times):
                return False  # another process signed meanwhile
            directory = await self.issuer.sign_directory(tx)
        self.publish(directory)
        return True

    def _due(self, times: tuple[int, int, int, bool]) -> bool:
        """Half the validity has passed, or the directory has no form 2 (it was signed
        before migration 0012: units that read more than version 1 need one)."""
        _, issued_at, expires_at, has_form2 = times
        return not has_form2 or self.clock() >= issued_at + (expires_at - issued_at) // 2

    async def declare_protocols(
        self, tx: Tx, unit: db.UnitRecord, versions: tuple[int, ...]
    ) -> Directory | None:
        """Keep the envelope versions a unit's report declares (docs/PROTOCOL.md 15). When
        they differ from those held, the next directory is signed in the same transaction,
        as for an enrolment or a revocation: its form 2 states them. The caller publishes
        it once the transaction has committed. None when nothing changed."""
        if not await db.set_protocols(tx, unit.code, versions):
            return None
        await audit.append(
            tx, at=self.clock(), actor=unit.code, action="unit.protocols", subject=unit.code,
            details={"protocols": list(versions), "was": list(unit.protocols)},
        )  # fmt: skip
        return await self.issuer.sign_directory(tx) if unit.status == "active" else None

    async def latest_directory(self) -> tuple[int, bytes] | None:
        """(version, signed bytes) of the newest directory."""
        async with self.store.read() as conn:
            latest = await latest_directory(conn)
        return None if latest is None else (latest.version, latest.raw)

    async def directory_version(self) -> int | None:
        async with self.store.read() as conn:
            times = await db.directory_times(conn)
        return None if times is None else times[0]

    # Audit

    async def _audit_issue(
        self,
        tx: Tx,
        action: str,
        code: str,
        cert: db.CertificateRecord,
        actor: str,
        replaces: int | None = None,
    ) -> None:
        details: dict[str, object] = {
            "serial": cert.serial,
            "key": fingerprint(cert.sign_key),
            "not_after": cert.not_after,
        }
        if replaces is not None:
            details["replaces"] = replaces
        await audit.append(
            tx, at=self.clock(), actor=actor, action=action, subject=code, details=details
        )

    async def record_refusal(
        self, action: str, exc: CentreError, origin: str, actor: str = "anonymous"
    ) -> None:
        """Write a refused request to the audit log, in a transaction of its own."""
        async with self.store.write() as tx:
            await audit.append(
                tx, at=self.clock(), actor=actor, action=action, subject=exc.subject,
                details={"error": type(exc).__name__, "reason": str(exc)[:500],
                         "origin": origin},
            )  # fmt: skip


CENTRE = ServiceKey("centre", Centre)


def install_directory(ctx: NodeContext, directory: Directory) -> None:
    """Make a directory the running centre just signed the one its peer middleware uses."""
    ctx.directory.current = directory
    ctx.directory.version = directory.version


def centre_of(ctx: NodeContext) -> Centre:
    """The Centre of a running centre node, made once and kept in the node's services."""
    centre = ctx.services.get(CENTRE)
    if centre is None:
        centre = Centre(
            ctx.config,
            ctx.store,
            load_root_keys(ctx.config),
            clock=ctx.clock,
            on_directory=lambda directory: install_directory(ctx, directory),
        )
        if ctx.directory.current is not None:
            centre.published_version = ctx.directory.current.version
        ctx.services.put(CENTRE, centre)
    return centre


async def resign_if_due(ctx: NodeContext) -> bool:
    """Re-sign the directory when half its validity has passed (the runtime calls this)."""
    return await centre_of(ctx).resign_if_due()


@contextlib.asynccontextmanager
async def open_centre(
    data_dir: Path, *, clock: Callable[[], int] = unix_ms
) -> AsyncIterator[Centre]:
    """`async with open_centre(D) as centre`: for the centre's commands."""
    config = load_config(data_dir)
    if config.role != "centre":
        raise CentreError(
            f"{data_dir} holds a unit (node.role = {config.role!r}): centre commands run in "
            "the centre's data directory"
        )
    root = load_root_keys(config)
    store = await open_store(
        config.store_path,
        database=config.get("centre", "database"),
        synchronous=config.get("store", "synchronous"),
        clock=clock,
    )
    async with store:
        yield Centre(config, store, root, clock=clock)

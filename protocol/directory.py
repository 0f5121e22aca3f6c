"""The federation's directory: every certificate, the revoked serials, the relays and (form 2)
the envelope versions each unit reads and the organisations outside it that gateways carry.

One document signed by the centre's root key, with a version that only grows.
Because it is root-signed any node may pass it on (gossip). Its signature
covers the bytes of every certificate it lists, so certificates read from a
verified directory need no check of their own. The centre signs each version
in two forms with the same contents: form 1 for nodes that read version 1 only,
form 2 adding the map `protocols` and the list `external`. Layout: docs/PROTOCOL.md, "Directory".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lienthong.crypto import signing
from lienthong.crypto.errors import SignatureError
from lienthong.crypto.keys import NodeKeys
from lienthong.protocol.certificate import CENTRE_SIGNER, NodeCertificate, decode_certificate_signed
from lienthong.protocol.errors import (
    BadSignature,
    Expired,
    InvalidField,
    LimitExceeded,
    Revoked,
    Rollback,
    UnknownSigner,
)
from lienthong.protocol.limits import (
    MAX_CERTIFICATE_BYTES,
    MAX_DIRECTORY_BYTES,
    MAX_DIRECTORY_UNITS,
    MAX_LIST_ITEMS,
    MAX_REVOKED,
    MAX_URL,
)
from lienthong.protocol.typed_directory import Listing, read_certificates, read_listing
from lienthong.protocol.units import check_external_code, check_wire_code
from lienthong.protocol.wire import (
    PROTOCOL_VERSIONS,
    Fields,
    check_header,
    pack,
    unpack,
    unwrap,
    wrap,
)

WHAT = "directory"
# The forms of a directory this node reads: its `v` (docs/PROTOCOL.md 10). Form 2 adds
# `protocols`; a version-1 node reads form 1 only.
DIRECTORY_FORMS = PROTOCOL_VERSIONS
# The highest protocol version a unit may declare it reads (a report's and a directory's
# `protocols`). Versions come years apart; 15 keeps every list short and its items one byte.
MAX_PROTOCOL_VERSION = 15
# Units a form-2 directory's `protocols` may name: each is a unit of the directory, so no
# more than it lists. An exception to MAX_MAP_KEYS, which bounds a message's own fields.
MAX_PROTOCOL_UNITS = MAX_DIRECTORY_UNITS
# Organisations outside the directory a form-2 directory's `external` may list: the
# ministries, the Government Office, the other provinces and their departments that a
# province writes to over the national axis are a few thousand; 20,000 leaves room and
# keeps the list within MAX_DIRECTORY_BYTES (each entry is under 400 bytes).
MAX_EXTERNAL_ORGANISATIONS = 20_000
_VERIFIED = object()


@dataclass(frozen=True, slots=True)
class ExternalOrganisation:
    """An organisation outside the directory (edXML OrganId and name) and the unit of the
    directory, its gateway, that carries documents to and from it (docs/GATEWAY.md)."""

    code: str
    name: str
    gateway: str


@dataclass(frozen=True)
class Directory:
    """A verified directory; only verify_directory makes one."""

    version: int
    issued_at: int
    expires_at: int
    centre_name: str
    centre_url: str
    certificates: tuple[NodeCertificate, ...]
    revoked: frozenset[int]
    relays: tuple[str, ...]
    raw: bytes
    _token: object = field(repr=False)
    # Directory form 2 (docs/PROTOCOL.md 10): the protocol versions each unit reads; a unit
    # absent here, or any unit of a form-1 directory, reads version 1 only.
    protocols: Mapping[str, tuple[int, ...]] = field(default_factory=dict, repr=False)
    form: int = 1  # the directory's `v`: 1, or 2 with `protocols` and `external`
    # Directory form 2: organisations outside the directory, by code, with their gateway.
    external: Mapping[str, ExternalOrganisation] = field(default_factory=dict, repr=False)
    _by_serial: dict[int, NodeCertificate] = field(init=False, repr=False, compare=False)
    _current: dict[str, NodeCertificate] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._token is not _VERIFIED:
            raise TypeError("a Directory is made by protocol.directory.verify_directory only")
        by_serial: dict[int, NodeCertificate] = {}
        current: dict[str, NodeCertificate] = {}
        for cert in self.certificates:
            by_serial[cert.serial] = cert
            if cert.serial in self.revoked:
                continue
            best = current.get(cert.code)
            if best is None or cert.serial > best.serial:
                current[cert.code] = cert
        object.__setattr__(self, "_by_serial", by_serial)
        object.__setattr__(self, "_current", current)

    def current(self, code: str) -> NodeCertificate | None:
        """The newest unrevoked certificate of a unit (its keys for new envelopes)."""
        return self._current.get(code)

    def reads(self, code: str) -> tuple[int, ...]:
        """The envelope versions unit `code` reads, as the directory states them."""
        return self.protocols.get(code, (1,))

    def same_listing(self, other: Directory) -> bool:
        """Whether `other` states the same as this directory apart from its form and
        `protocols`: version, times, centre, certificates (byte for byte), revoked, relays.
        Two forms of one version the centre signed do."""
        return (
            self.version == other.version
            and self.issued_at == other.issued_at
            and self.expires_at == other.expires_at
            and (self.centre_name, self.centre_url) == (other.centre_name, other.centre_url)
            and [c.raw for c in self.certificates] == [c.raw for c in other.certificates]
            and self.revoked == other.revoked
            and self.relays == other.relays
        )

    def external_organisation(self, code: str) -> ExternalOrganisation | None:
        """The organisation outside the directory with this code, if the directory lists one."""
        return self.external.get(code)

    def is_centre(self, code: str) -> bool:
        """Whether `code` is the centre's own unit: it relays documents, it receives none."""
        cert = self._current.get(code)
        return cert is not None and self.centre_url in cert.endpoints

    def tls_pins(self, code: str, now: int, limit: int = 2) -> frozenset[bytes]:
        """SHA-256 digests of the TLS leaves `code` may present: its unrevoked certificates
        still valid at `now`, newest first (the current one and, during a rotation's
        overlap, the previous). Empty if the directory holds none."""
        certs = sorted(
            (
                c
                for c in self.certificates
                if c.code == code and c.serial not in self.revoked and c.not_after > now
            ),
            key=lambda c: c.serial,
            reverse=True,
        )
        return frozenset(c.tls_sha256 for c in certs[:limit])

    def codes_serving(self, base_url: str) -> list[str]:
        """The units whose certified endpoints include `base_url` (the centre, a relay)."""
        base = base_url.rstrip("/")
        return sorted(
            code
            for code, cert in self._current.items()
            if any(e.rstrip("/") == base for e in cert.endpoints)
        )

    def units(self) -> list[NodeCertificate]:
        return sorted(self._current.values(), key=lambda c: c.code)

    def signing_key(self, code: str, serial: int) -> bytes:
        """Key of `code` under certificate `serial`; older unrevoked certificates still count.

        Keeping superseded certificates lets envelopes signed before a key
        rotation verify; a revoked serial never verifies again.
        """
        cert = self._by_serial.get(serial)
        if cert is None or cert.code != code:
            raise UnknownSigner(
                f"no certificate {serial} of unit {code} in directory v{self.version}"
            )
        if serial in self.revoked:
            raise Revoked(f"certificate {serial} of unit {code} is revoked")
        return cert.sign_key


def issue_directory(
    root: NodeKeys,
    *,
    version: int,
    issued_at: int,
    expires_at: int,
    centre_name: str,
    centre_url: str,
    certificates: Iterable[bytes],
    revoked: Iterable[int] = (),
    relays: Iterable[str] = (),
    protocols: Mapping[str, Iterable[int]] | None = None,
    external: Iterable[ExternalOrganisation] = (),
) -> bytes:
    """Sign a directory with the root key; `certificates` are certificate wire bytes.

    Without `protocols` it is form 1 (`"v": 1`); with them form 2, whose map `protocols`
    lists the units that read more than version 1, each with its versions sorted, and
    whose list `external` the organisations outside the directory, sorted by code.
    """
    fields: dict[str, Any] = {
        "v": 1,
        "kind": "directory",
        "version": version,
        "issued_at": issued_at,
        "expires_at": expires_at,
        "centre": {"name": centre_name, "url": centre_url},
        "certificates": list(certificates),
        "revoked": sorted(set(revoked)),
        "relays": list(relays),
    }
    if protocols is not None:
        listed = {code: sorted(set(versions)) for code, versions in protocols.items()}
        fields["v"] = 2
        fields["protocols"] = {code: v for code, v in sorted(listed.items()) if v != [1]}
        fields["external"] = [
            {"code": e.code, "name": e.name, "gateway": e.gateway}
            for e in sorted(external, key=lambda e: e.code)
        ]
    signed = pack(fields)
    return wrap(signed, signing.sign(root.signing, signing.DIRECTORY, signed), CENTRE_SIGNER)


def read_versions(value: Any, what: str, field: str) -> tuple[int, ...]:
    """The protocol versions a unit reads, as a report or a directory states them: an array
    of integers 1..MAX_PROTOCOL_VERSION in increasing order (no repeats) that includes 1."""
    if not isinstance(value, list):
        raise InvalidField(what, field, "expected an array of protocol versions")
    if len(value) > MAX_PROTOCOL_VERSION:
        raise LimitExceeded(
            f"{what}: field {field!r}: {len(value)} versions is over the limit of "
            f"{MAX_PROTOCOL_VERSION}"
        )
    for i, version in enumerate(value):
        if type(version) is not int or not 1 <= version <= MAX_PROTOCOL_VERSION:
            raise InvalidField(
                what, f"{field}[{i}]", f"expected a protocol version 1..{MAX_PROTOCOL_VERSION}"
            )
        if i and version <= value[i - 1]:
            raise InvalidField(
                what, f"{field}[{i}]", f"{version} does not follow {value[i - 1]}: "
                "versions are listed in increasing order, each once"
            )  # fmt: skip
    if not value or value[0] != 1:
        raise InvalidField(what, field, "every unit reads version 1: the list must include 1")
    return tuple(value)


def _protocols(value: Any, codes: set[str]) -> dict[str, tuple[int, ...]]:
    """Form 2's `protocols`: unit code -> versions, for units of this directory that read
    more than version 1 (a unit reading version 1 only is not listed)."""
    if not isinstance(value, dict):
        raise InvalidField(WHAT, "protocols", "expected a map of unit code to versions")
    if len(value) > MAX_PROTOCOL_UNITS:
        raise LimitExceeded(
            f"{WHAT}: field 'protocols': {len(value)} units is over the limit of "
            f"{MAX_PROTOCOL_UNITS}"
        )
    protocols = {}
    for key, versions in value.items():
        code = check_wire_code(key, WHAT, "protocols")
        where = f"protocols[{code}]"
        if code not in codes:
            raise InvalidField(WHAT, where, "names no unit this directory lists")
        protocols[code] = read_versions(versions, WHAT, where)
        if protocols[code] == (1,):
            raise InvalidField(WHAT, where, "a unit that reads version 1 only is not listed")
    return protocols


def _external(value: Any, units: set[str]) -> dict[str, ExternalOrganisation]:
    """Form 2's `external`: organisations outside the directory, in increasing order of
    code, each with a name and a gateway that is a unit of this directory."""
    if not isinstance(value, list):
        raise InvalidField(WHAT, "external", "expected an array of organisations")
    if len(value) > MAX_EXTERNAL_ORGANISATIONS:
        raise LimitExceeded(
            f"{WHAT}: field 'external': {len(value)} organisations is over the limit of "
            f"{MAX_EXTERNAL_ORGANISATIONS}"
        )
    external: dict[str, ExternalOrganisation] = {}
    previous = ""
    for i, item in enumerate(value):
        where = f"external[{i}]"
        if not isinstance(item, dict):
            raise InvalidField(WHAT, where, "expected a map {code, name, gateway}")
        f = Fields(item, f"{WHAT} {where}")
        code = check_external_code(f.raw("code"), WHAT, f"{where}.code")
        name = f.str("name", min_len=1)
        gateway = check_wire_code(f.raw("gateway"), WHAT, f"{where}.gateway")
        f.done()
        if code in units:
            raise InvalidField(WHAT, f"{where}.code", f"{code} is a unit of this directory")
        if gateway not in units:
            raise InvalidField(WHAT, f"{where}.gateway", "names no unit this directory lists")
        if i and code <= previous:
            raise InvalidField(
                WHAT, f"{where}.code", f"{code} does not follow {previous}: organisations are "
                "listed in increasing order of code, each once"
            )  # fmt: skip
        previous = code
        external[code] = ExternalOrganisation(code=code, name=name, gateway=gateway)
    return external


def verify_directory(
    raw: bytes,
    root_public: bytes,
    *,
    now: int,
    newer_than: int | None = None,
    forms: tuple[int, ...] = DIRECTORY_FORMS,
    decoded: Directory | None = None,
) -> Directory:
    """Verify against the pinned root key; refuse an expired or rolled-back directory.

    `newer_than` is the version already held: a lower version is a rollback
    and is refused; the same version is accepted (it is the same document, or the
    same in its other form). `forms` are the forms read: (1,) is a version-1 node.
    `decoded`: a directory verified before (the other form of this version); when this
    one lists the very same certificate bytes, in the same order, its certificates are
    taken from it rather than decoded again (the same bytes decode the same; everything
    else, the signature included, is checked as always).
    """
    wrapper = unwrap(raw, what=WHAT, max_bytes=MAX_DIRECTORY_BYTES)
    if wrapper.signer != CENTRE_SIGNER:
        raise InvalidField(WHAT, "signer", f"expected {CENTRE_SIGNER!r}")
    try:
        signing.verify(root_public, signing.DIRECTORY, wrapper.signed, wrapper.sig)
    except SignatureError as exc:
        raise BadSignature(f"{WHAT}: not signed by this federation's centre: {exc}") from None
    listing = read_listing(wrapper.signed, forms) or _read_listing_strictly(wrapper.signed, forms)
    version, form = listing.version, listing.form
    if newer_than is not None and version < newer_than:
        raise Rollback(f"{WHAT} v{version} is older than v{newer_than} already held: refused")
    if now > listing.expires_at:
        raise Expired(f"{WHAT} v{version} expired at {listing.expires_at} (now {now})")
    for i, serial in enumerate(listing.revoked):
        if not isinstance(serial, int) or isinstance(serial, bool) or serial < 1:
            raise InvalidField(WHAT, f"revoked[{i}]", "expected a certificate serial")
    if decoded is not None and [c.raw for c in decoded.certificates] == listing.certificates:
        certs: list[NodeCertificate] | None = list(decoded.certificates)
    else:
        certs = read_certificates(listing.certificates)
    if certs is None:
        certs = _read_certificates_strictly(listing.certificates)
    serials = {c.serial for c in certs}
    if len(serials) != len(certs):
        raise InvalidField(WHAT, "certificates", "a certificate serial appears twice")
    codes = {c.code for c in certs}
    protocols = {} if form == 1 else _protocols(listing.protocols, codes)
    external = {} if form == 1 else _external(listing.external, codes)
    return Directory(
        version=version,
        issued_at=listing.issued_at,
        expires_at=listing.expires_at,
        centre_name=listing.centre_name,
        centre_url=listing.centre_url,
        certificates=tuple(certs),
        revoked=frozenset(listing.revoked),
        relays=listing.relays,
        raw=bytes(raw),
        _token=_VERIFIED,
        protocols=protocols,
        form=form,
        external=external,
    )


def _read_listing_strictly(signed: bytes, forms: tuple[int, ...]) -> Listing:
    """The field-by-field reader of a directory's signed map: what it refuses, it names."""
    f = Fields(unpack(signed, what=WHAT, max_bytes=MAX_DIRECTORY_BYTES), WHAT)
    form = check_header(f, WHAT, "directory", forms)
    version = f.int("version", lo=1, hi=2**53)
    issued_at = f.int("issued_at", hi=2**48 - 1)
    expires_at = f.int("expires_at", hi=2**48 - 1)
    centre = f.map("centre")
    assert centre is not None
    centre_name = centre.str("name", min_len=1)
    centre_url = centre.str("url", max_len=MAX_URL)
    centre.done()
    listing = Listing(
        form=form,
        version=version,
        issued_at=issued_at,
        expires_at=expires_at,
        centre_name=centre_name,
        centre_url=centre_url,
        certificates=f.list("certificates", max_items=MAX_DIRECTORY_UNITS),
        revoked=f.list("revoked", max_items=MAX_REVOKED),
        relays=f.strs("relays", max_items=MAX_LIST_ITEMS, max_len=MAX_URL),
        protocols=f.raw("protocols") if form == 2 else None,
        external=f.raw("external") if form == 2 else None,
    )
    f.done()
    return listing


def _read_certificates_strictly(items: list[Any]) -> list[NodeCertificate]:
    """The certificates of a directory's list read one by one: what it refuses, it names."""
    certs = []
    for i, item in enumerate(items):
        if not isinstance(item, bytes):
            raise InvalidField(WHAT, f"certificates[{i}]", "expected certificate bytes")
        inner = unwrap(item, what=f"{WHAT} certificate {i}", max_bytes=MAX_CERTIFICATE_BYTES)
        certs.append(decode_certificate_signed(inner.signed, item))
    return certs

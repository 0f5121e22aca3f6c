"""Vectors of directories: versions, rollback, expiry, revocation, key lookups, and form 2
with the envelope versions each unit reads (its `protocols` map and each refusal of it) and
the organisations outside the directory that a gateway carries (`external`)."""

from __future__ import annotations

from lienthong.crypto import signing
from lienthong.protocol.directory import (
    MAX_PROTOCOL_VERSION,
    ExternalOrganisation,
    issue_directory,
)
from lienthong.protocol.limits import MAX_DIRECTORY_BYTES
from tests.protocol.fixtures import NOW, A, B, C, keys
from tests.vectors.common import (
    DAY,
    OUTSIDER,
    ROOT,
    err,
    file_document,
    hx,
    inner,
    oversized,
    rehint,
    vector,
)
from tests.vectors.make_certificates import CENTRE, RELAYS, ROOT_HEX, centre_signed, cert

DIRECTORY_CERTS = [(A, 1, A), (B, 2, B), (C, 3, C), (A, 5, "A-new")]


# Form 2 of the valid directory: A reads envelope versions 1 and 2; B and C are not listed
# (they read version 1 only).
PROTOCOLS = {A: [1, 2]}
# Form 2 of the valid directory: C is the gateway of two organisations outside it (a
# ministry and another province's department, edXML OrganIds).
EXTERNAL = [
    {"code": "000.00.00.G09", "name": "Văn phòng Chính phủ", "gateway": C},
    {"code": "000.00.12.H29", "name": "Sở Nội vụ tỉnh Hà Tĩnh", "gateway": C},
]


def directory(
    version=3,
    *,
    expires=NOW + 7 * DAY,
    certs=None,
    revoked=(2,),
    root=ROOT,
    protocols=None,
    external=(),
) -> bytes:
    return issue_directory(
        root,
        version=version,
        issued_at=NOW,
        expires_at=expires,
        centre_name=CENTRE["name"],
        centre_url=CENTRE["url"],
        certificates=certs if certs is not None else [cert(c, s, o) for c, s, o in DIRECTORY_CERTS],
        revoked=revoked,
        relays=RELAYS,
        protocols=protocols,
        external=[ExternalOrganisation(**e) for e in external],
    )


def directory_ok(protocols: dict | None = None, external: list | None = None) -> dict:
    def key(owner: str) -> dict:
        return {"ok": hx(keys(owner).sign_public)}

    return {
        "ok": {
            "form": 1 if protocols is None else 2,
            "protocols": protocols or {},
            "external": external or [],
            "version": 3,
            "issued_at": NOW,
            "expires_at": NOW + 7 * DAY,
            "centre": CENTRE,
            "relays": RELAYS,
            "revoked": [2],
            "certificates": [
                {"serial": s, "code": c, "sign_key": hx(keys(o).sign_public)}
                for c, s, o in DIRECTORY_CERTS
            ],
            "current": {A: 5, B: None, C: 3},
            "lookups": [
                {"code": A, "serial": 1, "result": key(A)},
                {"code": A, "serial": 5, "result": key("A-new")},
                {"code": C, "serial": 3, "result": key(C)},
                {"code": B, "serial": 2, "result": err("Revoked")},
                {"code": A, "serial": 2, "result": err("UnknownSigner")},
                {"code": A, "serial": 9, "result": err("UnknownSigner")},
            ],
        }
    }


def directories() -> dict:
    good = directory()
    m = inner(good)
    form_2 = directory(protocols=PROTOCOLS, external=EXTERNAL)
    m2 = inner(form_2)
    invalid = err("InvalidField")

    def v(name, description, raw, expected, now=NOW, newer_than=None, root=ROOT_HEX, **kw):
        return vector(
            name, description, raw, expected, root_public=root, now=now, newer_than=newer_than, **kw
        )

    def protocols(description: str, name: str, value: object) -> dict:
        """Form 2 re-signed by the root with another `protocols`: refused (InvalidField)."""
        raw = centre_signed({**m2, "protocols": value}, signing.DIRECTORY)
        return v(f"form-2-{name}", f"Form 2 whose protocols is {description}.", raw, invalid)

    def external(description: str, name: str, value: object) -> dict:
        """Form 2 re-signed by the root with another `external`: refused (InvalidField)."""
        raw = centre_signed({**m2, "external": value}, signing.DIRECTORY)
        name = f"form-2-external-{name}"
        return v(name, f"Form 2 whose external is {description}.", raw, invalid)

    ministry, province = EXTERNAL

    expires = NOW + 7 * DAY
    vectors = [
        v(
            "valid",
            "Version 3: A rotated its key (serials 1 and 5), B's serial 2 is revoked, C serial 3.",
            good,
            directory_ok(),
        ),
        v(
            "same-version",
            "Version 3 offered while version 3 is held: accepted.",
            good,
            directory_ok(),
            newer_than=3,
        ),
        v(
            "newer-version",
            "Version 3 offered while version 2 is held: accepted.",
            good,
            directory_ok(),
            newer_than=2,
        ),
        v(
            "rollback",
            "Version 2 offered while version 3 is held.",
            directory(2),
            err("Rollback"),
            newer_than=3,
        ),
        v("expired", "Checked 1 ms after expires_at.", good, err("Expired"), now=expires + 1),
        v(
            "other-root",
            "Signed by another key than the pinned root.",
            directory(root=keys("evil")),
            err("BadSignature"),
        ),
        v(
            "wrong-domain",
            "The signed bytes signed by the root in the certificate domain.",
            centre_signed(m, signing.CERTIFICATE),
            err("BadSignature"),
        ),
        v(
            "signer-hint-not-centre",
            "The signer hint is '000.00.02.H53:1'.",
            rehint(good, f"{A}:1"),
            err("InvalidField"),
        ),
        v(
            "duplicate-serial",
            "Two certificates with serial 1.",
            directory(certs=[cert(A, 1), cert(B, 1)], revoked=()),
            err("InvalidField"),
        ),
        v(
            "unknown-field",
            "Root-signed with an extra field 'comment'.",
            centre_signed({**m, "comment": "x"}, signing.DIRECTORY),
            err("InvalidField"),
        ),
        v(
            "revoked-not-a-serial",
            "Root-signed with revoked ['2'] (a string).",
            centre_signed({**m, "revoked": ["2"]}, signing.DIRECTORY),
            err("InvalidField"),
        ),
        v(
            "unknown-version",
            "Root-signed with v = 3.",
            centre_signed({**m, "v": 3}, signing.DIRECTORY),
            err("UnknownVersion"),
        ),
        v(
            "form-2",
            "The valid directory in form 2 (v = 2): A reads envelope versions 1 and 2; C is the "
            "gateway of two organisations outside the directory.",
            form_2,
            directory_ok(PROTOCOLS, EXTERNAL),
        ),
        v(
            "form-2-none-listed",
            "Form 2 with an empty protocols map: every unit reads version 1 only.",
            directory(protocols={}),
            directory_ok({}),
        ),
        v(
            "form-2-same-version-held",
            "Form 2 of version 3 while form 1 of version 3 is held: accepted (10.2).",
            form_2,
            directory_ok(PROTOCOLS, EXTERNAL),
            newer_than=3,
        ),
        v(
            "form-2-without-protocols",
            "Root-signed with v = 2 and no protocols field.",
            centre_signed({k: x for k, x in m2.items() if k != "protocols"}, signing.DIRECTORY),
            invalid,
        ),
        v(
            "form-1-with-protocols",
            "Root-signed with v = 1 and a protocols field (unknown in form 1).",
            centre_signed({**m2, "v": 1}, signing.DIRECTORY),
            invalid,
        ),
        protocols("an array, not a map", "not-a-map", [[A, [1, 2]]]),
        protocols("{'A1': [1, 2]} (no unit code)", "not-a-code", {"A1": [1, 2]}),
        protocols(
            f"{{'{OUTSIDER}': [1, 2]}}, a unit the directory does not list",
            "unit-not-listed",
            {OUTSIDER: [1, 2]},
        ),
        protocols("{A: [0, 1, 2]} (version 0)", "version-0", {A: [0, 1, 2]}),
        protocols(
            f"{{A: [1, {MAX_PROTOCOL_VERSION + 1}]}} (over MAX_PROTOCOL_VERSION)",
            "version-over-limit",
            {A: [1, MAX_PROTOCOL_VERSION + 1]},
        ),
        protocols("{A: [2, 1]} (not increasing)", "unsorted", {A: [2, 1]}),
        protocols("{A: [1, 2, 2]} (a version twice)", "duplicate", {A: [1, 2, 2]}),
        protocols("{A: [2]} (without version 1)", "without-1", {A: [2]}),
        protocols("{A: [1]} (a unit reading version 1 only is not listed)", "only-1", {A: [1]}),
        protocols("{A: '1 2'} (a string)", "versions-not-an-array", {A: "1 2"}),
        v(
            "form-2-without-external",
            "Root-signed with v = 2 and no external field.",
            centre_signed({k: x for k, x in m2.items() if k != "external"}, signing.DIRECTORY),
            invalid,
        ),
        external("a map, not an array", "not-an-array", {ministry["code"]: ministry}),
        external("in decreasing order of code", "unsorted", [province, ministry]),
        external("the same organisation twice", "duplicate", [ministry, ministry]),
        external("an organisation whose code is unit A's", "unit-code", [{**ministry, "code": A}]),
        external(
            f"an organisation whose gateway {OUTSIDER} the directory does not list",
            "gateway-not-listed",
            [{**ministry, "gateway": OUTSIDER}],
        ),
        external("an organisation with an empty name", "no-name", [{**ministry, "name": ""}]),
        external(
            "an organisation code with a space", "bad-code", [{**ministry, "code": "BO NOI VU"}]
        ),
        external(
            "an organisation with an unknown field 'url'",
            "unknown-field",
            [{**ministry, "url": "https://example.org"}],
        ),
        v(
            "lookup-old-serial-after-rotation",
            "In the valid directory, the key of A:1, superseded by A:5 but not revoked.",
            good,
            {"ok": {"sign_key": hx(keys(A).sign_public)}},
            lookup={"code": A, "serial": 1},
        ),
        v(
            "lookup-revoked-serial",
            "In the valid directory, the key of B:2, whose serial is revoked.",
            good,
            err("Revoked"),
            lookup={"code": B, "serial": 2},
        ),
        v(
            "lookup-serial-of-another-unit",
            "In the valid directory, the key of A:2 (serial 2 is B's).",
            good,
            err("UnknownSigner"),
            lookup={"code": A, "serial": 2},
        ),
        v(
            "oversized",
            f"{MAX_DIRECTORY_BYTES + 1} bytes of 0x80.",
            None,
            err("LimitExceeded"),
            oversized=oversized(MAX_DIRECTORY_BYTES),
        ),
    ]
    return file_document(
        "directories",
        "root_public: pinned root key; now: unix ms; newer_than: the version already held (null: "
        "none). ok.lookups: (code, serial) -> the signing key, or the error a lookup raises; "
        "lookup: one key lookup in the verified directory, whose result is the expected one.",
        vectors,
    )

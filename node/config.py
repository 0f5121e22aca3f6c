"""node.toml: every key, its type, default and meaning; unknown keys and bad values refused.

The table SCHEMA is the single source of what a key means; node.toml.example
is written from the same words. Paths are relative to the data directory.
"""

from __future__ import annotations

import tomllib
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomli_w

from lienthong.bootstrap.settings import Federation, NodeSettings
from lienthong.crypto.errors import LienthongError
from lienthong.protocol.doctypes import document_types
from lienthong.protocol.document import Organisation
from lienthong.protocol.limits import MAX_SHORT_TEXT, MAX_URL
from lienthong.protocol.text import pattern
from lienthong.protocol.units import DEFAULT_UNIT_CODE_PATTERN, validate_unit_code
from lienthong.storage.registers import LEGAL_MODES, REGISTER_NAME, RegisterRules

if TYPE_CHECKING:  # pyHanko and python-pkcs11 load only when a key is used (~1 s at start)
    from lienthong.crypto.pdf_sign import SigningKey

CONFIG_FILE = "node.toml"
# Hosts of node.listen / node.web that mean every interface (no name a browser sends).
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 - compared, not bound
MAX_CONFIG_BYTES = 256 * 1024  # a hand-written config is a few KiB
HOSTPORT = pattern("HOST:PORT", r"[A-Za-z0-9.\-\[\]:]+:[0-9]{1,5}", "127.0.0.1:7443")
# A name in web.allowed_hosts: a DNS name (labels of letters, digits and hyphens) or an IP
# address, no port; at most 253 characters (RFC 1035).
WEB_HOST = pattern("host name", r"[A-Za-z0-9.\-:]{1,253}", "vanban.sct.tayninh.gov.vn")
MAX_WEB_HOSTS = 64  # names of one office's page: a handful, even with every alias
# The issuer's details in [unit]: each travels in every document the unit sends, where a
# reader takes names and contacts of at most MAX_SHORT_TEXT characters and a URL of MAX_URL.
ISSUER_KEYS = ("parent", "in_charge", "place", "address", "email", "phone", "fax", "website")
# Printable ASCII only ("!"-"~"), "@" once: a mail address or URL written in node.toml or a
# form, never a control character, a space or another script's look-alike.
EMAIL = pattern("mail address", r"[!-?A-~]{1,64}@[!-?A-~]+\.[!-?A-~]+", "vanthu@tayninh.gov.vn")
# Digits, spaces, brackets, dots and hyphens, starting with + or a digit, ending with a digit.
PHONE = pattern("telephone number", r"\+?[0-9][0-9 ().\-]{1,30}[0-9]", "0276 3822 222")
WEBSITE = pattern("website", r"https?://[!-~]+", "https://tayninh.gov.vn")


class ConfigError(LienthongError):
    """node.toml is missing, malformed, or has an unknown key or a bad value."""


@dataclass(frozen=True, slots=True)
class Key:
    type: type
    default: Any
    help: str
    choices: tuple[Any, ...] | None = None


SCHEMA: dict[str, dict[str, Key]] = {
    "unit": {
        "code": Key(str, None, "organisation code (mã định danh), e.g. 000.00.05.H53"),
        "name": Key(str, None, "the unit's name as clerks write it, e.g. Sở Nội vụ"),
        "code_pattern": Key(
            str, DEFAULT_UNIT_CODE_PATTERN, "regular expression the whole code matches, ASCII only"
        ),
        # The issuer as the unit's documents name it (edXML From); empty: not stated.
        "parent": Key(
            str,
            "",
            "cơ quan chủ quản (edXML OrganizationInCharge) printed above the unit's name, "
            "e.g. UBND TỈNH TÂY NINH",
        ),
        "in_charge": Key(
            str,
            "",
            "the collective body a TM. signature acts for, e.g. Ủy ban nhân dân tỉnh",
        ),
        "place": Key(
            str, "", "địa danh written before the date of the unit's documents, e.g. Tây Ninh"
        ),
        "address": Key(str, "", "postal address sent with the unit's documents"),
        "email": Key(str, "", "e-mail address of the unit, e.g. vanthu@tayninh.gov.vn"),
        "phone": Key(str, "", "telephone number of the unit, e.g. 0276 3822 222"),
        "fax": Key(str, "", "fax number of the unit"),
        "website": Key(str, "", "website of the unit, http:// or https://"),
    },
    "node": {
        "role": Key(str, "unit", "unit, or centre (directory and relay)", ("unit", "centre")),
        "listen": Key(str, "127.0.0.1:7443", "HOST:PORT of the peer API (mutual TLS)"),
        "public_url": Key(str, "", "URL other nodes use to reach the peer API; empty: from listen"),
        "reachable": Key(bool, True, "false when behind NAT: the node pulls mail from the relay"),
        "web": Key(str, "127.0.0.1:8080", "HOST:PORT of the clerks' web page (plain HTTP)"),
        "discovery": Key(bool, True, "announce and look for other units on the LAN (zeroconf)"),
    },
    "keys": {
        "identity": Key(str, "keys/identity.key", "Ed25519 + X25519 key file (mode 0600)"),
        "passphrase_env": Key(str, "", "environment variable holding the key passphrase"),
        "passphrase_file": Key(
            str,
            "",
            "file holding the key passphrase (one line); $CREDENTIALS_DIRECTORY is expanded, "
            "for systemd's LoadCredential=",
        ),
    },
    "federation": {
        "centre_url": Key(str, "", "https URL of the provincial centre (set by lienthong enrol)"),
        "centre_fingerprint": Key(str, "", "fingerprint of the centre's root key, pinned"),
        "directory_refresh_seconds": Key(int, 300, "how often to fetch the directory"),
        "directory_warn_hours": Key(int, 48, "warn when the directory expires within this"),
    },
    "centre": {
        "directory_validity_hours": Key(int, 168, "how long a signed directory stays valid"),
        "certificate_validity_days": Key(int, 365, "validity of node certificates"),
        "token_validity_days": Key(int, 7, "validity of one-time enrolment tokens"),
        "require_approval": Key(bool, False, "an operator approves each enrolment"),
        "relay_retention_days": Key(int, 30, "how long the relay keeps undelivered mail"),
        "database": Key(
            str,
            "",
            "empty: the SQLite file in the data directory; postgresql://USER@HOST:PORT/DB: a "
            "PostgreSQL database several centre workers share (docs/OPERATIONS.md)",
        ),
    },
    "store": {
        "synchronous": Key(str, "NORMAL", "SQLite synchronous setting", ("NORMAL", "FULL")),
    },
    "security": {
        "allow_confidential": Key(
            bool, False, "allow sending documents marked Mật or above (approved networks only)"
        ),
        "clock_skew_seconds": Key(int, 300, "tolerated difference between node clocks"),
    },
    # The clerk's page behind a reverse proxy (node/web/edge.py, docs/OPERATIONS.md).
    "web": {
        "allowed_hosts": Key(
            list,
            [],
            "host names the clerk's page answers to besides node.web's host and the loopback "
            "names, e.g. the name a reverse proxy serves; any other Host header is refused (421)",
        ),
        "behind_tls_proxy": Key(
            bool,
            False,
            "the page is reached only over HTTPS through a reverse proxy: cookies are Secure",
        ),
    },
    # Rate limits (node/ratelimit.py) and connection caps of the peer listener (node/edge.py);
    # every value is at least 1. Defaults sit far above what a province's traffic needs.
    # Which register (sổ) a document goes to (storage/registers.py, docs/CLERK.md, "Sổ văn
    # bản"): Nghị định 30/2020 numbers each kind of legal document, secret documents and
    # copies in series of their own. An empty name puts those documents in `general`.
    "registers": {
        "general": Key(str, "chung", "the register of every document no other key takes"),
        "secret": Key(str, "mat", "outgoing documents marked Mật or above; empty: general"),
        "copies": Key(str, "sao", "copies (sao y, trích sao, sao lục); empty: general"),
        "legal": Key(
            str,
            "per_type",
            "legal documents (a legal type, or a number carrying its year): per_type (one "
            "register per type, qppl_<type>), one (register qppl) or general",
            LEGAL_MODES,
        ),
        "own_series": Key(list, [], "type codes numbered in a register of their own"),
        "incoming_secret": Key(
            str, "mat", "incoming documents marked Mật or above; empty: one incoming register"
        ),
    },
    # Events for the office's document system (node/unit/events.py, docs/INTEGRATION.md).
    "events": {
        "webhooks": Key(
            list,
            [],
            "endpoints every event is POSTed to, each an inline table "
            '{ name = "dms", url = "https://dms.local/lienthong", secret = "<32+ characters>" }',
        ),
        "retry_base_ms": Key(
            int, 1000, "first wait after a webhook call failed, doubled each time"
        ),
        "retry_cap_ms": Key(int, 600_000, "longest wait between two calls to a failing webhook"),
    },
    # Signing at issue (node/unit/signing.py, docs/SIGNATURES.md): the organisation's key, in a
    # PKCS#12 file or on a PKCS#11 token; its PIN is read from pin_env or asked, never stored.
    "signing": {
        "pkcs12": Key(str, "", "PKCS#12 file (.p12, .pfx) of the organisation's key; empty: none"),
        "pkcs11_module": Key(
            str,
            "",
            "the token's PKCS#11 module (driver), e.g. /usr/lib/softhsm/libsofthsm2.so; "
            "empty: none",
        ),
        "token_label": Key(str, "", "label of the token (as pkcs11-tool --list-slots shows it)"),
        "key_label": Key(str, "", "label of the key and its certificate on the token"),
        "key_id": Key(str, "", "id of the key and its certificate, in hex, if not by label"),
        "pin_env": Key(
            str,
            "LIENTHONG_SIGN_PIN",
            "environment variable holding the PIN (or the PKCS#12 passphrase) for "
            "lienthong send --sign-pdf; unset: the command asks",
        ),
        "tsa_url": Key(str, "", "URL of an RFC 3161 time-stamping authority; empty: none"),
        "stamp_font": Key(
            str,
            "",
            "TrueType font with Vietnamese letters for the visible stamp; empty: DejaVu Sans, "
            "Liberation Sans or Arial, the first found",
        ),
    },
    # Checking documents' signatures on arrival (node/unit/pdf_verify.py, docs/SIGNATURES.md).
    "signatures": {
        "fetch_crl": Key(
            bool,
            False,
            "fetch each signer's CRL from its certificate's distribution point over HTTP",
        ),
        "verify_timeout_ms": Key(
            int,
            120_000,
            "longest check of one PDF's signatures; past it the file is marked, not checked",
        ),
    },
    # The gateway to organisations outside the directory (node/unit/gateway.py,
    # docs/GATEWAY.md): its spool folders, relative to the data directory, and where to POST.
    "gateway": {
        "outgoing": Key(
            str, "", "folder the gateway writes each outgoing edXML package into; empty: none"
        ),
        "incoming": Key(
            str, "", "folder whose edXML packages and statuses the gateway takes in; empty: none"
        ),
        "post_url": Key(
            str, "", "URL each outgoing edXML package is POSTed to instead; empty: none"
        ),
        "scan_seconds": Key(int, 5, "how often the gateway looks into its incoming folder"),
    },
    "limits": {
        "peer_per_minute": Key(int, 1200, "requests a minute per unit: peer and centre API"),
        "peer_burst": Key(int, 1200, "requests one unit may make at once: peer and centre API"),
        "relay_per_minute": Key(int, 600, "relay requests a minute per unit (deposit, pull, ack)"),
        "relay_burst": Key(int, 600, "relay requests one unit may make at once"),
        "enrol_per_minute": Key(int, 60, "enrolment requests a minute per source address"),
        "enrol_burst": Key(int, 100, "enrolment requests one source address may make at once"),
        "stranger_per_minute": Key(int, 120, "requests a minute per address without a peer"),
        "stranger_burst": Key(int, 120, "requests at once per address without a peer"),
        "login_per_minute": Key(int, 60, "clerk logins a minute per source address"),
        "login_burst": Key(int, 60, "clerk logins one source address may make at once"),
        "max_connections": Key(int, 1024, "open connections to the peer listener"),
        "max_connections_per_address": Key(int, 256, "open connections per source address"),
        "max_handshakes": Key(int, 256, "connections without a client certificate yet"),
        "max_handshakes_per_address": Key(int, 32, "the same, per source address"),
    },
}


@dataclass(frozen=True)
class Config:
    data_dir: Path
    values: dict[str, dict[str, Any]]

    def get(self, section: str, key: str) -> Any:
        return self.values[section][key]

    def path(self, section: str, key: str) -> Path:
        return self.data_dir / self.get(section, key)

    @property
    def code(self) -> str:
        return self.get("unit", "code")

    @property
    def name(self) -> str:
        return self.get("unit", "name")

    @property
    def issuer(self) -> Organisation:
        """This unit as its documents name their issuer (edXML From), from [unit]."""
        unit = self.values["unit"]
        return Organisation(
            name=self.name,
            code=self.code,
            **{k: unit[k] or None for k in ISSUER_KEYS if k != "place"},
        )

    @property
    def place(self) -> str:
        """The địa danh of this unit's documents ([unit] place), empty if not configured."""
        return self.get("unit", "place")

    @property
    def store_path(self) -> Path:
        return self.data_dir / "store.sqlite3"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def role(self) -> str:
        return self.get("node", "role")

    # Files written by enrolment (units) or `centre init` (the centre); see docs/OPERATIONS.md.
    @property
    def tls_key_path(self) -> Path:
        return self.data_dir / "keys" / "tls.key"

    @property
    def tls_cert_path(self) -> Path:
        return self.data_dir / "tls" / "cert.pem"

    @property
    def ca_path(self) -> Path:
        return self.data_dir / "tls" / "ca.pem"

    @property
    def certificate_path(self) -> Path:
        """The node certificate (wire bytes) the centre issued for this unit."""
        return self.data_dir / "certificate.bin"

    @property
    def root_key_path(self) -> Path:
        """The centre's root key (role centre only); also the key of its X.509 CA."""
        return self.data_dir / "keys" / "root.key"

    @property
    def peer_url(self) -> str:
        return self.get("node", "public_url") or f"https://{self.get('node', 'listen')}"

    @property
    def register_rules(self) -> RegisterRules:
        """Which register a document goes to ([registers])."""
        r = self.values["registers"]
        return RegisterRules(
            general=r["general"],
            secret=r["secret"],
            copies=r["copies"],
            legal=r["legal"],
            own_series=tuple(r["own_series"]),
            incoming_secret=r["incoming_secret"],
        )

    @property
    def signing_key(self) -> SigningKey | None:
        """The organisation's signing key of [signing], or None when none is configured."""
        from lienthong.crypto.pdf_sign import Pkcs11Key, Pkcs12Key

        signing = self.values["signing"]
        if signing["pkcs12"]:
            return Pkcs12Key(self.path("signing", "pkcs12"))
        if signing["pkcs11_module"]:
            return Pkcs11Key(
                module=signing["pkcs11_module"],
                token_label=signing["token_label"],
                key_label=signing["key_label"],
                key_id=bytes.fromhex(signing["key_id"]),
            )
        return None

    # What the layer below reads, as plain typed values (bootstrap/ cannot import node/).
    @property
    def federation(self) -> Federation:
        return Federation(
            centre_url=self.get("federation", "centre_url"),
            centre_fingerprint=self.get("federation", "centre_fingerprint"),
            directory_refresh_seconds=self.get("federation", "directory_refresh_seconds"),
            directory_warn_hours=self.get("federation", "directory_warn_hours"),
        )

    @property
    def node_settings(self) -> NodeSettings:
        """What enrolment and key rotation read (bootstrap/settings.py)."""
        return NodeSettings(
            data_dir=self.data_dir,
            code=self.code,
            name=self.name,
            reachable=self.get("node", "reachable"),
            peer_url=self.peer_url,
            store_path=self.store_path,
            store_synchronous=self.get("store", "synchronous"),
            identity_key_path=self.path("keys", "identity"),
            tls_key_path=self.tls_key_path,
            tls_cert_path=self.tls_cert_path,
            ca_path=self.ca_path,
            certificate_path=self.certificate_path,
            federation=self.federation,
        )


def load_config(data_dir: Path) -> Config:
    """Read DATA_DIR/node.toml; every problem names the key and what is allowed."""
    path = Path(data_dir) / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(
            f"{path} not found: create it with 'lienthong init --data-dir {data_dir}'"
        )
    data = path.read_bytes()
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: {len(data)} bytes is over {MAX_CONFIG_BYTES}")
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return Config(data_dir=Path(data_dir), values=validate(raw, str(path)))


def validate(raw: dict[str, Any], where: str = CONFIG_FILE) -> dict[str, dict[str, Any]]:
    values: dict[str, dict[str, Any]] = {}
    for section in raw:
        if section not in SCHEMA:
            raise ConfigError(f"{where}: unknown section [{section}]; allowed: {', '.join(SCHEMA)}")
    for section, keys in SCHEMA.items():
        given = raw.get(section, {})
        if not isinstance(given, dict):
            raise ConfigError(f"{where}: {section} must be a table [{section}]")
        for name in given:
            if name not in keys:
                raise ConfigError(
                    f"{where}: unknown key {section}.{name}; allowed: {', '.join(keys)}"
                )
        values[section] = {}
        for name, key in keys.items():
            value = given.get(name, key.default)
            if value is None:
                raise ConfigError(f"{where}: {section}.{name} is required ({key.help})")
            if type(value) is not key.type:
                raise ConfigError(
                    f"{where}: {section}.{name} must be a {key.type.__name__}, "
                    f"got {value!r} ({key.help})"
                )
            if key.choices and value not in key.choices:
                raise ConfigError(
                    f"{where}: {section}.{name} = {value!r}; allowed: "
                    f"{', '.join(map(str, key.choices))}"
                )
            values[section][name] = value
    for section, name in (("node", "listen"), ("node", "web")):
        if not HOSTPORT.matches(values[section][name]):
            raise ConfigError(
                f"{where}: {section}.{name} = {values[section][name]!r}; "
                "expected HOST:PORT, e.g. 127.0.0.1:8080"
            )
    if len(values["web"]["allowed_hosts"]) > MAX_WEB_HOSTS:
        raise ConfigError(f"{where}: web.allowed_hosts holds more than {MAX_WEB_HOSTS} names")
    for host in values["web"]["allowed_hosts"]:
        if type(host) is not str or not WEB_HOST.matches(host):
            raise ConfigError(
                f"{where}: web.allowed_hosts holds {host!r}; each entry is a host name or an "
                'IP address without a port, e.g. "vanban.sct.tayninh.gov.vn"'
            )
    _check_issuer(values["unit"], where)
    try:
        validate_unit_code(values["unit"]["code"], values["unit"]["code_pattern"])
    except LienthongError as exc:
        raise ConfigError(f"{where}: unit.code: {exc}") from None
    for section, keys in values.items():  # what no pattern above has checked
        for name, value in keys.items():
            if isinstance(value, str) and (bad := _control_character(value)):
                raise ConfigError(
                    f"{where}: {section}.{name} holds the control character {bad!r}: "
                    "names, paths and URLs are one line of text"
                )
    for name, value in values["limits"].items():
        if value < 1:
            raise ConfigError(f"{where}: limits.{name} = {value}; it must be at least 1")
    _check_registers(values["registers"], where)
    _check_events(values["events"], where)
    _check_gateway(values["gateway"], where)
    _check_signing(values["signing"], where)
    return values


# node.toml [events]: a handful of systems listen to one office; a secret short enough to
# guess would let anyone forge events to the office's document system.
MAX_WEBHOOKS = 8
MIN_SECRET_CHARS = 32
MAX_SECRET_CHARS = 256
WEBHOOK_NAME = pattern("webhook name", r"[a-z0-9][a-z0-9_-]{0,31}", "dms")
WEBHOOK_URL = pattern("webhook URL", r"https?://[!-~]+", "https://dms.local/lienthong")


def _check_events(events: dict[str, Any], where: str) -> None:
    hooks = events["webhooks"]
    if len(hooks) > MAX_WEBHOOKS:
        raise ConfigError(f"{where}: events.webhooks holds more than {MAX_WEBHOOKS} endpoints")
    names = set()
    for i, hook in enumerate(hooks):
        at = f"{where}: events.webhooks[{i}]"
        if not isinstance(hook, dict) or set(hook) != {"name", "url", "secret"}:
            raise ConfigError(
                f"{at} must be a table with exactly name, url and secret, e.g. "
                '{ name = "dms", url = "https://dms.local/lienthong", secret = "..." }'
            )
        if type(hook["name"]) is not str or not WEBHOOK_NAME.matches(hook["name"]):
            raise ConfigError(
                f"{at}.name = {hook['name']!r}; 1 to 32 lowercase letters, digits, _ or -, e.g. dms"
            )
        if hook["name"] in names:
            raise ConfigError(f"{at}.name = {hook['name']!r} is used by another webhook")
        names.add(hook["name"])
        url = hook["url"]
        if type(url) is not str or len(url) > MAX_URL or not WEBHOOK_URL.matches(url):
            raise ConfigError(
                f"{at}.url = {url!r}; an http:// or https:// URL of at most {MAX_URL} "
                "characters, e.g. https://dms.local/lienthong"
            )
        secret = hook["secret"]
        if type(secret) is not str or not MIN_SECRET_CHARS <= len(secret) <= MAX_SECRET_CHARS:
            raise ConfigError(
                f"{at}.secret must be {MIN_SECRET_CHARS} to {MAX_SECRET_CHARS} characters "
                "(e.g. python -c 'import secrets; print(secrets.token_hex(32))')"
            )
    for name in ("retry_base_ms", "retry_cap_ms"):
        if events[name] < 1:
            raise ConfigError(f"{where}: events.{name} = {events[name]}; it must be at least 1")
    if events["retry_cap_ms"] < events["retry_base_ms"]:
        raise ConfigError(f"{where}: events.retry_cap_ms is below events.retry_base_ms")


# node.toml [signing]: a PKCS#11 object id is a short byte string (tokens use 1 to 20 bytes).
MAX_KEY_ID_BYTES = 64
ENV_NAME = pattern("environment variable", r"[A-Z_][A-Z0-9_]{0,63}", "LIENTHONG_SIGN_PIN")
TSA_URL = pattern("time-stamping URL", r"https?://[!-~]+", "http://tsa.ca.gov.vn")


def _check_signing(signing: dict[str, Any], where: str) -> None:
    """One key source at most; a token's key named by label or id; the PIN's variable and the
    TSA's URL well formed."""
    if signing["pkcs12"] and signing["pkcs11_module"]:
        raise ConfigError(f"{where}: signing.pkcs12 and signing.pkcs11_module: give one of them")
    if signing["pkcs11_module"] and not signing["token_label"]:
        raise ConfigError(f"{where}: signing.pkcs11_module needs signing.token_label")
    if signing["pkcs11_module"] and not (signing["key_label"] or signing["key_id"]):
        raise ConfigError(f"{where}: signing.pkcs11_module needs signing.key_label or key_id")
    key_id = signing["key_id"]
    try:
        raw_id = bytes.fromhex(key_id)
    except ValueError:
        raw_id = None
    if key_id and (raw_id is None or not 1 <= len(raw_id) <= MAX_KEY_ID_BYTES):
        raise ConfigError(
            f"{where}: signing.key_id = {key_id!r}; hex digits of 1 to {MAX_KEY_ID_BYTES} "
            'bytes, e.g. "01"'
        )
    if not ENV_NAME.matches(signing["pin_env"]):
        raise ConfigError(
            f"{where}: signing.pin_env = {signing['pin_env']!r}; expected an {ENV_NAME.name} "
            f"such as {ENV_NAME.example!r}"
        )
    url = signing["tsa_url"]
    if url and (len(url) > MAX_URL or not TSA_URL.matches(url)):
        raise ConfigError(
            f"{where}: signing.tsa_url = {url!r}; an http:// or https:// URL of at most "
            f"{MAX_URL} characters, or empty"
        )


GATEWAY_URL = pattern("gateway URL", r"https?://[!-~]+", "https://truc.local/edxml")


def _check_gateway(gateway: dict[str, Any], where: str) -> None:
    """The outgoing folder or the URL, not both; a URL well formed; scans at least 1 s."""
    if gateway["outgoing"] and gateway["post_url"]:
        raise ConfigError(f"{where}: gateway.outgoing and gateway.post_url: give one of them")
    url = gateway["post_url"]
    if url and (len(url) > MAX_URL or not GATEWAY_URL.matches(url)):
        raise ConfigError(
            f"{where}: gateway.post_url = {url!r}; an http:// or https:// URL of at most "
            f"{MAX_URL} characters, or empty"
        )
    if gateway["scan_seconds"] < 1:
        raise ConfigError(f"{where}: gateway.scan_seconds must be at least 1")


def _check_registers(registers: dict[str, Any], where: str) -> None:
    """Register names are REGISTER_NAME (they appear in URLs and the store); own_series
    names types of the type table, each once."""
    for name in ("general", "secret", "copies", "incoming_secret"):
        value = registers[name]
        if (value or name == "general") and not REGISTER_NAME.matches(value):
            raise ConfigError(
                f"{where}: registers.{name} = {value!r}; a register's name is lowercase "
                "letters, digits and _, starting with a letter, at most 32"
                + ("" if name == "general" else ", or empty")
            )
    series = registers["own_series"]
    types = document_types()
    for code in series:
        if type(code) is not str or code not in types:
            raise ConfigError(
                f"{where}: registers.own_series holds {code!r}, which is no type code of "
                'protocol/data/document_types.json (e.g. "cong_van")'
            )
    if len(set(series)) != len(series):
        raise ConfigError(f"{where}: registers.own_series names a type twice")


def _check_issuer(unit: dict[str, Any], where: str) -> None:
    """The issuer's details of [unit], as a recipient will check them (names and contacts of
    at most MAX_SHORT_TEXT characters, a URL of MAX_URL): a bad value stops the node at start
    rather than every document it sends."""
    for name in ISSUER_KEYS:
        limit = MAX_URL if name == "website" else MAX_SHORT_TEXT
        if len(unit[name]) > limit:
            raise ConfigError(
                f"{where}: unit.{name} is {len(unit[name])} characters; at most {limit}"
            )
        if unit[name] != unit[name].strip():
            raise ConfigError(f"{where}: unit.{name} = {unit[name]!r} begins or ends with a space")
    shapes = (("email", EMAIL), ("phone", PHONE), ("fax", PHONE), ("website", WEBSITE))
    for name, shape in shapes:
        if unit[name] and not shape.matches(unit[name]):
            raise ConfigError(
                f"{where}: unit.{name} = {unit[name]!r}; expected a {shape.name} such as "
                f"{shape.example!r}, or empty"
            )


def render(values: dict[str, dict[str, Any]]) -> str:
    """Write a node.toml with a comment above every key (the same words as SCHEMA)."""
    lines = ["# lienthong node configuration; every key is explained in node.toml.example", ""]
    for section, keys in SCHEMA.items():
        lines.append(f"[{section}]")
        for name, key in keys.items():
            lines.append(f"# {key.help}")
            lines.append(f"{name} = {_toml(values.get(section, {}).get(name, key.default))}")
        lines.append("")
    return "\n".join(lines)


def _toml(value: Any) -> str:
    """One TOML value, written by tomli-w (every escape TOML needs, UTF-8 kept); a list of
    tables (events.webhooks) as inline tables, which tomli-w writes as [[v]] when long."""
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        tables = (", ".join(f"{k} = {_toml(v)}" for k, v in t.items()) for t in value)
        return "[" + ", ".join(f"{{ {t} }}" for t in tables) + "]"
    return tomli_w.dumps({"v": value}).removeprefix("v = ").rstrip("\n")


def _control_character(text: str) -> str | None:
    """The first control or line-breaking character of `text` (C0, DEL, C1, U+2028/2029)."""
    for ch in text:
        if unicodedata.category(ch) == "Cc" or ch in "\u2028\u2029":
            return ch
    return None

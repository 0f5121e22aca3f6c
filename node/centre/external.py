"""Organisations outside the directory and the gateway unit that carries them: the centre's
list (external.json in its data directory), its commands, and what form 2 publishes.

The list is the operator's: `lienthong centre gateway set`, `external add|remove|list|import`
(docs/GATEWAY.md). Each change is written atomically (temporary file, then rename) inside
the store's write transaction that signs the next directory, so two commands never
interleave and the directory states the list as soon as it changed.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from lienthong.crypto.errors import LienthongError
from lienthong.node.centre.errors import CentreError, UnknownUnit
from lienthong.node.config import Config
from lienthong.protocol.directory import MAX_EXTERNAL_ORGANISATIONS, ExternalOrganisation
from lienthong.protocol.limits import MAX_SHORT_TEXT
from lienthong.protocol.units import check_external_code
from lienthong.storage import audit
from lienthong.storage import centre as db

EXTERNAL_FILE = "external.json"
# A CSV list of organisations: code and name per line, each line well under 400 bytes;
# 8 MiB holds MAX_EXTERNAL_ORGANISATIONS lines with room, and is read whole.
MAX_IMPORT_BYTES = 8 * 1024 * 1024
CSV_HEADER = ("code", "name")


@dataclass(frozen=True)
class ExternalList:
    """The gateway unit (None: none set yet) and the organisations, code -> name."""

    gateway: str | None
    organisations: dict[str, str]

    def published(self, units: Iterable[str]) -> list[ExternalOrganisation]:
        """What form 2 lists: every organisation, carried by the gateway, when the gateway
        is among `units` (the codes the directory certifies); else nothing, since a
        directory naming a gateway it does not list would be refused by every reader."""
        if self.gateway is None or self.gateway not in set(units):
            return []
        return [
            ExternalOrganisation(code=code, name=name, gateway=self.gateway)
            for code, name in sorted(self.organisations.items())
        ]


def _path(config: Config) -> Path:
    return config.data_dir / EXTERNAL_FILE


def read_list(config: Config) -> ExternalList:
    """The centre's list as stored; empty when none was ever written."""
    try:
        data = json.loads(_path(config).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return ExternalList(None, {})
    except (OSError, ValueError) as exc:
        raise CentreError(f"{_path(config)} cannot be read: {exc}") from None
    return ExternalList(data.get("gateway"), dict(data.get("organisations", {})))


def _write(config: Config, listed: ExternalList) -> None:
    path = _path(config)
    tmp = path.with_name(f".{path.name}.partial")
    text = json.dumps(
        {"gateway": listed.gateway, "organisations": dict(sorted(listed.organisations.items()))},
        ensure_ascii=False,
        indent=1,
    )
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


def check_name(name: str, where: str) -> str:
    """An organisation's name as the directory carries it: 1 to MAX_SHORT_TEXT characters,
    no control character, no leading or trailing blank."""
    if not name or name != name.strip():
        raise CentreError(f"{where}: the name is empty or starts or ends with a blank")
    if len(name) > MAX_SHORT_TEXT:
        raise CentreError(f"{where}: the name has {len(name)} characters, over {MAX_SHORT_TEXT}")
    for ch in name:
        if ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 or ch in "\ufffe\uffff":
            raise CentreError(f"{where}: the name holds the control character U+{ord(ch):04X}")
    return name


def check_code(code: str, where: str) -> str:
    try:
        return check_external_code(code, "organisation", "code")
    except LienthongError as exc:
        raise CentreError(f"{where}: {exc}") from None


async def _change(centre, listed: ExternalList, *, action: str, subject: str, actor: str, details):
    """Write the list, audit the change and sign the next directory, in one transaction."""
    async with centre.store.write() as tx:
        _write(centre.config, listed)
        await audit.append(
            tx, at=centre.clock(), actor=actor, action=action, subject=subject, details=details
        )
        directory = await centre.issuer.sign_directory(tx)
    centre.publish(directory)
    return directory


async def set_gateway(centre, code: str, *, actor: str) -> int:
    """Make the unit `code` the gateway of every organisation listed; the directory version."""
    async with centre.store.read() as conn:
        unit = await db.get_unit(conn, code)
    if unit is None:
        raise UnknownUnit(f"unit {code} is not registered at this centre", code)
    if code == centre.config.code:
        raise CentreError(f"{code} is this centre's own code: the gateway is a unit", code)
    if unit.status != "active":
        raise CentreError(
            f"unit {code} is {unit.status}: the gateway is a unit that has enrolled", code
        )
    listed = read_list(centre.config)
    directory = await _change(
        centre,
        ExternalList(code, listed.organisations),
        action="gateway.set",
        subject=code,
        actor=actor,
        details={"was": listed.gateway},
    )
    return directory.version


def _taken_by_unit(centre, codes: Sequence[str], units: set[str]) -> None:
    for code in codes:
        if code in units or code == centre.config.code:
            raise CentreError(f"{code} is the code of a unit of the directory, not an outside one")


async def _unit_codes(centre) -> set[str]:
    async with centre.store.read() as conn:
        return {u.code for u in await db.list_units(conn)}


async def add_external(centre, code: str, name: str, *, actor: str) -> int:
    """List one organisation (or rename it); the directory version that states it."""
    code = check_code(code, "external add")
    name = check_name(name, f"external add {code}")
    listed = read_list(centre.config)
    if listed.gateway is None:
        raise CentreError("no gateway unit is set: run 'lienthong centre gateway set CODE' first")
    _taken_by_unit(centre, [code], await _unit_codes(centre))
    if code not in listed.organisations and len(listed.organisations) >= MAX_EXTERNAL_ORGANISATIONS:
        raise CentreError(f"the list holds {MAX_EXTERNAL_ORGANISATIONS} organisations, its limit")
    organisations = {**listed.organisations, code: name}
    directory = await _change(
        centre,
        ExternalList(listed.gateway, organisations),
        action="external.added",
        subject=code,
        actor=actor,
        details={"name": name, "was": listed.organisations.get(code)},
    )
    return directory.version


async def remove_external(centre, code: str, *, actor: str) -> int:
    listed = read_list(centre.config)
    if code not in listed.organisations:
        raise CentreError(f"{code} is not an organisation of the list ('external list')", code)
    organisations = {c: n for c, n in listed.organisations.items() if c != code}
    directory = await _change(
        centre,
        ExternalList(listed.gateway, organisations),
        action="external.removed",
        subject=code,
        actor=actor,
        details={"name": listed.organisations[code]},
    )
    return directory.version


def parse_csv(data: bytes, source: str) -> dict[str, str]:
    """A CSV list (UTF-8, a BOM allowed): `code,name` per line, the header line `code,name`
    optional. Every line is checked; the first bad one is named and nothing is taken."""
    if len(data) > MAX_IMPORT_BYTES:
        raise CentreError(f"{source}: {len(data)} bytes, over the limit of {MAX_IMPORT_BYTES}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CentreError(f"{source}: not UTF-8 text (byte {exc.start})") from None
    found: dict[str, str] = {}
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as exc:
        raise CentreError(f"{source}: not a CSV list: {exc}") from None
    for line, row in enumerate(rows, start=1):
        where = f"{source}, line {line}"
        if not row or row == [""]:
            continue
        if line == 1 and tuple(c.strip().lower() for c in row) == CSV_HEADER:
            continue
        if len(row) != 2:
            raise CentreError(f"{where}: expected 2 columns (code, name), found {len(row)}")
        code = check_code(row[0].strip(), where)
        name = check_name(row[1].strip(), f"{where} ({code})")
        if code in found:
            raise CentreError(f"{where}: {code} is listed twice")
        found[code] = name
        if len(found) > MAX_EXTERNAL_ORGANISATIONS:
            raise CentreError(f"{where}: over {MAX_EXTERNAL_ORGANISATIONS} organisations")
    if not found:
        raise CentreError(f"{source}: lists no organisation")
    return found


async def import_external(centre, data: bytes, source: str, *, actor: str) -> tuple[int, int]:
    """Add (or rename) every organisation of a CSV list at once; (how many, version)."""
    found = parse_csv(data, source)
    listed = read_list(centre.config)
    if listed.gateway is None:
        raise CentreError("no gateway unit is set: run 'lienthong centre gateway set CODE' first")
    _taken_by_unit(centre, list(found), await _unit_codes(centre))
    organisations = {**listed.organisations, **found}
    if len(organisations) > MAX_EXTERNAL_ORGANISATIONS:
        raise CentreError(
            f"{source}: the list would hold {len(organisations)} organisations, over "
            f"{MAX_EXTERNAL_ORGANISATIONS}"
        )
    directory = await _change(
        centre,
        ExternalList(listed.gateway, organisations),
        action="external.imported",
        subject=source[:200],
        actor=actor,
        details={"organisations": len(found)},
    )
    return len(found), directory.version

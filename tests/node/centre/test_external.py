"""Organisations outside the directory at the centre: the gateway unit set, organisations
added, removed and imported from CSV, each change signed into form 2 of the next directory
(form 1 unchanged); bad input refused by name with nothing changed (docs/GATEWAY.md)."""

from __future__ import annotations

import argparse
import json
from collections.abc import AsyncIterator

import pytest

from lienthong.node.centre import external
from lienthong.node.centre.errors import CentreError, UnknownUnit
from lienthong.node.centre.rules import Centre
from lienthong.node.cli.commands import centre as commands
from lienthong.protocol.directory import Directory, verify_directory
from lienthong.storage import audit
from lienthong.storage.directory import latest_directory
from tests.node.centre_support import UNIT_A, UNIT_B, UnitSide

MINISTRY = ("000.00.00.G09", "Văn phòng Chính phủ")
PROVINCE = ("000.00.12.H29", "Sở Nội vụ tỉnh Hà Tĩnh")


@pytest.fixture
async def centre(make_centre) -> AsyncIterator[Centre]:
    async with make_centre() as opened:
        for code, name in (UNIT_A, UNIT_B):
            new = await opened.add_unit(code, name)
            await opened.enrol(UnitSide(code, name).request(new.token, created=opened.clock()))
        yield opened


async def newest(centre: Centre) -> tuple[Directory, Directory]:
    """Form 1 and form 2 of the newest directory the centre signed, verified."""
    async with centre.store.read() as conn:
        latest = await latest_directory(conn)
    assert latest is not None and latest.form2 is not None
    root, now = centre.root.sign_public, centre.clock()
    return (
        verify_directory(latest.raw, root, now=now, forms=(1,)),
        verify_directory(latest.form2, root, now=now),
    )


def listed(directory: Directory) -> list[tuple[str, str, str]]:
    return [(e.code, e.name, e.gateway) for e in directory.external.values()]


async def test_the_gateway_and_its_organisations_are_signed_into_form_2(centre):
    """gateway set, then external add (twice): each signs a new version whose form 2 lists
    the organisations, sorted, carried by the gateway; form 1 lists none and keeps its
    fields. Removing one signs a version without it; each change is audited."""
    version = await external.set_gateway(centre, UNIT_A[0], actor="operator:test")
    assert listed((await newest(centre))[1]) == []
    await external.add_external(centre, *PROVINCE, actor="operator:test")
    added = await external.add_external(centre, *MINISTRY, actor="operator:test")
    assert added == version + 2
    form1, form2 = await newest(centre)
    assert form2.version == form1.version == added
    assert listed(form2) == [(*MINISTRY, UNIT_A[0]), (*PROVINCE, UNIT_A[0])]
    assert form1.external == {} and form1.same_listing(form2)
    assert form2.external_organisation(MINISTRY[0]).gateway == UNIT_A[0]

    removed = await external.remove_external(centre, MINISTRY[0], actor="operator:test")
    assert listed((await newest(centre))[1]) == [(*PROVINCE, UNIT_A[0])]
    assert removed == added + 1
    async with centre.store.read() as conn:
        actions = [e.action for e in await audit.entries(conn, limit=100)]
    for action in ("gateway.set", "external.added", "external.removed"):
        assert action in actions


async def test_moving_the_gateway_moves_every_organisation(centre):
    """A new gateway carries every organisation from the next version on."""
    await external.set_gateway(centre, UNIT_A[0], actor="t")
    await external.add_external(centre, *MINISTRY, actor="t")
    await external.set_gateway(centre, UNIT_B[0], actor="t")
    assert listed((await newest(centre))[1]) == [(*MINISTRY, UNIT_B[0])]


async def test_a_csv_list_is_imported_whole(centre):
    """A CSV with a BOM, a header and a blank line: every organisation listed at once, in
    one new directory version."""
    await external.set_gateway(centre, UNIT_A[0], actor="t")
    data = (
        f'\ufeffcode,name\r\n{MINISTRY[0]},{MINISTRY[1]}\r\n\r\n{PROVINCE[0]},"{PROVINCE[1]}"\r\n'
    ).encode()
    count, version = await external.import_external(centre, data, "ds.csv", actor="t")
    assert count == 2
    form2 = (await newest(centre))[1]
    assert form2.version == version
    assert [c for c, _, _ in listed(form2)] == [MINISTRY[0], PROVINCE[0]]


@pytest.mark.parametrize(
    ("csv", "named"),
    [
        (f"{MINISTRY[0]},{MINISTRY[1]}\nBO NOI VU,Bộ Nội vụ\n", "line 2"),
        (f"{MINISTRY[0]},{MINISTRY[1]}\n{MINISTRY[0]},again\n", "listed twice"),
        (f"{MINISTRY[0]},{MINISTRY[1]},extra\n", "expected 2 columns"),
        (f"{MINISTRY[0]},\n", "name is empty"),
        (f"{UNIT_B[0]},Văn phòng\n", "is the code of a unit"),
        ("code,name\n", "lists no organisation"),
    ],
)
async def test_a_bad_csv_is_refused_by_line_and_nothing_changes(centre, csv, named):
    """The first bad line is named; the list and the directory stay as they were."""
    await external.set_gateway(centre, UNIT_A[0], actor="t")
    await external.add_external(centre, *PROVINCE, actor="t")
    before = (await newest(centre))[1]
    with pytest.raises(CentreError, match=named):
        await external.import_external(centre, csv.encode(), "ds.csv", actor="t")
    after = (await newest(centre))[1]
    assert after.version == before.version and listed(after) == listed(before)
    assert external.read_list(centre.config).organisations == {PROVINCE[0]: PROVINCE[1]}


async def test_bad_commands_are_refused_with_nothing_signed(centre):
    """No gateway yet, an unknown gateway, the centre as gateway, a unit's code as an
    outside organisation, a name with a control character, removing what is not listed:
    each refused by name; the directory version does not move."""
    version = (await newest(centre))[0].version
    with pytest.raises(CentreError, match="no gateway unit is set"):
        await external.add_external(centre, *MINISTRY, actor="t")
    with pytest.raises(UnknownUnit, match="not registered"):
        await external.set_gateway(centre, "000.00.99.H53", actor="t")
    with pytest.raises(CentreError, match="centre's own code"):
        await external.set_gateway(centre, centre.config.code, actor="t")
    assert (await newest(centre))[0].version == version
    await external.set_gateway(centre, UNIT_A[0], actor="t")
    version += 1
    with pytest.raises(CentreError, match="code of a unit"):
        await external.add_external(centre, UNIT_B[0], "Văn phòng", actor="t")
    with pytest.raises(CentreError, match="control character"):
        await external.add_external(centre, MINISTRY[0], "Văn\nphòng", actor="t")
    with pytest.raises(CentreError, match="not an organisation id"):
        await external.add_external(centre, "../etc", "x", actor="t")
    with pytest.raises(CentreError, match="not an organisation of the list"):
        await external.remove_external(centre, MINISTRY[0], actor="t")
    assert (await newest(centre))[0].version == version


async def lienthong(*argv: str) -> None:
    """Parse and run one `lienthong centre ...` command line, as node/cli/main.py does."""
    parser = argparse.ArgumentParser(prog="lienthong")
    commands.register(parser.add_subparsers())
    args = parser.parse_args(["centre", *argv])
    await args.func(args)


async def test_the_operators_command_lines(centre, tmp_path, capsys):
    """`centre gateway set`, `external import`, `list` and `remove` as typed, with --json:
    each answers the directory version it signed; a bad CSV names its line."""
    data = ("--data-dir", str(centre.config.data_dir), "--json")

    def answer() -> dict:
        return json.loads(capsys.readouterr().out)

    await lienthong("gateway", "set", *data, UNIT_A[0])
    assert answer()["gateway"] == UNIT_A[0]
    listing = tmp_path / "ds.csv"
    listing.write_text(f"code,name\n{MINISTRY[0]},{MINISTRY[1]}\n{PROVINCE[0]},{PROVINCE[1]}\n")
    await lienthong("external", "import", *data, str(listing))
    imported = answer()
    assert imported["imported"] == 2
    await lienthong("external", "list", *data)
    assert answer()["items"] == [
        {"code": MINISTRY[0], "name": MINISTRY[1], "gateway": UNIT_A[0]},
        {"code": PROVINCE[0], "name": PROVINCE[1], "gateway": UNIT_A[0]},
    ]
    await lienthong("external", "remove", *data, PROVINCE[0])
    assert answer()["directory_version"] == imported["directory_version"] + 1
    listing.write_text(f"{MINISTRY[0]},{MINISTRY[1]}\n{PROVINCE[0]}\n")
    with pytest.raises(CentreError, match="line 2: expected 2 columns"):
        await lienthong("external", "import", *data, str(listing))
    assert listed((await newest(centre))[1]) == [(*MINISTRY, UNIT_A[0])]

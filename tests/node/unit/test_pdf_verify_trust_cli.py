"""`lienthong trust add-ca|add-crl|list|remove` on a real data directory: anchors in the store, each
change in the audit log, bad files refused with nothing stored."""

import asyncio
import json

import pytest

from lienthong.node.cli.main import main
from lienthong.node.runtime import context, open_context
from lienthong.node.unit.edxml_import import export_edxml, import_edxml
from lienthong.node.unit.pdf_verify import verify_queued
from lienthong.storage import trust
from lienthong.storage.db import Store
from tests.crypto.pdf_fixtures import (
    SIGNER_NAME,
    make_ca,
    make_crl,
    make_pdf,
    make_signer,
    sign_pdf,
)
from tests.node.cli.cli_node import unit_with_a_letter
from tests.node.cli.test_cli import run

CODE = "000.00.02.H53"


@pytest.fixture
def node(tmp_path):
    data = tmp_path / "node"
    assert main(["init", "--data-dir", str(data), "--code", CODE, "--name", "Sở Nội vụ"]) == 0
    return data


async def _cli(capsys, *args: str) -> tuple[int, str, str]:
    code = await asyncio.to_thread(main, list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


async def _anchors(data) -> list[trust.StoredAnchor]:
    async with await Store.open(data / "store.sqlite3") as store, store.read() as conn:
        return await trust.anchors(conn)


async def _audit(data) -> list[tuple[str, str]]:
    async with await Store.open(data / "store.sqlite3") as store, store.read() as conn:
        rows = await conn.fetchall(
            "SELECT action, subject FROM audit_log WHERE action LIKE 'trust.%' ORDER BY seq"
        )
    return [tuple(r) for r in rows]


async def test_add_list_remove_a_ca(node, tmp_path, capsys):
    """A PEM and a DER CA are added (subject and fingerprint printed), listed as JSON,
    one removed by its fingerprint written with colons and capitals; all audited."""
    pem, der = tmp_path / "root.pem", tmp_path / "sub.cer"
    root, sub = make_ca("Root CA thử"), make_ca("Sub CA thử")
    pem.write_bytes(root.pem)
    der.write_bytes(sub.der)
    code, out, _ = await _cli(capsys, "trust", "add-ca", "--data-dir", str(node), str(pem))
    assert code == 0 and "Root CA thử" in out and "SHA-256 fingerprint: " in out
    assert (await _cli(capsys, "trust", "add-ca", "--data-dir", str(node), str(der)))[0] == 0
    code, out, _ = await _cli(capsys, "trust", "list", "--data-dir", str(node), "--json")
    listed = json.loads(out)
    assert [("Root CA thử" in a["subject"], "Sub CA thử" in a["subject"]) for a in listed] == [
        (True, False),
        (False, True),
    ]
    fingerprint = listed[0]["fingerprint"]
    colons = ":".join(fingerprint[i : i + 2] for i in range(0, 64, 2)).upper()
    code, out, _ = await _cli(capsys, "trust", "remove", "--data-dir", str(node), colons)
    assert code == 0 and "No longer trusted" in out
    assert [a.subject for a in await _anchors(node)] == [listed[1]["subject"]]
    assert await _audit(node) == [
        ("trust.add_ca", fingerprint),
        ("trust.add_ca", listed[1]["fingerprint"]),
        ("trust.remove_ca", fingerprint),
    ]


async def test_bad_files_are_refused_with_nothing_stored(node, tmp_path, capsys):
    """Garbage, a signer's (not a CA's) certificate, a missing file, the same CA twice and an
    unknown fingerprint: each a one-line error naming it, exit 1, no anchor added."""
    garbage, leaf, ca = tmp_path / "x.pem", tmp_path / "leaf.pem", tmp_path / "ca.pem"
    garbage.write_bytes(b"-----BEGIN CERTIFICATE-----\nxx\n-----END CERTIFICATE-----\n")
    root = make_ca()
    leaf.write_bytes(make_signer(root).pem)
    ca.write_bytes(root.pem)
    add = ("trust", "add-ca", "--data-dir", str(node))
    code, _, err = await _cli(capsys, *add, str(garbage))
    assert code == 1 and "not an X.509 certificate" in err and str(garbage) in err
    code, _, err = await _cli(capsys, *add, str(leaf))
    assert code == 1 and "not a CA certificate" in err
    code, _, err = await _cli(capsys, *add, str(tmp_path / "none.pem"))
    assert code == 1 and "cannot read" in err
    assert await _anchors(node) == []
    assert (await _cli(capsys, *add, str(ca)))[0] == 0
    code, _, err = await _cli(capsys, *add, str(ca))
    assert code == 1 and "trusted already" in err
    code, _, err = await _cli(capsys, "trust", "remove", "--data-dir", str(node), "ab" * 32)
    assert code == 1 and "no trust anchor" in err
    assert len(await _anchors(node)) == 1


@pytest.fixture(scope="module")
def signed_pdf():
    """A CA and a PDF signed under it (made outside the event loop: pyHanko runs its own)."""
    ca = make_ca("CA thử")
    return ca, sign_pdf(make_pdf(), make_signer(ca))


async def test_show_json_gives_each_file_its_signatures(tmp_path, signed_pdf):
    """`show --json`: the PDF is "pending" until checked, then carries its signatures (the
    signer named) once the CA is trusted and the queue has run; a text file has none; the
    text output names the node's signature and the file's apart."""
    ca, pdf = signed_pdf
    data = tmp_path / "node"
    document_id = await unit_with_a_letter(
        data, tmp_path, {"quyet-dinh.pdf": pdf, "ghi-chu.txt": b"van ban"}
    )
    show = ("show", document_id, "--data-dir", str(data), "--json")
    before = json.loads((await asyncio.to_thread(run, *show)).stdout)
    assert [
        a["signature_check"] and a["signature_check"]["status"] for a in before["attachments"]
    ] == [
        "pending",
        None,
    ]
    (tmp_path / "ca.pem").write_bytes(ca.pem)
    added = await asyncio.to_thread(
        run, "trust", "add-ca", "--data-dir", str(data), str(tmp_path / "ca.pem")
    )
    assert added.returncode == 0, added.stderr
    ctx = await open_context(data)
    try:
        assert await verify_queued(ctx) == 1
    finally:
        await ctx.store.close()
    after = json.loads((await asyncio.to_thread(run, *show)).stdout)
    pdf_file, text_file = after["attachments"]
    assert pdf_file["signature_check"]["status"] == "valid"
    assert [s["signer_name"] for s in pdf_file["signatures"]] == [SIGNER_NAME]
    assert text_file["signatures"] == [] and text_file["signature_check"] is None
    text = (await asyncio.to_thread(run, *show[:-1])).stdout
    assert "Chữ ký của node gửi: " in text
    assert "  Chữ ký số: Hợp lệ" in text and SIGNER_NAME in text


async def test_a_pdf_taken_in_from_an_edxml_package_is_checked(tmp_path, signed_pdf):
    """A letter with a signed PDF, written as an edXML package and imported as a new
    document: the import queues it, and the queue's run finds the signature valid."""
    ca, pdf = signed_pdf
    data = tmp_path / "node"
    letter = await unit_with_a_letter(data, tmp_path / "b", {"quyet-dinh.pdf": pdf})
    (tmp_path / "ca.pem").write_bytes(ca.pem)
    add = ("trust", "add-ca", "--data-dir", str(data), str(tmp_path / "ca.pem"))
    assert (await asyncio.to_thread(run, *add)).returncode == 0
    async with context(data) as ctx:
        out = tmp_path / "letter.xml"
        await export_edxml(ctx, letter, out)
        imported = await import_edxml(ctx, out)
        assert imported.created
        async with ctx.store.read() as conn:
            assert await trust.is_queued(conn, imported.id)
        assert await verify_queued(ctx) == 2  # the letter itself and its import
        async with ctx.store.read() as conn:
            (verdict,) = await trust.verdicts(conn, imported.id)
    assert (verdict.name, verdict.status) == ("quyet-dinh.pdf", "valid")


async def test_a_configured_crl_revokes_a_signer_on_arrival(tmp_path, capsys):
    """`trust add-crl` keeps a CA's CRL (listed by `trust list`, refused twice or when not
    a CRL); a letter whose PDF is signed by a certificate it lists is checked "revoked" with
    no network; after `trust remove` of the CRL, revocation is not checked again."""
    ca = make_ca("CA thử có CRL")
    signer = make_signer(ca)
    pdf = await asyncio.to_thread(sign_pdf, make_pdf(), signer)
    data = tmp_path / "node"
    letter = await unit_with_a_letter(data, tmp_path / "b", {"quyet-dinh.pdf": pdf})
    (tmp_path / "ca.pem").write_bytes(ca.pem)
    (tmp_path / "ca.crl").write_bytes(make_crl(ca, [signer.cert.serial_number]))
    (tmp_path / "junk.crl").write_bytes(b"junk")
    dd = ("--data-dir", str(data))
    assert (await _cli(capsys, "trust", "add-ca", *dd, str(tmp_path / "ca.pem")))[0] == 0
    code, out, _ = await _cli(capsys, "trust", "add-crl", *dd, str(tmp_path / "ca.crl"))
    assert code == 0 and "CA thử có CRL" in out
    code, _, err = await _cli(capsys, "trust", "add-crl", *dd, str(tmp_path / "ca.crl"))
    assert code == 1 and "configured already" in err
    code, _, err = await _cli(capsys, "trust", "add-crl", *dd, str(tmp_path / "junk.crl"))
    assert code == 1 and "not a certificate revocation list" in err and "junk.crl" in err
    code, out, _ = await _cli(capsys, "trust", "list", *dd, "--json")
    (crl,) = [row for row in json.loads(out) if "crl_issuer" in row]
    assert "CA thử có CRL" in crl["crl_issuer"] and crl["next_update"]
    async with context(data) as ctx:
        await verify_queued(ctx)
        async with ctx.store.read() as conn:
            (verdict,) = await trust.verdicts(conn, letter)
    assert (verdict.status, json.loads(verdict.verdict)["reason_code"]) == ("invalid", "revoked")
    code, out, _ = await _cli(capsys, "trust", "remove", *dd, crl["fingerprint"])
    assert code == 0 and "CRL removed" in out
    code, out, _ = await _cli(capsys, "trust", "list", *dd, "--json")
    assert [row for row in json.loads(out) if "crl_issuer" in row] == []

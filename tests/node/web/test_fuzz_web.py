"""Hypothesis against the clerk's web forms with a signed-in session and a valid CSRF token:
login, compose (multipart written by hand), paper entry, document actions, user accounts and
the pages' query strings. Whatever is typed or forged: never a 500, a refusal is a page with
its message, and no document, draft, blob or register entry is left half-stored."""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestClient
from hypothesis import given
from hypothesis import strategies as st

from lienthong.node.unit import documents as service
from lienthong.node.web import compose
from lienthong.node.web.base import SETTINGS
from lienthong.storage.documents import get_envelope_raw, list_documents
from tests.fuzz.forms import (
    ACTIONS,
    PAGES,
    PAPER,
    PAPER_NAMES,
    QUERY_NAMES,
    TYPED,
    form_values,
    multipart,
    urlencoded,
)
from tests.fuzz.harness import FUZZ, changed, files_under, server_errors, snapshot
from tests.node.tls_federation import letter
from tests.node.web import test_web_support as support
from tests.node.web.test_web_documents import compose_form
from tests.node.web.test_web_support import PASSWORD, A, B, deliver, login, page_csrf

units, make_client = support.units, support.make_client


@dataclasses.dataclass(repr=False)
class Clerk:
    """A signed-in web session on unit A and the page's CSRF token."""

    client: TestClient
    ctx: Any
    csrf: str
    incoming: str = ""  # a document B sent A

    def __repr__(self) -> str:
        return f"Clerk({self.ctx.config.code})"

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(repr(self))


async def signed_in(units, make_client, username: str, tmp_path) -> Clerk:
    """`username` signed in at A, which holds a letter from B with a PDF attached."""
    a = units[A]
    client = await make_client(a)
    assert (await login(client, username)).status == 303
    clerk = Clerk(client, a, await page_csrf(client))
    scan = tmp_path / "danh-sach.pdf"
    scan.write_bytes(b"%PDF-1.4 danh sach\n" * 500)
    sent = await service.send_document(units[B], letter(), [A], files=[scan], actor="vt")
    await deliver(units[B], a, sent)
    clerk.incoming = sent
    return clerk


@pytest.fixture
async def errors():
    with server_errors() as handler:
        yield handler


@pytest.fixture
async def clerk(units, make_client, tmp_path) -> Clerk:
    return await signed_in(units, make_client, "vt", tmp_path)


@pytest.fixture
async def admin(units, make_client, tmp_path) -> Clerk:
    return await signed_in(units, make_client, "qt", tmp_path)


async def check_page(response) -> str:
    """Below 500; a refusal is a page with its alert, or a text that names the fault."""
    text = await response.text(errors="replace")
    assert response.status < 500, f"HTTP {response.status}: {text[:500]}"
    if response.status >= 400:
        if response.content_type == "text/html":
            assert 'class="alert error"' in text, f"HTTP {response.status} without a message"
        else:
            assert text.strip(), f"HTTP {response.status} with an empty body"
    return text


async def state(clerk: Clerk, *skip: str) -> dict[str, Any]:
    """The store (audit log and sessions aside), the blobs and the compose drafts."""
    snap = await snapshot(clerk.ctx, skip=frozenset({"sessions", *skip}))
    snap["drafts"] = files_under(clerk.ctx.config.data_dir / compose.DRAFTS_DIR)
    return snap


async def post_form(clerk: Clerk, data: st.DataObject, path: str, fields: dict[str, Any]):
    fields = {"csrf": clerk.csrf, **fields}
    body, content_type = urlencoded(data, fields)
    return await clerk.client.post(
        path, data=body, headers={"Content-Type": content_type}, allow_redirects=False
    )


def same(before: dict[str, Any], after: dict[str, Any], why: str) -> None:
    assert not changed(before, after), f"stored after {why}: {changed(before, after)}"


# -- login ----------------------------------------------------------------------------------


@FUZZ
@given(data=st.data())
async def test_login_answers_any_form_without_a_server_error(units, make_client, errors, data):
    """Any user name, password, `next` and token, in any encoding: 303 to a path of this
    site (right password), or 401/403/400 with its message; never a 500."""
    client = await make_client(units[A])
    page = await client.get("/login")
    token = support.csrf_of(await page.text())
    right = data.draw(st.booleans(), label="right password")
    fields: dict[str, Any] = {
        "csrf": data.draw(st.sampled_from([token, token, "", "forged"]) | TYPED),
        "username": "ld" if right else data.draw(TYPED),
        "password": PASSWORD if right else data.draw(TYPED | st.just("p" * 2_000)),
        "next": data.draw(TYPED),
    }
    body, content_type = urlencoded(data, fields)
    before = await snapshot(units[A], skip=frozenset({"users"}))  # users: failure counts
    response = await client.post(
        "/login", data=body, headers={"Content-Type": content_type}, allow_redirects=False
    )
    errors.check()
    await check_page(response)
    after = await snapshot(units[A], skip=frozenset({"users"}))
    if response.status == 303:
        location = response.headers["Location"]
        assert location.startswith("/") and not location.startswith("//"), location
        assert "\r" not in location and "\n" not in location
        assert after["sessions"][0] == before["sessions"][0] + 1
    else:
        same(before, after, f"a refused login ({response.status})")
    await client.close()


# -- compose --------------------------------------------------------------------------------


@FUZZ
@given(data=st.data())
async def test_compose_refuses_bad_forms_and_never_half_stores_a_document(clerk, errors, data):
    """A compose form with any fields, files and framing: a draft (303) or a page naming the
    fault; a draft confirmed is a whole document (envelope, outbox, register, blobs) or a
    page naming why not, with nothing stored; a cancelled or refused draft leaves no file."""
    body, headers = multipart(data, clerk.csrf)
    before = await state(clerk)
    response = await clerk.client.post(
        "/compose", data=body, headers=headers, allow_redirects=False
    )
    errors.check()
    await check_page(response)
    if response.status != 303:
        return same(before, await state(clerk), f"compose answered {response.status}")
    confirm = response.headers["Location"]
    assert confirm.startswith("/compose/confirm/")
    await check_page(await clerk.client.get(confirm))
    if data.draw(st.booleans(), label="confirm"):
        sent = await clerk.client.post(confirm, data={"csrf": clerk.csrf}, allow_redirects=False)
        errors.check()
        await check_page(sent)
        if sent.status == 303:
            return await whole_document(clerk, before, sent.headers["Location"])
    cancel = await clerk.client.post(
        confirm, data={"csrf": clerk.csrf, "cancel": "1"}, allow_redirects=False
    )
    assert cancel.status == 303
    same(before, await state(clerk), "a cancelled draft")


async def whole_document(clerk: Clerk, before: dict[str, Any], location: str) -> None:
    """One document more, with its envelope, register entry, an outbox row per recipient and
    every attachment's blob; no draft left."""
    after = await state(clerk)
    grew = {t: after[t][0] - before[t][0] for t in ("documents", "outgoing_register")}
    assert grew == {"documents": 1, "outgoing_register": 1}, grew
    doc_id = location.split("/documents/")[1].split("?")[0]
    async with clerk.ctx.store.read() as conn:
        (doc,) = [d for d in await list_documents(conn, direction="out") if d.id == doc_id]
        rows = await conn.fetchall("SELECT recipient FROM outbox WHERE envelope_id = ?", (doc_id,))
        assert await get_envelope_raw(conn, doc_id)
    body = service.stored_body(doc)
    assert rows and after["outbox"][0] - before["outbox"][0] == len(rows)
    assert all(clerk.ctx.blobs.exists(a.blob) for a in body.attachments)
    assert after["drafts"] == {}


# -- urlencoded forms -----------------------------------------------------------------------


@FUZZ
@given(data=st.data())
async def test_paper_entry_registers_a_whole_entry_or_names_the_fault(clerk, errors, data):
    """A paper entry with any fields: one register entry (303) or a page naming the fault
    and no entry."""
    kind = data.draw(st.sampled_from(["incoming", "outgoing"]))
    fields = form_values(data, PAPER_NAMES, PAPER[kind])
    before = await state(clerk)
    response = await post_form(clerk, data, f"/paper/{kind}", fields)
    errors.check()
    await check_page(response)
    after = await state(clerk)
    if response.status == 303:
        table = f"{kind}_register"
        assert after[table][0] == before[table][0] + 1
        assert response.headers["Location"].startswith("/registers?")
    else:
        same(before, after, f"paper entry answered {response.status}")


@FUZZ
@given(data=st.data())
async def test_document_actions_change_state_only_when_allowed(clerk, errors, data):
    """Any action, note and assignee on a received document (or on an id that is none):
    303 after a change the state machine allows, else a page naming why and no change."""
    doc_id = data.draw(st.sampled_from([clerk.incoming] * 4 + ["01ARZ3NDEKTSV4RRFFQ69G5FAV", "x"]))
    fields = {
        "action": data.draw(st.sampled_from(ACTIONS) | TYPED),
        "note": data.draw(TYPED),
        "assignee": data.draw(TYPED),
    }
    before = await state(clerk)
    response = await post_form(clerk, data, f"/documents/{quote(doc_id)}", fields)
    errors.check()
    await check_page(response)
    if response.status != 303:
        same(before, await state(clerk), f"action answered {response.status}")


@FUZZ
@given(data=st.data())
async def test_user_accounts_are_added_whole_or_refused_by_name(admin, errors, data):
    """Adding an account or changing a role with any fields: the page says what was done or
    what was wrong; a refusal changes no account."""
    valid = {
        "op": "add",
        "username": "vt2",
        "display_name": "Văn thư 2",
        "role": "clerk",
        "password": PASSWORD,
        "password2": PASSWORD,
    }
    fields = form_values(data, list(valid), valid)
    if data.draw(st.booleans()):
        fields["username"] = data.draw(TYPED)
    before = await state(admin)
    response = await post_form(admin, data, "/admin/users", fields)
    errors.check()
    await check_page(response)
    if response.status >= 400:
        same(before, await state(admin), f"user form answered {response.status}")


@FUZZ
@given(data=st.data())
async def test_pages_answer_any_query_string(clerk, errors, data):
    """Every page with any query string, and random paths: below 500, nothing stored."""
    path = data.draw(
        st.sampled_from(PAGES) | st.text(max_size=30).map(lambda s: "/" + quote(s, safe=""))
    )
    path = path.format(doc=clerk.incoming)
    query = {
        n: data.draw(TYPED) for n in data.draw(st.lists(st.sampled_from(QUERY_NAMES), max_size=4))
    }
    url = path + (
        "?" + "&".join(f"{quote(k)}={quote(v)}" for k, v in query.items()) if query else ""
    )
    before = await state(clerk, "users")
    response = await clerk.client.get(url, allow_redirects=False)
    errors.check()
    await check_page(response)
    same(before, await state(clerk, "users"), f"GET {url}")


async def test_the_fuzzed_pages_are_there(clerk):
    """Each page the query-string fuzz visits answers the clerk (the attachment streams its
    bytes), so the fuzz reaches their handlers; the two made-up ones are missing and the
    accounts page is the admin's."""
    expected = {"/admin/users": 403, "/documents/{doc}/files/9999": 404}
    expected["/compose/confirm/nothing"] = 404
    for path in PAGES:
        response = await clerk.client.get(path.format(doc=clerk.incoming), allow_redirects=False)
        assert response.status == expected.get(path, response.status), path
        assert response.status < 400 or path in expected, (path, response.status)
    download = await clerk.client.get(f"/documents/{clerk.incoming}/files/0")
    assert await download.read() == b"%PDF-1.4 danh sach\n" * 500


# -- what the fuzz found ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"csrf=x&note=\xff\xfe", "application/x-www-form-urlencoded"),
        (b"csrf=x&note=1", "application/x-www-form-urlencoded; charset=nope"),
    ],
)
async def test_a_form_whose_bytes_its_charset_cannot_read_is_refused(
    clerk, errors, body, content_type
):
    """Invalid UTF-8, or a charset that does not exist, in a form: 400 naming it, at the
    login page and behind it (aiohttp raised, a 500)."""
    headers = {"Content-Type": content_type}
    for path in ("/login", "/paper/incoming", f"/documents/{clerk.incoming}"):
        response = await clerk.client.post(path, data=body, headers=headers, allow_redirects=False)
        assert response.status == 400, path
        assert "Không đọc được chữ trong biểu mẫu" in await response.text()
    errors.check()


async def test_a_csrf_token_with_other_than_ascii_is_refused_not_a_server_error(clerk, errors):
    """A token with a non-ASCII character: 403 like any wrong token (hmac.compare_digest
    raised TypeError on it, a 500), in a form and in the compose form's header."""
    response = await clerk.client.post(
        "/paper/incoming", data={"csrf": "é" * 43}, allow_redirects=False
    )
    assert response.status == 403
    body, headers = b"--b\r\n\r\n--b--\r\n", {"Content-Type": "multipart/form-data; boundary=b"}
    headers["X-CSRF-Token"] = "\u00e9"
    response = await clerk.client.post(
        "/compose", data=body, headers=headers, allow_redirects=False
    )
    assert response.status in (400, 403)
    errors.check()


async def test_a_login_token_with_other_than_ascii_is_refused(units, make_client, errors):
    """The login form's double-submit token compared with a non-ASCII one: 403, not 500."""
    client = await make_client(units[A])
    await client.get("/login")
    data = {"csrf": "ư", "username": "vt", "password": PASSWORD}
    assert (await client.post("/login", data=data, allow_redirects=False)).status == 403
    errors.check()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"--b\r\n\r\nx\r\n--b--\r\n", "multipart/form-data"),
        (
            b'--b\r\nContent-Disposition: form-data; name="files"; filename="a\x00b.pdf"'
            b"\r\n\r\nx\r\n--b--\r\n",
            "multipart/form-data; boundary=b",
        ),
    ],
    ids=["no boundary", "NUL in a part's header"],
)
async def test_a_compose_body_whose_framing_is_broken_is_refused(clerk, errors, body, content_type):
    """Multipart without a boundary, or with a part header aiohttp cannot read: 400 with the
    form's message, no draft (they were 500s)."""
    headers = {"Content-Type": content_type, "X-CSRF-Token": clerk.csrf}
    before = await state(clerk)
    response = await clerk.client.post(
        "/compose", data=body, headers=headers, allow_redirects=False
    )
    assert response.status == 400
    assert "the form cannot be read" in await response.text()
    same(before, await state(clerk), "a broken compose body")
    errors.check()


async def test_a_long_vietnamese_file_name_fits_the_file_system(clerk, errors):
    """A file named with 200 Vietnamese letters (600 bytes of UTF-8) becomes a draft whose
    file name fits 255 bytes and keeps its extension (it was OSError, a 500)."""
    name = "ư" * 200 + ".pdf"
    assert compose.safe_file_name(name).endswith(".pdf")
    assert len(compose.safe_file_name(name).encode()) <= compose.MAX_FILE_NAME_BYTES
    form = compose_form(clerk.csrf, files=[(name, b"%PDF-1.4\n", "application/pdf")])
    response = await clerk.client.post("/compose", data=form, allow_redirects=False)
    assert response.status == 303
    (draft,) = clerk.client.server.app[SETTINGS].drafts.values()
    assert draft.files[0].name == compose.safe_file_name(name)
    errors.check()


async def test_a_document_not_stored_leaves_no_blob(clerk, errors):
    """A confirmed draft refused by the store (its number taken this year): 409 naming it,
    and the attachment encrypted for it removed (the ciphertext was left behind)."""
    files = [("scan.pdf", b"%PDF-1.4 scan\n" * 50, "application/pdf")]
    for attempt in range(2):
        before = await state(clerk)
        form = compose_form(clerk.csrf, files=files)
        confirm = (await clerk.client.post("/compose", data=form, allow_redirects=False)).headers[
            "Location"
        ]
        sent = await clerk.client.post(confirm, data={"csrf": clerk.csrf}, allow_redirects=False)
        if attempt == 0:
            assert sent.status == 303
            continue
        assert sent.status == 409
        assert "already taken" in await sent.text()
        await clerk.client.post(confirm, data={"csrf": clerk.csrf, "cancel": "1"})
        same(before, await state(clerk), "a document the store refused")
    errors.check()


@pytest.mark.parametrize(
    ("path", "fields", "status"),
    [
        ("/compose", {"urgency": "²"}, 400),
        ("/compose", {"copies": "³"}, 400),
        ("/compose", {"pages": "١٢"}, 400),
        ("/paper/outgoing", {"number": "²", "copies": "99999999999999999999"}, 400),
        ("/registers?year=²", None, 404),
        ("/?urgency=²", None, 200),
        ("/?before_at=99999999999999999999999&before_id=x", None, 200),
    ],
)
async def test_numbers_int_refuses_are_refused_by_name(clerk, errors, path, fields, status):
    """Digits of other scripts ("²" passes str.isdigit(), not int()) and numbers over 64 bits
    in forms and query strings: a validation page or the page without the filter (500s)."""
    if fields is None:
        response = await clerk.client.get(path, allow_redirects=False)
    elif path == "/compose":
        response = await clerk.client.post(path, data=compose_form(clerk.csrf, **fields))
    else:
        response = await clerk.client.post(
            path, data={"csrf": clerk.csrf, **PAPER["outgoing"], **fields}
        )
    assert response.status == status, await response.text()
    await check_page(response)
    errors.check()

"""What a clerk reads on the page: both languages for every word, Vietnamese without English
error text or technical jargon, one name per status code (the same as docs/CLERK.md's
table), one word for the relay, the law's words for a digital signature never used for the
node's own check, and dates written dd/mm/yyyy."""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from pathlib import Path

import pytest

from lienthong.crypto.keys import NodeKeys
from lienthong.node.unit import documents as service
from lienthong.node.web import i18n
from lienthong.node.web.base import parse_date
from lienthong.protocol.codes import StatusCode
from tests.node.helpers import StaticDirectory, make_directory
from tests.node.tls_federation import letter
from tests.node.web import test_web_support as support
from tests.node.web.test_web_support import ACCOUNTS, A, B, deliver, login, page_csrf

ROOT = Path(__file__).resolve().parents[3]
TEMPLATES = ROOT / "node" / "web" / "templates"
CLERK_GUIDE = ROOT / "docs" / "CLERK.md"
# English words of an error message that must never stand in a Vietnamese sentence.
ENGLISH_ERROR_WORDS = re.compile(
    r"\b(error|errors|failed|failure|invalid|unknown|missing|refused|denied|timeout|"
    r"exception|not found)\b",
    re.IGNORECASE,
)
# Technical words a clerk should not meet: "nút" (node, or button), the CSRF token, process.
JARGON = re.compile(r"\b(nút|csrf|tiến trình|token|endpoint|tls)\b", re.IGNORECASE)
# The law's words for a signature made with a licensed CA's certificate on the document
# (Nghị định 30/2020): the node's check of where a document came from is not one.
LEGAL_WORDS = ("chữ ký số", "chứng thư số")
RELAY = "trạm trung chuyển"
OTHER_RELAY_WORDS = ("trạm chuyển tiếp", "chuyển tiếp")
DMY = re.compile(r"\b[0-3][0-9]/[01][0-9]/[0-9]{4}\b")
ISO_DATE = re.compile(r"\b[0-9]{4}-[01][0-9]-[0-3][0-9]\b")

units, make_client = support.units, support.make_client


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold()


def _shown_texts() -> dict[str, str]:
    """The source of every word a page shows: the catalogue and the templates."""
    texts = {"i18n.py": (ROOT / "node" / "web" / "i18n.py").read_text(encoding="utf-8")}
    for template in sorted(TEMPLATES.glob("*.html")):
        texts[template.name] = template.read_text(encoding="utf-8")
    return {name: _nfc(text) for name, text in texts.items()}


def test_every_word_has_both_languages_and_the_vietnamese_no_english_error_text():
    """Each catalogue entry has a Vietnamese and an English text, and no Vietnamese text
    carries an English error word ("error", "failed", "invalid", ...)."""
    empty = [key for key, (vi, en) in i18n.CATALOGUE.items() if not vi.strip() or not en.strip()]
    assert empty == []
    english = {key: vi for key, (vi, _) in i18n.CATALOGUE.items() if ENGLISH_ERROR_WORDS.search(vi)}
    assert english == {}


def test_the_vietnamese_has_no_technical_jargon():
    """No "nút", "mã CSRF", "tiến trình", "token", "endpoint" or "TLS" in what clerks read."""
    jargon = {key: vi for key, (vi, _) in i18n.CATALOGUE.items() if JARGON.search(vi)}
    assert jargon == {}


def test_the_node_check_is_never_called_a_digital_signature():
    """Neither the catalogue nor any template says "chữ ký số" or "chứng thư số"."""
    found = [
        (name, words)
        for name, text in _shown_texts().items()
        for words in LEGAL_WORDS
        if words in text
    ]
    assert found == []


def test_the_relay_has_one_name():
    """ "trạm trung chuyển" everywhere; "trạm chuyển tiếp" nowhere; every "trạm" the
    Vietnamese names is the relay's full name."""
    found = [
        (name, words)
        for name, text in _shown_texts().items()
        for words in OTHER_RELAY_WORDS
        if words in text
    ]
    assert found == []
    bare = [key for key, (vi, _) in i18n.CATALOGUE.items() if "trạm" in vi and RELAY not in vi]
    assert bare == []


def test_each_status_code_has_one_name_and_the_clerks_guide_writes_the_same():
    """Every protocol status code has its name in the catalogue, and docs/CLERK.md's table of
    status codes lists exactly these codes with exactly these names."""
    assert sorted(i18n.STATUS_NAMES) == sorted(int(c) for c in StatusCode)
    assert i18n.status_name("vi", 3) == "Đã vào sổ"
    assert i18n.status_name("en", 15) == "Agreed"
    assert i18n.status_name("vi", 99) == "99"
    rows = re.findall(r"^\| (\d\d) \| ([^|]+?) \|", CLERK_GUIDE.read_text(encoding="utf-8"), re.M)
    assert {int(code): name for code, name in rows} == {
        code: vi for code, (vi, _) in i18n.STATUS_NAMES.items()
    }


def test_buttons_say_what_they_do_not_where_a_document_is():
    """The action buttons are verbs: none reads like a state of a document or a delivery."""
    buttons = {key: vi for key, (vi, _) in i18n.CATALOGUE.items() if key.startswith("action.")}
    buttons["confirm.send"] = i18n.translate("vi", "confirm.send")
    states = {
        vi for key, (vi, _) in i18n.CATALOGUE.items() if key.startswith(("state.", "delivery."))
    }
    assert {key: vi for key, vi in buttons.items() if vi in states} == {}
    assert buttons["action.accepted"] == "Vào sổ"
    assert buttons["confirm.send"] == "Gửi"


def test_a_date_is_read_as_the_clerk_writes_it_or_as_a_date_input_sends_it():
    """24/11/2025, 4/1/2025 and 2025-11-24 are dates; 31/02/2025, 24-11-2025, 24/11/25 and
    text are not."""
    assert parse_date("24/11/2025") == "2025-11-24"
    assert parse_date(" 4/1/2025 ") == "2025-01-04"
    assert parse_date("2025-11-24") == "2025-11-24"
    for text in ("31/02/2025", "24-11-2025", "24/11/25", "hôm nay", "", "2025-11-2"):
        assert parse_date(text) is None, text


@pytest.fixture
async def received(units):
    """A's letter 2340/VP-TTTH of 23/05/2014, delivered to B; its envelope id."""
    a, b = units[A], units[B]
    envelope_id = await service.send_document(a, letter(), [B], actor="vt")
    await deliver(a, b, envelope_id)
    return envelope_id


async def test_lists_and_the_document_show_dates_as_dd_mm_yyyy(units, make_client, received):
    """The inbox, the outbox and the document write dates and times as 23/05/2014 (14:05),
    in both languages; no ISO date reaches the page."""
    client_b = await make_client(units[B])
    await login(client_b, "vt")
    client_a = await make_client(units[A])
    await login(client_a, "vt")
    for client, path in (
        (client_b, "/"),
        (client_b, f"/documents/{received}"),
        (client_b, f"/documents/{received}?lang=en"),
        (client_a, "/outbox"),
        (client_a, f"/documents/{received}"),
        (client_b, "/health"),
    ):
        html = await (await client.get(path)).text()
        assert DMY.search(html), path
        assert ISO_DATE.findall(html) == [], path
    page = await (await client_b.get(f"/documents/{received}")).text()
    assert ">23/05/2014<" in page  # the date of issue, beside "ngày 23 tháng 5 năm 2014"


async def test_the_list_filter_takes_dd_mm_yyyy_and_names_a_date_it_cannot_read(
    units, make_client, received
):
    """since/until typed 23/05/2014 or sent as 2014-05-23 filter alike and are shown back as
    23/05/2014; 31/02/2025 is refused in Vietnamese, naming what was typed."""
    client = await make_client(units[B])
    await login(client, "vt")
    for since in ("23/05/2014", "2014-05-23"):
        html = await (await client.get("/", params={"since": since, "until": "31/12/2099"})).text()
        assert 'value="23/05/2014"' in html and received in html
        assert 'class="alert error"' not in html
    html = await (await client.get("/", params={"until": "22/05/2000"})).text()
    assert received not in html
    html = await (await client.get("/", params={"since": "31/02/2025"})).text()
    assert "Ngày không hợp lệ: 31/02/2025 (cần dạng ngày/tháng/năm" in html
    assert 'placeholder="dd/mm/yyyy"' in html


async def test_the_document_says_where_it_came_from_without_the_laws_words(
    units, make_client, received
):
    """A verified envelope: "Chữ ký của node gửi: Đã xác thực nơi gửi: Unit A (A)", the
    key's serial in the details; no other "chữ ký" and no "chứng thư" on the page (the
    node's check is named as the sending node's, never as a document's signature)."""
    client = await make_client(units[B])
    await login(client, "vt")
    page = await (await client.get(f"/documents/{received}")).text()
    assert f"Đã xác thực nơi gửi: Unit {A} ({A})" in page
    assert "Khóa của máy chủ bên gửi: số 1." in page
    assert "Chữ ký của node gửi: Đã xác thực nơi gửi" in page
    rest = _nfc(page).replace(_nfc("Chữ ký của node gửi"), "")
    assert "chữ ký" not in rest and "chứng thư" not in rest


async def test_a_document_whose_sender_does_not_verify_is_flagged_in_vietnamese(
    units, make_client, received
):
    """When the directory holds another key for the sender, the page warns in Vietnamese;
    the verifier's English stays inside the technician's details."""
    b = units[B]
    other = make_directory(NodeKeys.generate(), {A: NodeKeys.generate(), B: b.keys})
    client = await make_client(dataclasses.replace(b, directory=StaticDirectory(other)))
    await login(client, "vt")
    page = await (await client.get(f"/documents/{received}")).text()
    assert "KHÔNG xác thực được nơi gửi" in page and "Đã xác thực" not in page
    warning = page[page.index('id="sender-check"') :].split("<details")[0]
    assert not re.search(r"[A-Za-z]{4,} [a-z]{3,} [a-z]{3,}", warning.replace("KHÔNG", ""))


async def test_a_refused_action_is_explained_in_the_clerks_words(units, make_client, received):
    """A rejection without a reason, a second registration and a retry with nothing to retry
    are refused with Vietnamese sentences; the service's English goes to the log."""
    client = await make_client(units[B])
    await login(client, "vt")
    path = f"/documents/{received}"
    token = await page_csrf(client, path)
    response = await client.post(path, data={"csrf": token, "action": "rejected"})
    assert response.status == 400 and "Cần ghi lý do." in await response.text()
    response = await client.post(path, data={"csrf": token, "action": "accepted"})
    assert response.status == 200 and 'id="incoming-number"' in await response.text()
    response = await client.post(path, data={"csrf": token, "action": "accepted"})
    html = await response.text()
    assert response.status == 409 and "không còn ở trạng thái cho phép việc này" in html
    assert "cannot" not in html
    response = await client.post(path, data={"csrf": token, "action": "retry", "recipient": A})
    html = await response.text()
    assert response.status == 409 and "Không còn gì chờ gửi lại" in html


async def test_the_accounts_page_refuses_in_the_administrators_words(units, make_client):
    """An existing account, a role not in the list and a hidden character in a name are
    refused in Vietnamese; an added account names its role in Vietnamese."""
    client = await make_client(units[A])
    await login(client, "qt")
    token = await page_csrf(client, "/admin/users")
    form = {"csrf": token, "op": "add", "password": "x" * 12, "password2": "x" * 12}
    taken = next(iter(ACCOUNTS))
    cases = (
        ({"username": taken, "role": "clerk"}, f"Đã có tài khoản {taken}."),
        ({"username": "vt9", "role": "boss"}, "Chọn một vai trò trong danh sách."),
        ({"username": "vt\x07", "role": "clerk"}, "không có ký tự ẩn"),
    )
    for fields, words in cases:
        response = await client.post("/admin/users", data={**form, **fields})
        html = await response.text()
        assert response.status == 400 and words in html, fields
        assert "already exists" not in html and "role must be" not in html
    response = await client.post("/admin/users", data={**form, "username": "vt9", "role": "clerk"})
    assert "Đã tạo tài khoản vt9 (Văn thư)." in await response.text()

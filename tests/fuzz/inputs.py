"""What the HTTP fuzz tests send: bodies built from a target's seeds (tests/fuzz/mutate.py),
blob ids, upload numbers, ranges, long-poll waits, ETags, and requests written by hand with
any method, path, version, header and framing (a Content-Length that lies, broken chunks)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

from lienthong.crypto import signing
from lienthong.node.unit.peer_api import CONTENT_TYPE, MAX_BLOB_BYTES
from lienthong.protocol.wire import pack
from tests.fuzz.mutate import duplicate_a_key, mutate_bytes, mutate_signed, mutate_tree, safe_pack
from tests.fuzz.targets import Target

CONTENT_TYPES = (CONTENT_TYPE, "application/json", "text/plain", "", "multipart/form-data")


def items(data: st.DataObject, target: Target) -> dict[str, list[bytes]]:
    """Envelopes and statuses, each a seed mutated at one or more layers (or left valid)."""

    def some(seeds: list[Any], domain: str) -> list[bytes]:
        chosen = data.draw(st.lists(st.sampled_from(seeds), max_size=3), label="seeds")
        sign = target.sign(domain)
        return [mutate_signed(data, s, sign, target.hint, target.known) for s in chosen]

    return {
        "envelopes": some(target.envelopes, signing.ENVELOPE),
        "statuses": some(target.statuses, signing.STATUS),
    }


def batch_body(data: st.DataObject, batch: dict[str, Any], known: list[Any]) -> bytes:
    """The batch map packed as is, with a node changed, with a key repeated, or bytes changed."""
    layer = data.draw(st.sampled_from(["none", "tree", "duplicate", "bytes"]), label="batch layer")
    if layer == "tree":
        return safe_pack(mutate_tree(data, batch, known))
    if layer == "duplicate":
        return duplicate_a_key(data, batch)
    body = pack(batch)
    return mutate_bytes(data, body) if layer == "bytes" else body


def blob_names(target: Target) -> st.SearchStrategy[str]:
    b = target.blob_id
    return st.one_of(
        st.sampled_from(
            [
                b,
                target.fresh_id,
                b.upper(),
                b[:63],
                b + "0",
                "0" * 64,
                b[:32],
                "tmp",
                "partial",
                "..",
                "%2e%2e",
                "..%2F..%2Fstore.sqlite3",
                "%00",
                "%ff",
                b[:2] + "%2F" + b[2:],
                "a" * 5000,
            ]
        ),
        st.text(max_size=70).map(lambda s: quote(s, safe="")),
    )


def upload_numbers(size: int) -> st.SearchStrategy[str]:
    return st.one_of(
        st.integers(-2, size + 2).map(str),
        st.sampled_from(
            [
                str(MAX_BLOB_BYTES),
                str(MAX_BLOB_BYTES + 1),
                str(2**64),
                "",
                " 1",
                "1_0",
                "+0",
                "0x10",
                "1e3",
                "١٢",
                "²",
                "nan",
                "9" * 5000,
                "-0",
            ]
        ),
    )


RANGES = st.one_of(
    st.sampled_from(
        [
            "bytes=0-10",
            "bytes=-5",
            "bytes=10-",
            "bytes=10-0",
            "bytes=abc",
            "bytes=0-10,20-30",
            "bits=1-2",
            "bytes=" + "9" * 5000,
            "bytes=99999999-",
            "bytes=--1",
            "bytes= 1-2",
            "",
        ]
    ),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
)


def raw_request(data: st.DataObject, routes: list[str], bodies: list[bytes]):
    """An HTTP/1.1 request written by hand: any method, path, version, headers, and a
    Content-Length or chunked framing that may lie. Returns (bytes, whether to await an answer)."""
    method = data.draw(
        st.sampled_from(["POST", "POST", "GET", "PUT", "HEAD", "OPTIONS", "FOO", "TRACE"])
    )
    path = data.draw(
        st.one_of(st.sampled_from(routes), st.text(max_size=40).map(lambda s: "/" + quote(s)))
    )
    version = data.draw(st.sampled_from(["HTTP/1.1"] * 6 + ["HTTP/1.0", "HTTP/2.0", "HTTX/1.1"]))
    body = data.draw(st.sampled_from(bodies), label="body")
    if data.draw(st.booleans()):
        body = mutate_bytes(data, body)
    framing = data.draw(
        st.sampled_from(
            ["length", "shorter", "longer", "chunked", "bad chunks", "none", "both", "junk length"]
        )
    )
    headers = [("Host", "127.0.0.1"), ("Connection", "close")]
    headers.append(("Content-Type", data.draw(st.sampled_from(CONTENT_TYPES))))
    wait = True
    if framing == "length":
        headers.append(("Content-Length", str(len(body))))
    elif framing == "shorter":
        headers.append(("Content-Length", str(data.draw(st.integers(0, max(len(body) - 1, 0))))))
    elif framing == "longer":
        headers.append(("Content-Length", str(len(body) + data.draw(st.integers(1, 10**6)))))
        wait = False  # the server waits for bytes that never come: hang up
    elif framing in ("chunked", "both"):
        headers.append(("Transfer-Encoding", "chunked"))
        body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body) if body else b"0\r\n\r\n"
        if framing == "both":
            headers.append(("Content-Length", "3"))
    elif framing == "bad chunks":
        headers.append(("Transfer-Encoding", "chunked"))
        body = data.draw(
            st.sampled_from(
                [b"zz\r\nabc\r\n0\r\n\r\n", b"ffffffffffffffffff\r\n", b"5\r\nab\r\n0\r\n\r\n"]
            )
        )
    elif framing == "junk length":
        headers.append(
            (
                "Content-Length",
                data.draw(
                    st.sampled_from(["-1", "1e3", "0x10", "٣", "1, 2", "99999999999999999999999"])
                ),
            )
        )
    for _ in range(data.draw(st.integers(0, 3))):
        extra = data.draw(
            st.sampled_from(
                [
                    ("Range", "bytes=0-1"),
                    ("Upload-Offset", "0"),
                    ("Upload-Length", "-5"),
                    ("Expect", "100-continue"),
                    ("Lienthong-Directory", "99999999999999999999"),
                    ("If-None-Match", '"v1", *'),
                    ("X-" + "a" * 9000, "1"),
                    ("Content-Encoding", "gzip"),
                    ("Content-Encoding", "br"),
                    ("Host", "\u00e9vil"),
                ]
            )
        )
        if wait or extra[0] != "Expect":  # aiohttp itself logs a 100 Continue it cannot write
            headers.append(extra)
    head = f"{method} {path} {version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    return head.encode("utf-8", "surrogateescape") + b"\r\n" + body, wait


WAITS = st.one_of(
    st.sampled_from(
        ["0", "nan", "inf", "-inf", "-1", "1e309", "0x1", " 1", "1_0", "٣", "", "9" * 5000]
    ),
    st.floats(allow_nan=True).map(repr),
    st.text(max_size=12),
)

ETAGS = st.one_of(
    st.sampled_from(
        ['"v2"', 'W/"v2"', "*", '"v1", "v2"', '"v' + "9" * 5000 + '"', ",,,," * 100, ""]
    ),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60),
)

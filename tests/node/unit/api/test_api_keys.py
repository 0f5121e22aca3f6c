"""API keys: made, listed and revoked by `lienthong api-key`, kept only as a hash; a call
without a live key is 401, without the scope 403, and every call is audited by key name."""

from __future__ import annotations

import asyncio
import hashlib
import json

from lienthong.node.cli.main import main
from lienthong.storage.api_keys import (
    ADMIN,
    PROCESS,
    READ,
    SCOPES,
    SEND,
    key_for_token,
    revoke_key,
)
from lienthong.storage.db import Store
from tests.node.unit.api.conftest import A, B, new_key

CODE = "000.00.02.H53"


def test_the_scopes_are_named():
    """The four scopes the brief names, as constants."""
    assert SCOPES == (READ, SEND, PROCESS, ADMIN) == ("read", "send", "process", "admin")


async def cli(capsys, *args: str) -> tuple[int, str]:
    code = await asyncio.to_thread(main, list(args))
    return code, capsys.readouterr().out


async def test_the_command_makes_lists_and_revokes_keys(tmp_path, capsys):
    """add prints the token once and stores only its SHA-256; list shows scopes; revoke ends
    the key; a bad scope is refused naming it, and nothing is stored."""
    data = str(tmp_path / "node")
    assert (await cli(capsys, "init", "--data-dir", data, "--code", CODE, "--name", "Sở"))[0] == 0
    d = ("--data-dir", data)
    add = ("api-key", "add", *d, "--name", "dms", "--scope", "read,send", "--json")
    code, out = await cli(capsys, *add)
    assert code == 0
    made = json.loads(out)
    token = made["token"]
    assert made["scopes"] == ["read", "send"] and len(token) > 40
    assert (
        await asyncio.to_thread(
            main, ["api-key", "add", *d, "--name", "bad", "--scope", "read,write"]
        )
        == 1
    )
    assert "'write' is not one" in capsys.readouterr().err
    async with await Store.open(tmp_path / "node" / "store.sqlite3") as store, store.read() as conn:
        rows = await conn.fetchall("SELECT name, token_hash FROM api_keys")
        key = await key_for_token(conn, token)
    assert [(r[0], bytes(r[1])) for r in rows] == [("dms", hashlib.sha256(token.encode()).digest())]
    assert key is not None and key.scopes == ("read", "send")
    assert token.encode() not in (tmp_path / "node" / "store.sqlite3").read_bytes()
    code, out = await cli(capsys, "api-key", "list", *d, "--json")
    assert [(k["name"], k["scopes"], k["revoked_at"]) for k in json.loads(out)] == [
        ("dms", ["read", "send"], None)
    ]
    assert (await cli(capsys, "api-key", "revoke", *d, "dms"))[0] == 0
    async with await Store.open(tmp_path / "node" / "store.sqlite3") as store, store.read() as conn:
        assert await key_for_token(conn, token) is None
        audit = await conn.fetchall(
            "SELECT action, subject FROM audit_log WHERE action LIKE 'api_key.%' ORDER BY seq"
        )
    assert [tuple(r) for r in audit] == [("api_key.add", "dms"), ("api_key.revoke", "dms")]


async def test_a_call_needs_a_live_key_with_the_scope(units, dms):
    """No key, a wrong scheme, an unknown token, a revoked key: 401 problems; a key without
    the scope: 403 naming it; with it: 200."""
    ctx = units.ctx[B]
    reader = await dms(ctx, ("read",), name="reader")
    sender = await dms(ctx, ("send",), name="sender")
    anon = {"Authorization": ""}
    for headers, detail in [
        ({"Authorization": "Basic abc"}, "not 'Bearer <key>'"),
        ({"Authorization": "Bearer lt_nothing"}, "unknown or revoked"),
    ]:
        r = await reader.get("/api/v1/units", headers=headers)
        assert r.status == 401 and r.content_type == "application/problem+json"
        assert detail in (await r.json())["detail"]
        assert r.headers["WWW-Authenticate"] == "Bearer"
    r = await reader.get("/api/v1/units", headers=anon)
    assert r.status == 401
    r = await sender.get("/api/v1/units")
    assert r.status == 403 and "'read'" in (await r.json())["detail"]
    r = await reader.get("/api/v1/units")
    assert r.status == 200
    assert [u["code"] for u in (await r.json())["units"]] == [A, B]
    # Revoked: the same token no longer works.
    async with ctx.store.write() as tx:
        await revoke_key(tx, "reader", actor="test", at=ctx.clock())
    assert (await reader.get("/api/v1/units")).status == 401


async def test_every_call_is_audited_with_the_key_name(units, dms):
    """A granted call and a refused one (403) both leave an entry naming the key."""
    ctx = units.ctx[A]
    client = await dms(ctx, ("send",), name="dms-vanthu")
    assert (await client.get("/api/v1/units")).status == 403
    token = await new_key(ctx, "admin-key", ("admin",))
    r = await client.get("/api/v1/units", headers={"Authorization": f"Bearer {token}"})
    assert r.status == 200
    async with ctx.store.read() as conn:
        rows = await conn.fetchall(
            "SELECT actor, subject, details FROM audit_log WHERE action = 'api.call' ORDER BY seq"
        )
    assert [(r[0], r[1], json.loads(r[2])["status"]) for r in rows] == [
        ("api:dms-vanthu", "GET /api/v1/units", 403),
        ("api:admin-key", "GET /api/v1/units", 200),
    ]

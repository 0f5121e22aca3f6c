"""`lienthong user add --role specialist` and `lienthong user department` on a real data
directory: the department is created on request, an unknown one is refused, both audited."""

from lienthong.storage.db import Store
from lienthong.storage.users import get_user, list_departments
from tests.node.cli.test_user_cli import CODE, OLD, cli


async def test_a_specialist_is_put_in_a_department(tmp_path):
    """Without --create an unknown department is refused (exit code not 0, nothing
    written); with it, made and the account put in it; without --department, in none."""
    data = tmp_path / "node"
    assert await cli("init", "--data-dir", str(data), "--code", CODE, "--name", "Sở Nội vụ") == 0
    secret = tmp_path / "pw"
    secret.write_text(OLD + "\n")
    who = ("--data-dir", str(data), "--username", "cv.an")
    assert (
        await cli("user", "add", *who, "--role", "specialist", "--password-file", str(secret)) == 0
    )
    assert await cli("user", "department", *who, "--department", "Phòng Tổng hợp") != 0
    async with await Store.open(data / "store.sqlite3") as store, store.read() as conn:
        assert await list_departments(conn) == []
    assert await cli("user", "department", *who, "--department", "Phòng Tổng hợp", "--create") == 0
    async with await Store.open(data / "store.sqlite3") as store, store.read() as conn:
        user = await get_user(conn, "cv.an")
        actions = [r[0] for r in await conn.fetchall("SELECT action FROM audit_log")]
    assert (user.role, user.department) == ("specialist", "Phòng Tổng hợp")
    assert {"department.add", "user.department"} <= set(actions)
    assert await cli("user", "department", *who) == 0
    async with await Store.open(data / "store.sqlite3") as store, store.read() as conn:
        assert (await get_user(conn, "cv.an")).department is None

"""The clerk's login under its rate limit per source address (node.toml limits.login_*)."""

from __future__ import annotations

import dataclasses

from lienthong.node.config import validate
from lienthong.node.metrics import metrics_of
from lienthong.node.web import i18n
from tests.node.web import test_web_support as support
from tests.node.web.test_web_support import PASSWORD, A, csrf_of

units, make_client = support.units, support.make_client


async def test_logins_over_the_limit_get_429_with_retry_after_in_the_clerks_language(
    units, make_client
):
    """With login_burst = 3, the fourth sign-in from one address within the minute is not
    tried at all (even with the right password): 429, Retry-After, the login page saying in
    Vietnamese when to try again; other pages still answer, and /metrics counts it."""
    ctx = units[A]
    values = validate(
        {
            "unit": {"code": A, "name": ctx.config.name},
            "limits": {"login_burst": 3, "login_per_minute": 1},
        }
    )
    ctx.config = dataclasses.replace(ctx.config, values=values)
    client = await make_client(ctx)
    token = csrf_of(await (await client.get("/login")).text())

    async def sign_in(password: str):
        return await client.post(
            "/login",
            data={"csrf": token, "username": "vt", "password": password, "next": "/"},
            allow_redirects=False,
        )

    assert [(await sign_in("sai")).status for _ in range(3)] == [401, 401, 401]
    response = await sign_in(PASSWORD)
    assert response.status == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    page = await response.text()
    expected = i18n.translate(
        "vi", "login.rate_limited", per_minute=1, seconds=response.headers["Retry-After"]
    )
    assert expected in page
    assert "Quá nhiều lần đăng nhập" in page
    assert 'name="csrf"' in page  # the form is there to try again later
    assert (await client.get("/login")).status == 200
    counted = metrics_of(ctx).registry.get_sample_value(
        "lienthong_rate_limited_total", {"route_class": "login"}
    )
    assert counted == 1

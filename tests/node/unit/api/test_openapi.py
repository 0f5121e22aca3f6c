"""The OpenAPI 3.1 description is true: every route of the API is in it with its method, and
every operation it describes is a route; it is served without a key; every operation
answers problems; every POST asks for Idempotency-Key."""

from __future__ import annotations

import re

from lienthong.node.unit.api import create_api_app
from lienthong.node.unit.api.openapi import SPEC
from tests.node.unit.api.conftest import B

_PLACEHOLDER = re.compile(r"\{(\w+)(?::[^{}]*(?:\{[^{}]*\}[^{}]*)*)?\}")


def routes(ctx) -> set[tuple[str, str]]:
    app = create_api_app(ctx)
    found = set()
    for route in app.router.routes():
        info = route.resource.get_info()
        path = info.get("path") or info.get("formatter")
        found.add((route.method.lower(), _PLACEHOLDER.sub(r"{\1}", path)))
    return found


def described() -> set[tuple[str, str]]:
    return {(method, path) for path, item in SPEC["paths"].items() for method in item}


async def test_every_route_is_described_and_every_description_is_a_route(units):
    """The two sets are the same (and not empty)."""
    assert routes(units.ctx[B]) == described()
    assert ("get", "/documents/{id}/files/{index}") in described()


def test_every_operation_answers_problems_and_every_post_is_idempotent():
    """4xx responses refer to the Problem response; POSTs require Idempotency-Key."""
    for path, item in SPEC["paths"].items():
        for method, op in item.items():
            if path != "/openapi.json":
                assert op["responses"]["401"] == {"$ref": "#/components/responses/Problem"}
            if method == "post":
                names = {p["name"] for p in op["parameters"] if p["in"] == "header"}
                assert names == {"Idempotency-Key"}, path
    assert SPEC["openapi"] == "3.1.0"


async def test_the_description_is_served_without_a_key(units, dms):
    """GET /api/v1/openapi.json with no Authorization: the same data."""
    client = await dms(units.ctx[B])
    r = await client.get("/api/v1/openapi.json", headers={"Authorization": ""})
    assert r.status == 200 and await r.json() == SPEC

"""node.toml [events]: webhooks are read as endpoints; a bad entry is refused naming the
entry and what is allowed (a short secret, a non-HTTP URL, a name twice, an extra key)."""

from __future__ import annotations

import tomllib

import pytest

from lienthong.node.config import MAX_WEBHOOKS, Config, ConfigError, render, validate
from lienthong.node.unit.events import Endpoint, endpoints_of

UNIT = {"code": "000.00.02.H53", "name": "Sở Nội vụ"}
SECRET = "0123456789abcdef0123456789abcdef"


def config(**events) -> dict:
    return validate({"unit": UNIT, "events": events})


def test_webhooks_are_read_as_endpoints(tmp_path):
    """Two valid webhooks come back as Endpoints, in order; none by default."""
    hooks = [
        {"name": "dms", "url": "https://dms.local/hook", "secret": SECRET},
        {"name": "archive-2", "url": "http://127.0.0.1:9000/x", "secret": SECRET * 2},
    ]
    values = config(webhooks=hooks)
    assert endpoints_of(Config(tmp_path, values)) == [
        Endpoint("dms", "https://dms.local/hook", SECRET),
        Endpoint("archive-2", "http://127.0.0.1:9000/x", SECRET * 2),
    ]
    assert endpoints_of(Config(tmp_path, validate({"unit": UNIT}))) == []


@pytest.mark.parametrize(
    ("hooks", "message"),
    [
        ([{"name": "dms", "url": "https://d/h", "secret": "short"}], r"\[0\]\.secret must be 32"),
        ([{"name": "dms", "url": "ftp://d/h", "secret": SECRET}], r"\[0\]\.url = 'ftp://d/h'"),
        ([{"name": "DMS!", "url": "https://d/h", "secret": SECRET}], r"\[0\]\.name = 'DMS!'"),
        ([{"name": "dms", "url": "https://d/h"}], r"\[0\] must be a table with exactly"),
        (
            [{"name": "dms", "url": "https://d/h", "secret": SECRET, "extra": 1}],
            r"\[0\] must be a table with exactly",
        ),
        (
            [{"name": "dms", "url": "https://d/h", "secret": SECRET}] * 2,
            r"\[1\]\.name = 'dms' is used by another webhook",
        ),
        (
            [{"name": f"d{i}", "url": "https://d/h", "secret": SECRET} for i in range(9)],
            f"more than {MAX_WEBHOOKS} endpoints",
        ),
    ],
)
def test_a_bad_webhook_is_refused_naming_it(hooks, message):
    """Each bad entry is refused with its index and what is wrong."""
    with pytest.raises(ConfigError, match=message):
        config(webhooks=hooks)


def test_retry_limits_must_make_sense():
    """A cap below the base, or a zero base, is refused."""
    with pytest.raises(ConfigError, match="retry_cap_ms is below"):
        config(retry_base_ms=1000, retry_cap_ms=10)
    with pytest.raises(ConfigError, match="retry_base_ms = 0"):
        config(retry_base_ms=0)


def test_webhooks_written_to_node_toml_read_back_the_same():
    """node.toml as the node writes it (render) holds long webhook entries as inline tables
    that read back equal: a saved config never turns into one the node refuses."""
    hooks = [
        {
            "name": "dms",
            "url": "https://dms.vanban.tayninh.gov.vn/lienthong/hook",
            "secret": SECRET,
        },
        {"name": "backup", "url": "http://127.0.0.1:9000/x", "secret": SECRET * 3},
    ]
    values = config(webhooks=hooks)
    again = validate(tomllib.loads(render(values)))
    assert again["events"]["webhooks"] == hooks

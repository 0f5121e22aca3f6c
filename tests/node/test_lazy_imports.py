"""What a unit imports to start: the command line, the runtime and the web app load none of the
libraries a unit uses only on demand (PDF signing, PostgreSQL, the register's .xlsx export)
nor the centre's console, so `lienthong run` starts without paying for them."""

from __future__ import annotations

import json
import subprocess
import sys

# Each is loaded at its first use: a signature or a CA added (pyHanko and what it brings),
# a PostgreSQL store (asyncpg), a register exported (xlsxwriter), a console request.
ON_DEMAND = (
    "pyhanko",
    "pyhanko_certvalidator",
    "pkcs11",
    "asyncpg",
    "xlsxwriter",
    "lienthong.node.web.console.units",
    "lienthong.node.web.console.stats",
)

PROBE = """
import json, sys
import lienthong.node.cli.main, lienthong.node.runtime, lienthong.node.web
print(json.dumps(sorted(sys.modules)))
"""


def test_a_unit_starts_without_what_it_loads_on_demand():
    """A fresh interpreter importing the CLI, the runtime and the web app has none of
    ON_DEMAND in sys.modules."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    loaded = set(json.loads(out))
    assert {"lienthong.node.runtime", "lienthong.node.web"} <= loaded
    assert sorted(m for m in ON_DEMAND if m in loaded) == []

"""`python -m lienthong.node.cli`: the same as the `lienthong` command."""

import sys

from lienthong.node.cli.main import main

sys.exit(main())

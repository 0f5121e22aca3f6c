"""The `lienthong` command: argument parsing, one module per command group, doctor, demo."""

"""The node's store: SQLite schema and migrations, blobs, registers and the audit log."""

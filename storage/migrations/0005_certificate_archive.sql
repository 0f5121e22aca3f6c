-- Every root-signed node certificate this node has seen in a directory it accepted,
-- kept after the centre stops listing it (it ended, or was superseded then ended):
-- letters signed under it stay verifiable (DESIGN: rotation keeps old keys for old
-- letters). revoked: a directory listed the serial as revoked; it never verifies again.
CREATE TABLE certificate_archive (
    serial  INTEGER PRIMARY KEY,
    code    TEXT NOT NULL,
    raw     BLOB NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
);

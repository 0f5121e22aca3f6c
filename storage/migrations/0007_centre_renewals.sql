-- Renewal requests that wait for the operator (docs/FEDERATION.md §7): a unit's request for
-- a new certificate authorised by the key of its latest one, held because that certificate
-- has ended or because the centre requires approval. The request bytes are kept whole, as
-- for an enrolment token. serial is set once the operator approves and a certificate is
-- issued; closed_at once a newer request of the unit replaces it or the unit is revoked.
-- At most one row of a unit has neither.
CREATE TABLE centre_renewals (
    id           INTEGER PRIMARY KEY,
    code         TEXT NOT NULL REFERENCES centre_units (code),
    old_serial   INTEGER NOT NULL REFERENCES centre_certificates (serial),
    sign_key     BLOB NOT NULL,
    enc_key      BLOB NOT NULL,
    tls_key      BLOB NOT NULL,
    request      BLOB NOT NULL,
    requested_at INTEGER NOT NULL,
    origin       TEXT NOT NULL,
    serial       INTEGER,
    closed_at    INTEGER
);
CREATE INDEX centre_renewals_by_unit ON centre_renewals (code);

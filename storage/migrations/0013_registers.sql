-- The registers as Nghị định 30/2020/NĐ-CP keeps them (Điều 15, 16, 22; Phụ lục IV).
--
-- 1. A document's number is text as written ("05", leading zero kept): documents.number
--    was an INTEGER column, whose affinity would turn "05" back into 5. Existing numbers
--    become text with two digits below 10 (the decree's rule: 5 was written "05").
-- 2. A unit keeps several registers (sổ): outgoing_register and incoming_register gain
--    `register`, the series a line belongs to ('chung', 'mat', 'sao', 'qppl_quyet_dinh',
--    ...; storage/registers.py and docs/STORE.md). Every line written before this version
--    was numbered in the one series the node had, so it goes to 'chung'.
-- 3. number_key is the number as a register compares it (protocol/document.py,
--    register_key): "05/VP-TTTH" = "5/vp-ttth"; "49/2025/QĐ-UBND" != "49/QĐ-UBND".
--    Outgoing numbers are unique per (register, year, number_key); the electronic twin of
--    a paper incoming entry is found by it. For the lines migrated here it is computed in
--    SQL: lower() folds ASCII only, so Đ is folded by hand (the abbreviations of Phụ lục
--    III are Latin letters and Đ); storage/registers.py computes it for every new line.
-- 4. A line of an agreed recall is kept and marked (recalled_on, recall_reason); link_notes
--    holds "Thay thế văn bản số ..." lines of updates and replacements.

ALTER TABLE documents ADD COLUMN number_text TEXT;
UPDATE documents SET number_text = CASE typeof(number)
    WHEN 'integer' THEN printf('%02d', number)
    WHEN 'null' THEN NULL
    ELSE CAST(number AS TEXT) END;
ALTER TABLE documents DROP COLUMN number;
ALTER TABLE documents RENAME COLUMN number_text TO number;

CREATE TABLE outgoing_register_v13 (
    register       TEXT NOT NULL,
    year           INTEGER NOT NULL,
    number         TEXT NOT NULL,
    number_value   INTEGER NOT NULL CHECK (number_value >= 1),
    number_year    INTEGER,
    notation       TEXT NOT NULL,
    number_key     TEXT NOT NULL,
    document_id    TEXT UNIQUE REFERENCES documents (id),
    issued_on      TEXT NOT NULL,
    doc_type       TEXT NOT NULL,
    subject        TEXT NOT NULL,
    signer         TEXT NOT NULL,
    recipients     TEXT NOT NULL,
    archive_holder TEXT,
    copies         INTEGER,
    sent_on        TEXT,
    notes          TEXT,
    manual         INTEGER NOT NULL DEFAULT 0 CHECK (manual IN (0, 1)),
    created_at     INTEGER NOT NULL,
    recalled_on    TEXT,
    recall_reason  TEXT,
    link_notes     TEXT,
    UNIQUE (register, year, number_key)
);
INSERT INTO outgoing_register_v13 (
    register, year, number, number_value, number_year, notation, number_key, document_id,
    issued_on, doc_type, subject, signer, recipients, archive_holder, copies, sent_on, notes,
    manual, created_at)
SELECT 'chung', o.year, printf('%02d', o.number), o.number, d.number_year, o.notation,
    o.number || '/' || coalesce(d.number_year, '') || '/'
        || replace(lower(o.notation), 'Đ', 'đ'),
    o.document_id, o.issued_on, o.doc_type, o.subject, o.signer, o.recipients,
    o.archive_holder, o.copies, o.sent_on, o.notes, o.manual, o.created_at
FROM outgoing_register o LEFT JOIN documents d ON d.id = o.document_id
ORDER BY o.rowid;
DROP TABLE outgoing_register;
ALTER TABLE outgoing_register_v13 RENAME TO outgoing_register;
-- A page of a register in number order, and the year's next number of a register.
CREATE INDEX outgoing_register_pages ON outgoing_register (register, year, number_value);

CREATE TABLE incoming_register_v13 (
    register          TEXT NOT NULL,
    year              INTEGER NOT NULL,
    number            INTEGER NOT NULL CHECK (number >= 1),
    document_id       TEXT UNIQUE REFERENCES documents (id),
    arrived_on        TEXT NOT NULL,
    issuer_name       TEXT NOT NULL,
    issuer_code       TEXT,
    number_notation   TEXT NOT NULL,
    number_key        TEXT NOT NULL,
    doc_date          TEXT NOT NULL,
    doc_type          TEXT NOT NULL,
    subject           TEXT NOT NULL,
    passed_to         TEXT,
    receipt_signature TEXT,
    notes             TEXT,
    manual            INTEGER NOT NULL DEFAULT 0 CHECK (manual IN (0, 1)),
    created_at        INTEGER NOT NULL,
    recalled_on       TEXT,
    recall_reason     TEXT,
    link_notes        TEXT,
    PRIMARY KEY (register, year, number)
);
-- number_key of a migrated line: "2340/VP-TTTH" gives 2340//vp-ttth and "49/2012/QĐ-UBND"
-- 49/2012/qđ-ubnd (the digits before the first '/' as a number, a 4-digit year after it
-- if there is one); text of neither form is folded whole.
INSERT INTO incoming_register_v13 (
    register, year, number, document_id, arrived_on, issuer_name, issuer_code,
    number_notation, number_key, doc_date, doc_type, subject, passed_to, receipt_signature,
    notes, manual, created_at)
SELECT 'chung', year, number, document_id, arrived_on, issuer_name, issuer_code,
    number_notation,
    CASE
        WHEN trim(number_notation) GLOB '[0-9]*/[0-9][0-9][0-9][0-9]/?*' THEN
            CAST(CAST(substr(trim(number_notation), 1, instr(trim(number_notation), '/') - 1)
                AS INTEGER) AS TEXT) || '/'
            || replace(lower(substr(trim(number_notation), instr(trim(number_notation), '/') + 1)),
                'Đ', 'đ')
        WHEN trim(number_notation) GLOB '[0-9]*/?*' THEN
            CAST(CAST(substr(trim(number_notation), 1, instr(trim(number_notation), '/') - 1)
                AS INTEGER) AS TEXT) || '//'
            || replace(lower(substr(trim(number_notation), instr(trim(number_notation), '/') + 1)),
                'Đ', 'đ')
        ELSE replace(lower(trim(number_notation)), 'Đ', 'đ')
    END,
    doc_date, doc_type, subject, passed_to, receipt_signature, notes, manual, created_at
FROM incoming_register ORDER BY rowid;
DROP TABLE incoming_register;
ALTER TABLE incoming_register_v13 RENAME TO incoming_register;
-- A paper entry's electronic twin, and a possible duplicate, are found by number_key.
CREATE INDEX incoming_register_by_key ON incoming_register (number_key, year);

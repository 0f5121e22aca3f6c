-- The work after registration (docs/CLERK.md): departments (phòng ban), the specialist
-- (chuyên viên) role, and the assignment of an incoming document by a leader: its lead
-- (xử lý chính), co-handlers (phối hợp), people for information (để biết), deadline (hạn
-- xử lý), steering note (ý kiến chỉ đạo), and its completion. storage/users.py owns the
-- departments, storage/assignments.py the assignments.

-- Departments are data the unit's administrator keeps: a name, unique in the unit.
CREATE TABLE departments (
    name       TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL
);

-- users gains the role 'specialist' and a department. SQLite cannot change a CHECK, so the
-- table is rebuilt; sessions refer to users (ON DELETE CASCADE), so they are set aside
-- first and put back after: dropping users under them would delete them.
CREATE TABLE users_0018 (
    username      TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('clerk', 'leader', 'specialist', 'admin')),
    display_name  TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until  INTEGER,
    disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    department    TEXT REFERENCES departments (name)
);
INSERT INTO users_0018 (username, password_hash, role, display_name, created_at,
    failed_logins, locked_until, disabled)
    SELECT username, password_hash, role, display_name, created_at, failed_logins,
        locked_until, disabled FROM users;
CREATE TABLE sessions_0018 AS SELECT * FROM sessions;
DROP TABLE sessions;
DROP TABLE users;
ALTER TABLE users_0018 RENAME TO users;
CREATE TABLE sessions (
    token_hash BLOB PRIMARY KEY,
    username   TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
    csrf       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
INSERT INTO sessions SELECT token_hash, username, csrf, created_at, expires_at
    FROM sessions_0018;
DROP TABLE sessions_0018;
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

-- One row per assigned incoming document. version starts at 1 and grows with each
-- change: a form carries the version it was drawn from, and a write made from an older
-- one is refused (two leaders assigning at once: the second is told, nothing is lost).
-- deadline is the last day (YYYY-MM-DD); completed_at is set once, with the result.
CREATE TABLE assignments (
    document_id  TEXT PRIMARY KEY REFERENCES documents (id),
    version      INTEGER NOT NULL CHECK (version >= 1),
    lead         TEXT NOT NULL REFERENCES users (username),
    deadline     TEXT,
    note         TEXT,
    assigned_by  TEXT NOT NULL,
    instructed_by TEXT,
    assigned_at  INTEGER NOT NULL,
    started_at   INTEGER,
    completed_at INTEGER,
    result       TEXT,
    answer_id    TEXT REFERENCES documents (id)
) WITHOUT ROWID;
-- Open work by deadline (the overdue and due-soon lists) and by lead ("Việc của tôi").
CREATE INDEX assignments_open_by_deadline ON assignments (deadline)
    WHERE completed_at IS NULL AND deadline IS NOT NULL;
CREATE INDEX assignments_by_lead ON assignments (lead, assigned_at);

-- The co-handlers ('co') and the people told for information ('info') of an assignment.
CREATE TABLE assignment_people (
    document_id TEXT NOT NULL REFERENCES assignments (document_id),
    username    TEXT NOT NULL REFERENCES users (username),
    part        TEXT NOT NULL CHECK (part IN ('co', 'info')),
    PRIMARY KEY (document_id, username)
) WITHOUT ROWID;
CREATE INDEX assignment_people_by_user ON assignment_people (username);

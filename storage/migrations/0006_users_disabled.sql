-- An administrator can disable an account (a clerk who left, a password thought
-- stolen): it cannot sign in and its sessions are deleted. 0 active, 1 disabled.
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1));

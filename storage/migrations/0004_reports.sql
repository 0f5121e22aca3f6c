-- What the units report about themselves to the centre (role centre): the console's
-- statistics and the pilot report. The report message is docs/PROTOCOL.md, "Unit report".
-- Units never write these tables.

-- The newest report of each unit, byte-exact as signed (proof of what the unit stated):
-- its own time (the unit's clock), when the centre took it, the unit's software
-- version and its incoming documents not yet completed at that time.
CREATE TABLE unit_reports (
    code         TEXT PRIMARY KEY,
    serial       INTEGER NOT NULL,
    at           INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    node_version TEXT NOT NULL,
    unprocessed  INTEGER NOT NULL CHECK (unprocessed >= 0),
    raw          BLOB NOT NULL
);

-- A unit's figures for one day (YYYY-MM-DD in UTC+07:00) as its newest report gave
-- them: each report restates its last days, so a late receipt or a failure updates the
-- day it belongs to. delivery holds the delivery-time histogram: one count per bucket
-- of protocol/report.py, separated by spaces.
CREATE TABLE unit_report_days (
    code     TEXT NOT NULL,
    day      TEXT NOT NULL,
    sent     INTEGER NOT NULL CHECK (sent >= 0),
    received INTEGER NOT NULL CHECK (received >= 0),
    failures INTEGER NOT NULL CHECK (failures >= 0),
    delivery TEXT NOT NULL,
    PRIMARY KEY (code, day)
) WITHOUT ROWID;
-- The console reads a range of days for every unit at once.
CREATE INDEX unit_report_days_by_day ON unit_report_days (day, code);

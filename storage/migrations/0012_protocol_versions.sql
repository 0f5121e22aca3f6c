-- The envelope versions each unit reads (docs/PROTOCOL.md, "Unit report" and "Directory").
-- At the centre: what the unit's newest report declared, the versions sorted and separated
-- by spaces ('1' until a report says more); a change signs the next directory.
ALTER TABLE centre_units ADD COLUMN protocols TEXT NOT NULL DEFAULT '1';
-- The centre signs each directory version in two forms with the same version number and
-- the same certificates: raw holds form 1 (read by every node), form2 the form that also
-- states the versions each unit reads (served on GET /v1/directory?form=2). A unit keeps
-- what it accepted in raw and leaves form2 empty.
ALTER TABLE directory_cache ADD COLUMN form2 BLOB;

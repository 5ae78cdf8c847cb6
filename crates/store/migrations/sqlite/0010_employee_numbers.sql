-- The payroll system's employee number (ansattnummer) of a participant, one
-- per participant, unique in the municipality: what every pay line and export
-- names the participant by for the payroll system. A participant without one
-- still closes; the export lists them.
CREATE TABLE employee_numbers (
    participant_id  BLOB NOT NULL PRIMARY KEY REFERENCES participants (id),
    municipality_id TEXT NOT NULL,
    employee_number TEXT NOT NULL,
    version         INTEGER NOT NULL,
    registered_at   TEXT NOT NULL,
    registered_by   TEXT NOT NULL,
    CONSTRAINT employee_numbers_number_key UNIQUE (municipality_id, employee_number)
) STRICT;

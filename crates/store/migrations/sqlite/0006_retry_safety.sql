-- Retry safety (ARCHITECTURE.md, "Facts over time"); see the PostgreSQL
-- migration of the same name for the reasoning.
CREATE TABLE idempotency_keys (
    scope               TEXT NOT NULL,
    idempotency_key     TEXT NOT NULL,
    request_hash        BLOB NOT NULL,
    request_id          BLOB NOT NULL,
    subject_type        TEXT,
    subject_id          TEXT,
    created_at          TEXT NOT NULL,
    answer_status       INTEGER,
    answer_content_type TEXT,
    answer_body         BLOB,
    PRIMARY KEY (scope, idempotency_key),
    CONSTRAINT idempotency_keys_answer_check
        CHECK ((answer_status IS NULL) = (answer_body IS NULL))
) STRICT;
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

ALTER TABLE children ADD COLUMN reference TEXT;
CREATE UNIQUE INDEX children_reference_key ON children (participant_id, reference);
CREATE UNIQUE INDEX benefit_offsets_month_kind_key ON benefit_offsets (participant_id, month, kind);

-- Optimistic concurrency (ETag / If-Match): a municipality's settings and a
-- programme carry a version, one more at every change, so two people never
-- silently overwrite each other.
ALTER TABLE municipalities ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE programmes ADD COLUMN version INTEGER NOT NULL DEFAULT 1;

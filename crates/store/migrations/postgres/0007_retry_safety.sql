-- Retry safety (ARCHITECTURE.md, "Facts over time").
--
-- A creating request may carry an Idempotency-Key. The key is claimed, with a
-- hash of the request, in the same transaction as the change it makes (the
-- audit entry's transaction), so a key exists exactly when its change does;
-- the answer is recorded right after, and a retry gets it again. Keys are
-- scoped to the caller (municipality and actor) and kept at least 30 days.
CREATE TABLE idempotency_keys (
    scope               TEXT NOT NULL,
    idempotency_key     TEXT NOT NULL,
    request_hash        BYTEA NOT NULL,
    -- The request that claimed the key: its several writes may each claim it.
    request_id          UUID NOT NULL,
    -- What the first write was about (the audit entry's subject).
    subject_type        TEXT,
    subject_id          TEXT,
    created_at          TIMESTAMPTZ NOT NULL,
    answer_status       INTEGER,
    answer_content_type TEXT,
    answer_body         BYTEA,
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (scope, idempotency_key),
    CONSTRAINT idempotency_keys_answer_check
        CHECK ((answer_status IS NULL) = (answer_body IS NULL))
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

-- Natural duplicates, refused even without a key: a child is named by its
-- birth date and, for twins, the case system's reference; another benefit is
-- one record per participant, month and kind.
ALTER TABLE children ADD COLUMN reference TEXT;
CREATE UNIQUE INDEX children_reference_key ON children (participant_id, reference);
CREATE UNIQUE INDEX benefit_offsets_month_kind_key ON benefit_offsets (participant_id, month, kind);

-- Optimistic concurrency (ETag / If-Match): a municipality's settings and a
-- programme carry a version, one more at every change, so two people never
-- silently overwrite each other.
ALTER TABLE municipalities ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE programmes ADD COLUMN version BIGINT NOT NULL DEFAULT 1;

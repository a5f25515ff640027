-- mailferry schema, version 3 (PostgreSQL dialect): leased leadership.
-- Keep equivalent to ../sqlite/0003_leader.sql (same statements).

-- One row: the process that runs the jobs only one process may run at a
-- time (the scheduler), and until when its lease lasts. The holder renews
-- it; once it has expired anyone may take it over (Store::try_lead).
CREATE TABLE leader (
    id                  BIGINT  PRIMARY KEY CHECK (id = 1),
    holder              TEXT    NOT NULL,
    -- when this holder took the lead (kept while it renews)
    since               BIGINT  NOT NULL,
    expires_at          BIGINT  NOT NULL
);

-- mailferry schema, version 2 (PostgreSQL dialect): what the batch, user and
-- sync-state API of the store needs beyond version 1.
-- Keep equivalent to ../sqlite/0002_sync_state.sql (same statements).

-- uid_map: the target's UIDNEXT just before the APPEND was sent (NULL if the
-- target did not say). Any copy the APPEND made has a UID >= this, so an open
-- intent is resolved by searching the target from here on.
ALTER TABLE uid_map ADD COLUMN target_uidnext BIGINT;

-- skipped_items: the message's date as the report shows it (its Date header,
-- or INTERNALDATE, as text, verbatim). message_date (unix ms) stays for a
-- parsed form and is left NULL by this version.
ALTER TABLE skipped_items ADD COLUMN message_date_text TEXT;

-- the done copies of a folder, in UID order, answerable from the index alone
-- (copied_uids and uid_map read 100k+ of them at the start of every sync)
CREATE INDEX uid_map_done ON uid_map (user_id, source_folder, source_uidvalidity, source_uid, target_uid)
    WHERE state = 'done';

-- The replay cache becomes an append-only log (crates/tessera-store/src/
-- replay_log.rs): a random unique key cost a page written per jti; appended
-- rows share pages. Uniqueness is decided under the write lock against
-- every row (each process reads what it has not seen, by seq). AUTOINCREMENT
-- keeps seq growing even after the newest rows are purged, so no process
-- can miss a row by having seen its number before.
CREATE TABLE assertion_replay_log (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id  TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    jti_hash   TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
INSERT INTO assertion_replay_log (tenant_id, client_id, jti_hash, expires_at)
    SELECT tenant_id, client_id, jti_hash, expires_at FROM assertion_replay ORDER BY expires_at;
DROP TABLE assertion_replay;
ALTER TABLE assertion_replay_log RENAME TO assertion_replay;
CREATE INDEX assertion_replay_expiry ON assertion_replay (expires_at);

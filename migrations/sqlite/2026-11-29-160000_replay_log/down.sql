CREATE TABLE assertion_replay_keyed (
    tenant_id  TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    jti_hash   TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, client_id, jti_hash)
);
INSERT OR IGNORE INTO assertion_replay_keyed (tenant_id, client_id, jti_hash, expires_at)
    SELECT tenant_id, client_id, jti_hash, expires_at FROM assertion_replay;
DROP TABLE assertion_replay;
ALTER TABLE assertion_replay_keyed RENAME TO assertion_replay;
CREATE INDEX assertion_replay_expiry ON assertion_replay (expires_at);

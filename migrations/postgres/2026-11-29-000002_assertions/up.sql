-- JWT client assertions: each jti is accepted once per client until the
-- assertion could no longer be valid (its exp plus clock skew). The key is
-- a hash of the jti, so hostile bytes never reach an index.
CREATE TABLE assertion_replay (
    tenant_id  TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    jti_hash   TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, client_id, jti_hash)
);
CREATE INDEX assertion_replay_expiry ON assertion_replay (expires_at);

-- client_secret_jwt needs the secret itself (an HMAC key): sealed with
-- AES-256-GCM under the master key, for that method only.
ALTER TABLE client_secrets ADD COLUMN sealed_secret TEXT;

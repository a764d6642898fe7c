-- Keys the server keeps for itself, sealed under the master key like the
-- signing keys, so that `tessera keys rewrap` re-seals them instead of
-- changing them. `client-secret-hash` is the HMAC key of every stored client
-- secret hash: a database that predates this table gets the key it always
-- used (derived from the master key) at the next start, sealed here.
CREATE TABLE server_keys (
    name       TEXT PRIMARY KEY,
    sealed_key TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

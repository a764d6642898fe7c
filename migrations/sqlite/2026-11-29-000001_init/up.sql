-- Tessera schema, SQLite (foreign keys are switched on per connection). Times are seconds since the Unix epoch.
CREATE TABLE tenants (
    id           TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    settings     TEXT NOT NULL,            -- JSON, tessera_core::TenantSettings
    version      BIGINT NOT NULL DEFAULT 1, -- bumped by every change to the tenant or its clients/keys
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);

CREATE TABLE clients (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    metadata   TEXT NOT NULL,              -- JSON, tessera_core::ClientMetadata
    disabled   BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, client_id)
);

CREATE TABLE client_secrets (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    secret_hash TEXT NOT NULL,             -- keyed SHA-256, never the secret
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT,                    -- set when a rotation gives it a grace period
    FOREIGN KEY (tenant_id, client_id) REFERENCES clients (tenant_id, client_id) ON DELETE CASCADE
);
CREATE INDEX client_secrets_by_client ON client_secrets (tenant_id, client_id);

CREATE TABLE signing_keys (
    tenant_id     TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kid           TEXT NOT NULL,           -- RFC 7638 thumbprint
    alg           TEXT NOT NULL,
    state         TEXT NOT NULL,           -- next | active | retired
    public_jwk    TEXT NOT NULL,
    private_key   TEXT NOT NULL,           -- AES-256-GCM sealed PKCS#8, base64
    created_at    BIGINT NOT NULL,
    activated_at  BIGINT,
    retired_at    BIGINT,
    publish_until BIGINT,
    PRIMARY KEY (tenant_id, kid)
);

CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    tenant_id TEXT,                        -- no foreign key: the trail outlives the tenant
    action    TEXT NOT NULL,
    target    TEXT,
    source    TEXT,
    detail    TEXT
);
CREATE INDEX audit_log_by_tenant ON audit_log (tenant_id, id);

-- One row; bumped by every admin change so that each instance can tell,
-- with one cheap read a second, that its caches are stale.
CREATE TABLE change_counter (
    id      INTEGER PRIMARY KEY,
    version BIGINT NOT NULL
);
INSERT INTO change_counter (id, version) VALUES (1, 0);

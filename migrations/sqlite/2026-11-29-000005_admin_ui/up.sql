-- People who sign in to the admin UI. tenant_id NULL: a global admin (every
-- tenant); otherwise a tenant admin, confined to that tenant.
CREATE TABLE admin_users (
    username      TEXT PRIMARY KEY,
    tenant_id     TEXT REFERENCES tenants (id) ON DELETE CASCADE,
    password_hash TEXT NOT NULL,           -- argon2id, PHC string
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

-- Server-side sessions, shared by every instance. The key is a SHA-256 of
-- the cookie value: a leaked table does not give working cookies.
CREATE TABLE admin_sessions (
    id_hash      TEXT PRIMARY KEY,
    username     TEXT NOT NULL REFERENCES admin_users (username) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    source       TEXT,
    -- A client secret just generated in this session, sealed under the
    -- master key, kept only until the page that shows it once is loaded.
    pending_secret TEXT
);
CREATE INDEX admin_sessions_by_user ON admin_sessions (username);

-- Failed sign-ins, per account and per source address, for throttling.
CREATE TABLE login_failures (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    throttle_key TEXT NOT NULL,
    at           BIGINT NOT NULL
);
CREATE INDEX login_failures_by_key ON login_failures (throttle_key, at);

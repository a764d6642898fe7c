-- Revoked access tokens (RFC 7009), kept until the token would have expired.
-- Shared by every instance, so a revocation holds everywhere at once.
CREATE TABLE revoked_tokens (
    tenant_id  TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, jti)
);
CREATE INDEX revoked_tokens_expiry ON revoked_tokens (expires_at);

-- CA certificates a tenant trusts for tls_client_auth (RFC 8705 §2.1).
CREATE TABLE trust_anchors (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    pem        TEXT NOT NULL,
    subject    TEXT NOT NULL,
    not_after  BIGINT NOT NULL,
    crl_pem    TEXT,                       -- optional CRL issued by this CA
    created_at BIGINT NOT NULL
);
CREATE INDEX trust_anchors_by_tenant ON trust_anchors (tenant_id);

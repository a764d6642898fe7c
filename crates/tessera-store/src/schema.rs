//! The one diesel schema, shared by both backends (see `migrations/`).

diesel::table! {
    tenants (id) {
        id -> Text,
        display_name -> Text,
        settings -> Text,
        version -> BigInt,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    clients (tenant_id, client_id) {
        tenant_id -> Text,
        client_id -> Text,
        metadata -> Text,
        disabled -> Bool,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    client_secrets (id) {
        id -> Text,
        tenant_id -> Text,
        client_id -> Text,
        secret_hash -> Text,
        created_at -> BigInt,
        expires_at -> Nullable<BigInt>,
        sealed_secret -> Nullable<Text>,
    }
}

// assertion_replay has no declaration here: its key differs per backend
// (PostgreSQL: the primary key; SQLite: an append-only log, replay_log.rs)
// and every statement on it is written out in replay.rs / replay_log.rs.

diesel::table! {
    trust_anchors (id) {
        id -> Text,
        tenant_id -> Text,
        pem -> Text,
        subject -> Text,
        not_after -> BigInt,
        crl_pem -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::table! {
    revoked_tokens (tenant_id, jti) {
        tenant_id -> Text,
        jti -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    signing_keys (tenant_id, kid) {
        tenant_id -> Text,
        kid -> Text,
        alg -> Text,
        state -> Text,
        public_jwk -> Text,
        private_key -> Text,
        created_at -> BigInt,
        activated_at -> Nullable<BigInt>,
        retired_at -> Nullable<BigInt>,
        publish_until -> Nullable<BigInt>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        at -> BigInt,
        actor -> Text,
        tenant_id -> Nullable<Text>,
        action -> Text,
        target -> Nullable<Text>,
        source -> Nullable<Text>,
        detail -> Nullable<Text>,
    }
}

diesel::table! {
    change_counter (id) {
        id -> Integer,
        version -> BigInt,
    }
}

diesel::table! {
    admin_users (username) {
        username -> Text,
        tenant_id -> Nullable<Text>,
        password_hash -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    admin_sessions (id_hash) {
        id_hash -> Text,
        username -> Text,
        csrf_token -> Text,
        created_at -> BigInt,
        last_seen_at -> BigInt,
        source -> Nullable<Text>,
        pending_secret -> Nullable<Text>,
    }
}

diesel::table! {
    server_keys (name) {
        name -> Text,
        sealed_key -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    login_failures (id) {
        id -> BigInt,
        throttle_key -> Text,
        at -> BigInt,
    }
}

diesel::joinable!(admin_sessions -> admin_users (username));

diesel::allow_tables_to_appear_in_same_query!(
    tenants,
    clients,
    client_secrets,
    signing_keys,
    audit_log,
    change_counter,
    admin_users,
    admin_sessions
);

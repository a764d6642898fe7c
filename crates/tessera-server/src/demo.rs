//! `tessera serve --demo`: everything a newcomer needs, created on first run
//! under `./data/` and `./certs/`, kept across restarts.

use crate::config::Config;
use crate::master_key::{create_key_file, write_private_file};
use crate::service::{ServiceError, Services};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::json;
use std::path::{Path, PathBuf};
use tessera_store::AuditEntry;

pub const DEMO_TENANT: &str = "demo";
pub const DEMO_CLIENT: &str = "demo-client";
pub const DEMO_MTLS_CLIENT: &str = "demo-mtls";
pub const DEMO_SELF_SIGNED_CLIENT: &str = "demo-self-signed";
pub const DEMO_JWT_CLIENT: &str = "demo-jwt";
pub const DEMO_MAC_CLIENT: &str = "demo-mac";
/// The demo private_key_jwt client's key id.
pub const DEMO_JWT_KID: &str = "demo-jwt-1";

/// Paths the demo keeps its state in, relative to the working directory.
pub struct DemoPaths {
    pub data: PathBuf,
    pub certs: PathBuf,
}

impl Default for DemoPaths {
    fn default() -> Self {
        Self {
            data: PathBuf::from("data"),
            certs: PathBuf::from("certs"),
        }
    }
}

/// What the demo prints once the server listens.
#[derive(Clone)]
pub struct DemoInfo {
    pub client_id: String,
    pub client_secret: String,
    pub bootstrap_token: String,
    pub ca_cert: PathBuf,
    /// The admin UI password of [`DEMO_ADMIN_USER`].
    pub admin_password: String,
}

impl std::fmt::Debug for DemoInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoInfo")
            .field("client_id", &self.client_id)
            .field("ca_cert", &self.ca_cert)
            .finish_non_exhaustive()
    }
}

/// The demo's global admin UI account.
pub const DEMO_ADMIN_USER: &str = "admin";

/// Creates the demo's admin UI account on first run; its password is kept
/// in `data/admin.password` (like the bootstrap token) and returned.
pub fn ensure_admin_user(services: &Services, paths: &DemoPaths) -> Result<String, ServiceError> {
    let password = read_or_create_secret_file(&paths.data.join("admin.password")).map_err(ServiceError::Invalid)?;
    if services.store.get_admin_user(DEMO_ADMIN_USER)?.is_none() {
        services.create_admin_user(DEMO_ADMIN_USER, None, &password, &AuditEntry::new("demo", None))?;
    }
    Ok(password)
}

fn read_or_create_secret_file(path: &Path) -> Result<String, String> {
    if path.exists() {
        return std::fs::read_to_string(path)
            .map(|s| s.trim().to_owned())
            .map_err(|e| format!("{}: {e}", path.display()));
    }
    let mut b = [0u8; 32];
    openssl::rand::rand_bytes(&mut b).map_err(|e| e.to_string())?;
    let token = URL_SAFE_NO_PAD.encode(b);
    write_private_file(path, format!("{token}\n").as_bytes())?;
    Ok(token)
}

/// Fills in the demo's defaults (master key, TLS, bootstrap token) and
/// creates the files they live in when missing.
pub fn prepare_config(mut config: Config, paths: &DemoPaths) -> Result<(Config, PathBuf, String), String> {
    if config.keys.master_key.is_none() {
        let file = config
            .keys
            .master_key_file
            .clone()
            .unwrap_or_else(|| paths.data.join("master.key"));
        if !file.exists() {
            create_key_file(&file)?;
        }
        config.keys.master_key_file = Some(file);
    }
    let (certs, created) = crate::devcerts::ensure(&paths.certs, false)?;
    if created {
        tracing::info!(dir = %paths.certs.display(), "created development certificates");
    }
    if config.http.tls_cert.is_none() {
        config.http.tls_cert = Some(certs.server_cert.clone());
        config.http.tls_key = Some(certs.server_key.clone());
    }
    if config.mtls.is_none() {
        config.mtls = Some(crate::config::MtlsConfig {
            listen: "127.0.0.1:8444".into(),
            public_url: "https://127.0.0.1:8444".into(),
        });
    }
    let bootstrap = match &config.admin.bootstrap_token {
        Some(t) => t.clone(),
        None => {
            let t = read_or_create_secret_file(&paths.data.join("bootstrap.token"))?;
            config.admin.bootstrap_token = Some(t.clone());
            t
        }
    };
    Ok((config, certs.ca_cert, bootstrap))
}

/// Creates the demo tenant and its clients unless they exist: one with a
/// secret (kept in `data/demo-client.secret`, demo only!, so each start can
/// print a working command), one `tls_client_auth` client with bound tokens
/// (certificate from the development CA, which the tenant trusts), one
/// `self_signed_tls_client_auth` client.
pub fn seed(services: &Services, paths: &DemoPaths) -> Result<(String, String), ServiceError> {
    let audit = AuditEntry::new("demo", Some("local"));
    if services.store.get_tenant(DEMO_TENANT)?.is_none() {
        services.create_tenant(&json!({"id": DEMO_TENANT, "display_name": "Demo tenant"}), &audit)?;
    }
    seed_mtls_clients(services, paths, &audit)?;
    seed_assertion_clients(services, paths, &audit)?;
    let secret_file = paths.data.join("demo-client.secret");
    let exists = services.store.get_client(DEMO_TENANT, DEMO_CLIENT)?.is_some();
    let secret = match (exists, secret_file.exists()) {
        (true, true) => std::fs::read_to_string(&secret_file)
            .map_err(|e| ServiceError::Invalid(format!("{}: {e}", secret_file.display())))?
            .trim()
            .to_owned(),
        (true, false) => services
            .rotate_secret(DEMO_TENANT, DEMO_CLIENT, Default::default(), &audit)?
            .secret
            .unwrap_or_default(),
        (false, _) => services
            .create_client(
                DEMO_TENANT,
                &json!({
                    "client_id": DEMO_CLIENT,
                    "client_name": "Demo client (client_secret_basic)",
                    "token_endpoint_auth_method": "client_secret_basic",
                    "scope": "demo:read demo:write",
                }),
                &audit,
            )?
            .secret
            .unwrap_or_default(),
    };
    if !secret_file.exists() {
        write_private_file(&secret_file, format!("{secret}\n").as_bytes()).map_err(ServiceError::Invalid)?;
    }
    Ok((DEMO_CLIENT.to_owned(), secret))
}

/// A `private_key_jwt` client (ES256 key in `certs/demo-jwt.key`) and a
/// `client_secret_jwt` client (secret in `data/demo-mac.secret`, demo only!).
fn seed_assertion_clients(services: &Services, paths: &DemoPaths, audit: &AuditEntry) -> Result<(), ServiceError> {
    let invalid = |e: String| ServiceError::Invalid(e);
    let key_file = paths.certs.join("demo-jwt.key");
    if !key_file.exists() {
        let key = josekit::jws::ES256
            .generate_key_pair()
            .map_err(|e| invalid(e.to_string()))?;
        write_private_file(&key_file, &josekit::jwk::KeyPair::to_pem_private_key(&key)).map_err(invalid)?;
    }
    if services.store.get_client(DEMO_TENANT, DEMO_JWT_CLIENT)?.is_none() {
        let pem = std::fs::read(&key_file).map_err(|e| invalid(e.to_string()))?;
        let key = josekit::jws::ES256
            .key_pair_from_pem(&pem)
            .map_err(|e| invalid(e.to_string()))?;
        let mut jwk = serde_json::to_value(josekit::jwk::KeyPair::to_jwk_public_key(&key).as_ref())
            .map_err(|e| invalid(e.to_string()))?;
        jwk["kid"] = json!(DEMO_JWT_KID);
        services.create_client(
            DEMO_TENANT,
            &json!({
                "client_id": DEMO_JWT_CLIENT,
                "client_name": "Demo client (private_key_jwt)",
                "token_endpoint_auth_method": "private_key_jwt",
                "jwks": {"keys": [jwk]},
                "scope": "demo:read",
            }),
            audit,
        )?;
    }
    let secret_file = paths.data.join("demo-mac.secret");
    let exists = services.store.get_client(DEMO_TENANT, DEMO_MAC_CLIENT)?.is_some();
    if !exists || !secret_file.exists() {
        let made = if exists {
            services.rotate_secret(DEMO_TENANT, DEMO_MAC_CLIENT, Default::default(), audit)?
        } else {
            services.create_client(
                DEMO_TENANT,
                &json!({
                    "client_id": DEMO_MAC_CLIENT,
                    "client_name": "Demo client (client_secret_jwt)",
                    "token_endpoint_auth_method": "client_secret_jwt",
                    "scope": "demo:read",
                }),
                audit,
            )?
        };
        let _ = std::fs::remove_file(&secret_file);
        write_private_file(&secret_file, made.secret.unwrap_or_default().as_bytes()).map_err(invalid)?;
    }
    Ok(())
}

fn seed_mtls_clients(services: &Services, paths: &DemoPaths, audit: &AuditEntry) -> Result<(), ServiceError> {
    let certs = crate::devcerts::DevCerts::in_dir(&paths.certs);
    let clients = crate::devcerts::ensure_demo_clients(&paths.certs, &certs).map_err(ServiceError::Invalid)?;
    if services.list_trust_anchors(DEMO_TENANT)?.is_empty() {
        let ca = std::fs::read_to_string(&certs.ca_cert).map_err(|e| ServiceError::Invalid(e.to_string()))?;
        services.add_trust_anchor(DEMO_TENANT, &json!({"pem": ca}), audit)?;
    }
    if services.store.get_client(DEMO_TENANT, DEMO_MTLS_CLIENT)?.is_none() {
        services.create_client(
            DEMO_TENANT,
            &json!({
                "client_id": DEMO_MTLS_CLIENT,
                "client_name": "Demo client (tls_client_auth, bound tokens)",
                "token_endpoint_auth_method": "tls_client_auth",
                "tls_client_auth_subject_dn": crate::devcerts::DEMO_MTLS_SUBJECT,
                "tls_client_certificate_bound_access_tokens": true,
                "scope": "demo:read",
            }),
            audit,
        )?;
    }
    if services
        .store
        .get_client(DEMO_TENANT, DEMO_SELF_SIGNED_CLIENT)?
        .is_none()
    {
        let pem = std::fs::read(&clients.self_signed_cert).map_err(|e| ServiceError::Invalid(e.to_string()))?;
        let cert = openssl::x509::X509::from_pem(&pem).map_err(|e| ServiceError::Invalid(e.to_string()))?;
        let der = cert.to_der().map_err(|e| ServiceError::Invalid(e.to_string()))?;
        let key_pem = std::fs::read(&clients.self_signed_key).map_err(|e| ServiceError::Invalid(e.to_string()))?;
        let jwk = josekit::jws::ES256
            .key_pair_from_pem(&key_pem)
            .map_err(|e| ServiceError::Invalid(e.to_string()))?;
        let mut jwk: serde_json::Value = serde_json::to_value(josekit::jwk::KeyPair::to_jwk_public_key(&jwk).as_ref())
            .map_err(|e| ServiceError::Invalid(e.to_string()))?;
        jwk["x5c"] = json!([base64::engine::general_purpose::STANDARD.encode(der)]);
        services.create_client(
            DEMO_TENANT,
            &json!({
                "client_id": DEMO_SELF_SIGNED_CLIENT,
                "client_name": "Demo client (self_signed_tls_client_auth)",
                "token_endpoint_auth_method": "self_signed_tls_client_auth",
                "jwks": {"keys": [jwk]},
                "scope": "demo:read",
            }),
            audit,
        )?;
    }
    Ok(())
}

/// The ready-to-paste commands printed at start.
pub fn banner(config: &Config, info: &DemoInfo) -> String {
    let issuer = format!("{}/t/{DEMO_TENANT}", config.public_base());
    let ca = info.ca_cert.display();
    format!(
        "\n\
         Tessera demo is running.\n\n\
         Issuer:   {issuer}\n\
         Metadata: {issuer}/.well-known/oauth-authorization-server\n\
         JWKS:     {issuer}/jwks.json\n\n\
         Get a token (client_secret_basic):\n\n  \
         curl --cacert {ca} -u {id}:{secret} -d grant_type=client_credentials {issuer}/oauth2/token\n\n\
         The same client with client_secret_post:\n\n  \
         curl --cacert {ca} -d grant_type=client_credentials -d client_id={id} -d client_secret={secret} {issuer}/oauth2/token\n\n\
         mutual TLS (tls_client_auth, certificate-bound token) on the mTLS listener:\n\n  \
         curl --cacert {ca} --cert certs/demo-mtls.pem --key certs/demo-mtls.key -d grant_type=client_credentials -d client_id={mtls_id} {mtls_issuer}/oauth2/token\n\n\
         mutual TLS with a self-signed certificate (self_signed_tls_client_auth):\n\n  \
         curl --cacert {ca} --cert certs/demo-self-signed.pem --key certs/demo-self-signed.key -d grant_type=client_credentials -d client_id={ss_id} {mtls_issuer}/oauth2/token\n\n\
         private_key_jwt (a fresh assertion signed with certs/demo-jwt.key each time):\n\n  \
         curl --cacert {ca} -d grant_type=client_credentials -d client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer -d client_assertion=$({exe} assertion --client-id {jwt_id} --kid {kid} --key certs/demo-jwt.key --audience {issuer}) {issuer}/oauth2/token\n\n\
         client_secret_jwt (HS256 with the secret in data/demo-mac.secret):\n\n  \
         curl --cacert {ca} -d grant_type=client_credentials -d client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer -d client_assertion=$({exe} assertion --client-id {mac_id} --secret-file data/demo-mac.secret --audience {issuer}) {issuer}/oauth2/token\n\n\
         Admin API (bootstrap token, kept in data/bootstrap.token):\n\n  \
         curl --cacert {ca} -H 'Authorization: Bearer {bootstrap}' {base}/admin/v1/tenants\n\n\
         Admin UI: {base}/admin/  user: {admin}  password: {admin_password}  (kept in data/admin.password)\n\n\
         Data is kept under ./data and ./certs; delete them to start over.\n",
        id = info.client_id,
        secret = info.client_secret,
        bootstrap = info.bootstrap_token,
        admin = DEMO_ADMIN_USER,
        admin_password = info.admin_password,
        base = config.public_base(),
        mtls_id = DEMO_MTLS_CLIENT,
        jwt_id = DEMO_JWT_CLIENT,
        mac_id = DEMO_MAC_CLIENT,
        kid = DEMO_JWT_KID,
        exe = std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "tessera".into()),
        ss_id = DEMO_SELF_SIGNED_CLIENT,
        mtls_issuer = format!(
            "{}/t/{DEMO_TENANT}",
            config.mtls.as_ref().map(|m| m.public_url.trim_end_matches('/')).unwrap_or(config.public_base())
        ),
    )
}

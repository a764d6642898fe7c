//! `tessera serve --demo`: everything a newcomer needs, created on first run
//! under `./data/` and `./certs/`, kept across restarts.

use crate::config::Config;
use crate::master_key::{create_key_file, write_private_file};
use crate::service::{ServiceError, Services};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::json;
use std::path::{Path, PathBuf};
use tessera_store::AuditEntry;

pub const DEMO_TENANT: &str = "demo";
pub const DEMO_CLIENT: &str = "demo-client";

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
#[derive(Debug, Clone)]
pub struct DemoInfo {
    pub client_id: String,
    pub client_secret: String,
    pub bootstrap_token: String,
    pub ca_cert: PathBuf,
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

/// Creates the demo tenant and client unless they exist. The client's secret
/// is kept in `data/demo-client.secret` (demo only!) so each start can print
/// a working command.
pub fn seed(services: &Services, paths: &DemoPaths) -> Result<(String, String), ServiceError> {
    let audit = AuditEntry::new("demo", Some("local"));
    if services.store.get_tenant(DEMO_TENANT)?.is_none() {
        services.create_tenant(&json!({"id": DEMO_TENANT, "display_name": "Demo tenant"}), &audit)?;
    }
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
         Admin API (bootstrap token, kept in data/bootstrap.token):\n\n  \
         curl --cacert {ca} -H 'Authorization: Bearer {bootstrap}' {base}/admin/v1/tenants\n\n\
         Data is kept under ./data and ./certs; delete them to start over.\n",
        id = info.client_id,
        secret = info.client_secret,
        bootstrap = info.bootstrap_token,
        base = config.public_base(),
    )
}

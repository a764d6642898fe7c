//! The `tessera` command line: argument definitions and the operator
//! commands, which act on the database directly through the service layer
//! (running servers notice the change within a second).

use crate::config::Config;
use crate::service::{RotateSecret, ServiceError, Services};
use clap::{Args, Parser, Subcommand};
use serde_json::{json, Value};
use std::path::PathBuf;
use tessera_store::AuditEntry;

/// Tessera: an OAuth 2.0 authorization server for machine-to-machine traffic.
///
/// Start with `tessera serve --demo`: it needs no set-up and prints a curl
/// command that gets an access token.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, propagate_version = true)]
pub struct Cli {
    /// Configuration file (TOML). Every key can also be set with an
    /// environment variable TESSERA_<SECTION>_<KEY>, e.g. TESSERA_DATABASE_URL.
    #[arg(long, short, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Log as JSON lines instead of text.
    #[arg(long, global = true)]
    pub log_json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the authorization server.
    Serve {
        /// Run with no set-up: SQLite under ./data, development TLS
        /// certificates under ./certs, a tenant `demo` with a client, and
        /// ready-to-paste curl commands. Data is kept across restarts.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations and exit (serve also does this).
    Migrate,
    /// Manage tenants (each tenant is its own issuer).
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage a tenant's clients.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage a tenant's signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage the CA certificates a tenant trusts for tls_client_auth.
    #[command(subcommand)]
    TrustAnchor(TrustAnchorCommand),
    /// Print the admin API's OpenAPI 3.1 document (also served at
    /// /admin/v1/openapi.json).
    Openapi,
    /// Manage the people who sign in to the admin UI (/admin/).
    #[command(subcommand)]
    AdminUser(AdminUserCommand),
    /// Print a fresh JWT client assertion (private_key_jwt with --key, or
    /// client_secret_jwt with --secret), valid 60 seconds: a development aid.
    Assertion(AssertionArgs),
    /// Check a configuration (file and TESSERA_* variables) and print the
    /// effective result with secrets masked.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Create a development CA, a server certificate for localhost and
    /// 127.0.0.1, and client certificates for the demo's mTLS clients.
    DevCerts {
        /// Where to write ca.pem, ca.key, server.pem and server.key.
        #[arg(long, default_value = "certs")]
        dir: PathBuf,
        /// Replace existing files.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant; its issuer is {public_url}/t/{ID}.
    Create {
        /// Lower-case letters, digits and '-', at most 63 characters.
        id: String,
        #[arg(long)]
        display_name: Option<String>,
        /// Tenant settings as JSON, e.g. '{"access_token_ttl_secs": 300}'.
        #[arg(long, value_name = "JSON")]
        settings: Option<String>,
    },
    /// List tenants.
    List,
    /// Show one tenant and its settings.
    Show { id: String },
    /// Delete a tenant with all its clients and keys.
    Delete { id: String },
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client. For secret methods the secret is printed once.
    Create(ClientCreate),
    /// List a tenant's clients.
    List { tenant: String },
    /// Show one client.
    Show { tenant: String, client_id: String },
    /// Disable a client (refused everywhere at once); --enable reverses it.
    Disable {
        tenant: String,
        client_id: String,
        #[arg(long)]
        enable: bool,
    },
    /// Delete a client.
    Delete { tenant: String, client_id: String },
    /// Issue a new secret (printed once); the old one stops working after
    /// the grace period.
    RotateSecret {
        tenant: String,
        client_id: String,
        #[arg(long, default_value_t = 0, value_name = "SECS")]
        grace_period: u32,
    },
}

#[derive(Debug, Args)]
pub struct ClientCreate {
    pub tenant: String,
    /// Client id (generated when omitted).
    #[arg(long)]
    pub id: Option<String>,
    /// Human-readable name.
    #[arg(long)]
    pub name: Option<String>,
    /// token_endpoint_auth_method: client_secret_basic, client_secret_post,
    /// client_secret_jwt, private_key_jwt, tls_client_auth or
    /// self_signed_tls_client_auth (for the last two, give the name or the
    /// certificate with --metadata, e.g. '{"tls_client_auth_san_dns": "..."}').
    #[arg(long, default_value = "client_secret_basic")]
    pub auth: String,
    /// private_key_jwt: a file holding the client's public JWK Set
    /// ({"keys": [...]}) or a single public JWK.
    #[arg(long, value_name = "FILE", conflicts_with = "jwks_uri")]
    pub jwks_file: Option<PathBuf>,
    /// private_key_jwt: the HTTPS URL where the client publishes its JWK Set.
    #[arg(long, value_name = "URL")]
    pub jwks_uri: Option<String>,
    /// token_endpoint_auth_signing_alg: the one algorithm the client's
    /// assertions must use (e.g. ES256; HS256 for client_secret_jwt).
    #[arg(long, value_name = "ALG")]
    pub signing_alg: Option<String>,
    /// Space-separated scopes the client may request.
    #[arg(long)]
    pub scope: Option<String>,
    /// Further RFC 7591 metadata as a JSON object (merged in).
    #[arg(long, value_name = "JSON")]
    pub metadata: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum AdminUserCommand {
    /// Create an admin UI account. Without --password-stdin a strong
    /// password is generated and printed once.
    Create {
        /// Lower-case letters, digits and '.', '_', '@', '-'.
        username: String,
        /// Confine the account to this tenant (a tenant admin).
        #[arg(long, required_unless_present = "global", conflicts_with = "global")]
        tenant: Option<String>,
        /// A global admin: every tenant, and tenant creation.
        #[arg(long)]
        global: bool,
        /// Read the password (at least 12 characters) from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a new password (generated unless --password-stdin); the account's
    /// sessions end everywhere.
    ResetPassword {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// List admin UI accounts.
    List,
    /// Delete an account (its sessions end at once).
    Delete { username: String },
}

/// The password from standard input (one line, the newline dropped), or a
/// generated one that is printed.
fn admin_password(from_stdin: bool) -> Result<(String, bool), CliError> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| CliError::Usage(format!("reading the password: {e}")))?;
        return Ok((line.trim_end_matches(['\r', '\n']).to_owned(), false));
    }
    let mut b = [0u8; 18];
    openssl::rand::rand_bytes(&mut b).map_err(|e| CliError::Usage(e.to_string()))?;
    use base64::Engine as _;
    Ok((base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b), true))
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List a tenant's signing keys (public parts only).
    List { tenant: String },
    /// Rotate: the published next key starts signing, the current key stays
    /// published until its tokens expire, a new next key is published.
    Rotate { tenant: String },
    /// Rotate the master key: re-seal every tenant's private keys and every
    /// other sealed value under a new master key, in one transaction (all or
    /// nothing), each checked to open with the new key before the commit.
    /// Client secrets, key ids and issued tokens stay valid.
    ///
    /// Stop every server instance first; afterwards start them with the new
    /// key only (the old one no longer opens the database). The current key
    /// is read from the configuration as usual; the new one from a file or
    /// standard input, never from the command line (where `ps` would show
    /// it). Make one with `openssl rand -base64 32`.
    Rewrap {
        /// File holding the new key (base64 of 32 random bytes).
        #[arg(
            long,
            value_name = "FILE",
            required_unless_present = "new_key_stdin",
            conflicts_with = "new_key_stdin"
        )]
        new_key_file: Option<PathBuf>,
        /// Read the new key from standard input (one line).
        #[arg(long)]
        new_key_stdin: bool,
    },
}

/// The new master key for `keys rewrap`, from a file or standard input.
fn read_new_master_key(file: Option<&std::path::Path>) -> Result<tessera_token::MasterKey, CliError> {
    let text = match file {
        Some(path) => zeroize::Zeroizing::new(
            std::fs::read_to_string(path)
                .map_err(|e| CliError::Usage(format!("--new-key-file {}: {e}", path.display())))?,
        ),
        None => {
            let mut line = zeroize::Zeroizing::new(String::new());
            std::io::stdin()
                .read_line(&mut line)
                .map_err(|e| CliError::Usage(format!("reading the new key from standard input: {e}")))?;
            line
        }
    };
    tessera_token::MasterKey::from_base64(&text).map_err(|e| CliError::Usage(format!("the new key: {e}")))
}

#[derive(Debug, Args)]
pub struct AssertionArgs {
    /// The client id (becomes iss and sub).
    #[arg(long)]
    pub client_id: String,
    /// The audience: the tenant's issuer or token endpoint URL.
    #[arg(long)]
    pub audience: String,
    /// ES256 private key (PEM) for private_key_jwt.
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "secret_file",
        conflicts_with = "secret_file"
    )]
    pub key: Option<PathBuf>,
    /// The kid to put in the header (private_key_jwt).
    #[arg(long)]
    pub kid: Option<String>,
    /// File holding the client secret, for client_secret_jwt (HS256).
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
}

/// Signs a 60-second client assertion (RFC 7523) for `args`.
pub fn sign_assertion(args: &AssertionArgs) -> Result<String, String> {
    use josekit::jws::{JwsHeader, ES256, HS256};
    let now = tessera_core::time::now_secs();
    let mut jti = [0u8; 16];
    openssl::rand::rand_bytes(&mut jti).map_err(|e| e.to_string())?;
    let mut payload = josekit::jwt::JwtPayload::new();
    payload.set_issuer(&args.client_id);
    payload.set_subject(&args.client_id);
    payload.set_audience(vec![args.audience.clone()]);
    payload.set_jwt_id(tessera_core::hex::lower(&jti));
    let at = |secs: i64| std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs.max(0) as u64);
    payload.set_issued_at(&at(now));
    payload.set_expires_at(&at(now + 60));
    let mut header = JwsHeader::new();
    header.set_token_type("JWT");
    if let Some(path) = &args.key {
        let pem = std::fs::read(path).map_err(|e| format!("--key {}: {e}", path.display()))?;
        if let Some(kid) = &args.kid {
            header.set_key_id(kid);
        }
        let signer = ES256.signer_from_pem(&pem).map_err(|e| format!("--key: {e}"))?;
        josekit::jwt::encode_with_signer(&payload, &header, &signer).map_err(|e| e.to_string())
    } else {
        let path = args.secret_file.as_ref().ok_or("give --key or --secret-file")?;
        let secret = std::fs::read_to_string(path).map_err(|e| format!("--secret-file {}: {e}", path.display()))?;
        let signer = HS256
            .signer_from_bytes(secret.trim().as_bytes())
            .map_err(|e| e.to_string())?;
        josekit::jwt::encode_with_signer(&payload, &header, &signer).map_err(|e| e.to_string())
    }
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate FILE (plus environment overrides); print the effective configuration.
    Check { file: Option<PathBuf> },
    /// Print every configuration key with its default and environment
    /// variable (the table in docs/configuration.md).
    Reference,
}

#[derive(Debug, Subcommand)]
pub enum TrustAnchorCommand {
    /// Trust a CA certificate (PEM) for the tenant's tls_client_auth clients.
    Add {
        tenant: String,
        #[arg(long, value_name = "FILE")]
        pem_file: PathBuf,
        /// A CRL (PEM) issued by that CA: certificates it lists are refused.
        #[arg(long, value_name = "FILE")]
        crl_file: Option<PathBuf>,
    },
    /// List the tenant's trust anchors.
    List { tenant: String },
    /// Replace an anchor's CRL (or remove it with --remove).
    SetCrl {
        tenant: String,
        id: String,
        #[arg(long, value_name = "FILE", required_unless_present = "remove")]
        crl_file: Option<PathBuf>,
        #[arg(long)]
        remove: bool,
    },
    /// Stop trusting a CA.
    Delete { tenant: String, id: String },
}

fn read_text(flag: &str, path: &std::path::Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|e| CliError::Usage(format!("{flag} {}: {e}", path.display())))
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Service(#[from] ServiceError),
}

fn cli_audit() -> AuditEntry {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    AuditEntry::new(&format!("cli:{user}"), Some("local"))
}

fn parse_json(what: &str, raw: &str) -> Result<Value, CliError> {
    serde_json::from_str(raw).map_err(|e| CliError::Usage(format!("{what}: not valid JSON: {e}")))
}

fn print(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

/// Runs an operator command against the configured database.
pub fn run_admin_command(config: &Config, command: Command) -> Result<(), CliError> {
    let services: Services = crate::app::open_services(config).map_err(|e| CliError::Usage(e.to_string()))?;
    let audit = cli_audit();
    match command {
        Command::Migrate => println!("database is up to date ({})", services.store.backend_name()),
        Command::Tenant(TenantCommand::Create {
            id,
            display_name,
            settings,
        }) => {
            let mut body = match settings {
                Some(s) => parse_json("--settings", &s)?,
                None => json!({}),
            };
            let obj = body
                .as_object_mut()
                .ok_or_else(|| CliError::Usage("--settings: must be a JSON object".into()))?;
            obj.insert("id".into(), Value::String(id));
            if let Some(n) = display_name {
                obj.insert("display_name".into(), Value::String(n));
            }
            print(&services.create_tenant(&body, &audit)?);
        }
        Command::Tenant(TenantCommand::List) => print(&Value::Array(services.list_tenants(None)?)),
        Command::Tenant(TenantCommand::Show { id }) => print(&services.get_tenant(&id)?),
        Command::Tenant(TenantCommand::Delete { id }) => {
            services.delete_tenant(&id, &audit)?;
            println!("deleted tenant {id}");
        }
        Command::Client(ClientCommand::Create(c)) => {
            let mut body = match c.metadata {
                Some(m) => parse_json("--metadata", &m)?,
                None => json!({}),
            };
            let obj = body
                .as_object_mut()
                .ok_or_else(|| CliError::Usage("--metadata: must be a JSON object".into()))?;
            obj.insert("token_endpoint_auth_method".into(), Value::String(c.auth));
            if let Some(id) = c.id {
                obj.insert("client_id".into(), Value::String(id));
            }
            if let Some(n) = c.name {
                obj.insert("client_name".into(), Value::String(n));
            }
            if let Some(s) = c.scope {
                obj.insert("scope".into(), Value::String(s));
            }
            if let Some(path) = c.jwks_file {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| CliError::Usage(format!("--jwks-file {}: {e}", path.display())))?;
                let jwks = parse_json("--jwks-file", &text)?;
                // A lone JWK is accepted as a set of one.
                let jwks = if jwks.get("keys").is_some() {
                    jwks
                } else {
                    json!({"keys": [jwks]})
                };
                obj.insert("jwks".into(), jwks);
            }
            if let Some(uri) = c.jwks_uri {
                obj.insert("jwks_uri".into(), Value::String(uri));
            }
            if let Some(alg) = c.signing_alg {
                obj.insert("token_endpoint_auth_signing_alg".into(), Value::String(alg));
            }
            let created = services.create_client(&c.tenant, &body, &audit)?;
            print(&created.to_json());
            if created.secret.is_some() {
                eprintln!("The client_secret above is shown only once: store it now.");
            }
        }
        Command::Client(ClientCommand::List { tenant }) => print(&Value::Array(services.list_clients(&tenant)?)),
        Command::Client(ClientCommand::Show { tenant, client_id }) => print(&services.get_client(&tenant, &client_id)?),
        Command::Client(ClientCommand::Disable {
            tenant,
            client_id,
            enable,
        }) => {
            let updated = services.patch_client(&tenant, &client_id, &json!({"disabled": !enable}), &audit)?;
            print(&updated.to_json());
        }
        Command::Client(ClientCommand::Delete { tenant, client_id }) => {
            services.delete_client(&tenant, &client_id, &audit)?;
            println!("deleted client {client_id} of tenant {tenant}");
        }
        Command::Client(ClientCommand::RotateSecret {
            tenant,
            client_id,
            grace_period,
        }) => {
            let rotated = services.rotate_secret(
                &tenant,
                &client_id,
                RotateSecret {
                    grace_period_secs: grace_period,
                },
                &audit,
            )?;
            print(&rotated.to_json());
            eprintln!("The client_secret above is shown only once: store it now.");
        }
        Command::TrustAnchor(TrustAnchorCommand::Add {
            tenant,
            pem_file,
            crl_file,
        }) => {
            let mut body = json!({"pem": read_text("--pem-file", &pem_file)?});
            if let Some(crl) = crl_file {
                body["crl_pem"] = Value::String(read_text("--crl-file", &crl)?);
            }
            print(&services.add_trust_anchor(&tenant, &body, &audit)?);
        }
        Command::TrustAnchor(TrustAnchorCommand::List { tenant }) => {
            print(&Value::Array(services.list_trust_anchors(&tenant)?))
        }
        Command::TrustAnchor(TrustAnchorCommand::SetCrl {
            tenant,
            id,
            crl_file,
            remove,
        }) => {
            let crl = match (crl_file, remove) {
                (_, true) => Value::Null,
                (Some(path), false) => Value::String(read_text("--crl-file", &path)?),
                (None, false) => return Err(CliError::Usage("give --crl-file or --remove".into())),
            };
            print(&services.set_trust_anchor_crl(&tenant, &id, &json!({"crl_pem": crl}), &audit)?);
        }
        Command::TrustAnchor(TrustAnchorCommand::Delete { tenant, id }) => {
            services.delete_trust_anchor(&tenant, &id, &audit)?;
            println!("deleted trust anchor {id} of tenant {tenant}");
        }
        Command::AdminUser(AdminUserCommand::Create {
            username,
            tenant,
            global: _,
            password_stdin,
        }) => {
            let (password, generated) = admin_password(password_stdin)?;
            print(&services.create_admin_user(&username, tenant.as_deref(), &password, &audit)?);
            if generated {
                println!("password: {password}");
                eprintln!("The password above is shown only once.");
            }
        }
        Command::AdminUser(AdminUserCommand::ResetPassword {
            username,
            password_stdin,
        }) => {
            let (password, generated) = admin_password(password_stdin)?;
            services.reset_admin_password(&username, &password, &audit)?;
            println!("password of {username} changed; its sessions have ended");
            if generated {
                println!("password: {password}");
            }
        }
        Command::AdminUser(AdminUserCommand::List) => print(&Value::Array(services.list_admin_users()?)),
        Command::AdminUser(AdminUserCommand::Delete { username }) => {
            services.delete_admin_user(&username, &audit)?;
            println!("deleted admin user {username}");
        }
        Command::Keys(KeysCommand::List { tenant }) => print(&Value::Array(services.list_keys(&tenant)?)),
        Command::Keys(KeysCommand::Rotate { tenant }) => print(&Value::Array(services.rotate_keys(&tenant, &audit)?)),
        Command::Keys(KeysCommand::Rewrap {
            new_key_file,
            new_key_stdin: _,
        }) => {
            let new = read_new_master_key(new_key_file.as_deref())?;
            let counts = services.rewrap_master_key(&new, &audit)?;
            // Committed; read everything back with the new key as a last check.
            let unopened = services.sealed_values_not_opened_by(&new)?;
            if !unopened.is_empty() {
                return Err(CliError::Usage(format!(
                    "rewrapped, but these values do not open with the new key (were instances still \
                     running?): {}",
                    unopened.join("; ")
                )));
            }
            print(&json!({
                "signing_keys": counts.signing_keys,
                "client_secrets": counts.client_secrets,
                "pending_secrets": counts.pending_secrets,
                "server_keys": counts.server_keys,
                "total": counts.total(),
            }));
            eprintln!(
                "Every sealed value is now under the new master key. Start every instance with the new \
                 key: the old one no longer opens this database (keep it only for backups taken before now)."
            );
        }
        Command::Serve { .. }
        | Command::DevCerts { .. }
        | Command::Config(_)
        | Command::Assertion(_)
        | Command::Openapi => {
            return Err(CliError::Usage("not an admin command".into()));
        }
    }
    Ok(())
}

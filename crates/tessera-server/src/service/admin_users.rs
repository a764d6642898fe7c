//! Admin UI accounts: creation and password resets (CLI, demo), sign-in with
//! throttling, and server-side sessions. Passwords are hashed with argon2id;
//! session cookies and CSRF tokens are 256-bit random values, and only the
//! cookie's SHA-256 is stored.

use super::{ServiceError, Services};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};
use std::sync::OnceLock;
use tessera_core::ids::SYSTEM_TENANT;
use tessera_core::time::now_secs;
use tessera_store::{AdminSession, AdminUserRow, AuditEntry, StoreError};

pub const MIN_PASSWORD_CHARS: usize = 12;
const MAX_PASSWORD_BYTES: usize = 1024;
const MAX_USERNAME_CHARS: usize = 64;
/// A session's `last_seen_at` is written at most this often (a write per
/// page view would be wasted).
const TOUCH_INTERVAL_SECS: i64 = 60;

/// Session lifetimes and sign-in throttling (`[admin]` configuration).
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    pub idle_timeout_secs: i64,
    pub max_lifetime_secs: i64,
    pub max_failures_per_account: i64,
    pub max_failures_per_address: i64,
    pub throttle_window_secs: i64,
}

/// A valid session's account.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub username: String,
    /// `None`: a global admin.
    pub tenant: Option<String>,
    pub csrf_token: String,
    pub session_id_hash: String,
}

impl SignedIn {
    pub fn can_access(&self, tenant: &str) -> bool {
        self.tenant.as_deref().is_none_or(|own| own == tenant)
    }

    pub fn actor(&self) -> String {
        format!("user:{}", self.username)
    }
}

#[derive(Debug)]
pub enum LoginOutcome {
    /// The cookie value to hand to the browser, and the account.
    Success { cookie: String, user: SignedIn },
    /// Wrong username or password (which of the two is never said).
    Invalid,
    /// Too many recent failures for this account or address.
    Throttled,
}

/// Usernames: lower case letters, digits and `._@-`, 1–64 characters.
pub fn normalize_username(raw: &str) -> Result<String, ServiceError> {
    let name = raw.trim().to_ascii_lowercase();
    let ok = !name.is_empty()
        && name.chars().count() <= MAX_USERNAME_CHARS
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '@' | '-'));
    if ok {
        Ok(name)
    } else {
        Err(ServiceError::Invalid(
            "username: 1 to 64 characters: lower case letters, digits, '.', '_', '@', '-'".into(),
        ))
    }
}

fn check_password(password: &str) -> Result<(), ServiceError> {
    if password.chars().count() < MIN_PASSWORD_CHARS || password.len() > MAX_PASSWORD_BYTES {
        return Err(ServiceError::Invalid(format!(
            "password: must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_BYTES} characters"
        )));
    }
    Ok(())
}

fn random_token() -> Result<String, ServiceError> {
    let mut b = [0u8; 32];
    openssl::rand::rand_bytes(&mut b).map_err(|_| ServiceError::Internal("random bytes"))?;
    Ok(URL_SAFE_NO_PAD.encode(b))
}

/// The stored form of a session cookie.
pub fn session_id_hash(cookie: &str) -> String {
    openssl::sha::sha256(cookie.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn hash_password(password: &str) -> Result<String, ServiceError> {
    let mut salt = [0u8; 16];
    openssl::rand::rand_bytes(&mut salt).map_err(|_| ServiceError::Internal("random bytes"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|_| ServiceError::Internal("salt"))?;
    // Argon2::default() is argon2id v19, m = 19 MiB, t = 2, p = 1 (OWASP's minimum).
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| ServiceError::Internal("password hashing"))
}

fn password_matches(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

/// A hash to verify against when the account does not exist, so that an
/// unknown username takes as long as a wrong password.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let password = random_token().unwrap_or_else(|_| "tessera-dummy-password".into());
        hash_password(&password).unwrap_or_default()
    })
}

fn user_view(row: &AdminUserRow) -> Value {
    json!({
        "username": row.username,
        "tenant": row.tenant_id,
        "role": if row.tenant_id.is_some() { "tenant-admin" } else { "global-admin" },
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    })
}

impl Services {
    /// Creates an account; `tenant` `None` makes a global admin.
    pub fn create_admin_user(
        &self,
        username: &str,
        tenant: Option<&str>,
        password: &str,
        audit: &AuditEntry,
    ) -> Result<Value, ServiceError> {
        let username = normalize_username(username)?;
        check_password(password)?;
        if let Some(t) = tenant {
            super::tenant_must_parse(t)?;
            self.store.get_tenant(t)?.ok_or(ServiceError::NotFound("tenant"))?;
        }
        let now = now_secs();
        let row = AdminUserRow {
            username: username.clone(),
            tenant_id: tenant.map(str::to_owned),
            password_hash: hash_password(password)?,
            created_at: now,
            updated_at: now,
        };
        let entry = audit.action("admin_user.create", tenant.unwrap_or(SYSTEM_TENANT), Some(&username));
        match self.store.create_admin_user(row.clone(), &entry) {
            Ok(()) => Ok(user_view(&row)),
            Err(StoreError::Conflict) => Err(ServiceError::Conflict(format!("user {username} already exists"))),
            Err(e) => Err(e.into()),
        }
    }

    /// Sets a new password and signs the account out everywhere.
    pub fn reset_admin_password(&self, username: &str, password: &str, audit: &AuditEntry) -> Result<(), ServiceError> {
        let username = normalize_username(username)?;
        check_password(password)?;
        let row = self
            .store
            .get_admin_user(&username)?
            .ok_or(ServiceError::NotFound("user"))?;
        let entry = audit.action(
            "admin_user.reset_password",
            row.tenant_id.as_deref().unwrap_or(SYSTEM_TENANT),
            Some(&username),
        );
        self.store
            .set_admin_password(&username, &hash_password(password)?, &entry, now_secs())?;
        Ok(())
    }

    pub fn list_admin_users(&self) -> Result<Vec<Value>, ServiceError> {
        Ok(self.store.list_admin_users()?.iter().map(user_view).collect())
    }

    pub fn delete_admin_user(&self, username: &str, audit: &AuditEntry) -> Result<(), ServiceError> {
        let username = normalize_username(username)?;
        let row = self
            .store
            .get_admin_user(&username)?
            .ok_or(ServiceError::NotFound("user"))?;
        let entry = audit.action(
            "admin_user.delete",
            row.tenant_id.as_deref().unwrap_or(SYSTEM_TENANT),
            Some(&username),
        );
        self.store.delete_admin_user(&username, &entry, now_secs())?;
        Ok(())
    }

    /// Checks a sign-in. Throttling is decided before the password is
    /// looked at, by the same rule whether or not the account exists.
    pub fn login(
        &self,
        username: &str,
        password: &str,
        source: &str,
        policy: &SessionPolicy,
    ) -> Result<LoginOutcome, ServiceError> {
        let now = now_secs();
        let name = normalize_username(username).ok();
        // Unusable names share one throttle bucket (they can never succeed).
        let account_key = format!("acct:{}", name.as_deref().unwrap_or("-"));
        let address_key = format!("addr:{source}");
        let since = now - policy.throttle_window_secs;
        if self.store.count_login_failures(&account_key, since)? >= policy.max_failures_per_account
            || self.store.count_login_failures(&address_key, since)? >= policy.max_failures_per_address
        {
            return Ok(LoginOutcome::Throttled);
        }
        let user = match &name {
            Some(n) => self.store.get_admin_user(n)?,
            None => None,
        };
        let hash = user
            .as_ref()
            .map_or_else(|| dummy_hash().to_owned(), |u| u.password_hash.clone());
        let matches = password.len() <= MAX_PASSWORD_BYTES && password_matches(password, &hash);
        let Some(user) = user.filter(|_| matches) else {
            self.store.record_login_failure(&[&account_key, &address_key], now)?;
            return Ok(LoginOutcome::Invalid);
        };
        self.store.clear_login_failures(&account_key)?;
        let cookie = random_token()?;
        let session = AdminSession {
            id_hash: session_id_hash(&cookie),
            username: user.username.clone(),
            csrf_token: random_token()?,
            created_at: now,
            last_seen_at: now,
            source: Some(source.to_owned()),
        };
        self.store.create_admin_session(&session)?;
        Ok(LoginOutcome::Success {
            cookie,
            user: SignedIn {
                username: user.username,
                tenant: user.tenant_id,
                csrf_token: session.csrf_token,
                session_id_hash: session.id_hash,
            },
        })
    }

    /// The account behind a session cookie, if the session is still valid;
    /// an expired session is deleted.
    pub fn session(&self, cookie: &str, policy: &SessionPolicy) -> Result<Option<SignedIn>, ServiceError> {
        let id_hash = session_id_hash(cookie);
        let Some((session, user)) = self.store.get_admin_session(&id_hash)? else {
            return Ok(None);
        };
        let now = now_secs();
        if now - session.last_seen_at > policy.idle_timeout_secs || now - session.created_at > policy.max_lifetime_secs
        {
            self.store.delete_admin_session(&id_hash)?;
            return Ok(None);
        }
        if now - session.last_seen_at >= TOUCH_INTERVAL_SECS {
            self.store.touch_admin_session(&id_hash, now)?;
        }
        Ok(Some(SignedIn {
            username: user.username,
            tenant: user.tenant_id,
            csrf_token: session.csrf_token,
            session_id_hash: id_hash,
        }))
    }

    pub fn logout(&self, session_id_hash: &str) -> Result<(), ServiceError> {
        Ok(self.store.delete_admin_session(session_id_hash)?)
    }

    /// Drops expired sessions and old sign-in failures.
    pub fn purge_admin_state(&self, policy: &SessionPolicy) -> Result<(), ServiceError> {
        let now = now_secs();
        self.store
            .purge_admin_sessions(now - policy.idle_timeout_secs, now - policy.max_lifetime_secs)?;
        self.store.purge_login_failures(now - policy.throttle_window_secs)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_normalized_and_checked() {
        assert_eq!(
            normalize_username(" Alice@Example ").ok().as_deref(),
            Some("alice@example")
        );
        for bad in ["", "a b", "a/b", "ä", &"x".repeat(65)] {
            assert!(normalize_username(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("correct horse battery").expect("hash");
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(password_matches("correct horse battery", &h));
        assert!(!password_matches("correct horse batterx", &h));
        assert!(!password_matches("x", "not a phc string"));
        assert!(check_password("short").is_err());
        assert!(check_password("twelve chars").is_ok());
    }
}

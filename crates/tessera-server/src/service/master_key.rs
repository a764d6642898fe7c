//! What hangs on the master key: the server's own keys (stored sealed under
//! it), the check that the configured key is this database's, and its
//! rotation (`tessera keys rewrap`).
//!
//! The client-secret hashing key is not derived from the master key on each
//! start (as it was before `server_keys` existed) but stored sealed: a
//! rotation re-seals it, so every stored secret hash keeps verifying. A
//! database that predates the table gets, at its first start, exactly the
//! key it always used: the one derived from its master key.

use super::{ServiceError, Services};
use tessera_clientauth::SecretHasher;
use tessera_core::time::now_secs;
use tessera_store::{AuditEntry, ResealCounts, SealedItem, SealedPlace, Store};
use tessera_token::MasterKey;

/// `server_keys` name of the client-secret hashing key.
const SECRET_HASH_KEY: &str = "client-secret-hash";
/// Label of the key derived from the master key for hashing client secrets
/// (before `server_keys`, and for a database's first start since).
const SECRET_HASH_LABEL: &str = "tessera/client-secret-hash/v1";

fn server_key_aad(name: &str) -> Vec<u8> {
    format!("tessera-server-key:{name}").into_bytes()
}

/// The AAD a sealed value was sealed with, from where it lives.
fn aad_of(place: &SealedPlace) -> Vec<u8> {
    match place {
        SealedPlace::SigningKey { tenant, kid } => tessera_token::sealing_aad(tenant, kid),
        SealedPlace::ClientSecret { tenant, client, id } => super::secret_aad(tenant, client, id),
        SealedPlace::PendingSecret { session_id_hash } => super::admin_users::stash_aad(session_id_hash),
        SealedPlace::ServerKey { name } => server_key_aad(name),
    }
}

fn wrong_key(detail: &str) -> ServiceError {
    ServiceError::WrongMasterKey(format!(
        "the master key does not open this database's {detail}: it is not the key the database was \
         created with or last rewrapped to (after `tessera keys rewrap`, every instance must start \
         with the new key)"
    ))
}

/// The client-secret hasher: the stored key, opened with `master`; on a
/// database without one, the key derived from `master` is stored first,
/// once `master` has proved to open the signing keys already there.
pub(crate) fn load_secret_hasher(store: &Store, master: &MasterKey) -> Result<SecretHasher, ServiceError> {
    let aad = server_key_aad(SECRET_HASH_KEY);
    if store.get_server_key(SECRET_HASH_KEY)?.is_none() {
        if let Some(existing) = store.any_sealed_signing_key()? {
            master
                .open(&existing.sealed, &aad_of(&existing.place))
                .map_err(|_| wrong_key("signing keys"))?;
        }
        let derived = master.derive(SECRET_HASH_LABEL);
        let sealed = master.seal(derived.as_slice(), &aad)?;
        store.add_server_key_if_absent(SECRET_HASH_KEY, &sealed, now_secs())?;
    }
    let sealed = store
        .get_server_key(SECRET_HASH_KEY)?
        .ok_or(ServiceError::Internal("client-secret hashing key vanished"))?;
    let key = master.open(&sealed, &aad).map_err(|_| wrong_key("sealed keys"))?;
    let key: &[u8; 32] = key
        .as_slice()
        .try_into()
        .map_err(|_| ServiceError::Internal("client-secret hashing key is not 32 bytes"))?;
    Ok(SecretHasher::new(key))
}

impl Services {
    /// Re-seals every sealed value of every tenant (signing keys,
    /// `client_secret_jwt` secrets, admin UI pending secrets, server keys)
    /// from the current master key to `new`, in one transaction: each value
    /// is opened with the current key and proved to open with the new one
    /// before anything is committed. Nothing else changes: secret hashes,
    /// key ids and tokens already issued stay valid.
    pub fn rewrap_master_key(&self, new: &MasterKey, audit: &AuditEntry) -> Result<ResealCounts, ServiceError> {
        if new.same_as(&self.master) {
            return Err(ServiceError::Invalid(
                "the new master key is the current one: nothing to rewrap".into(),
            ));
        }
        let entry = AuditEntry {
            action: "master_key.rewrap".into(),
            ..audit.clone()
        };
        let reseal = |item: &SealedItem| {
            self.master
                .reseal(new, &item.sealed, &aad_of(&item.place))
                .map_err(|e| format!("{}: {e}; nothing was changed", item.place))
        };
        let counts = self.store.reseal_all(reseal, &entry, now_secs())?;
        tracing::info!(
            signing_keys = counts.signing_keys,
            client_secrets = counts.client_secrets,
            pending_secrets = counts.pending_secrets,
            server_keys = counts.server_keys,
            "master key rewrapped"
        );
        Ok(counts)
    }

    /// The sealed values `master` cannot open (empty: the database is
    /// entirely under `master`).
    pub fn sealed_values_not_opened_by(&self, master: &MasterKey) -> Result<Vec<String>, ServiceError> {
        Ok(self
            .store
            .list_sealed()?
            .into_iter()
            .filter(|item| master.open(&item.sealed, &aad_of(&item.place)).is_err())
            .map(|item| item.place.to_string())
            .collect())
    }
}

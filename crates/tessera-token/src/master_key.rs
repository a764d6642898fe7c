//! The master key: 32 random bytes from the operator. Sub-keys for each use
//! are derived from it with HMAC-SHA256, so a leak of one derived key does
//! not expose the others. The key, its derived keys and every opened value
//! are wiped from memory when dropped (`zeroize`).

use crate::error::TokenError;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use openssl::symm::{decrypt_aead, encrypt_aead, Cipher};
use zeroize::{Zeroize, Zeroizing};

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl Drop for MasterKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    /// Parses base64 of exactly 32 bytes (surrounding white space ignored).
    pub fn from_base64(encoded: &str) -> Result<Self, TokenError> {
        let bytes = Zeroizing::new(
            STANDARD
                .decode(encoded.trim())
                .map_err(|_| TokenError::MasterKey("not valid base64".into()))?,
        );
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| TokenError::MasterKey("must be base64 of exactly 32 bytes".into()))?;
        Ok(Self(key))
    }

    pub fn generate() -> Result<Self, TokenError> {
        let mut key = [0u8; 32];
        openssl::rand::rand_bytes(&mut key).map_err(|e| TokenError::MasterKey(e.to_string()))?;
        Ok(Self(key))
    }

    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(self.0))
    }

    /// Whether `other` is this very key (compared in constant time).
    pub fn same_as(&self, other: &MasterKey) -> bool {
        openssl::memcmp::eq(&self.0, &other.0)
    }

    /// A 32-byte key for one purpose, named by `label`.
    pub fn derive(&self, label: &str) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0u8; 32]);
        // HMAC with a 32-byte key over a short label cannot fail in openssl.
        #[allow(clippy::expect_used)]
        {
            let pkey = PKey::hmac(&self.0).expect("HMAC key");
            let mut signer = Signer::new(MessageDigest::sha256(), &pkey).expect("HMAC signer");
            signer.update(label.as_bytes()).expect("HMAC update");
            let mac = Zeroizing::new(signer.sign_to_vec().expect("HMAC final"));
            out.copy_from_slice(&mac);
        }
        out
    }

    fn sealing_key(&self) -> Zeroizing<[u8; 32]> {
        self.derive("tessera/signing-key-encryption/v1")
    }

    /// AES-256-GCM: `base64(nonce || ciphertext || tag)`. `aad` binds the
    /// ciphertext to its record (tenant and kid), so a sealed key cannot be
    /// moved to another tenant's row.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<String, TokenError> {
        let mut nonce = [0u8; NONCE_LEN];
        openssl::rand::rand_bytes(&mut nonce).map_err(|e| TokenError::Key(e.to_string()))?;
        let mut tag = [0u8; TAG_LEN];
        let ct = encrypt_aead(
            Cipher::aes_256_gcm(),
            self.sealing_key().as_slice(),
            Some(&nonce),
            aad,
            plaintext,
            &mut tag,
        )
        .map_err(|e| TokenError::Key(e.to_string()))?;
        let mut out = Vec::with_capacity(NONCE_LEN + ct.len() + TAG_LEN);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out.extend_from_slice(&tag);
        Ok(STANDARD.encode(out))
    }

    /// The plaintext of `sealed`, wiped from memory when dropped.
    pub fn open(&self, sealed: &str, aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, TokenError> {
        let raw = STANDARD.decode(sealed).map_err(|_| TokenError::Unseal)?;
        if raw.len() < NONCE_LEN + TAG_LEN {
            return Err(TokenError::Unseal);
        }
        let (nonce, rest) = raw.split_at(NONCE_LEN);
        let (ct, tag) = rest.split_at(rest.len() - TAG_LEN);
        decrypt_aead(
            Cipher::aes_256_gcm(),
            self.sealing_key().as_slice(),
            Some(nonce),
            aad,
            ct,
            tag,
        )
        .map(Zeroizing::new)
        .map_err(|_| TokenError::Unseal)
    }

    /// Re-encrypts `sealed` (bound to `aad`) from this key to `new`, and
    /// proves the result opens under `new` to the same plaintext before
    /// handing it back: a master key rotation never stores what it cannot read.
    pub fn reseal(&self, new: &MasterKey, sealed: &str, aad: &[u8]) -> Result<String, TokenError> {
        let plaintext = self.open(sealed, aad)?;
        let resealed = new.seal(&plaintext, aad)?;
        let reopened = new.open(&resealed, aad)?;
        // `memcmp::eq` needs equal lengths: compare those first.
        if plaintext.len() != reopened.len() || !openssl::memcmp::eq(&plaintext, &reopened) {
            return Err(TokenError::Key("re-sealed value does not open to the original".into()));
        }
        Ok(resealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trip_and_tamper_detection() {
        let k = MasterKey::generate().unwrap();
        let sealed = k.seal(b"private key", b"acme/kid1").unwrap();
        assert!(!sealed.contains("private"));
        assert_eq!(k.open(&sealed, b"acme/kid1").unwrap().as_slice(), b"private key");
        // Wrong record, wrong key, altered bytes: all refused.
        assert!(k.open(&sealed, b"other/kid1").is_err());
        assert!(MasterKey::generate().unwrap().open(&sealed, b"acme/kid1").is_err());
        let mut raw = STANDARD.decode(&sealed).unwrap();
        raw[14] ^= 1;
        assert!(k.open(&STANDARD.encode(raw), b"acme/kid1").is_err());
        assert!(k.open("short", b"x").is_err());
    }

    #[test]
    fn parses_only_32_bytes() {
        let k = MasterKey::generate().unwrap();
        assert!(MasterKey::from_base64(&format!(" {}\n", k.to_base64().as_str())).is_ok());
        assert!(MasterKey::from_base64(&STANDARD.encode([0u8; 16])).is_err());
        assert!(MasterKey::from_base64("not base64!").is_err());
    }

    #[test]
    fn reseal_moves_a_value_to_the_new_key_only() {
        let old = MasterKey::generate().unwrap();
        let new = MasterKey::generate().unwrap();
        let sealed = old.seal(b"der", b"acme/kid1").unwrap();
        let moved = old.reseal(&new, &sealed, b"acme/kid1").unwrap();
        assert_eq!(new.open(&moved, b"acme/kid1").unwrap().as_slice(), b"der");
        assert!(old.open(&moved, b"acme/kid1").is_err());
        // The binding to the record survives the move.
        assert!(new.open(&moved, b"other/kid1").is_err());
        // A value the old key cannot open is refused, not re-sealed.
        assert!(new.reseal(&old, &sealed, b"acme/kid1").is_err());
        assert!(old.reseal(&new, &sealed, b"other/kid1").is_err());
    }

    #[test]
    fn same_as_compares_the_key_bytes() {
        let k = MasterKey::generate().unwrap();
        let copy = MasterKey::from_base64(&k.to_base64()).unwrap();
        assert!(k.same_as(&copy));
        assert!(!k.same_as(&MasterKey::generate().unwrap()));
    }

    #[test]
    fn derived_keys_differ_by_label() {
        let k = MasterKey::generate().unwrap();
        assert_ne!(k.derive("a"), k.derive("b"));
        assert_eq!(k.derive("a"), k.derive("a"));
    }
}

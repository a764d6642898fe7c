//! Mutual TLS client authentication (RFC 8705 §2): `tls_client_auth`
//! (a chain to one of the tenant's trust anchors, plus the one registered
//! subject DN or SAN) and `self_signed_tls_client_auth` (the exact
//! certificate registered in the client's JWK Set `x5c`), and the
//! certificate thumbprint that binds tokens (`cnf.x5t#S256`).

use crate::dn::DistinguishedName;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use openssl::stack::Stack;
use openssl::x509::store::{X509Store, X509StoreBuilder};
use openssl::x509::{CrlStatus, X509Crl, X509PurposeId, X509StoreContext, X509};
use serde_json::Value;
use std::net::IpAddr;
use tessera_core::OAuthError;
use x509_parser::extensions::GeneralName;

/// Longest chain read from a peer.
pub const MAX_CHAIN: usize = 8;

/// `base64url(SHA-256(DER))`: RFC 8705 §3.1 `x5t#S256`.
pub fn thumbprint_s256(der: &[u8]) -> String {
    // ring's SHA-256 (SHA extensions where the CPU has them): OpenSSL's
    // took 3 % of a bound token request's CPU for this one hash.
    URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, der))
}

/// A tenant's CA certificates, as an OpenSSL store checking chains for the
/// TLS client purpose (validity, basic constraints and key usage included).
pub struct TrustAnchors {
    store: X509Store,
    count: usize,
    /// CRLs registered with the anchors (each checked against its CA at registration).
    crls: Vec<X509Crl>,
}

impl std::fmt::Debug for TrustAnchors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustAnchors").field("count", &self.count).finish()
    }
}

/// A CRL to keep with an anchor: PEM, signed by that anchor.
pub fn check_crl(anchor_pem: &str, crl_pem: &str) -> Result<(), String> {
    let anchor = X509::from_pem(anchor_pem.as_bytes()).map_err(|_| "the anchor is not a PEM certificate".to_owned())?;
    let crl = X509Crl::from_pem(crl_pem.as_bytes()).map_err(|_| "not a PEM CRL".to_owned())?;
    let key = anchor.public_key().map_err(|e| e.to_string())?;
    if !crl.verify(&key).unwrap_or(false) {
        return Err("the CRL is not signed by this anchor".into());
    }
    Ok(())
}

/// A CA certificate to trust, checked: one PEM certificate with
/// `basicConstraints CA:TRUE`. Answers its subject (RFC 4514-ish) and expiry.
pub fn check_anchor(pem: &str) -> Result<(String, i64), String> {
    let certs = X509::stack_from_pem(pem.as_bytes()).map_err(|_| "not a PEM certificate".to_owned())?;
    let [cert] = certs.as_slice() else {
        return Err("give exactly one certificate".into());
    };
    let der = cert.to_der().map_err(|e| e.to_string())?;
    let (_, parsed) = x509_parser::parse_x509_certificate(&der).map_err(|_| "unparsable certificate".to_owned())?;
    if !parsed.is_ca() {
        return Err("not a CA certificate (basicConstraints CA:TRUE missing)".into());
    }
    Ok((parsed.subject().to_string(), parsed.validity().not_after.timestamp()))
}

impl TrustAnchors {
    /// From the anchors' PEM certificates and their optional PEM CRLs.
    pub fn build(anchors: &[(&str, Option<&str>)]) -> Result<Self, String> {
        let mut builder = X509StoreBuilder::new().map_err(|e| e.to_string())?;
        let mut count = 0;
        let mut crls = Vec::new();
        for (pem, crl) in anchors {
            for cert in X509::stack_from_pem(pem.as_bytes()).map_err(|e| e.to_string())? {
                builder.add_cert(cert).map_err(|e| e.to_string())?;
                count += 1;
            }
            if let Some(crl) = crl {
                crls.push(X509Crl::from_pem(crl.as_bytes()).map_err(|e| e.to_string())?);
            }
        }
        builder
            .set_purpose(X509PurposeId::SSL_CLIENT)
            .map_err(|e| e.to_string())?;
        Ok(Self {
            store: builder.build(),
            count,
            crls,
        })
    }

    /// Is any certificate of the chain listed in a CRL of its issuer?
    fn revoked(&self, chain: &[X509]) -> bool {
        chain.iter().any(|cert| {
            let issuer = cert.issuer_name().to_der().unwrap_or_default();
            self.crls.iter().any(|crl| {
                crl.issuer_name().to_der().unwrap_or_default() == issuer
                    && matches!(crl.get_by_cert(cert), CrlStatus::Revoked(_))
            })
        })
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Validates `chain` (leaf first; the rest are candidate intermediates).
    pub fn verify(&self, chain: &[Vec<u8>]) -> Result<(), OAuthError> {
        let refuse = |why: String| OAuthError::invalid_client(format!("the client certificate is not trusted: {why}"));
        let (leaf, rest) = chain.split_first().ok_or_else(|| refuse("no certificate".into()))?;
        let leaf = X509::from_der(leaf).map_err(|_| refuse("unparsable certificate".into()))?;
        let mut intermediates = Stack::new().map_err(|e| refuse(e.to_string()))?;
        for der in rest.iter().take(MAX_CHAIN) {
            let cert = X509::from_der(der).map_err(|_| refuse("unparsable intermediate".into()))?;
            intermediates.push(cert).map_err(|e| refuse(e.to_string()))?;
        }
        let mut ctx = X509StoreContext::new().map_err(|e| refuse(e.to_string()))?;
        let outcome = ctx
            .init(&self.store, &leaf, &intermediates, |c| {
                let ok = c.verify_cert()?;
                Ok((ok, c.error()))
            })
            .map_err(|e| refuse(e.to_string()))?;
        match outcome {
            (true, _) => {
                let mut all = vec![leaf];
                all.extend(intermediates);
                if self.revoked(&all) {
                    return Err(refuse("the certificate is revoked".into()));
                }
                Ok(())
            }
            (false, err) => Err(refuse(err.error_string().to_owned())),
        }
    }
}

/// The one thing a `tls_client_auth` client registered about its certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateMatch {
    SubjectDn(DistinguishedName),
    SanDns(String),
    SanUri(String),
    SanIp(IpAddr),
    SanEmail(String),
}

impl CertificateMatch {
    /// From the registered metadata field and value.
    pub fn from_metadata(field: &str, value: &str) -> Result<Self, String> {
        Ok(match field {
            "tls_client_auth_subject_dn" => {
                CertificateMatch::SubjectDn(DistinguishedName::parse(value).map_err(|e| e.to_string())?)
            }
            "tls_client_auth_san_dns" => CertificateMatch::SanDns(value.to_ascii_lowercase()),
            "tls_client_auth_san_uri" => CertificateMatch::SanUri(value.to_owned()),
            "tls_client_auth_san_ip" => {
                CertificateMatch::SanIp(value.parse().map_err(|_| "not an IP address".to_owned())?)
            }
            "tls_client_auth_san_email" => CertificateMatch::SanEmail(value.to_owned()),
            _ => return Err("unknown field".into()),
        })
    }

    /// Does the leaf certificate carry the registered name?
    pub fn matches(&self, leaf_der: &[u8]) -> bool {
        let Ok((_, cert)) = x509_parser::parse_x509_certificate(leaf_der) else {
            return false;
        };
        if let CertificateMatch::SubjectDn(expected) = self {
            return DistinguishedName::from_x509(cert.subject()).as_ref() == Some(expected);
        }
        let Ok(Some(san)) = cert.subject_alternative_name() else {
            return false;
        };
        san.value.general_names.iter().any(|name| match (self, name) {
            (CertificateMatch::SanDns(d), GeneralName::DNSName(n)) => n.eq_ignore_ascii_case(d),
            (CertificateMatch::SanUri(u), GeneralName::URI(n)) => n == u,
            (CertificateMatch::SanEmail(e), GeneralName::RFC822Name(n)) => n == e,
            (CertificateMatch::SanIp(ip), GeneralName::IPAddress(bytes)) => match (ip, bytes.len()) {
                (IpAddr::V4(v4), 4) => v4.octets() == **bytes,
                (IpAddr::V6(v6), 16) => v6.octets() == **bytes,
                _ => false,
            },
            _ => false,
        })
    }
}

/// `tls_client_auth`: trusted chain and the registered name.
pub fn verify_tls_client_auth(
    anchors: &TrustAnchors,
    chain: &[Vec<u8>],
    expected: &CertificateMatch,
) -> Result<i64, OAuthError> {
    if anchors.is_empty() {
        return Err(OAuthError::invalid_client(
            "the tenant has no trust anchors for tls_client_auth",
        ));
    }
    anchors.verify(chain)?;
    if !expected.matches(&chain[0]) {
        return Err(OAuthError::invalid_client(
            "the client certificate does not carry the registered subject or SAN",
        ));
    }
    let not_after = x509_parser::parse_x509_certificate(&chain[0])
        .map(|(_, c)| c.validity().not_after.timestamp())
        .unwrap_or(0);
    Ok(not_after)
}

/// The certificates (DER) a JWK Set registers in `x5c`.
pub fn x5c_certificates(jwks: &Value) -> Vec<Vec<u8>> {
    jwks.get("keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|k| k.get("x5c")?.as_array()?.first()?.as_str())
        .filter_map(|b64| STANDARD.decode(b64).ok())
        .collect()
}

/// `self_signed_tls_client_auth`: the presented certificate is, byte for
/// byte, one of those registered.
pub fn verify_self_signed(registered: &[Vec<u8>], chain: &[Vec<u8>]) -> Result<(), OAuthError> {
    let leaf = chain
        .first()
        .ok_or_else(|| OAuthError::invalid_client("a client certificate is required"))?;
    if registered
        .iter()
        .any(|r| openssl::memcmp::eq(&openssl::sha::sha256(r), &openssl::sha::sha256(leaf)))
    {
        Ok(())
    } else {
        Err(OAuthError::invalid_client(
            "the client certificate is not one registered for this client",
        ))
    }
}

/// Accepts any client certificate chain at the TLS layer (it is validated
/// per tenant by the application, so that every certificate problem becomes
/// an OAuth `invalid_client`, not a failed handshake), but still checks the
/// handshake signature: the proof that the client holds the private key.
#[derive(Debug)]
pub struct AcceptAnyClientCert {
    provider: std::sync::Arc<rustls::crypto::CryptoProvider>,
}

impl AcceptAnyClientCert {
    pub fn new(provider: std::sync::Arc<rustls::crypto::CryptoProvider>) -> Self {
        Self { provider }
    }
}

impl rustls::server::danger::ClientCertVerifier for AcceptAnyClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::server::danger::ClientCertVerified, rustls::Error> {
        Ok(rustls::server::danger::ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// The crypto provider of Tessera's TLS servers: ring, with the cipher
/// suites hashed with SHA-256 first, and the server's order deciding.
///
/// rustls's default order (and most clients') starts with
/// `TLS_AES_256_GCM_SHA384`, whose key schedule hashes with SHA-384; on CPUs
/// with SHA-256 instructions but none for SHA-512 that hashing was 7 % of a
/// full mTLS handshake's CPU. `TLS_AES_128_GCM_SHA256` is the suite every
/// TLS 1.3 implementation must support (RFC 8446 §9.1); every suite stays
/// on offer, only the preference changes.
pub fn server_provider() -> rustls::crypto::CryptoProvider {
    let mut provider = rustls::crypto::ring::default_provider();
    provider.cipher_suites.sort_by_key(|suite| {
        let common = match suite {
            rustls::SupportedCipherSuite::Tls13(s) => &s.common,
            rustls::SupportedCipherSuite::Tls12(s) => &s.common,
        };
        common.hash_provider.algorithm() != rustls::crypto::hash::HashAlgorithm::SHA256
    });
    provider
}

/// A rustls server configuration from PEM files that asks for (does not
/// require) a client certificate and accepts any chain, checking only the
/// handshake signature ([`AcceptAnyClientCert`]). `alpn`: the protocols to offer.
pub fn accept_any_client_cert_config(
    cert_pem: &std::path::Path,
    key_pem: &std::path::Path,
    alpn: &[&[u8]],
) -> Result<rustls::ServerConfig, String> {
    let certified = load_certified_key(cert_pem, key_pem)?;
    accept_any_client_cert_config_with(
        std::sync::Arc::new(server_provider()),
        std::sync::Arc::new(rustls::sign::SingleCertAndKey::from(certified)),
        alpn,
    )
}

/// The same, with the crypto provider given (normally [`server_provider`]
/// or one built on it) and the server certificate chosen by `resolver`
/// (e.g. one that can be reloaded while the server runs).
pub fn accept_any_client_cert_config_with(
    provider: std::sync::Arc<rustls::crypto::CryptoProvider>,
    resolver: std::sync::Arc<dyn rustls::server::ResolvesServerCert>,
    alpn: &[&[u8]],
) -> Result<rustls::ServerConfig, String> {
    let verifier = std::sync::Arc::new(AcceptAnyClientCert::new(provider.clone()));
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(resolver);
    config.ignore_client_order = true;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

/// A certificate chain and its private key from PEM files, checked to match.
pub fn load_certified_key(
    cert_pem: &std::path::Path,
    key_pem: &std::path::Path,
) -> Result<rustls::sign::CertifiedKey, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_pem)
        .map_err(|e| format!("{}: {e}", cert_pem.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", cert_pem.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate found", cert_pem.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key_pem).map_err(|e| format!("{}: {e}", key_pem.display()))?;
    rustls::sign::CertifiedKey::from_der(certs, key, &rustls::crypto::ring::default_provider())
        .map_err(|e| format!("{} / {}: {e}", cert_pem.display(), key_pem.display()))
}

#[cfg(test)]
mod thumbprint_tests {
    #[test]
    fn the_thumbprint_is_the_base64url_sha256_of_the_der() {
        // FIPS 180-2's "abc" vector, base64url without padding (RFC 8705 §3.1).
        assert_eq!(
            super::thumbprint_s256(b"abc"),
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        );
        let der = vec![0x30u8; 1500];
        assert_eq!(
            super::thumbprint_s256(&der),
            base64::engine::Engine::encode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                openssl::sha::sha256(&der)
            )
        );
    }
}

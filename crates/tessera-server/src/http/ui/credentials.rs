//! What the server understood of a client's credential fields, for the
//! admin to check: key ids and algorithms of a JWK Set, the components of a
//! subject DN, the subject, expiry and thumbprint of certificates.

use super::page::format_time;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};

pub struct ParsedKey {
    pub kid: String,
    pub algs: String,
}

pub struct ParsedCert {
    pub subject: String,
    pub not_after: String,
    pub thumbprint: String,
}

#[derive(Default)]
pub struct Parsed {
    pub keys: Vec<ParsedKey>,
    pub dn: Vec<String>,
    pub san: String,
    pub certs: Vec<ParsedCert>,
}

impl Parsed {
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.dn.is_empty() && self.san.is_empty() && self.certs.is_empty()
    }
}

pub fn describe_keys(keys: &tessera_clientauth::ClientKeySet) -> Vec<ParsedKey> {
    keys.summary()
        .into_iter()
        .map(|(kid, algs)| ParsedKey {
            kid: kid.unwrap_or_else(|| "(no kid)".into()),
            algs: algs.join(", "),
        })
        .collect()
}

/// A JWK Set's text, parsed as the token endpoint will use it.
pub fn describe_jwks(text: &str) -> Result<Vec<ParsedKey>, String> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| format!("not valid JSON (line {}, column {})", e.line(), e.column()))?;
    Ok(describe_keys(&tessera_clientauth::ClientKeySet::parse(&value)?))
}

/// The RDNs of a DN as compared (normalized), most specific first.
pub fn describe_dn(dn: &str) -> Vec<String> {
    tessera_clientauth::dn::DistinguishedName::parse(dn)
        .map(|dn| {
            dn.components()
                .iter()
                .map(|rdn| {
                    rdn.iter()
                        .map(|(k, v)| format!("{k} = {v}"))
                        .collect::<Vec<_>>()
                        .join(" + ")
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Certificates of a PEM text (1 to 10).
fn pem_certificates(pem: &str) -> Result<Vec<openssl::x509::X509>, String> {
    if pem.is_empty() {
        return Err("paste or upload the client's certificate (PEM)".into());
    }
    if pem.len() > 64 * 1024 {
        return Err("at most 64 KiB of PEM".into());
    }
    let certs = openssl::x509::X509::stack_from_pem(pem.as_bytes())
        .map_err(|_| "not a PEM certificate (-----BEGIN CERTIFICATE-----)".to_owned())?;
    if certs.is_empty() || certs.len() > 10 {
        return Err("give 1 to 10 certificates".into());
    }
    Ok(certs)
}

/// A JWK Set registering certificates for `self_signed_tls_client_auth`:
/// one key per certificate, with its `x5c`.
pub fn self_signed_jwks(pem: &str) -> Result<Value, String> {
    let mut keys = Vec::new();
    for cert in pem_certificates(pem)? {
        let kty = match cert.public_key().map(|k| k.id()) {
            Ok(openssl::pkey::Id::RSA) => "RSA",
            Ok(openssl::pkey::Id::EC) => "EC",
            Ok(openssl::pkey::Id::ED25519) => "OKP",
            _ => return Err("the certificate's key must be RSA, EC or Ed25519".into()),
        };
        let der = cert
            .to_der()
            .map_err(|_| "the certificate cannot be encoded".to_owned())?;
        keys.push(json!({ "kty": kty, "x5c": [STANDARD.encode(der)] }));
    }
    Ok(json!({ "keys": keys }))
}

pub fn describe_certificates(pem: &str) -> Result<Vec<ParsedCert>, String> {
    pem_certificates(pem)?
        .iter()
        .map(|cert| {
            let der = cert
                .to_der()
                .map_err(|_| "the certificate cannot be encoded".to_owned())?;
            let (_, x) =
                x509_parser::parse_x509_certificate(&der).map_err(|_| "not an X.509 certificate".to_owned())?;
            Ok(ParsedCert {
                subject: x.subject().to_string(),
                not_after: format_time(x.validity().not_after.timestamp()),
                thumbprint: tessera_clientauth::mtls::thumbprint_s256(&der),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_are_shown_as_compared() {
        assert_eq!(
            describe_dn("CN=Partner-1,  O=Example\\, Inc."),
            vec!["CN = partner-1", "O = example, inc."]
        );
        assert!(describe_dn("not a dn").is_empty());
    }

    #[test]
    fn broken_key_sets_say_where() {
        let e = describe_jwks("{\"keys\": [").err().unwrap_or_default();
        assert!(e.contains("line 1"), "{e}");
        assert!(describe_jwks("{\"keys\": []}").is_err());
    }

    #[test]
    fn certificates_must_be_pem() {
        assert!(self_signed_jwks("").is_err());
        assert!(self_signed_jwks("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----").is_err());
        assert!(describe_certificates("hello").is_err());
    }
}

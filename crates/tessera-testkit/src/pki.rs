//! Per-test PKI: CAs, client certificates (any subject, SANs, validity) and
//! self-signed certificates, made with OpenSSL; and HTTPS clients that
//! present them.

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName, SubjectKeyIdentifier,
};
use openssl::x509::{X509Name, X509};

/// A key and certificate.
pub struct Credential {
    pub cert: X509,
    pub key: PKey<Private>,
}

impl Credential {
    pub fn cert_pem(&self) -> String {
        String::from_utf8(self.cert.to_pem().unwrap()).unwrap()
    }

    pub fn der(&self) -> Vec<u8> {
        self.cert.to_der().unwrap()
    }

    /// A rustls client configuration from `builder` presenting this
    /// certificate, followed by `chain` (intermediates).
    pub fn tls_config(
        &self,
        builder: rustls::ConfigBuilder<rustls::ClientConfig, rustls::client::WantsClientCert>,
        chain: &[&Credential],
    ) -> rustls::ClientConfig {
        let mut certs = vec![rustls::pki_types::CertificateDer::from(self.der())];
        certs.extend(chain.iter().map(|c| rustls::pki_types::CertificateDer::from(c.der())));
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(self.key.private_key_to_pkcs8().unwrap().into());
        builder.with_client_auth_cert(certs, key).unwrap()
    }

    /// An HTTPS client (trusting the per-run server CA) presenting this
    /// certificate, followed by `chain` (intermediates).
    pub fn client(&self, chain: &[&Credential]) -> reqwest::Client {
        let tls = self.tls_config(crate::client_config_builder(), chain);
        reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .build()
            .unwrap()
    }
}

fn key() -> PKey<Private> {
    PKey::from_ec_key(EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap()).unwrap()
}

/// A subject from (short name, value) pairs, in ASN.1 order (C first, CN last).
pub fn name(parts: &[(&str, &str)]) -> X509Name {
    let mut b = X509Name::builder().unwrap();
    for (k, v) in parts {
        b.append_entry_by_text(k, v).unwrap();
    }
    b.build()
}

/// What a certificate says.
pub struct CertSpec<'a> {
    pub subject: &'a [(&'a str, &'a str)],
    pub dns: &'a [&'a str],
    pub uris: &'a [&'a str],
    pub ips: &'a [&'a str],
    pub emails: &'a [&'a str],
    /// Days from now: validity starts and ends.
    pub from_days: i32,
    pub to_days: i32,
}

impl Default for CertSpec<'_> {
    fn default() -> Self {
        Self {
            subject: &[("CN", "client")],
            dns: &[],
            uris: &[],
            ips: &[],
            emails: &[],
            from_days: -1,
            to_days: 30,
        }
    }
}

fn time(days: i32) -> Asn1Time {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    Asn1Time::from_unix(now + i64::from(days) * 86_400).unwrap()
}

fn build(spec: &CertSpec<'_>, issuer: Option<&Credential>, ca: bool) -> Credential {
    let key = key();
    let subject = name(spec.subject);
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    let mut serial = BigNum::new().unwrap();
    serial.rand(120, MsbOption::MAYBE_ZERO, false).unwrap();
    b.set_serial_number(&serial.to_asn1_integer().unwrap()).unwrap();
    b.set_subject_name(&subject).unwrap();
    match issuer {
        Some(i) => b.set_issuer_name(i.cert.subject_name()).unwrap(),
        None => b.set_issuer_name(&subject).unwrap(),
    }
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&time(spec.from_days)).unwrap();
    b.set_not_after(&time(spec.to_days)).unwrap();
    if ca {
        b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
            .unwrap();
        b.append_extension(KeyUsage::new().critical().key_cert_sign().crl_sign().build().unwrap())
            .unwrap();
        let ski = SubjectKeyIdentifier::new()
            .build(&b.x509v3_context(None, None))
            .unwrap();
        b.append_extension(ski).unwrap();
    } else {
        b.append_extension(BasicConstraints::new().build().unwrap()).unwrap();
        b.append_extension(KeyUsage::new().critical().digital_signature().build().unwrap())
            .unwrap();
        b.append_extension(ExtendedKeyUsage::new().client_auth().build().unwrap())
            .unwrap();
        let has_san = !(spec.dns.is_empty() && spec.uris.is_empty() && spec.ips.is_empty() && spec.emails.is_empty());
        if has_san {
            let mut san = SubjectAlternativeName::new();
            spec.dns.iter().for_each(|d| {
                san.dns(d);
            });
            spec.uris.iter().for_each(|u| {
                san.uri(u);
            });
            spec.ips.iter().for_each(|i| {
                san.ip(i);
            });
            spec.emails.iter().for_each(|e| {
                san.email(e);
            });
            let ext = san
                .build(&b.x509v3_context(issuer.map(|i| i.cert.as_ref()), None))
                .unwrap();
            b.append_extension(ext).unwrap();
        }
    }
    let signer = issuer.map(|i| &i.key).unwrap_or(&key);
    b.sign(signer, MessageDigest::sha256()).unwrap();
    crate::logs::register_private_key(&key);
    Credential { cert: b.build(), key }
}

/// A CA for client certificates.
pub fn ca(cn: &str) -> Credential {
    build(
        &CertSpec {
            subject: &[("O", "Test PKI"), ("CN", cn)],
            to_days: 365,
            ..CertSpec::default()
        },
        None,
        true,
    )
}

/// An intermediate CA signed by `parent`.
pub fn intermediate(parent: &Credential, cn: &str) -> Credential {
    build(
        &CertSpec {
            subject: &[("O", "Test PKI"), ("CN", cn)],
            to_days: 365,
            ..CertSpec::default()
        },
        Some(parent),
        true,
    )
}

/// A client certificate issued by `issuer`.
pub fn client_cert(issuer: &Credential, spec: &CertSpec<'_>) -> Credential {
    build(spec, Some(issuer), false)
}

/// A self-signed client certificate.
pub fn self_signed(spec: &CertSpec<'_>) -> Credential {
    build(spec, None, false)
}

/// A public JWK with the certificate in `x5c` (for self_signed_tls_client_auth).
pub fn x5c_jwk(cred: &Credential) -> serde_json::Value {
    use base64::Engine;
    let ec = cred.key.ec_key().unwrap();
    let mut ctx = openssl::bn::BigNumContext::new().unwrap();
    let (mut x, mut y) = (BigNum::new().unwrap(), BigNum::new().unwrap());
    ec.public_key()
        .affine_coordinates(ec.group(), &mut x, &mut y, &mut ctx)
        .unwrap();
    let b64 = |b: &BigNum| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b.to_vec_padded(32).unwrap());
    serde_json::json!({
        "kty": "EC", "crv": "P-256", "x": b64(&x), "y": b64(&y), "use": "sig",
        "x5c": [base64::engine::general_purpose::STANDARD.encode(cred.der())]
    })
}

/// A CRL issued by `ca` revoking `revoked` (PEM).
pub fn crl(ca: &Credential, revoked: &[&Credential]) -> String {
    use openssl::x509::{X509CrlBuilder, X509RevokedBuilder};
    let mut b = X509CrlBuilder::new().unwrap();
    b.set_issuer_name(ca.cert.subject_name()).unwrap();
    b.set_last_update(&time(-1)).unwrap();
    b.set_next_update(&time(7)).unwrap();
    let tmp = X509::builder().unwrap();
    let aki = AuthorityKeyIdentifier::new()
        .issuer(true)
        .build(&tmp.x509v3_context(Some(&ca.cert), None))
        .unwrap();
    b.append_extension(aki).unwrap();
    // cRLNumber (2.5.29.20) = INTEGER 1.
    let number = openssl::x509::X509Extension::new_from_der(
        &openssl::asn1::Asn1Object::from_str("2.5.29.20").unwrap(),
        false,
        &openssl::asn1::Asn1OctetString::new_from_bytes(&[0x02, 0x01, 0x01]).unwrap(),
    )
    .unwrap();
    b.append_extension(number).unwrap();
    for cred in revoked {
        let mut r = X509RevokedBuilder::new().unwrap();
        r.set_serial_number(cred.cert.serial_number()).unwrap();
        r.set_revocation_date(&time(0)).unwrap();
        b.add_revoked(r.build()).unwrap();
    }
    b.sign(&ca.key, MessageDigest::sha256()).unwrap();
    String::from_utf8(b.build().unwrap().to_pem().unwrap()).unwrap()
}

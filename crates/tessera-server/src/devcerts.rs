//! Development PKI: a local CA and a server certificate for localhost and
//! 127.0.0.1, so the demo speaks real TLS with no set-up. Never for production.

use crate::master_key::write_private_file;
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
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct DevCerts {
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

impl DevCerts {
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            ca_cert: dir.join("ca.pem"),
            ca_key: dir.join("ca.key"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server.key"),
        }
    }

    fn all_exist(&self) -> bool {
        [&self.ca_cert, &self.ca_key, &self.server_cert, &self.server_key]
            .iter()
            .all(|p| p.exists())
    }
}

fn e(err: impl std::fmt::Display) -> String {
    err.to_string()
}

fn new_key() -> Result<PKey<Private>, String> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).map_err(e)?;
    PKey::from_ec_key(EcKey::generate(&group).map_err(e)?).map_err(e)
}

/// `CN=<cn>, O=Tessera development` (RFC 4514 order).
fn name(cn: &str) -> Result<X509Name, String> {
    let mut b = X509Name::builder().map_err(e)?;
    b.append_entry_by_nid(Nid::ORGANIZATIONNAME, "Tessera development")
        .map_err(e)?;
    b.append_entry_by_nid(Nid::COMMONNAME, cn).map_err(e)?;
    Ok(b.build())
}

fn serial() -> Result<openssl::asn1::Asn1Integer, String> {
    let mut bn = BigNum::new().map_err(e)?;
    bn.rand(127, MsbOption::MAYBE_ZERO, false).map_err(e)?;
    bn.to_asn1_integer().map_err(e)
}

/// Creates the development CA and server certificate in `dir` unless all
/// four files exist (or `force`). Returns their paths.
pub fn ensure(dir: &Path, force: bool) -> Result<(DevCerts, bool), String> {
    let paths = DevCerts::in_dir(dir);
    if paths.all_exist() && !force {
        return Ok((paths, false));
    }
    std::fs::create_dir_all(dir).map_err(|err| format!("{}: {err}", dir.display()))?;

    let ca_key = new_key()?;
    let ca_name = name("Tessera Development CA")?;
    let mut ca = X509::builder().map_err(e)?;
    ca.set_version(2).map_err(e)?;
    let ca_serial = serial()?;
    ca.set_serial_number(&ca_serial).map_err(e)?;
    ca.set_subject_name(&ca_name).map_err(e)?;
    ca.set_issuer_name(&ca_name).map_err(e)?;
    ca.set_pubkey(&ca_key).map_err(e)?;
    let ca_before = Asn1Time::days_from_now(0).map_err(e)?;
    ca.set_not_before(&ca_before).map_err(e)?;
    let ca_after = Asn1Time::days_from_now(3650).map_err(e)?;
    ca.set_not_after(&ca_after).map_err(e)?;
    ca.append_extension(BasicConstraints::new().critical().ca().pathlen(0).build().map_err(e)?)
        .map_err(e)?;
    ca.append_extension(
        KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .build()
            .map_err(e)?,
    )
    .map_err(e)?;
    let ski = SubjectKeyIdentifier::new()
        .build(&ca.x509v3_context(None, None))
        .map_err(e)?;
    ca.append_extension(ski).map_err(e)?;
    ca.sign(&ca_key, MessageDigest::sha256()).map_err(e)?;
    let ca = ca.build();

    let srv_key = new_key()?;
    let mut srv = X509::builder().map_err(e)?;
    srv.set_version(2).map_err(e)?;
    let srv_serial = serial()?;
    srv.set_serial_number(&srv_serial).map_err(e)?;
    let srv_name = name("localhost")?;
    srv.set_subject_name(&srv_name).map_err(e)?;
    srv.set_issuer_name(ca.subject_name()).map_err(e)?;
    srv.set_pubkey(&srv_key).map_err(e)?;
    let srv_before = Asn1Time::days_from_now(0).map_err(e)?;
    srv.set_not_before(&srv_before).map_err(e)?;
    // 397 days: the longest validity browsers accept for server certificates.
    let srv_after = Asn1Time::days_from_now(397).map_err(e)?;
    srv.set_not_after(&srv_after).map_err(e)?;
    srv.append_extension(BasicConstraints::new().critical().build().map_err(e)?)
        .map_err(e)?;
    srv.append_extension(KeyUsage::new().critical().digital_signature().build().map_err(e)?)
        .map_err(e)?;
    srv.append_extension(ExtendedKeyUsage::new().server_auth().build().map_err(e)?)
        .map_err(e)?;
    let san = SubjectAlternativeName::new()
        .dns("localhost")
        .ip("127.0.0.1")
        .ip("::1")
        .build(&srv.x509v3_context(Some(&ca), None))
        .map_err(e)?;
    srv.append_extension(san).map_err(e)?;
    let aki = AuthorityKeyIdentifier::new()
        .keyid(true)
        .build(&srv.x509v3_context(Some(&ca), None))
        .map_err(e)?;
    srv.append_extension(aki).map_err(e)?;
    srv.sign(&ca_key, MessageDigest::sha256()).map_err(e)?;
    let srv = srv.build();

    for p in [&paths.ca_cert, &paths.ca_key, &paths.server_cert, &paths.server_key] {
        if p.exists() {
            std::fs::remove_file(p).map_err(|err| format!("{}: {err}", p.display()))?;
        }
    }
    std::fs::write(&paths.ca_cert, ca.to_pem().map_err(e)?)
        .map_err(|err| format!("{}: {err}", paths.ca_cert.display()))?;
    write_private_file(&paths.ca_key, &ca_key.private_key_to_pem_pkcs8().map_err(e)?)?;
    std::fs::write(&paths.server_cert, srv.to_pem().map_err(e)?)
        .map_err(|err| format!("{}: {err}", paths.server_cert.display()))?;
    write_private_file(&paths.server_key, &srv_key.private_key_to_pem_pkcs8().map_err(e)?)?;
    Ok((paths, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_certificate_chains_to_the_ca() {
        let dir = std::env::temp_dir().join(format!("tessera-devcerts-{}", std::process::id()));
        let (paths, created) = ensure(&dir, true).unwrap();
        assert!(created);
        let ca = X509::from_pem(&std::fs::read(&paths.ca_cert).unwrap()).unwrap();
        let srv = X509::from_pem(&std::fs::read(&paths.server_cert).unwrap()).unwrap();
        assert!(srv.verify(&ca.public_key().unwrap()).unwrap());
        let sans: Vec<String> = srv
            .subject_alt_names()
            .unwrap()
            .iter()
            .filter_map(|n| {
                n.dnsname()
                    .map(str::to_owned)
                    .or_else(|| n.ipaddress().map(|b| format!("{b:?}")))
            })
            .collect();
        assert!(sans.iter().any(|s| s == "localhost"));
        // A second call keeps the existing files.
        let (_, created) = ensure(&dir, false).unwrap();
        assert!(!created);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&paths.server_key).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "private key readable by others");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Client certificates for the demo's mutual-TLS clients.
#[derive(Debug, Clone)]
pub struct DemoClientCerts {
    /// Issued by the development CA; subject `CN=demo-mtls-client,O=Tessera development`.
    pub mtls_cert: PathBuf,
    pub mtls_key: PathBuf,
    /// Self-signed; registered by its `x5c`.
    pub self_signed_cert: PathBuf,
    pub self_signed_key: PathBuf,
}

/// The subject DN the demo registers for its `tls_client_auth` client.
pub const DEMO_MTLS_SUBJECT: &str = "CN=demo-mtls-client,O=Tessera development";

fn client_certificate(cn: &str, issuer: Option<(&X509, &PKey<Private>)>) -> Result<(X509, PKey<Private>), String> {
    let key = new_key()?;
    let subject = name(cn)?;
    let mut b = X509::builder().map_err(e)?;
    b.set_version(2).map_err(e)?;
    let s = serial()?;
    b.set_serial_number(&s).map_err(e)?;
    b.set_subject_name(&subject).map_err(e)?;
    match issuer {
        Some((cert, _)) => b.set_issuer_name(cert.subject_name()).map_err(e)?,
        None => b.set_issuer_name(&subject).map_err(e)?,
    }
    b.set_pubkey(&key).map_err(e)?;
    let from = Asn1Time::days_from_now(0).map_err(e)?;
    b.set_not_before(&from).map_err(e)?;
    let to = Asn1Time::days_from_now(397).map_err(e)?;
    b.set_not_after(&to).map_err(e)?;
    b.append_extension(BasicConstraints::new().critical().build().map_err(e)?)
        .map_err(e)?;
    b.append_extension(KeyUsage::new().critical().digital_signature().build().map_err(e)?)
        .map_err(e)?;
    b.append_extension(ExtendedKeyUsage::new().client_auth().build().map_err(e)?)
        .map_err(e)?;
    let signer = issuer.map(|(_, k)| k).unwrap_or(&key);
    b.sign(signer, MessageDigest::sha256()).map_err(e)?;
    Ok((b.build(), key))
}

/// Creates the demo's client certificates in `dir` when missing: one
/// issued by the development CA, one self-signed.
pub fn ensure_demo_clients(dir: &Path, ca: &DevCerts) -> Result<DemoClientCerts, String> {
    let paths = DemoClientCerts {
        mtls_cert: dir.join("demo-mtls.pem"),
        mtls_key: dir.join("demo-mtls.key"),
        self_signed_cert: dir.join("demo-self-signed.pem"),
        self_signed_key: dir.join("demo-self-signed.key"),
    };
    let write = |cert: &X509, key: &PKey<Private>, cert_path: &Path, key_path: &Path| -> Result<(), String> {
        for p in [cert_path, key_path] {
            if p.exists() {
                std::fs::remove_file(p).map_err(|err| format!("{}: {err}", p.display()))?;
            }
        }
        std::fs::write(cert_path, cert.to_pem().map_err(e)?)
            .map_err(|err| format!("{}: {err}", cert_path.display()))?;
        write_private_file(key_path, &key.private_key_to_pem_pkcs8().map_err(e)?)
    };
    if !(paths.mtls_cert.exists() && paths.mtls_key.exists()) {
        let ca_cert = X509::from_pem(&std::fs::read(&ca.ca_cert).map_err(e)?).map_err(e)?;
        let ca_key = PKey::private_key_from_pem(&std::fs::read(&ca.ca_key).map_err(e)?).map_err(e)?;
        let (cert, key) = client_certificate("demo-mtls-client", Some((&ca_cert, &ca_key)))?;
        write(&cert, &key, &paths.mtls_cert, &paths.mtls_key)?;
    }
    if !(paths.self_signed_cert.exists() && paths.self_signed_key.exists()) {
        let (cert, key) = client_certificate("demo-self-signed-client", None)?;
        write(&cert, &key, &paths.self_signed_cert, &paths.self_signed_key)?;
    }
    Ok(paths)
}

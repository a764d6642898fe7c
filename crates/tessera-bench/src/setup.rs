//! `tessera-bench run`: building the workload from the options (URLs,
//! credentials, the gateway's token).

use crate::assertions::AssertionSpec;
use crate::conn::{Conn, Endpoint};
use crate::load::{RunArgs, Scenario, Target, Workload};
use crate::tls::{self, ConnMode};
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_TYPE, HOST};
use hyper::{Method, Request, Uri};
use serde_json::Value;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

pub(crate) struct Url {
    pub(crate) host: String,
    pub(crate) addr: SocketAddr,
    pub(crate) authority: String,
    pub(crate) path: String,
}

pub(crate) fn parse_url(raw: &str) -> Result<Url, String> {
    let uri: Uri = raw.parse().map_err(|e| format!("{raw}: {e}"))?;
    if uri.scheme_str() != Some("https") {
        return Err(format!("{raw}: only https URLs"));
    }
    let host = uri.host().ok_or_else(|| format!("{raw}: no host"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
    let port = uri.port_u16().unwrap_or(443);
    let addr = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| format!("{raw}: {e}"))?
        .next()
        .ok_or_else(|| format!("{raw}: no address"))?;
    let authority = uri.authority().map(|a| a.to_string()).unwrap_or_default();
    let path = uri
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_else(|| "/".into());
    Ok(Url {
        host,
        addr,
        authority,
        path,
    })
}

fn basic(client_id: &str, secret: &str) -> Result<HeaderValue, String> {
    use base64::Engine as _;
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let raw = format!("{}:{}", enc(client_id), enc(secret));
    HeaderValue::from_str(&format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    ))
    .map_err(|e| e.to_string())
}

fn form_body(args: &RunArgs, base: &str) -> String {
    match &args.form {
        Some(extra) if !extra.is_empty() => format!("{base}&{extra}"),
        _ => base.to_owned(),
    }
}

fn require<'a>(v: &'a Option<String>, what: &str) -> Result<&'a str, String> {
    v.as_deref().ok_or_else(|| format!("this scenario needs --{what}"))
}

/// Gets the certificate-bound token the gateway scenario presents.
async fn fetch_token(args: &RunArgs, tls: Arc<rustls::ClientConfig>) -> Result<String, String> {
    let token_url = require(&args.token_url, "token-url")?;
    let url = parse_url(token_url)?;
    let endpoint = Endpoint::new(url.addr, &url.host, tls)?;
    let mut conn = Conn::connect(&endpoint)
        .await
        .map_err(|t| format!("{token_url}: {}", t.name()))?;
    let id: String = form_urlencoded::byte_serialize(require(&args.client_id, "client-id")?.as_bytes()).collect();
    let mut req = Request::new(Full::new(Bytes::from(form_body(
        args,
        &format!("grant_type=client_credentials&client_id={id}"),
    ))));
    *req.method_mut() = Method::POST;
    *req.uri_mut() = url.path.parse().map_err(|e| format!("{e}"))?;
    let h = req.headers_mut();
    h.insert(HOST, HeaderValue::from_str(&url.authority).map_err(|e| e.to_string())?);
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    let (status, body) = conn
        .exchange(req)
        .await
        .map_err(|t| format!("{token_url}: {}", t.name()))?;
    let v: Value = serde_json::from_slice(&body).map_err(|_| format!("{token_url}: {status}: not JSON"))?;
    v["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("{token_url}: {status}: {v}"))
}

pub(crate) fn default_name(args: &RunArgs) -> String {
    let mut name = match args.scenario {
        Scenario::ClientSecretBasic => "client_secret_basic".to_owned(),
        Scenario::PrivateKeyJwt => format!(
            "private_key_jwt_{}",
            args.alg.map(|a| a.name().to_ascii_lowercase()).unwrap_or_default()
        ),
        Scenario::TlsClientAuth => "tls_client_auth".to_owned(),
        Scenario::Gateway => "gateway".to_owned(),
    };
    match args.connection {
        ConnMode::Keepalive => {}
        ConnMode::New => name.push_str("_new"),
        ConnMode::Resume => name.push_str("_resume"),
    }
    name
}

pub(crate) async fn build(args: &RunArgs) -> Result<(Workload, Option<AssertionSpec>), String> {
    let cert = args.cert.as_deref().zip(args.key.as_deref());
    if matches!(args.scenario, Scenario::TlsClientAuth | Scenario::Gateway) && cert.is_none() {
        return Err("this scenario needs --cert and --key".into());
    }
    let tls = tls::client_config(&args.ca, cert, args.connection)?;
    let url = parse_url(&args.url)?;
    let mut targets = Vec::new();
    let mut method = Method::POST;
    let mut body = String::new();
    let mut spec = None;
    let uri = |path: &str| path.parse::<Uri>().map_err(|e| format!("{path}: {e}"));
    match args.scenario {
        Scenario::ClientSecretBasic => {
            body = form_body(args, "grant_type=client_credentials");
            if let Some(file) = &args.tenants_file {
                let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    let f: Vec<&str> = line.split_whitespace().collect();
                    let [tenant, id, secret] = f[..] else {
                        return Err(format!("{}: expected TENANT CLIENT_ID SECRET: {line}", file.display()));
                    };
                    targets.push(Target {
                        uri: uri(&url.path.replace("{tenant}", tenant))?,
                        authorization: Some(basic(id, secret)?),
                    });
                }
            } else {
                let auth = basic(
                    require(&args.client_id, "client-id")?,
                    require(&args.client_secret, "client-secret")?,
                )?;
                targets.push(Target {
                    uri: uri(&url.path)?,
                    authorization: Some(auth),
                });
            }
        }
        Scenario::PrivateKeyJwt => {
            let key = args.signing_key.as_ref().ok_or("this scenario needs --signing-key")?;
            let key_pem = std::fs::read(key).map_err(|e| format!("{}: {e}", key.display()))?;
            spec = Some(AssertionSpec {
                alg: args.alg.ok_or("this scenario needs --alg")?,
                key_pem: Arc::new(key_pem),
                kid: args.kid.clone(),
                client_id: require(&args.client_id, "client-id")?.to_owned(),
                audience: require(&args.audience, "audience")?.to_owned(),
                lifetime_secs: args.assertion_lifetime,
                form_prefix: form_body(args, "grant_type=client_credentials"),
                threads: args.signing_threads,
                cpus: args.signing_cpus.clone(),
            });
            targets.push(Target {
                uri: uri(&url.path)?,
                authorization: None,
            });
        }
        Scenario::TlsClientAuth => {
            let id: String =
                form_urlencoded::byte_serialize(require(&args.client_id, "client-id")?.as_bytes()).collect();
            body = form_body(args, &format!("grant_type=client_credentials&client_id={id}"));
            targets.push(Target {
                uri: uri(&url.path)?,
                authorization: None,
            });
        }
        Scenario::Gateway => {
            method = Method::GET;
            let token = fetch_token(args, tls::client_config(&args.ca, cert, ConnMode::Keepalive)?).await?;
            targets.push(Target {
                uri: uri(&url.path)?,
                authorization: Some(HeaderValue::from_str(&format!("Bearer {token}")).map_err(|e| e.to_string())?),
            });
        }
    }
    if targets.is_empty() {
        return Err("no target".into());
    }
    let workload = Workload {
        endpoint: Endpoint::new(url.addr, &url.host, tls)?,
        mode: args.connection,
        method,
        host: HeaderValue::from_str(&url.authority).map_err(|e| e.to_string())?,
        targets,
        next_target: AtomicUsize::new(0),
        body: Bytes::from(body),
        expect_token: args.scenario != Scenario::Gateway,
        timeout: Duration::from_millis(args.timeout_ms.max(1)),
        connections: args.connections.max(1),
        trace: args.trace.is_some(),
    };
    Ok((workload, spec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_credentials() {
        let u = parse_url("https://127.0.0.1:9443/t/{tenant}/oauth2/token").expect("url");
        assert_eq!(u.host, "127.0.0.1");
        assert_eq!(u.authority, "127.0.0.1:9443");
        assert_eq!(u.path, "/t/{tenant}/oauth2/token");
        assert!(parse_url("http://127.0.0.1/").is_err());
        // RFC 6749 §2.3.1: form-encoded, then Basic.
        let h = basic("a b", "s:1").expect("header");
        assert_eq!(h.to_str().expect("ascii"), "Basic YStiOnMlM0Ex");
    }
}

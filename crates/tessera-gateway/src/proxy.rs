//! The sidecar: a TLS listener that asks for client certificates, checks
//! every request with the [`Validator`], and streams passing requests to the
//! upstream with `X-Tessera-Client-Id`, `X-Tessera-Tenant` and
//! `X-Tessera-Scope` set (any such headers the caller sent are removed).

use crate::config::GatewayConfig;
use crate::middleware::{capture_client_certificate, check_with_proxy, unauthorized};
use crate::validator::Validator;
use actix_web::dev::ServiceRequest;
use actix_web::http::header::{self, HeaderName};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use futures_util::StreamExt;
use std::net::TcpListener;
use tessera_clientauth::forwarded_cert::ProxySettings;

/// Headers never forwarded (RFC 9110 §7.6.1 hop-by-hop, and ours).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

struct Gateway {
    config: GatewayConfig,
    validator: Validator,
    upstream: reqwest::Client,
    proxy: Option<ProxySettings>,
}

fn forbidden(scope: &str) -> HttpResponse {
    HttpResponse::Forbidden()
        .insert_header((
            header::WWW_AUTHENTICATE,
            format!("Bearer error=\"insufficient_scope\", scope=\"{scope}\""),
        ))
        .json(
            serde_json::json!({"error": "insufficient_scope", "error_description": format!("requires scope {scope}")}),
        )
}

async fn forward(req: HttpRequest, payload: web::Payload, gw: web::Data<Gateway>) -> HttpResponse {
    let service_req = ServiceRequest::from_parts(req, actix_web::dev::Payload::None);
    let access = match check_with_proxy(&gw.validator, gw.proxy.as_ref(), &service_req).await {
        Ok(a) => a,
        Err(rejection) => {
            tracing::info!(reason = rejection.0, path = %service_req.path(), "request refused");
            return unauthorized(&rejection);
        }
    };
    let (req, _) = service_req.into_parts();
    if let Some(scope) = gw.config.required_scope(req.path()) {
        if !access.has_scope(scope) {
            return forbidden(scope);
        }
    }
    let target = format!(
        "{}{}",
        gw.config.upstream.trim_end_matches('/'),
        req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/")
    );
    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes()).unwrap_or(reqwest::Method::GET);
    let mut upstream = gw.upstream.request(method, &target);
    for (name, value) in req.headers() {
        let n = name.as_str();
        let forwarded_cert = gw.proxy.as_ref().is_some_and(|p| p.header() == n);
        if HOP_BY_HOP.contains(&n)
            || n == "host"
            || n.starts_with("x-tessera-")
            || n == "content-length"
            || forwarded_cert
        {
            continue;
        }
        upstream = upstream.header(n, value.as_bytes());
    }
    upstream = upstream
        .header("x-tessera-client-id", access.client_id.as_str())
        .header("x-tessera-tenant", access.tenant.as_str())
        .header("x-tessera-scope", access.scopes.join(" "));
    // actix's payload is not Send; a small bounded channel streams it to
    // reqwest with back-pressure.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<web::Bytes, std::io::Error>>(8);
    actix_web::rt::spawn(async move {
        let mut payload = payload;
        while let Some(chunk) = payload.next().await {
            let item = chunk.map_err(|e| std::io::Error::other(e.to_string()));
            let failed = item.is_err();
            if tx.send(item).await.is_err() || failed {
                break;
            }
        }
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    upstream = upstream.body(reqwest::Body::wrap_stream(body));
    let res = match upstream.send().await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "upstream unreachable");
            return HttpResponse::BadGateway().json(serde_json::json!({"error": "bad_gateway"}));
        }
    };
    let mut out = HttpResponse::build(
        actix_web::http::StatusCode::from_u16(res.status().as_u16())
            .unwrap_or(actix_web::http::StatusCode::BAD_GATEWAY),
    );
    for (name, value) in res.headers() {
        if HOP_BY_HOP.contains(&name.as_str()) || name.as_str() == "content-length" {
            continue;
        }
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            header::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            out.append_header((n, v));
        }
    }
    out.streaming(
        res.bytes_stream()
            .map(|c| c.map_err(|e| std::io::Error::other(e.to_string()))),
    )
}

/// Builds the sidecar on a bound listener; the caller runs the server.
pub fn build(config: GatewayConfig, listener: TcpListener) -> Result<actix_web::dev::Server, String> {
    let ca = match &config.ca_file {
        Some(path) => Some(std::fs::read(path).map_err(|e| format!("ca_file {}: {e}", path.display()))?),
        None => None,
    };
    let validator = Validator::new(
        crate::GatewayPolicy {
            issuers: config.issuers.clone(),
            audience: config.audience.clone(),
            leeway_secs: config.leeway_secs,
            require_binding: config.require_binding,
            introspection: config.introspection.as_ref().map(|i| crate::IntrospectionSettings {
                client_id: i.client_id.clone(),
                client_secret: i.client_secret.clone(),
                cache_secs: i.cache_secs,
            }),
        },
        ca.as_deref(),
    )?;
    let tls = tls_config(&config)?;
    let upstream = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let proxy = match &config.proxy {
        Some(p) => Some(ProxySettings::new(
            &p.client_cert_header,
            &p.client_cert_format,
            &p.trusted_peers,
        )?),
        None => None,
    };
    let gw = web::Data::new(Gateway {
        config,
        validator,
        upstream,
        proxy,
    });
    Ok(
        HttpServer::new(move || App::new().app_data(gw.clone()).default_service(web::to(forward)))
            .on_connect(capture_client_certificate)
            .listen_rustls_0_23(listener, tls)
            .map_err(|e| e.to_string())?
            .run(),
    )
}

fn tls_config(config: &GatewayConfig) -> Result<rustls::ServerConfig, String> {
    tessera_clientauth::mtls::accept_any_client_cert_config(&config.tls_cert, &config.tls_key, &[b"http/1.1"])
}

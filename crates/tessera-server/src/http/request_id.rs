//! Request ids: every request gets one (or keeps a sane one it brought), it
//! is in every log line of the request and in the `X-Request-Id` answer.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::Error;
use std::time::Instant;
use tracing::Instrument;

pub const HEADER: &str = "x-request-id";

fn sane(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// 64 random bits as 16 hex digits (from the per-thread pool of random
/// bytes: no syscall per request).
fn new_id() -> String {
    let mut b = [0u8; 8];
    let _ = tessera_token::random::fill(&mut b);
    tessera_core::hex::lower(&b)
}

pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| sane(v))
        .map(str::to_owned)
        .unwrap_or_else(new_id);
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.path());
    let metrics = req
        .app_data::<actix_web::web::Data<crate::state::AppState>>()
        .map(|s| s.metrics.clone());
    let started = Instant::now();
    let mut res = next.call(req).instrument(span.clone()).await?;
    let endpoint = crate::metrics::endpoint_of(res.request());
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(HeaderName::from_static(HEADER), v);
    }
    let status = res.status().as_u16();
    let elapsed = started.elapsed();
    if let Some(m) = metrics {
        m.request_duration
            .with_label_values(&[endpoint])
            .observe(elapsed.as_secs_f64());
    }
    let elapsed_us = elapsed.as_micros() as u64;
    // The token endpoint writes its own line (tessera::token); other
    // successes at debug, refusals and failures at info.
    span.in_scope(|| {
        if status < 400 || endpoint == "token" {
            tracing::debug!(status, elapsed_us, "request done");
        } else {
            tracing::info!(status, elapsed_us, "request done");
        }
    });
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::dev::Service;
    use std::sync::{Arc, Mutex};

    /// A request's path, whether its route carried a label, the label the
    /// middleware takes, the matched pattern's label.
    type Labels = Vec<(String, bool, &'static str, &'static str)>;

    /// The label the middleware takes is the one the matched route's
    /// pattern gives, for every route's shape and for paths that match
    /// none; every protocol route carries its own.
    #[actix_web::test]
    async fn endpoint_labels_carried_by_the_routes_are_the_patterns_labels() {
        let seen: Arc<Mutex<Labels>> = Arc::default();
        let record = seen.clone();
        let app = actix_web::test::init_service(
            actix_web::App::new()
                .wrap_fn(move |req, srv| {
                    let record = record.clone();
                    let routed = srv.call(req);
                    async move {
                        let res = routed.await?;
                        let by_pattern = crate::metrics::endpoint_label(res.request().match_pattern().as_deref());
                        let by_route = crate::metrics::endpoint_of(res.request());
                        let carried = res.request().app_data::<crate::metrics::Endpoint>().is_some();
                        record
                            .lock()
                            .unwrap()
                            .push((res.request().path().to_owned(), carried, by_route, by_pattern));
                        Ok(res)
                    }
                })
                .configure(crate::http::configure),
        )
        .await;
        let paths = [
            "/t/acme/oauth2/token",
            "/t/acme/oauth2/introspect",
            "/t/acme/oauth2/revoke",
            "/t/a%2Fb/oauth2/token",
            "/t/acme/jwks.json",
            "/t/acme/.well-known/oauth-authorization-server",
            "/t/acme/.well-known/openid-configuration",
            "/.well-known/oauth-authorization-server/t/acme",
            "/healthz",
            "/readyz",
            "/metrics",
            // Matching no route, or other routes: no label carried.
            "/t//oauth2/token",
            "/t/acme/oauth2/token/",
            "/t/acme/oauth2/token/x",
            "/t/acme/oauth2/authorize",
            "/x/acme/oauth2/token",
            "/t/acme/jwks.json/x",
            "/.well-known/openid-configuration/t/acme",
            "/healthz/x",
            "/metricsx",
            "/",
            "/admin/v1/tenants",
            "/admin",
        ];
        for path in paths {
            let req = actix_web::test::TestRequest::get().uri(path);
            let _ = app.call(req.to_request()).await;
        }
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), paths.len());
        for (path, carried, by_route, by_pattern) in seen.iter() {
            assert_eq!(by_route, by_pattern, "{path}");
            assert_eq!(
                *carried,
                matches!(
                    *by_pattern,
                    "token" | "introspect" | "revoke" | "jwks" | "metadata" | "health" | "metrics"
                ),
                "{path}: a protocol route without its label, or a label on another"
            );
        }
        let hot = seen.iter().filter(|(_, carried, ..)| *carried).count();
        assert_eq!(hot, 11, "{seen:?}");
    }

    #[test]
    fn new_ids_are_sixteen_lowercase_hex_digits_and_distinct() {
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| new_id()).collect();
        assert_eq!(ids.len(), 1000);
        for id in &ids {
            assert_eq!(id.len(), 16, "{id}");
            assert!(id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')), "{id}");
            assert!(sane(id));
        }
    }
}

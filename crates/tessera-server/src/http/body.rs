//! Reading request bodies with a hard size cap and a deadline.

use super::error::ApiError;
use crate::state::AppState;
use actix_web::web;
use futures_util::StreamExt;
use std::time::Duration;
use tessera_core::{ErrorCode, OAuthError};

/// The body deadline when the app state is not at hand (never in the server).
const FALLBACK_BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads the whole body, refusing (413) past `limit` bytes: checked against
/// `Content-Length` first, then while streaming; and (408) when it has not
/// all arrived within `http.body_timeout_secs`: actix bounds only the head,
/// so a body sent a byte at a time would otherwise hold its worker's slot.
pub async fn read_capped(
    req: &actix_web::HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
    let deadline = req
        .app_data::<web::Data<AppState>>()
        .map_or(FALLBACK_BODY_TIMEOUT, |s| s.body_timeout);
    read_capped_within(req, payload, limit, deadline).await
}

async fn read_capped_within(
    req: &actix_web::HttpRequest,
    mut payload: impl futures_util::Stream<Item = Result<web::Bytes, actix_web::error::PayloadError>> + Unpin,
    limit: usize,
    deadline: Duration,
) -> Result<web::Bytes, ApiError> {
    let too_large = || {
        ApiError::from(OAuthError::new(
            ErrorCode::PayloadTooLarge,
            format!("request body exceeds {limit} bytes"),
        ))
    };
    if let Some(len) = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if len > limit as u64 {
            return Err(too_large());
        }
    }
    let read_all = async {
        let mut body = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk =
                chunk.map_err(|_| ApiError::from(OAuthError::invalid_request("could not read the request body")))?;
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    };
    match actix_web::rt::time::timeout(deadline, read_all).await {
        Ok(result) => result,
        Err(_) => Err(ApiError::from(OAuthError::new(
            ErrorCode::RequestTimeout,
            format!("the request body did not arrive within {} seconds", deadline.as_secs()),
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn payload_of(
        stream: impl futures_util::Stream<Item = Result<web::Bytes, actix_web::error::PayloadError>> + 'static,
    ) -> impl futures_util::Stream<Item = Result<web::Bytes, actix_web::error::PayloadError>> + Unpin {
        Box::pin(stream)
    }

    #[actix_web::test]
    async fn a_body_that_never_ends_is_408() {
        let req = TestRequest::post().to_http_request();
        let endless = futures_util::stream::once(async { Ok(web::Bytes::from_static(b"grant_type=")) })
            .chain(futures_util::stream::pending());
        let err = read_capped_within(&req, payload_of(endless), 1024, Duration::from_millis(50))
            .await
            .unwrap_err();
        assert_eq!(Some(err.0.status()), Some(408));
    }

    #[actix_web::test]
    async fn a_body_that_arrives_is_read() {
        let req = TestRequest::post().to_http_request();
        let whole = futures_util::stream::iter([
            Ok(web::Bytes::from_static(b"a=1")),
            Ok(web::Bytes::from_static(b"&b=2")),
        ]);
        let body = read_capped_within(&req, payload_of(whole), 1024, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(&body[..], b"a=1&b=2");
    }

    #[actix_web::test]
    async fn a_body_past_the_cap_is_413_without_a_length() {
        let req = TestRequest::post().to_http_request();
        let big = futures_util::stream::iter((0..10).map(|_| Ok(web::Bytes::from(vec![b'a'; 200]))));
        let err = read_capped_within(&req, payload_of(big), 1024, Duration::from_secs(5))
            .await
            .unwrap_err();
        assert_eq!(Some(err.0.status()), Some(413));
    }
}

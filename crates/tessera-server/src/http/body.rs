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
    payload: impl futures_util::Stream<Item = Result<web::Bytes, actix_web::error::PayloadError>> + Unpin,
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
    let mut payload = FirstLook::new(payload, req.version() < actix_web::http::Version::HTTP_2);
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

/// The body stream, whose first look over HTTP/1 leaves no waker behind.
///
/// Why: actix-http's HTTP/1 dispatcher polls the handler before it feeds
/// the body it has already read, then polls the handler again in the same
/// pass. A waker left with the body on that first poll is woken while the
/// request's task is still running, which queues the task once more; when
/// the request then waits for the replay cache, the answer's wake-up finds
/// it already queued and changes nothing, and the request waits for that
/// earlier place in the queue. That was the tail of assertion latencies
/// (docs/benchmarks.md, "Where the p99 comes from").
///
/// So the first look uses a waker that does nothing, and a `Pending` then
/// relies on the dispatcher: every pass that feeds the body polls the
/// handler afterwards, and a body still on its way arrives as socket
/// readiness, which wakes the connection's task. Later looks register the
/// request's own waker as usual. HTTP/2 streams are fed by another task,
/// so there the first look is an ordinary one. Should a wake-up ever be
/// missing, the body deadline around the read still ends the request (408).
struct FirstLook<S> {
    stream: S,
    quiet: bool,
}

impl<S> FirstLook<S> {
    fn new(stream: S, quiet_first_look: bool) -> Self {
        Self {
            stream,
            quiet: quiet_first_look,
        }
    }
}

impl<S: futures_util::Stream + Unpin> futures_util::Stream for FirstLook<S> {
    type Item = S::Item;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<S::Item>> {
        if std::mem::take(&mut self.quiet) {
            let mut quiet = std::task::Context::from_waker(std::task::Waker::noop());
            return self.stream.poll_next_unpin(&mut quiet);
        }
        self.stream.poll_next_unpin(cx)
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

    /// A body stream that is fed later, as actix-http's is: pending until
    /// `feed`, which wakes whatever waker the last poll left.
    #[derive(Default)]
    struct Fed {
        data: Option<web::Bytes>,
        waker: Option<std::task::Waker>,
    }

    struct FedStream(std::rc::Rc<std::cell::RefCell<Fed>>);

    impl futures_util::Stream for FedStream {
        type Item = Result<web::Bytes, actix_web::error::PayloadError>;
        fn poll_next(
            self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            let mut fed = self.0.borrow_mut();
            match fed.data.take() {
                Some(data) => std::task::Poll::Ready(Some(Ok(data))),
                None => {
                    fed.waker = Some(cx.waker().clone());
                    std::task::Poll::Pending
                }
            }
        }
    }

    /// A `FirstLook` over a stream fed later, polled with a waker that
    /// records every wake-up.
    struct Probe {
        fed: std::rc::Rc<std::cell::RefCell<Fed>>,
        stream: FirstLook<FedStream>,
        wakes: std::sync::Arc<crate::test_wakers::Wakes>,
        waker: std::task::Waker,
    }

    impl Probe {
        fn new(quiet_first_look: bool) -> Self {
            let fed = std::rc::Rc::new(std::cell::RefCell::new(Fed::default()));
            let stream = FirstLook::new(FedStream(fed.clone()), quiet_first_look);
            let (wakes, waker) = crate::test_wakers::recording();
            Self {
                fed,
                stream,
                wakes,
                waker,
            }
        }

        fn poll(&mut self) -> std::task::Poll<Option<Result<web::Bytes, actix_web::error::PayloadError>>> {
            self.stream
                .poll_next_unpin(&mut std::task::Context::from_waker(&self.waker))
        }

        /// Feeds the body, waking whatever waker the last poll left.
        fn feed(&self) {
            let waker = {
                let mut fed = self.fed.borrow_mut();
                fed.data = Some(web::Bytes::from_static(b"grant_type=client_credentials"));
                fed.waker.take()
            };
            if let Some(waker) = waker {
                waker.wake();
            }
        }

        fn woken(&self) -> usize {
            self.wakes.threads().len()
        }
    }

    /// Polls a `FirstLook` over a stream fed after the first poll; returns
    /// how often the request's waker was woken by the feed, and the item of
    /// the second poll.
    fn first_look(quiet: bool) -> (usize, Option<web::Bytes>) {
        let mut probe = Probe::new(quiet);
        assert!(probe.poll().is_pending());
        probe.feed();
        let woken = probe.woken();
        let item = match probe.poll() {
            std::task::Poll::Ready(Some(Ok(bytes))) => Some(bytes),
            _ => None,
        };
        (woken, item)
    }

    #[test]
    fn over_http1_the_first_look_leaves_no_waker_and_the_next_reads() {
        let (woken, item) = first_look(true);
        assert_eq!(woken, 0, "the feed woke the request's task");
        assert_eq!(item.as_deref(), Some(&b"grant_type=client_credentials"[..]));
    }

    #[test]
    fn over_http2_the_first_look_is_an_ordinary_one() {
        let (woken, item) = first_look(false);
        assert_eq!(woken, 1, "the feed did not wake the request's task");
        assert_eq!(item.as_deref(), Some(&b"grant_type=client_credentials"[..]));
    }

    #[test]
    fn later_looks_leave_the_requests_waker() {
        let mut probe = Probe::new(true);
        assert!(probe.poll().is_pending());
        assert!(probe.poll().is_pending());
        probe.feed();
        assert_eq!(probe.woken(), 1);
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

//! `tessera-bench upstream`: the gateway scenario's upstream, as cheap as an
//! HTTP/1.1 server can be: every request (bodies by Content-Length or
//! chunked) gets `200 ok`, kept alive.
//!
//! With `--tls-cert`/`--tls-key` and `--signatures N` it is also the
//! control for the token scenarios: the same TLS stack and the same P-256
//! signing as Tessera (N signatures per request), none of the rest, and an
//! answer holding an `access_token`, so that the load generator counts it.
//! What tail latency it shows on a machine comes from the machine and the
//! closed load loop, not from Tessera (docs/benchmarks.md).

use std::path::PathBuf;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Debug, clap::Args)]
pub struct UpstreamArgs {
    /// Address to listen on (plain HTTP), e.g. 127.0.0.1:9000.
    #[arg(long)]
    pub listen: String,
    /// Write the bound address here once listening.
    #[arg(long, value_name = "FILE")]
    pub addr_file: Option<PathBuf>,
    /// Serve TLS with this certificate chain (PEM) and key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// P-256 signatures (ring) computed for every request before answering.
    #[arg(long, default_value_t = 0)]
    pub signatures: u32,
}

const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok";
/// The control's answer: what the generator counts as a token.
const TOKEN_RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 26\r\n\r\n{\"access_token\":\"control\"}";

/// The per-request work: `count` P-256 signatures with one key.
struct Work {
    count: u32,
    key: Option<ring::signature::EcdsaKeyPair>,
    rng: ring::rand::SystemRandom,
}

impl Work {
    fn new(count: u32) -> Result<Self, String> {
        use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING as ALG};
        let rng = ring::rand::SystemRandom::new();
        let key = if count > 0 {
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ALG, &rng).map_err(|e| format!("P-256 key: {e}"))?;
            Some(EcdsaKeyPair::from_pkcs8(&ALG, pkcs8.as_ref(), &rng).map_err(|e| format!("P-256 key: {e}"))?)
        } else {
            None
        };
        Ok(Self { count, key, rng })
    }

    fn run(&self) {
        if let Some(key) = &self.key {
            for _ in 0..self.count {
                let _ = std::hint::black_box(key.sign(&self.rng, b"the control's per-request signature"));
            }
        }
    }
}

/// The length of the first complete request in `buf`, if there is one.
fn complete_request(buf: &[u8]) -> Option<usize> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buf[..head_end]).ok()?.to_ascii_lowercase();
    let mut content_length = 0usize;
    let mut chunked = false;
    for line in head.split("\r\n") {
        if let Some(v) = line.strip_prefix("content-length:") {
            content_length = v.trim().parse().ok()?;
        } else if let Some(v) = line.strip_prefix("transfer-encoding:") {
            chunked = v.contains("chunked");
        }
    }
    if chunked {
        let end = buf[head_end..].windows(5).position(|w| w == b"0\r\n\r\n")?;
        return Some(head_end + end + 5);
    }
    (buf.len() >= head_end + content_length).then_some(head_end + content_length)
}

async fn serve<S>(mut stream: S, work: &Work, response: &'static [u8])
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut chunk = [0u8; 16 * 1024];
    loop {
        while let Some(n) = complete_request(&buf) {
            buf.drain(..n);
            work.run();
            if stream.write_all(response).await.is_err() {
                return;
            }
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if buf.len() > 1 << 20 {
            return;
        }
    }
}

pub fn main(args: &UpstreamArgs) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let listener = TcpListener::bind(&args.listen)
            .await
            .map_err(|e| format!("{}: {e}", args.listen))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        if let Some(f) = &args.addr_file {
            std::fs::write(f, addr.to_string()).map_err(|e| format!("{}: {e}", f.display()))?;
        }
        let tls = match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => {
                let config = rustls::ServerConfig::builder_with_provider(crate::tls::provider())
                    .with_safe_default_protocol_versions()
                    .map_err(|e| e.to_string())?
                    .with_no_client_auth()
                    .with_single_cert(crate::tls::read_certs(cert)?, crate::tls::read_key(key)?)
                    .map_err(|e| format!("--tls-cert/--tls-key: {e}"))?;
                Some(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
            }
            _ => None,
        };
        let response = if args.signatures > 0 { TOKEN_RESPONSE } else { RESPONSE };
        let work = Arc::new(Work::new(args.signatures)?);
        eprintln!("upstream listening on {addr}");
        loop {
            let (stream, _) = listener.accept().await.map_err(|e| e.to_string())?;
            let _ = stream.set_nodelay(true);
            let work = work.clone();
            match &tls {
                Some(acceptor) => {
                    let accept = acceptor.accept(stream);
                    tokio::spawn(async move {
                        if let Ok(stream) = accept.await {
                            serve(stream, &work, response).await;
                        }
                    });
                }
                None => {
                    tokio::spawn(async move { serve(stream, &work, response).await });
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::{complete_request, Work, TOKEN_RESPONSE};

    #[test]
    fn finds_request_boundaries() {
        assert_eq!(complete_request(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET"), Some(27));
        assert_eq!(complete_request(b"GET / HTTP/1.1\r\nHost: a\r\n"), None);
        let post = b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc";
        assert_eq!(complete_request(post), Some(post.len()));
        assert_eq!(complete_request(&post[..post.len() - 1]), None);
        let chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
        assert_eq!(complete_request(chunked), Some(chunked.len()));
    }

    #[test]
    fn the_control_answers_a_token_after_its_signatures() {
        let head_end = TOKEN_RESPONSE.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0) + 4;
        let body = &TOKEN_RESPONSE[head_end..];
        assert!(std::str::from_utf8(&TOKEN_RESPONSE[..head_end])
            .unwrap_or("")
            .contains(&format!("content-length: {}\r\n", body.len())));
        assert!(body.windows(14).any(|w| w == b"\"access_token\""));
        assert!(Work::new(0).is_ok_and(|w| w.key.is_none()));
        let work = Work::new(2);
        assert!(work.as_ref().is_ok_and(|w| w.key.is_some()));
        if let Ok(work) = work {
            work.run();
        }
    }
}

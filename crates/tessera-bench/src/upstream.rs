//! `tessera-bench upstream`: the gateway scenario's upstream, as cheap as an
//! HTTP/1.1 server can be: every request (bodies by Content-Length or
//! chunked) gets `200 ok`, kept alive.

use std::path::PathBuf;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, clap::Args)]
pub struct UpstreamArgs {
    /// Address to listen on (plain HTTP), e.g. 127.0.0.1:9000.
    #[arg(long)]
    pub listen: String,
    /// Write the bound address here once listening.
    #[arg(long, value_name = "FILE")]
    pub addr_file: Option<PathBuf>,
}

const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok";

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

async fn serve(mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut chunk = [0u8; 16 * 1024];
    loop {
        while let Some(n) = complete_request(&buf) {
            buf.drain(..n);
            if stream.write_all(RESPONSE).await.is_err() {
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
        eprintln!("upstream listening on {addr}");
        loop {
            let (stream, _) = listener.accept().await.map_err(|e| e.to_string())?;
            tokio::spawn(serve(stream));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::complete_request;

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
}

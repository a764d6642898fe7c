//! The fuzz harnesses: one function per `cargo fuzz` target in `fuzz/`,
//! taking the raw input bytes. Each must never panic on any input except
//! where it asserts an invariant of the code under test (a panic here is a
//! finding). The same functions replay the committed seeds and every input
//! kept under `fuzz/regressions/` in `tests/replay.rs`, so CI (which has no
//! fuzzer) still runs every input the fuzzer ever found.
//!
//! Inputs that need more than one field are split on the first `\n` (or by a
//! leading mode byte) so that seeds stay readable text files.
#![allow(clippy::unwrap_used)] // A harness asserts: a failed unwrap is a finding.

mod admin_json;
mod certificate;
mod jwt_assertion;
mod proxy_header;
mod token_request;

pub use admin_json::admin_json;
pub use certificate::certificate;
pub use jwt_assertion::jwt_assertion;
pub use proxy_header::proxy_header;
pub use token_request::token_request;

/// What a target does with one input.
pub type Harness = fn(&[u8]);

/// Every target, by the name of its fuzz target and seed directory.
pub const TARGETS: [(&str, Harness); 5] = [
    ("token_request", token_request),
    ("jwt_assertion", jwt_assertion),
    ("certificate", certificate),
    ("proxy_header", proxy_header),
    ("admin_json", admin_json),
];

/// Splits `data` at the first `\n`: (first line, rest); no `\n` means no
/// first line.
fn split_line(data: &[u8]) -> (Option<&[u8]>, &[u8]) {
    match data.iter().position(|b| *b == b'\n') {
        Some(i) => (Some(&data[..i]), &data[i + 1..]),
        None => (None, data),
    }
}

/// Every refusal on the wire is an RFC 6749 §5.2 error: 400 or 401, with a
/// body that serializes.
fn assert_wire_error(e: &tessera_core::OAuthError) {
    assert!(matches!(e.status(), 400 | 401), "status {} for {e:?}", e.status());
    serde_json::to_string(&e.body()).unwrap();
    if let Some(v) = e.www_authenticate("realm\"\\x") {
        assert!(!v.contains('\n'));
    }
}

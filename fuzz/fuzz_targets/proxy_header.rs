#![no_main]
// The harness (and its invariants) lives in crates/tessera-fuzz-harness.
libfuzzer_sys::fuzz_target!(|data: &[u8]| tessera_fuzz_harness::proxy_header(data));

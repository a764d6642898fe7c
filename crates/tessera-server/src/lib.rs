//! The Tessera authorization server: configuration, listeners, OAuth
//! endpoints, the admin API, and the operator CLI. Thin glue over the
//! library crates, which hold every protocol rule.
#![forbid(unsafe_code)]

pub mod app;
pub mod cache;
pub mod cli;
pub mod config;
pub mod demo;
pub mod devcerts;
pub mod discovery;
pub mod http;
pub mod log_throttle;
pub mod logging;
pub mod master_key;
pub mod metrics;
pub mod ratelimit;
pub mod reload;
pub mod replay;
pub mod service;
pub mod state;
#[cfg(test)]
pub(crate) mod test_wakers;
pub mod tls;

pub use app::Application;
pub use config::Config;

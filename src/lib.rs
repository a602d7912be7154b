//! zhengyin (证印): electronic licences (电子证照) and electronic seals (电子印章).
//!
//! Dependencies flow from the edges to the core, never back:
//! `cli` → `server` → `http` → `service` → `licence`, `seal`, `tsa`, `audit`, `storage`, `pki`, `pdf`
//! → `domain` (`cli`'s commands other than `serve` call `service` directly).

pub mod audit;
pub mod cli;
pub mod domain;
pub mod http;
pub mod licence;
pub mod pdf;
pub mod pki;
pub mod seal;
pub mod server;
pub mod service;
pub mod storage;
pub mod tsa;

/// Shared with the end-to-end tests, which use the parts about the test tools.
#[cfg(test)]
#[allow(dead_code)]
#[path = "../tests/support/test_needs.rs"]
mod test_needs;

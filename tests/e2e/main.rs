//! One integration binary for the slow end-to-end tests (they share a build and the machine).

mod agreement;
mod audit;
mod browser;
mod clock;
mod common;
mod corpus;
mod faults;
mod fixtures;
mod holders;
mod kinds;
mod lifecycle;
mod openapi;
mod roles;
mod sealing;
mod secrets;
mod skeleton;
/// Shared with the unit tests, which use the parts about the corpus.
#[allow(dead_code)]
#[path = "../support/test_needs.rs"]
mod test_needs;
mod timestamps;
mod validators;
mod verification;

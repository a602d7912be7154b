//! One integration binary for the slow end-to-end tests (they share a build and the machine).

mod agreement;
mod browser;
mod common;
mod corpus;
mod holders;
mod kinds;
mod lifecycle;
mod sealing;
mod skeleton;
mod verification;

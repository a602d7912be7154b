//! One integration binary for the slow end-to-end tests (they share a build and the machine).

mod agreement;
mod audit;
mod browser;
mod common;
mod corpus;
mod faults;
mod holders;
mod kinds;
mod lifecycle;
mod openapi;
mod roles;
mod sealing;
mod secrets;
mod skeleton;
mod timestamps;
mod verification;

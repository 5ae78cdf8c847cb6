//! The rules engine's acceptance tests: the golden vectors and the properties
//! that must hold for any input. One test binary for the crate.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed unwrap is a failed test"
)]

mod golden;
mod hostile_input;
mod properties;

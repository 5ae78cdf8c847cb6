//! The payroll service's test binary: the command line, and the running service
//! (real gRPC and HTTP on port 0) on SQLite, or on PostgreSQL when
//! `KVP_TEST_DATABASE_URL` is set.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed unwrap is a failed test"
)]

mod cli;
mod ingest;
mod rest;
mod support;

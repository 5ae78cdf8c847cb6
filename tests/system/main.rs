//! The cross-service test binary: both services for real, real gRPC between
//! them, on SQLite or on PostgreSQL when `KVP_TEST_DATABASE_URL` is set (a
//! test that must hold on both, such as `held`, runs on each in turn).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a failed unwrap is a failed test"
)]

mod audit_checkpoints;
mod auth;
mod bounds;
mod corrections;
mod crash;
mod deploy;
mod handoff;
mod held;
mod hostile_input;
mod identity_keys;
mod ingest;
mod invariant;
mod lifecycle;
mod limits;
mod migration_role;
mod observability;
mod one_environment;
mod page;
mod periods;
mod personal_data;
mod rest;
mod retries;
mod runs;
mod sandbox;
mod simulate;
mod tls;
mod versions;

//! The KVP payroll service: signed timesheets in over gRPC, caseworker and
//! operator REST API, the rules engine in between, everything stored through
//! `kvp-store` (SQLite embedded by default, PostgreSQL in production).
//!
//! `main` only reads configuration, sets up telemetry and runs [`app::Application`];
//! tests start the same application on port 0.

pub mod app;
pub mod audit_checkpoint;
pub mod client_identity;
pub mod clock;
pub mod config;
pub mod error;
pub mod events;
pub mod facts;
pub mod grpc;
pub mod identity;
pub mod identity_keys;
pub mod ingest;
pub mod metrics;
pub mod payroll;
pub mod relay;
pub mod rest;
pub mod sandbox;
pub mod simulate;
pub mod telemetry;
pub mod web;
pub mod wire_case;

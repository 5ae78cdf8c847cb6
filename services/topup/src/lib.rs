//! The KVP top-up service: proposes supplementary social assistance
//! (økonomisk stønad, sosialtjenesteloven § 18) when a participant's KVP
//! stipend falls short of the state guideline norm.
//!
//! It receives the payroll service's events as CloudEvents over gRPC
//! (`kvp.topup.v1.EventSinkService`) into an idempotent inbox; keeps a household
//! register over REST; and, for each month a stipend is paid, proposes
//! norm for the household + housing cost − (net stipend + other income),
//! floored at zero, with a line-by-line explanation, into a worklist where
//! a caseworker accepts or rejects it.
//!
//! Where things are:
//! - the formula: [`proposal`] (pure), with the rates of [`norms`]
//!   (`parameters/norms.json`) and the household of [`household`];
//! - the gRPC surface: [`grpc`]; the REST surface: [`http`]; both delegate
//!   to [`service`] and map errors in [`error`];
//! - the SQL: [`store::sqlite`] and [`store::postgres`], the shared
//!   write paths in [`store::flows`];
//! - start-up and shutdown: [`app`], configured by [`config`].
//!
//! What it must not do: pay anything. A proposal is only ever a proposal
//! until a caseworker decides it, and the decision is recorded, not paid.

pub mod app;
pub mod config;
pub mod error;
pub mod events;
pub mod grpc;
pub mod household;
pub mod http;
pub mod income;
pub mod metrics;
pub mod money;
pub mod month;
pub mod norms;
pub mod proposal;
pub mod service;
pub mod store;
pub mod telemetry;

pub use app::Application;
pub use config::Config;

//! fanmail's shared crate: everything the Lambda functions have in common.
//!
//! # Layout
//!
//! - [`domain`]: pure types and rules (addresses, ids, campaigns, recipients, templates,
//!   suppressions). No AWS, no I/O.
//! - [`pacing`]: the per-instance token bucket that keeps senders within the SES rate.
//! - [`ports`]: the small traits at each AWS boundary (object store, queue, mailer, stores,
//!   scheduler, clock, ids), each with its own error enum.
//! - [`aws`]: the production adapters, built on the AWS SDK clients. The only module that
//!   imports `aws_sdk_*`.
//! - [`memory`]: in-memory adapters with the same semantics, for tests and simulation.
//! - [`recipient_list`]: streaming CSV reader for recipient lists (encodings, row reports).
//! - [`render`]: handlebars mail templates, compiled once and rendered per recipient.
//! - [`system`]: the real clock and id generator.
//! - [`config`]: typed configuration from the environment.
//! - [`api_gateway`]: HTTP API request helpers and the single error-to-status mapping.
//! - [`sqs_batch`]: per-record handling of SQS batches with partial failures.
//! - [`telemetry`]: log set-up.

pub mod api_gateway;
pub mod aws;
pub mod config;
pub mod domain;
pub mod memory;
pub mod pacing;
pub mod ports;
pub mod recipient_list;
pub mod render;
pub mod sqs_batch;
pub mod system;
pub mod telemetry;

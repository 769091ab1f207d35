//! fanmail's shared crate: everything the Lambda functions have in common.
//!
//! # Layout
//!
//! - [`domain`]: pure types and rules (addresses, ids, campaigns, recipients, templates,
//!   suppressions). No AWS, no I/O.
//! - [`pacing`]: the per-instance token bucket that keeps senders within the SES rate.
//! - [`store`]: one folder per table: the store's trait, its DynamoDB and in-memory adapters
//!   and the contract both keep.
//! - [`ports`]: the small traits at the other AWS boundaries (object store, queue, mailer,
//!   scheduler, clock, ids), each with its own error enum.
//! - [`aws`]: the production adapters of those ports, built on the AWS SDK clients.
//! - [`memory`]: their in-memory adapters with the same semantics, for tests and simulation.
//! - [`recipient_list`]: streaming CSV reader for recipient lists (encodings, row reports).
//! - [`render`]: handlebars mail templates, compiled once and rendered per recipient.
//! - [`system`]: the real clock and id generator.
//! - [`config`]: typed configuration from the environment.
//! - [`api_gateway`]: HTTP API request helpers and the single error-to-status mapping.
//! - [`sqs_batch`]: per-record handling of SQS batches with partial failures.
//! - [`telemetry`]: log set-up.
//! - [`wiring`]: the one [`wiring::Ports`] trait every function's `Deps` is generic over, the
//!   AWS adapters built from one `SdkConfig`, and one in-memory world.

pub mod api_gateway;
pub mod aws;
pub mod compose;
pub mod config;
pub mod domain;
pub mod memory;
pub mod pacing;
pub mod ports;
pub mod recipient_list;
pub mod render;
pub mod sqs_batch;
pub mod store;
pub mod system;
pub mod telemetry;
pub mod wiring;

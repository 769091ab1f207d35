//! Integration tests of the local runner crate, against the local AWS endpoints (started by
//! `make test`, which exports `.local/aws.env`). One binary, one module per subject.

mod adapters_s3;
mod adapters_scheduler;
mod adapters_secrets;
mod adapters_ses;
mod adapters_sqs;
mod campaign_e2e;
mod cli_e2e;
mod compliance_e2e;
mod dead_letters;
mod exactly_once;
mod list_formats_e2e;
mod openapi_checks;
mod priority_e2e;
mod quota_e2e;
mod requeue;
mod runner;
mod schedule_e2e;
mod smoke;
mod store_contracts;
mod support;
mod template_checks;

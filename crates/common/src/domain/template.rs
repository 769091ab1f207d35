//! Mail templates: subject, HTML and text bodies, all handlebars.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::TemplateId;

/// One immutable version of a template. Updates store a new version; campaigns pin one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    pub id: TemplateId,
    pub version: u32,
    pub name: String,
    pub subject: String,
    pub html: String,
    pub text: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Who saved this version (the caller's IAM principal ARN; `local` under the local runner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
}

/// A template's newest version, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateSummary {
    pub id: TemplateId,
    pub name: String,
    pub latest_version: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Who saved the newest version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
}

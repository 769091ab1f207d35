//! Notes each function's calls, with the grants that allow them, one JSON line per distinct
//! call in a file of this process's own.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::{Arc, Mutex};

use aws_config::SdkConfig;

use super::actions::needed_by;
use super::{Noted, Policy, RECORD_CALLS};
use crate::metering::observed;

pub struct CallLog {
    file: Mutex<(std::fs::File, BTreeSet<Noted>)>,
}

impl CallLog {
    /// A file of its own in the directory the environment names, or `None` when it names none.
    pub fn from_env() -> Option<Arc<Self>> {
        let dir = std::env::var_os(RECORD_CALLS)?;
        std::fs::create_dir_all(&dir).ok()?;
        let name = format!("calls-{}.jsonl", std::process::id());
        match std::fs::OpenOptions::new().create(true).append(true).open(std::path::Path::new(&dir).join(name)) {
            Ok(file) => Some(Arc::new(Self { file: Mutex::new((file, BTreeSet::new())) })),
            Err(e) => {
                tracing::warn!(error = %e, "calls are not recorded");
                None
            }
        }
    }

    fn note(&self, call: Noted) {
        let mut guard = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let (file, seen) = &mut *guard;
        if seen.contains(&call) {
            return;
        }
        // One write a line: the logs of several execution environments append to one file.
        if let Ok(mut line) = serde_json::to_string(&call) {
            line.push('\n');
            let _ = file.write_all(line.as_bytes());
        }
        seen.insert(call);
    }
}

/// `sdk` for `function`'s own clients: every request is noted with what allows it.
pub fn attributed(sdk: &SdkConfig, function: &str, policy: Policy, log: Arc<CallLog>) -> SdkConfig {
    let function = function.to_string();
    observed(
        sdk,
        Arc::new(move |request| {
            for needed in needed_by(request) {
                let allowed_by = policy.allowing(&needed.action, &needed.resource);
                log.note(Noted {
                    function: function.clone(),
                    action: needed.action,
                    resource: needed.resource,
                    allowed_by,
                });
            }
        }),
    )
}

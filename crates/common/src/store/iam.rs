//! The IAM permissions each DynamoDB adapter method may need, every path included (a refused
//! condition's read-back, a transaction's fallback, a trait's default method), declared beside
//! the adapters. Each function lists the store methods its code can call ([`Uses`]); the local
//! runner's permission check holds the sum against the function's policy in `template.yaml`,
//! both ways: nothing needed is missing, nothing granted is unneeded.

use std::collections::BTreeSet;

use crate::config::vars;

/// One permission: `action` on the table a function finds in its configuration variable
/// `table`, or on one of that table's indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Need {
    pub action: &'static str,
    pub table: &'static str,
    pub index: Option<&'static str>,
}

const fn on(table: &'static str, action: &'static str) -> Need {
    Need { action, table, index: None }
}

const fn on_index(table: &'static str, index: &'static str, action: &'static str) -> Need {
    Need { action, table, index: Some(index) }
}

/// A store method and everything it may call.
pub struct Method {
    pub name: &'static str,
    pub needs: &'static [Need],
}

const fn method(name: &'static str, needs: &'static [Need]) -> Method {
    Method { name, needs }
}

/// The stores a function can be wired to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    Templates,
    Campaigns,
    Recipients,
    Suppressions,
    Ledger,
    Audit,
    SendLog,
    ResultLog,
}

const T: &str = vars::TEMPLATES_TABLE;
const C: &str = vars::CAMPAIGNS_TABLE;
const R: &str = vars::RECIPIENTS_TABLE;
const S: &str = vars::SUPPRESSIONS_TABLE;
const L: &str = vars::LEDGER_TABLE;
const A: &str = vars::AUDIT_TABLE;

/// A transaction's items are authorized one by one, as their single-item forms.
const GET: &str = "dynamodb:GetItem";
const PUT: &str = "dynamodb:PutItem";
const UPDATE: &str = "dynamodb:UpdateItem";
const DELETE: &str = "dynamodb:DeleteItem";
const QUERY: &str = "dynamodb:Query";
const SCAN: &str = "dynamodb:Scan";
const BATCH_GET: &str = "dynamodb:BatchGetItem";

/// The methods of [`crate::store::DynamoTemplateStore`].
const TEMPLATES: &[Method] = &[
    method("put_version", &[on(T, PUT)]),
    method("get", &[on(T, GET)]),
    method("list", &[on(T, SCAN)]),
    method("delete", &[on(T, DELETE)]),
];

/// [`crate::store::DynamoCampaignStore`]; a refused transition or reschedule reads the campaign
/// back to name its status.
const CAMPAIGNS: &[Method] = &[
    method("get", &[on(C, GET)]),
    method("list", &[on_index(C, "by_created", QUERY), on_index(C, "by_status", QUERY)]),
    method("create", &[on(C, PUT)]),
    method("transition", &[on(C, UPDATE), on(C, GET)]),
    method("reschedule", &[on(C, UPDATE), on(C, GET)]),
    method("set_split_totals", &[on(C, UPDATE)]),
    method("set_requeue_progress", &[on(C, UPDATE)]),
    method("add_counters", &[on(C, UPDATE)]),
];

/// [`crate::store::DynamoRecipientStore`]; a refused conditional write reads the recipient
/// back to name its status (a second claim, a second unsubscribe, an early result).
const RECIPIENTS: &[Method] = &[
    method("get", &[on(R, GET)]),
    method("claim", &[on(R, UPDATE), on(R, GET)]),
    method("claim_batch", &[on(R, UPDATE), on(R, GET)]),
    method("finish", &[on(R, UPDATE), on(R, GET)]),
    method("release_failed", &[on(R, UPDATE)]),
    method("advance", &[on(R, UPDATE), on(R, GET)]),
    method("note_result", &[on(R, UPDATE), on(R, GET)]),
    method("find_by_message_id", &[on_index(R, "by_message_id", QUERY)]),
    method("list_by_status", &[on_index(R, "by_status", QUERY)]),
];

/// [`crate::store::DynamoSuppressionStore`]; `add` looks before it writes.
const SUPPRESSIONS: &[Method] = &[
    method("suppressed_among", &[on(S, BATCH_GET)]),
    method("put", &[on(S, PUT)]),
    method("add", &[on(S, QUERY), on(S, PUT)]),
    method("find", &[on(S, QUERY)]),
    method("remove", &[on(S, DELETE)]),
    method("list", &[on(S, SCAN)]),
];

/// [`crate::store::DynamoLedger`]; `record_once` reads the value that was there first.
const LEDGER: &[Method] = &[
    method("record_once", &[on(L, PUT), on(L, GET)]),
    method("read", &[on(L, GET)]),
    method("add_sent", &[on(L, UPDATE)]),
    method("sent_between", &[on(L, BATCH_GET)]),
];

/// [`crate::store::DynamoAuditLog`].
const AUDIT: &[Method] =
    &[method("record", &[on(A, PUT)]), method("list", &[on(A, QUERY), on_index(A, "by_time", QUERY)])];

/// [`crate::store::DynamoSendLog`]: transactions over three tables. `record_unsent` is `record`
/// of outcomes none of which is a send (the splitter's skipped rows): no hourly sent count.
const SEND_LOG: &[Method] = &[
    method("record", &[on(R, UPDATE), on(C, UPDATE), on(L, UPDATE)]),
    method("record_unsent", &[on(R, UPDATE), on(C, UPDATE)]),
    method("release_failed", &[on(R, UPDATE), on(C, UPDATE)]),
];

/// [`crate::store::DynamoResultLog`]; a refused note reads the recipient back.
const RESULT_LOG: &[Method] = &[method("record", &[on(R, UPDATE), on(R, GET), on(C, UPDATE)])];

impl Port {
    pub fn methods(self) -> &'static [Method] {
        match self {
            Self::Templates => TEMPLATES,
            Self::Campaigns => CAMPAIGNS,
            Self::Recipients => RECIPIENTS,
            Self::Suppressions => SUPPRESSIONS,
            Self::Ledger => LEDGER,
            Self::Audit => AUDIT,
            Self::SendLog => SEND_LOG,
            Self::ResultLog => RESULT_LOG,
        }
    }
}

/// A function's use of a store: the methods its code can call, directly or through a shared
/// helper (`complete_if_done` and `pause_running` transition; `record_result` notes, counts
/// and advances).
pub struct Uses {
    pub port: Port,
    pub methods: &'static [&'static str],
}

/// Everything `uses` may need. `Err` names a method its port does not declare.
pub fn needs(uses: &[Uses]) -> Result<BTreeSet<Need>, String> {
    let mut out = BTreeSet::new();
    for used in uses {
        for name in used.methods {
            let method = used
                .port
                .methods()
                .iter()
                .find(|m| m.name == *name)
                .ok_or_else(|| format!("{:?} has no method {name}", used.port))?;
            out.extend(method.needs.iter().copied());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_method_no_port_declares_is_named() {
        let uses = [Uses { port: Port::Ledger, methods: &["read", "nope"] }];
        assert_eq!(needs(&uses).unwrap_err(), "Ledger has no method nope");
    }

    #[test]
    fn the_needs_of_a_use_are_those_of_its_methods() {
        let uses = [Uses { port: Port::Ledger, methods: &["record_once"] }];
        assert_eq!(needs(&uses).unwrap(), BTreeSet::from([on(L, PUT), on(L, GET)]));
    }
}

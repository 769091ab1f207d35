//! Campaigns at the quotas real accounts have, through the whole local stack.

use std::time::Duration;

use crate::campaign_e2e::{create, mails_to, start_with_parameters, wait_until_drained};
use crate::schedule_e2e::{body, campaign_inputs};
use crate::support::endpoints;

#[tokio::test]
async fn at_the_sandbox_rate_with_the_default_concurrency_every_recipient_is_mailed_exactly_once() {
    // A new SES account: 1 mail/s, shared by the template's default number of senders. Each
    // sender gets a fifth of it, too slow to send a whole batch before Lambda's timeout.
    let (runner, api) = start_with_parameters(&[("MaxSendRate", "1")]).await;
    let (key, domain) = campaign_inputs(&api, 20).await;
    let campaign = create(&api, "/campaigns", body(&key, None)).await;
    let id = campaign["id"].as_str().unwrap();
    let done = api.wait_for_campaign(id, Duration::from_secs(240)).await.unwrap();
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!((done["counters"]["sent"].as_u64(), done["counters"]["failed"].as_u64()), (Some(20), Some(0)));
    let mails = mails_to(&domain).await;
    assert_eq!(mails.len(), 20, "every recipient got a mail");
    let twice: Vec<_> = mails.iter().filter(|(_, m)| m.len() > 1).map(|(to, _)| to).collect();
    assert!(twice.is_empty(), "mailed more than once: {twice:?}");
    let sdk = endpoints().sdk_config().await;
    wait_until_drained(&sdk, runner.stack.reference("RecipientsQueue").unwrap()).await;
}

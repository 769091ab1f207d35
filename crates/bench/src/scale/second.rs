//! A second, small campaign started while the first runs (`--second-rows`, `--second-after`):
//! does it wait behind the first one's backlog, or go through beside it? Its recipients are
//! other people (another domain), so SES's record tells the two campaigns apart.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context as _, Result};
use fanmail_common::domain::{CampaignId, CampaignStatus, EmailAddress};
use fanmail_common::memory::MemoryObjectStore;
use fanmail_common::ports::ObjectStore;
use fanmail_common::recipient_list::recipient_id;
use fanmail_common::store::{CampaignReader, CampaignStore};
use serde::Serialize;
use time::OffsetDateTime;

use super::ses::Acceptances;
use super::{campaign, start, Settings, World};
use crate::GeneratedList;

const DOMAIN: &str = "example.org";
const LIST_KEY: &str = "lists/second.csv";

fn id() -> CampaignId {
    CampaignId::parse("second").expect("a valid id")
}

pub(super) async fn prepare(world: &World, objects: &MemoryObjectStore, now: OffsetDateTime) -> Result<()> {
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut GeneratedList::in_domain(world.settings.second_rows, DOMAIN), &mut bytes)?;
    objects.put(LIST_KEY, bytes, "text/csv").await?;
    world.campaigns.create(&campaign(id(), LIST_KEY, now)?).await?;
    Ok(())
}

/// Where the second campaign is, as the run goes.
pub(super) struct Progress {
    rows: u64,
    start_after: Duration,
    started_at: Option<Duration>,
    completed_after: Option<Duration>,
    /// The first campaign's sent count when this one completed.
    first_sent_then: u64,
}

impl Progress {
    pub(super) fn new(settings: &Settings) -> Self {
        Self {
            rows: settings.second_rows,
            start_after: Duration::from_secs_f64(settings.second_after_seconds),
            started_at: None,
            completed_after: None,
            first_sent_then: 0,
        }
    }

    /// Starts it when its time has come; notes when it completes.
    pub(super) async fn step(&mut self, world: &World, elapsed: Duration) -> Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        let Some(started_at) = self.started_at else {
            if elapsed >= self.start_after {
                start(world, id()).await?;
                self.started_at = Some(elapsed);
            }
            return Ok(());
        };
        if self.completed_after.is_none() {
            let campaign = world.campaigns.get(&id()).await?.context("the second campaign")?;
            if campaign.status == CampaignStatus::Completed {
                self.completed_after = Some(elapsed - started_at);
                let first = world.campaigns.get(&World::campaign_id()).await?.context("the first campaign")?;
                self.first_sent_then = first.counters.sent;
            }
        }
        Ok(())
    }

    /// Nothing left to wait for: no second campaign, or it completed.
    pub(super) fn done(&self) -> bool {
        self.rows == 0 || self.completed_after.is_some()
    }

    /// Still to be started: the run is not idle yet, whatever the queues say.
    pub(super) fn pending(&self) -> bool {
        self.rows > 0 && self.started_at.is_none()
    }
}

/// What happened to the second campaign's recipients.
#[derive(Debug, Clone, Serialize)]
pub struct SecondCampaign {
    pub rows: u64,
    pub started_after_seconds: f64,
    pub recipients: u64,
    pub sent: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub completed: bool,
    /// From its start to its completion.
    pub seconds_to_complete: f64,
    /// How many of the first campaign's recipients had been sent when this one completed.
    pub first_campaign_sent_by_then: u64,
}

/// Counts the second campaign's recipients, taking their mails out of `acceptances`.
pub(super) async fn count(
    world: &World,
    progress: &Progress,
    acceptances: &mut HashMap<u128, Acceptances>,
) -> Result<Option<SecondCampaign>> {
    if progress.rows == 0 {
        return Ok(None);
    }
    let (mut recipients, mut sent, mut duplicated) = (0, 0, 0);
    for row in 0..progress.rows {
        let Some(address) = GeneratedList::unique_address_in(row, DOMAIN) else { continue };
        recipients += 1;
        let id = u128::from_str_radix(recipient_id(&EmailAddress::parse(&address)?).as_str(), 16)?;
        if let Some(mails) = acceptances.remove(&id) {
            sent += 1;
            duplicated += u64::from(mails.count > 1);
        }
    }
    let failed = world.campaigns.get(&id()).await?.map_or(0, |c| c.counters.failed);
    Ok(Some(SecondCampaign {
        rows: progress.rows,
        started_after_seconds: progress.started_at.unwrap_or_default().as_secs_f64(),
        recipients,
        sent,
        lost: recipients.saturating_sub(sent + failed),
        duplicated,
        completed: progress.completed_after.is_some(),
        seconds_to_complete: progress.completed_after.unwrap_or_default().as_secs_f64(),
        first_campaign_sent_by_then: progress.first_sent_then,
    }))
}

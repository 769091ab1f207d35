//! The commands and their options.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "fanmail", version, about = "Personalised bulk mail through your fanmail deployment")]
pub struct Cli {
    #[command(flatten)]
    pub target: Target,
    /// Print the API's JSON instead of tables (for scripts).
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// Where the API is.
#[derive(Debug, Args)]
pub struct Target {
    /// The API's URL (what `make dev` prints); otherwise the stack's `ApiUrl` output.
    #[arg(long, env = "FANMAIL_API", global = true)]
    pub api: Option<String>,
    /// The CloudFormation stack fanmail is deployed as.
    #[arg(long, env = "FANMAIL_STACK", default_value = "fanmail", global = true)]
    pub stack: String,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Mail templates.
    #[command(subcommand)]
    Templates(TemplatesCommand),
    /// Upload a list and send a campaign (or a dry run, or a test mail), watching it to the end.
    Send(SendArgs),
    /// Campaigns: list, show, watch, pause, resume, cancel, retry the failed, rejected rows.
    #[command(subcommand)]
    Campaigns(CampaignsCommand),
    /// The suppression list.
    #[command(subcommand)]
    Suppressions(SuppressionsCommand),
    /// Mails sent in the last hours.
    Stats {
        #[arg(long, default_value_t = 24)]
        hours: u32,
    },
    /// Who changed what, newest first: everything, or one `campaign/ID`, `template/ID` or
    /// `suppression/ADDRESS`.
    Audit {
        subject: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum TemplatesCommand {
    /// Create a template from a JSON file ({"id", "name", "subject", "html", "text"}), or add
    /// a version when it exists.
    Push {
        file: PathBuf,
    },
    List,
    Show {
        id: String,
        #[arg(long)]
        version: Option<u32>,
    },
    /// Delete a template and its versions (campaigns already created keep theirs).
    Delete {
        id: String,
    },
    /// Render one row as the sender would: `--row name=Kim --row email=kim@example.com`, or
    /// row N of a local list file.
    Preview {
        id: String,
        /// A column of the row, NAME=VALUE (repeat).
        #[arg(long = "row", value_name = "NAME=VALUE")]
        row: Vec<String>,
        /// A shared variable, NAME=VALUE (repeat).
        #[arg(long = "var", value_name = "NAME=VALUE")]
        vars: Vec<String>,
        #[arg(long)]
        from: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct SendArgs {
    /// The recipient list: .csv, .tsv or .xlsx.
    pub list: PathBuf,
    #[arg(long)]
    pub template: String,
    /// The From address, in the verified domain.
    #[arg(long)]
    pub from: String,
    #[arg(long)]
    pub from_name: Option<String>,
    /// A shared variable, NAME=VALUE (repeat).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Send later: RFC 3339 (`2027-01-05T09:00:00+09:00`) or a local time with --tz.
    #[arg(long)]
    pub at: Option<String>,
    /// The IANA zone of a local --at (`Asia/Seoul`).
    #[arg(long, requires = "at")]
    pub tz: Option<String>,
    /// Read and render every row and report; send nothing.
    #[arg(long, conflicts_with_all = ["test_to", "at"])]
    pub dry_run: bool,
    /// Send the first recipient's mail, marked [TEST], to these addresses only (up to 5).
    #[arg(long, value_name = "ADDRESS")]
    pub test_to: Vec<String>,
    /// Mails a second for this campaign at most.
    #[arg(long)]
    pub max_rate: Option<u32>,
    /// The list's address column (a header name or a 1-based number), when neither its header
    /// nor its values make it plain.
    #[arg(long, value_name = "COLUMN")]
    pub email_column: Option<String>,
    /// `high` goes ahead of bulk campaigns.
    #[arg(long)]
    pub priority: Option<String>,
    /// Do not watch the campaign after creating it.
    #[arg(long)]
    pub no_watch: bool,
    #[command(flatten)]
    pub watch: WatchArgs,
}

#[derive(Debug, Args, Clone)]
pub struct WatchArgs {
    /// Seconds between two looks at the campaign.
    #[arg(long, default_value_t = 1.0)]
    pub interval: f64,
}

#[derive(Debug, Subcommand)]
pub enum CampaignsCommand {
    /// Newest first.
    List {
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    Show {
        id: String,
    },
    /// A live progress bar until the campaign ends.
    Watch {
        id: String,
        #[command(flatten)]
        watch: WatchArgs,
    },
    /// A new send time for a scheduled campaign.
    Reschedule {
        id: String,
        /// RFC 3339, or a local time with --tz.
        #[arg(long)]
        at: String,
        #[arg(long)]
        tz: Option<String>,
    },
    Pause {
        id: String,
    },
    Resume {
        id: String,
    },
    Cancel {
        id: String,
    },
    RetryFailed {
        id: String,
    },
    RejectedRows {
        id: String,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// The campaign's mail for one row of its list, marked [TEST], to up to 5 addresses.
    Test {
        id: String,
        #[arg(long = "to", value_name = "ADDRESS", required = true)]
        to: Vec<String>,
        #[arg(long)]
        row: Option<u64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SuppressionsCommand {
    List {
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    Add {
        address: String,
        /// Only for mail from this sender address (default: every sender).
        #[arg(long)]
        sender: Option<String>,
    },
    Remove {
        address: String,
        /// Lift it even if it followed a complaint (the recipient marked a mail as spam).
        #[arg(long)]
        force: bool,
    },
}

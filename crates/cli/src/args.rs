//! The command line (SPEC section 6). Each flag is defined once, with the
//! documentation that `--help` shows.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "mailferry", version, about = "Self-hosted mailbox migration: endpoints, batches, verified copies.")]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Directory of the embedded database and the generated secret key.
    #[arg(long, global = true, env = "MAILFERRY_HOME", default_value = "./mailferry-data", value_name = "DIR")]
    pub data_dir: PathBuf,
    /// Database URL (sqlite://PATH); the default is DIR/mailferry.db.
    #[arg(long, global = true, env = "MAILFERRY_DB", value_name = "URL")]
    pub db: Option<String>,
    /// Machine-readable output on stdout (errors as JSON on stderr).
    #[arg(long, global = true)]
    pub json: bool,
    /// An extra trust anchor (PEM) for this command's TLS connections; with
    /// `endpoint create`/`set` it is also stored with the endpoint.
    #[arg(long, global = true, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// The DNS server every lookup asks (discovery and connections), e.g. 10.0.0.53:53.
    #[arg(long, global = true, env = "MAILFERRY_RESOLVER", value_name = "IP:PORT")]
    pub resolver: Option<std::net::SocketAddr>,
    /// Let discovery use loopback, private, link-local and ULA addresses (refused by default:
    /// a discoverer must not be turned against the local network).
    #[arg(long, global = true, env = "MAILFERRY_ALLOW_PRIVATE_NETWORKS", value_parser = clap::builder::BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    pub allow_private_networks: bool,
    /// Seconds to wait for a connection and for each server response.
    #[arg(long, global = true, env = "MAILFERRY_TIMEOUT", value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: Option<u64>,
    /// More detail (-v info, -vv debug) on stderr.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migration endpoints: mail servers and the administrator who acts for their mailboxes.
    #[command(subcommand)]
    Endpoint(EndpointCommand),
    /// Migration batches: mailboxes from a CSV copied from a source to a target endpoint.
    #[command(subcommand)]
    Batch(BatchCommand),
    /// Migration users: one mailbox of a batch.
    #[command(subcommand)]
    User(UserCommand),
    /// Run the HTTP API (/api/v1, token required), the scheduler and the workers: start-after,
    /// incremental syncs on their interval, complete-after; mailboxes copied within each
    /// endpoint's limits. Stops cleanly on SIGTERM.
    Serve(ServeHttpArgs),
    /// API tokens for `serve` (stored hashed; a token is shown once, when created).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Run workers only (no scheduler): more copying capacity beside a `serve`.
    Worker(WorkerArgs),
    /// Prove the copy: compare every message of every folder on both sides (SHA-256, flags,
    /// INTERNALDATE); exit 1 on any difference.
    Verify {
        batch: String,
        /// Only this mailbox.
        #[arg(long, value_name = "ADDRESS")]
        user: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum BatchCommand {
    /// Create a batch from a CSV (EmailAddress,UserName,Password); nothing is stored unless every row is valid.
    Create(BatchCreateArgs),
    /// Start the batch's initial sync (with --wait: run it here until every mailbox settles).
    Start(WaitArgs),
    /// Sync the batch's mailboxes now (incremental).
    Sync(WaitArgs),
    /// Final incremental sync of every mailbox, then Completed: no sync runs afterwards.
    Complete(WaitArgs),
    /// Stop the batch: mailboxes being copied stop at the next message, with their state saved.
    Stop { name: String },
    /// Remove the batch and everything recorded for it (its copies on the target stay).
    Remove { name: String },
    /// Add mailboxes from a CSV to the batch (same rules as create).
    AddUsers {
        name: String,
        #[arg(long, value_name = "FILE")]
        csv: PathBuf,
        /// Ignore CSV columns other than EmailAddress, UserName and Password.
        #[arg(long)]
        allow_unknown_columns: bool,
    },
    /// Show a batch and its mailboxes.
    Show { name: String },
    /// List batches.
    List,
    /// Per-mailbox statistics and skipped items.
    Report {
        name: String,
        /// csv (default) or json.
        #[arg(long, default_value = "csv", value_parser = ["csv", "json"])]
        format: String,
    },
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    pub name: String,
    /// Run the work in this process with progress, until every mailbox settles; exit 1 if any failed.
    #[arg(long)]
    pub wait: bool,
}

#[derive(Debug, Args)]
pub struct BatchCreateArgs {
    pub name: String,
    /// The CSV file of mailboxes.
    #[arg(long, value_name = "FILE")]
    pub csv: PathBuf,
    /// The source endpoint (or discover it: --source-email, --source-admin, --source-password-env).
    #[arg(long, value_name = "EP", required_unless_present = "source_email", conflicts_with = "source_email")]
    pub source: Option<String>,
    /// Discover the source from this address; the endpoint is created after the batch.
    #[arg(long, value_name = "ADDR", requires_all = ["source_admin", "source_password_env"])]
    pub source_email: Option<String>,
    /// The source's migration administrator (with --source-email).
    #[arg(long, value_name = "LOGIN")]
    pub source_admin: Option<String>,
    /// The environment variable holding the source administrator's password (with --source-email).
    #[arg(long, value_name = "VAR")]
    pub source_password_env: Option<String>,
    /// How the source administrator acts for a mailbox (with --source-email; default authzid).
    #[arg(long, value_name = "authzid|master-user", default_value = "authzid")]
    pub source_impersonation: String,
    /// The name of the discovered source endpoint (default: the address's domain).
    #[arg(long, value_name = "NAME")]
    pub name_endpoint: Option<String>,
    /// A host outside the address's domain that discovery may use (with --source-email).
    #[arg(long, value_name = "HOST")]
    pub trust_host: Vec<String>,
    /// The target endpoint.
    #[arg(long, value_name = "EP")]
    pub target: String,
    /// Start the batch right after creating it.
    #[arg(long)]
    pub autostart: bool,
    /// Complete the batch by itself once every mailbox is synced (needs `mailferry serve`).
    #[arg(long)]
    pub autocomplete: bool,
    /// Start at this time (RFC 3339, e.g. 2026-12-01T22:00:00Z, or a delay like 2h); needs `mailferry serve`.
    #[arg(long, value_name = "T")]
    pub start_after: Option<String>,
    /// Complete at this time (RFC 3339 or a delay like 7d); needs `mailferry serve`.
    #[arg(long, value_name = "T")]
    pub complete_after: Option<String>,
    /// Leave out a folder (path from the root, `/` between levels; `Name/*` with subfolders; `#Junk#`-style names).
    #[arg(long, value_name = "PATH")]
    pub exclude_folder: Vec<String>,
    /// Copy only these folders (same syntax as --exclude-folder).
    #[arg(long, value_name = "PATH")]
    pub include_folder: Vec<String>,
    /// Skip messages larger than this as `large` (bytes, or 25MB, 512KB).
    #[arg(long, value_name = "BYTES")]
    pub max_message_size: Option<String>,
    /// Fail a mailbox when more messages than this are skipped as `bad` (default 0).
    #[arg(long, value_name = "N")]
    pub bad_item_limit: Option<u64>,
    /// Fail a mailbox when more messages than this are skipped as `large` (default 0).
    #[arg(long, value_name = "N")]
    pub large_item_limit: Option<u64>,
    /// Time between incremental syncs (default 24h; e.g. 30m, 6h, 1d).
    #[arg(long, value_name = "DUR")]
    pub incremental_interval: Option<String>,
    /// No incremental syncs after the initial one.
    #[arg(long, conflicts_with = "incremental_interval")]
    pub no_incremental: bool,
    /// The mailbox the target test writes to (default: the first CSV row).
    #[arg(long, value_name = "ADDRESS")]
    pub test_mailbox: Option<String>,
    /// Ignore CSV columns other than EmailAddress, UserName and Password.
    #[arg(long)]
    pub allow_unknown_columns: bool,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// List migration users.
    List {
        /// Only this batch's users.
        #[arg(long, value_name = "B")]
        batch: Option<String>,
        /// Only users in this status (Queued, Syncing, Synced, Failed, ...).
        #[arg(long, value_name = "S")]
        status: Option<String>,
    },
    /// Show one migration user with its folders and skipped items.
    Show { address: String },
}

#[derive(Debug, Subcommand)]
pub enum EndpointCommand {
    /// Test the settings, then create the endpoint (nothing is stored unless the test passes).
    Create(CreateArgs),
    /// Run the endpoint test on a stored endpoint (NAME) or on settings given as options.
    Test(TestArgs),
    /// List endpoints.
    List,
    /// Show one endpoint (never its secret).
    Show { name: String },
    /// Change an endpoint; a change that can affect the connection is tested first.
    Set(SetArgs),
    /// Remove an endpoint (refused while a batch uses it).
    Remove { name: String },
}

/// Where the administrator's password comes from.
#[derive(Debug, Args, Clone, Default)]
pub struct PasswordArgs {
    /// Read the password from this environment variable.
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
    /// Read the password from this file (one trailing newline is ignored).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Refused: a password on the command line ends up in shell history and `ps`.
    #[arg(long, hide = true, value_name = "PASSWORD")]
    pub password: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct ConnectionArgs {
    /// The IMAP server's host name or address.
    #[arg(long, conflicts_with = "autodiscover")]
    pub host: Option<String>,
    /// Find the server's settings from --email (Autodiscover, autoconfig, DNS SRV, probing).
    #[arg(long, requires = "email")]
    pub autodiscover: bool,
    /// The address discovery starts from (usually the administrator's or a mailbox's).
    #[arg(long, value_name = "ADDR")]
    pub email: Option<String>,
    /// A host outside the address's domain that discovery may send credentials to or use.
    #[arg(long, value_name = "HOST")]
    pub trust_host: Vec<String>,
    /// Port (default 993 for tls, 143 for starttls and none).
    #[arg(long)]
    pub port: Option<u16>,
    /// tls (implicit TLS), starttls, or none (needs --allow-plaintext).
    #[arg(long, value_name = "tls|starttls|none")]
    pub security: Option<String>,
    /// Accept --security none: the password travels in clear.
    #[arg(long)]
    pub allow_plaintext: bool,
    /// The migration administrator's login.
    #[arg(long, value_name = "LOGIN")]
    pub admin: Option<String>,
    #[command(flatten)]
    pub password: PasswordArgs,
    /// How the administrator acts for a mailbox: authzid (SASL PLAIN authorization identity),
    /// master-user (Dovecot-style `mailbox*admin` login) or none (per-user credentials).
    #[arg(long, value_name = "authzid|master-user|none")]
    pub impersonation: Option<String>,
    /// Separator of the master-user login (default `*`).
    #[arg(long, value_name = "C")]
    pub master_separator: Option<String>,
    /// How a mailbox's login derives from its address: %EMAILADDRESS% (default),
    /// %EMAILLOCALPART%, %EMAILDOMAIN%.
    #[arg(long, value_name = "TEMPLATE")]
    pub login_format: Option<String>,
    /// The mailbox the test acts for (its INBOX is opened).
    #[arg(long, value_name = "ADDRESS")]
    pub test_mailbox: Option<String>,
    /// Mailboxes of this endpoint migrated at once (default 20).
    #[arg(long, value_name = "N")]
    pub max_concurrent_migrations: Option<u32>,
    /// Incremental syncs at once (default 10, at most --max-concurrent-migrations).
    #[arg(long, value_name = "N")]
    pub max_concurrent_incremental: Option<u32>,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    pub name: String,
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Store the endpoint without testing it; it is marked unverified.
    #[arg(long)]
    pub skip_verification: bool,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// A stored endpoint to test (or give the settings as options instead).
    pub name: Option<String>,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

#[derive(Debug, Args)]
pub struct SetArgs {
    pub name: String,
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Save the change without testing; the endpoint becomes unverified.
    #[arg(long)]
    pub skip_verification: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Mailboxes this process copies at once (each endpoint's limits apply on top).
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub slots: usize,
    /// How often the scheduler looks at the batches, in seconds.
    #[arg(long, default_value_t = 5, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub tick: u64,
    /// How long a claim on a mailbox lasts without renewal (renewed every third of it); a
    /// worker that dies or is paused longer loses its mailboxes to the others.
    #[arg(long, default_value_t = 60, value_name = "SECS", value_parser = clap::value_parser!(u64).range(3..=3600))]
    pub lease_ttl: u64,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct WorkerArgs {
    #[command(subcommand)]
    pub command: Option<WorkerCommand>,
    #[command(flatten)]
    pub run: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum WorkerCommand {
    /// List the worker processes (host, pid, heartbeat) and the mailboxes each one holds.
    List,
}

#[derive(Debug, Args)]
pub struct ServeHttpArgs {
    /// Address of the HTTP API and dashboard (loopback by default; every API route needs a token).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR:PORT")]
    pub listen: std::net::SocketAddr,
    #[command(flatten)]
    pub workers: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a new API token and print it once (only its SHA-256 is stored).
    Create { name: String },
    /// List tokens (names and dates; never a token).
    List,
    /// Revoke a token: requests with it are refused from now on.
    Revoke { name: String },
}

//! clap definitions. clap types stop in `cli/`: the library takes validated options.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use super::exit::EXIT_CODES_HELP;

const EXAMPLES: &str = "\
Examples:
  trailtriage scan sample-logs/
  trailtriage scan ./logs --role '*Deploy*' --since 2h
  trailtriage scan logs/ --parquet findings.parquet --jsonl findings.jsonl --report report.md --report-format markdown
  zcat file.json.gz | trailtriage scan - --jsonl -
  trailtriage causes
  trailtriage causes trust_policy_principal_not_allowed
  trailtriage explain EVENT_ID --in logs/";

/// `--version`: the version and which block scanner this build compiled
/// (`.cargo/config.toml` builds for x86-64-v3; docs/CLI.md).
const VERSION: &str = if cfg!(all(target_arch = "x86_64", target_feature = "avx2")) {
    concat!(
        env!("CARGO_PKG_VERSION"),
        " (x86-64-v3 build: AVX2 block scanner)"
    )
} else if cfg!(all(target_arch = "x86_64", target_feature = "sse2")) {
    concat!(
        env!("CARGO_PKG_VERSION"),
        " (portable x86-64 build: SSE2 block scanner)"
    )
} else {
    concat!(env!("CARGO_PKG_VERSION"), " (portable block scanner)")
};

/// Find failed AWS role assumptions in CloudTrail logs and say why each one failed.
#[derive(Debug, Parser)]
#[command(name = "trailtriage", version = VERSION, about, after_help = format!("{EXAMPLES}\n\n{EXIT_CODES_HELP}"))]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug); RUST_LOG also works.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// No progress bar and no warnings on stderr (errors still print).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Read defaults from this TOML file (default: ./trailtriage.toml when it
    /// exists); flags on the command line win over the file.
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per process: boxing the big variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan CloudTrail logs and classify every failed role assumption.
    Scan(ScanArgs),
    /// Summarize findings already written as Parquet (files or dataset
    /// directories), without re-scanning logs.
    Report(ReportArgs),
    /// List the cause catalogue, or print one cause in full.
    Causes {
        /// A cause id, e.g. trust_policy_principal_not_allowed.
        cause_id: Option<String>,
    },
    /// Walk one event through the whole AssumeRole checklist (pass / fail /
    /// unknown per item, then the cause and its remediation).
    Explain(ExplainArgs),
    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout.
    Man,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Markdown,
    Json,
    // One self-contained page with charts and a sortable, filterable table.
    Html,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogContextArg {
    Off,
    Roles,
    Full,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Args)]
#[command(after_help = format!("{EXAMPLES}\n\n{EXIT_CODES_HELP}"))]
pub struct ScanArgs {
    /// Files, directories (walked recursively: .json, .json.gz, .jsonl, .ndjson, .gz) or - for stdin.
    /// A file named here is read whatever its extension. Default: `inputs` of the config file.
    #[arg(value_name = "PATH|-")]
    pub inputs: Vec<String>,

    /// Threads to scan and write with (default: all cores).
    #[arg(short = 'j', long, value_name = "N")]
    pub threads: Option<usize>,

    /// Also report every other AccessDenied-family event (AccessDenied,
    /// UnauthorizedOperation, VpceAccessDenied, ...) with the denying policy type.
    #[arg(long)]
    pub all_denied: bool,

    /// Also report the role owner's copy of cross-account AssumeRole calls
    /// (userIdentity.type AWSAccount) as not_assume_failure.
    #[arg(long)]
    pub include_context: bool,

    /// Join the failures with log context after the scan: `roles` (successful
    /// CreateRole, DeleteRole, UpdateAssumeRolePolicy), `full` (also every
    /// successful AssumeRole*, to find the session behind a chained or expired
    /// caller), or `off` (the default: both cost CPU, see BENCHMARKS.md). The
    /// flag alone means `full`; `explain` always uses `full`.
    #[arg(
        long,
        value_enum,
        value_name = "MODE",
        num_args = 0..=1,
        require_equals = true,
        default_value_t = LogContextArg::Off,
        default_missing_value = "full"
    )]
    pub log_context: LogContextArg,

    /// Only events at or after this time: RFC 3339, YYYY-MM-DD, or a duration ago (36h, 7d).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,

    /// Only events before this time (same forms as --since).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,

    /// Only events whose caller, role or recipient account is one of these (repeat or comma-separate).
    #[arg(long, value_name = "ID", value_delimiter = ',')]
    pub account: Vec<String>,

    /// Only events logged in these regions (awsRegion; repeat or comma-separate).
    #[arg(long, value_name = "REGION", value_delimiter = ',')]
    pub log_region: Vec<String>,

    /// Only callers whose ARN matches this glob (repeatable), e.g. '*:user/ci-*'.
    #[arg(long, value_name = "GLOB")]
    pub caller: Vec<String>,

    /// Only target roles whose ARN matches this glob (repeatable), e.g. '*Deploy*'.
    #[arg(long, value_name = "GLOB")]
    pub role: Vec<String>,

    /// Only these causes (repeat or comma-separate; see `trailtriage causes`).
    #[arg(long, value_name = "CAUSE_ID", value_delimiter = ',')]
    pub cause: Vec<String>,

    /// Write findings to this Parquet file (atomically).
    #[arg(long, value_name = "FILE")]
    pub parquet: Option<PathBuf>,

    /// Write findings as JSON Lines to this file, or - for stdout.
    #[arg(long, value_name = "FILE|-")]
    pub jsonl: Option<String>,

    /// Write the summary report to this file, or - for stdout (default: stdout
    /// when no other output is given).
    #[arg(long, value_name = "FILE|-")]
    pub report: Option<String>,

    /// Report format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub report_format: ReportFormat,

    /// Colour in the text report.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// Exit with code 3 when a finding has at least this severity (high, medium,
    /// low, info) or this cause id.
    #[arg(long, value_name = "SEVERITY|CAUSE_ID")]
    pub fail_on: Option<String>,

    /// Refuse to inflate an object beyond this size (bytes; K, M, G suffixes).
    #[arg(long, value_name = "SIZE", default_value = "4G")]
    pub max_decompressed_size: String,

    #[command(flatten)]
    pub evidence: EvidenceArgs,

    /// Remember processed log objects in this state file and read only new
    /// ones (scheduled runs; idempotent even when killed). A local path or
    /// s3://bucket/key.
    #[arg(long, value_name = "FILE")]
    pub state: Option<String>,

    /// Write findings as a Hive-partitioned Parquet dataset under this
    /// directory or s3://bucket/prefix: one new part-RUN_ID.parquet per
    /// partition per run.
    #[arg(long, value_name = "DIR")]
    pub parquet_dir: Option<String>,

    /// Partition columns of --parquet-dir: `date` or `date,account`.
    #[arg(
        long,
        value_name = "COLS",
        default_value = "date",
        requires = "parquet_dir"
    )]
    pub partition_by: String,

    /// Read only the log objects of shard K of N (0 <= K < N), chosen by a
    /// stable hash of the object key; N runs together cover every object once.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,

    #[command(flatten)]
    pub remote: RemoteArgs,
}

/// Offline policy evidence (causes.md §6); see docs/INVENTORY.md.
#[derive(Debug, Clone, Args)]
pub struct EvidenceArgs {
    /// IAM inventory: get-account-authorization-details or list-roles JSON, or
    /// CSV account_id,role_arn; a file or a directory (repeatable).
    #[arg(long, value_name = "FILE_OR_DIR")]
    pub iam_inventory: Vec<PathBuf>,

    /// Organizations export directory: <policy-id>.json (describe-policy),
    /// <policy-id>.targets.json (list-targets-for-policy), accounts.json
    /// (list-accounts), optional parents/<id>.json (list-parents).
    #[arg(long, value_name = "DIR")]
    pub org_policies: Option<PathBuf>,

    /// When the inventory was taken (RFC 3339 or YYYY-MM-DD; default: each
    /// file's modification time).
    #[arg(long, value_name = "TIME")]
    pub inventory_time: Option<String>,
}

const EXPLAIN_EXAMPLES: &str = "\
Examples:
  trailtriage explain 4ca0b4d8-3283-50ca-ab9c-a2359468e229 --in sample-logs/
  trailtriage explain EVENT_ID --in ./logs --iam-inventory auth-details/ --org-policies org/

Besides the event itself, explain reads every file under --in for log context: successful
CreateRole, DeleteRole and UpdateAssumeRolePolicy of the role, and the successful AssumeRole
that issued the caller's session (joined by access key id).";

#[derive(Debug, Args)]
#[command(after_help = format!("{EXPLAIN_EXAMPLES}\n\n{EXIT_CODES_HELP}"))]
pub struct ExplainArgs {
    /// The eventID of the record to explain.
    #[arg(value_name = "EVENT_ID")]
    pub event_id: String,

    /// Files or directories to look for the event in.
    #[arg(long = "in", value_name = "PATH", required = true, num_args = 1..)]
    pub inputs: Vec<PathBuf>,

    #[command(flatten)]
    pub evidence: EvidenceArgs,

    /// Refuse to inflate an object beyond this size (bytes; K, M, G suffixes).
    #[arg(long, value_name = "SIZE", default_value = "4G")]
    pub max_decompressed_size: String,
}

/// `trailtriage report`: the same report formats as `scan`, from Parquet.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Parquet files written by trailtriage, directories (walked for
    /// *.parquet) or s3://bucket/prefix (AWS settings from the environment).
    #[arg(value_name = "PARQUET_FILE_OR_DIR", required = true)]
    pub inputs: Vec<PathBuf>,

    /// Write the report to this file, or - for stdout.
    #[arg(long, value_name = "FILE|-", default_value = "-")]
    pub report: String,

    /// Report format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub report_format: ReportFormat,

    /// Colour in the text report.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// Exit with code 3 when a finding has at least this severity or this cause id.
    #[arg(long, value_name = "SEVERITY|CAUSE_ID")]
    pub fail_on: Option<String>,
}

/// Remote sources: `s3://bucket/prefix` inputs and the LookupEvents API (docs/S3.md).
#[derive(Debug, Clone, Args)]
pub struct RemoteArgs {
    /// AWS profile for S3 and LookupEvents (default: AWS_PROFILE, then the default chain).
    #[arg(long, value_name = "NAME", help_heading = "AWS")]
    pub profile: Option<String>,

    /// AWS region (default: AWS_REGION or the profile's). Repeat for --lookup
    /// to query several regions side by side; S3 takes one.
    #[arg(
        long,
        value_name = "REGION",
        value_delimiter = ',',
        help_heading = "AWS"
    )]
    pub region: Vec<String>,

    /// Endpoint of an S3-compatible store or a test server (path-style
    /// addressing); AWS_ENDPOINT_URL also works.
    #[arg(long, value_name = "URL", help_heading = "AWS")]
    pub endpoint_url: Option<String>,

    /// Concurrent S3 downloads (objects in memory: about 2 x N + threads).
    #[arg(long, value_name = "N", default_value_t = trailtriage::source::s3::DEFAULT_CONCURRENCY, help_heading = "AWS")]
    pub s3_concurrency: usize,

    /// Longest wait for the response headers of one S3 or LookupEvents
    /// request (e.g. 30s, 500ms, 2m; a bare number is seconds); a request that
    /// times out is retried like a 503 [default: 30s]
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout, help_heading = "AWS")]
    pub response_timeout: Option<Duration>,

    /// Longest wait to connect to S3 or LookupEvents [default: 3.1s]
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout, help_heading = "AWS")]
    pub connect_timeout: Option<Duration>,

    /// Read the CloudTrail LookupEvents API (last 90 days of management
    /// events) instead of or besides log files; --since/--until set the window.
    #[arg(long, help_heading = "AWS")]
    pub lookup: bool,
}

/// A timeout: a number with `ms`, `s` or `m`, or a bare number of seconds;
/// more than zero and at most an hour.
pub fn parse_timeout(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let (num, unit_ms) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1000.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60_000.0)
    } else {
        (t, 1000.0)
    };
    let bad = || format!("{s:?}: not a duration (e.g. 30s, 500ms, 2m)");
    let n: f64 = num.trim().parse().map_err(|_| bad())?;
    if !n.is_finite() {
        return Err(bad());
    }
    let ms = n * unit_ms;
    if ms < 1.0 {
        return Err(format!("{s:?}: must be at least 1ms"));
    }
    if ms > 3_600_000.0 {
        return Err(format!("{s:?}: must be at most an hour"));
    }
    // Whole nanoseconds, rounded: 3.1s is exactly 3,100 ms.
    Ok(Duration::from_nanos((ms * 1e6).round() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts() {
        assert_eq!(parse_timeout("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_timeout("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_timeout("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_timeout("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_timeout(" 3.1s "), Ok(Duration::from_millis(3100)));
        for bad in [
            "", "s", "soon", "-1s", "0", "0.1ms", "NaN", "inf", "2h", "61m",
        ] {
            assert!(parse_timeout(bad).is_err(), "{bad}");
        }
    }
}

//! The command line: parse arguments, validate them into library options,
//! run, write outputs, and map the result to an exit code.

pub mod args;
pub mod config;
pub mod exit;
mod remote;
mod scale;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::{Context, Result, anyhow, bail};
use clap::{CommandFactory, FromArgMatches};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use args::{Cli, ColorChoice, Command, ReportFormat, ScanArgs};
use exit::Exit;
use trailtriage::classify::{SelectOptions, Severity, catalog};
use trailtriage::filter::{Filters, compile_globs, parse_time_bound};
use trailtriage::finding::Finding;
use trailtriage::pipeline::{FileResult, Input, Observer, Outcome, ScanOptions, Stats};
use trailtriage::sink::report::{self, Format, TextStyle};
use trailtriage::sink::{atomic, jsonl, parquet};
use trailtriage::util::sanitize;

/// Entry point used by `main`.
pub fn main() -> Exit {
    // Keep the matches: the config file fills only what the command line left unset.
    let parsed = Cli::command()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m).map(|c| (c, m)));
    let (cli, matches) = match parsed {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                Exit::Fatal
            } else {
                Exit::Ok
            };
            let _ = e.print();
            return code;
        }
    };
    init_logging(cli.verbose, cli.quiet);
    match run(cli, &matches) {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return Exit::Ok;
            }
            eprintln!("trailtriage: error: {e:#}");
            Exit::Fatal
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || matches!(c.downcast_ref::<trailtriage::Error>(), Some(trailtriage::Error::Write { source, .. }) if source.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn init_logging(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (_, 0) => "warn",
        (_, 1) => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

fn run(cli: Cli, matches: &clap::ArgMatches) -> Result<Exit> {
    match cli.command {
        Command::Scan(mut a) => {
            if let Some(cfg) = config::load(cli.config.as_deref())?
                && let Some(m) = matches.subcommand_matches("scan")
            {
                config::apply_scan(cfg, &mut a, m)?;
            }
            if a.inputs.is_empty() && !a.remote.lookup {
                bail!(
                    "an input is required: name files, directories or - on the command line, or set inputs in the [scan] table of {}",
                    config::DEFAULT_FILE
                );
            }
            scan(a, cli.quiet)
        }
        Command::Report(a) => scale::report(a),
        Command::Causes { cause_id } => causes(cause_id.as_deref()),
        Command::Explain(a) => explain(a),
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "trailtriage", &mut std::io::stdout());
            Ok(Exit::Ok)
        }
        Command::Man => {
            let man = clap_mangen::Man::new(Cli::command());
            man.render(&mut std::io::stdout())?;
            Ok(Exit::Ok)
        }
    }
}

/// Parse `4G`, `512M`, `100K`, `1000`.
pub fn parse_size(s: &str) -> Result<u64> {
    let s = s.trim();
    let (num, mult) = match s.chars().last() {
        Some('K' | 'k') => (&s[..s.len() - 1], 1u64 << 10),
        Some('M' | 'm') => (&s[..s.len() - 1], 1 << 20),
        Some('G' | 'g') => (&s[..s.len() - 1], 1 << 30),
        Some('T' | 't') => (&s[..s.len() - 1], 1 << 40),
        _ => (s, 1),
    };
    let n: u64 = num
        .trim()
        .parse()
        .map_err(|_| anyhow!("cannot read size {s:?} (examples: 4G, 512M, 1000000)"))?;
    n.checked_mul(mult)
        .ok_or_else(|| anyhow!("size {s:?} is too large"))
}

/// What `--fail-on` matches.
#[derive(Debug, Clone)]
pub enum FailOn {
    Severity(Severity),
    Cause(String),
}

impl FailOn {
    pub fn parse(s: &str) -> Result<FailOn> {
        if let Some(sev) = Severity::parse(s) {
            return Ok(FailOn::Severity(sev));
        }
        if catalog::cause(s).is_some() {
            return Ok(FailOn::Cause(s.to_string()));
        }
        bail!(
            "--fail-on {s:?}: not a severity (high, medium, low, info) or a cause id (see `trailtriage causes`)"
        )
    }

    pub fn matches(&self, f: &Finding) -> bool {
        match self {
            FailOn::Severity(min) => Severity::parse(&f.severity).is_some_and(|s| s <= *min),
            FailOn::Cause(c) => f.cause_id == *c,
        }
    }
}

fn options(a: &ScanArgs) -> Result<ScanOptions> {
    use trailtriage::policy::context::LogContext;
    let now = chrono::Utc::now().timestamp_millis();
    let since_ms = a
        .since
        .as_deref()
        .map(|s| parse_time_bound(s, now))
        .transpose()?;
    let until_ms = a
        .until
        .as_deref()
        .map(|s| parse_time_bound(s, now))
        .transpose()?;
    if let (Some(s), Some(u)) = (since_ms, until_ms)
        && s >= u
    {
        bail!("--since must be earlier than --until");
    }
    for c in &a.cause {
        if catalog::cause(c).is_none() {
            bail!("--cause {c:?} is not a cause id (see `trailtriage causes`)");
        }
    }
    for acct in &a.account {
        if acct.len() != 12 || !acct.bytes().all(|b| b.is_ascii_digit()) {
            bail!("--account {acct:?} is not a 12-digit account id");
        }
    }
    Ok(ScanOptions {
        select: SelectOptions {
            all_denied: a.all_denied,
            include_context: a.include_context,
            log_context: match a.log_context {
                args::LogContextArg::Off => LogContext::Off,
                args::LogContextArg::Roles => LogContext::Roles,
                args::LogContextArg::Full => LogContext::Full,
            },
        },
        filters: Filters {
            since_ms,
            until_ms,
            accounts: a.account.clone(),
            log_regions: a.log_region.clone(),
            caller: compile_globs(&a.caller)?,
            role: compile_globs(&a.role)?,
            causes: a.cause.clone(),
        },
        max_decompressed: parse_size(&a.max_decompressed_size)?,
        threads: a.threads.unwrap_or(0),
        inventory: load_inventory(&a.evidence)?,
    })
}

/// Load `--iam-inventory` / `--org-policies` (None when neither is given).
/// Problems that do not stop loading are printed as warnings.
fn load_inventory(
    a: &args::EvidenceArgs,
) -> Result<Option<std::sync::Arc<trailtriage::policy::Inventory>>> {
    if a.iam_inventory.is_empty() && a.org_policies.is_none() {
        if a.inventory_time.is_some() {
            bail!("--inventory-time needs --iam-inventory");
        }
        return Ok(None);
    }
    let now = chrono::Utc::now().timestamp_millis();
    let at = a
        .inventory_time
        .as_deref()
        .map(|s| parse_time_bound(s, now))
        .transpose()
        .context("--inventory-time")?;
    let inv =
        trailtriage::policy::Inventory::load(&a.iam_inventory, a.org_policies.as_deref(), at)?;
    for w in &inv.warnings {
        eprintln!("trailtriage: warning: {}", sanitize(w));
    }
    Ok(Some(std::sync::Arc::new(inv)))
}

fn explain(a: args::ExplainArgs) -> Result<Exit> {
    let inv = load_inventory(&a.evidence)?;
    let max = parse_size(&a.max_decompressed_size)?;
    let x = trailtriage::explain::explain(&a.inputs, &a.event_id, inv.as_deref(), max)?;
    for w in &x.warnings {
        eprintln!("trailtriage: warning: {}", sanitize(w));
    }
    write_stdout(trailtriage::explain::render_text(&x).as_bytes())?;
    Ok(Exit::Ok)
}

/// Progress and warnings on stderr.
struct Reporter {
    quiet: bool,
    bar: Option<ProgressBar>,
    state: Mutex<(u64, u64, u64)>,
}

impl Observer for Reporter {
    fn object_done(&self, r: &FileResult) {
        if let Outcome::Failed(why) = &r.outcome {
            let msg = format!("trailtriage: {}: {}", sanitize(&r.name), sanitize(why));
            match &self.bar {
                Some(b) => b.println(msg),
                None => eprintln!("{msg}"),
            }
        }
        if !self.quiet {
            for (i, why) in &r.malformed {
                let msg = format!(
                    "trailtriage: warning: {} record {i}: {}",
                    sanitize(&r.name),
                    sanitize(why)
                );
                match &self.bar {
                    Some(b) => b.println(msg),
                    None => eprintln!("{msg}"),
                }
            }
        }
        if let Some(b) = &self.bar
            && let Ok(mut st) = self.state.lock()
        {
            st.0 += 1;
            st.1 += r.decompressed_bytes;
            st.2 += r.findings.len() as u64;
            b.set_position(st.0);
            b.set_message(format!(
                "{} MB inflated, {} failures",
                st.1 / 1_000_000,
                st.2
            ));
        }
    }
}

fn write_stdout(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()?;
    Ok(())
}

fn scan(a: ScanArgs, quiet: bool) -> Result<Exit> {
    let opts = options(&a)?;
    let fail_on = a.fail_on.as_deref().map(FailOn::parse).transpose()?;
    let inputs: Vec<Input> = a
        .inputs
        .iter()
        .map(|s| {
            if s == "-" {
                Input::Stdin
            } else {
                Input::Path(PathBuf::from(s))
            }
        })
        .collect();
    if a.jsonl.as_deref() == Some("-") && a.report.as_deref() == Some("-") {
        bail!("--jsonl - and --report - cannot both write to stdout");
    }
    let show_bar = !quiet && std::io::stderr().is_terminal();
    let bar = show_bar.then(|| {
        let b = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        b.set_style(
            ProgressStyle::with_template(
                "{spinner} {pos} files [{elapsed_precise}] {msg} ({per_sec})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        b
    });
    let reporter = Reporter {
        quiet,
        bar,
        state: Mutex::new((0, 0, 0)),
    };
    // Outputs are encoded on the scan's thread count (Parquet columns in
    // parallel, JSON Lines beside them): the writers run in this pool.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads)
        .build()
        .ok();
    if scale::applies(&a) {
        // The dataset writer runs inside the scan.
        let (findings, stats) = in_pool(pool.as_ref(), || scale::scan(&a, &opts, &reporter))?;
        let code = exit_for(&findings, &stats, fail_on.as_ref());
        leave(findings);
        return Ok(code);
    }
    let (findings, stats) = remote::scan_all(&a, &inputs, &opts, &reporter)?;
    if let Some(b) = &reporter.bar {
        b.finish_and_clear();
    }
    in_pool(pool.as_ref(), || write_outputs(&a, &findings, &stats))?;
    let code = exit_for(&findings, &stats, fail_on.as_ref());
    leave(findings);
    Ok(code)
}

/// The findings are done with and the process is about to end: leave them to
/// the OS rather than free them one allocation at a time (a dozen strings
/// and vectors each; 10-20 ms of the end of a 0.6 s run on the benchmark
/// corpus, BENCHMARKS.md). `run` is called once per process.
fn leave(findings: Vec<Finding>) {
    std::mem::forget(findings);
}

/// Run `f` in `pool` (its rayon work on the pool's threads), or here.
fn in_pool<R: Send>(pool: Option<&rayon::ThreadPool>, f: impl FnOnce() -> R + Send) -> R {
    match pool {
        Some(p) => p.install(f),
        None => f(),
    }
}

fn exit_for(findings: &[Finding], stats: &Stats, fail_on: Option<&FailOn>) -> Exit {
    if let Some(f) = fail_on
        && findings.iter().any(|x| f.matches(x))
    {
        return Exit::FailOnMatched;
    }
    if stats.files_failed > 0 {
        Exit::SomeInputUnreadable
    } else {
        Exit::Ok
    }
}

fn write_outputs(a: &ScanArgs, findings: &[Finding], stats: &Stats) -> Result<()> {
    let write_parquet = || -> Result<()> {
        if let Some(p) = &a.parquet {
            parquet::write_file(p, findings)?;
        }
        Ok(())
    };
    let write_jsonl = || -> Result<()> {
        match a.jsonl.as_deref() {
            Some("-") => {
                let mut buf = Vec::new();
                jsonl::write_to(&mut buf, findings)?;
                write_stdout(&buf)?;
            }
            Some(p) => {
                let path = PathBuf::from(p);
                atomic::write_atomic(&path, |w| jsonl::write_to(w, findings))?;
            }
            None => {}
        }
        Ok(())
    };
    let (pq, jl) = rayon::join(write_parquet, write_jsonl);
    pq?;
    jl?;
    let report_target = match (&a.report, &a.parquet, &a.jsonl) {
        (Some(r), _, _) => Some(r.as_str()),
        (None, None, None) if a.parquet_dir.is_none() => Some("-"),
        _ => None,
    };
    if let Some(target) = report_target {
        let format = match a.report_format {
            ReportFormat::Text => Format::Text,
            ReportFormat::Markdown => Format::Markdown,
            ReportFormat::Json => Format::Json,
            ReportFormat::Html => Format::Html,
        };
        let to_tty = target == "-" && std::io::stdout().is_terminal();
        let color = match a.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                to_tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        };
        let width = if to_tty {
            terminal_width().unwrap_or(100)
        } else {
            100
        };
        let text = report::render(findings, stats, format, TextStyle { width, color });
        if target == "-" {
            write_stdout(text.as_bytes())?;
        } else {
            let path = PathBuf::from(target);
            atomic::write_atomic(&path, |w| w.write_all(text.as_bytes()))
                .with_context(|| format!("writing the report to {target}"))?;
        }
    }
    Ok(())
}

fn terminal_width() -> Option<usize> {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .or_else(|| {
            let (w, _) = console_size()?;
            Some(w)
        })
}

fn console_size() -> Option<(usize, usize)> {
    let (rows, cols) = console::Term::stdout().size_checked()?;
    Some((cols as usize, rows as usize))
}

fn causes(id: Option<&str>) -> Result<Exit> {
    let mut out = String::new();
    match id {
        None => {
            out.push_str(&format!(
                "{:<36} {:<8} {:<34} title\n",
                "cause_id", "severity", "checklist item"
            ));
            for c in catalog::CAUSES {
                out.push_str(&format!(
                    "{:<36} {:<8} {:<34} {}\n",
                    c.id, c.severity, c.checklist, c.title
                ));
            }
            out.push_str("\nSub-hints (secondary only):\n");
            for (id, what) in catalog::SUB_HINTS {
                out.push_str(&format!("  {id:<34} {what}\n"));
            }
            out.push_str("\nRun `trailtriage causes CAUSE_ID` for one cause in full.\n");
        }
        Some(id) => {
            let Some(c) = catalog::cause(id) else {
                bail!("unknown cause id {id:?}; run `trailtriage causes` for the list");
            };
            out.push_str(&format!(
                "{}\n  {}\n\nseverity:     {}\nchecklist:    {}\nspec:         causes.md §{}\n\nwhat the log shows:\n  {}\n\nwhat settles it:\n  {}\n\nremediation:\n  {}\n",
                c.id, c.title, c.severity, c.checklist, c.spec, c.signals, c.settle, c.remediation
            ));
        }
    }
    write_stdout(out.as_bytes())?;
    Ok(Exit::Ok)
}

//! Scheduled and scaled-out runs: `--state`, `--parquet-dir`, `--shard`, and
//! the `report` subcommand over Parquet. The protocol itself lives in the
//! library (`trailtriage::state`, `trailtriage::sink::dataset`); this file
//! sequences it around the outputs.

use std::collections::HashSet;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};

use super::args::{ColorChoice, ReportArgs, ReportFormat, ScanArgs};
use super::exit::Exit;
use super::remote::{aws_options, s3_note};
use super::{FailOn, Reporter, exit_for, terminal_width, write_outputs, write_stdout};
use trailtriage::finding::Finding;
use trailtriage::pipeline::{FileResult, ScanOptions, Stats};
use trailtriage::shard::{Shard, summary_line};
use trailtriage::sink::atomic;
use trailtriage::sink::dataset::{self, Destination, PartitionBy};
use trailtriage::sink::report::{self, Format, TextStyle};
use trailtriage::sink::s3::S3Store;
use trailtriage::source::keys::S3Url;
use trailtriage::source::pick::KeyPick;
use trailtriage::source::s3::S3Options;
use trailtriage::state::{
    LocalObject, LocalRun, PendingRun, State, StateFile, canonical_roots, list_local, merge_stats,
    new_run_id, run_objects, run_s3_objects,
};

/// Whether this scan uses the incremental / partitioned / sharded path.
pub(super) fn applies(a: &ScanArgs) -> bool {
    a.state.is_some() || a.parquet_dir.is_some() || a.shard.is_some()
}

/// Where the log objects of a scaled run come from.
enum Source {
    /// Local files of this shard, and problems met while walking.
    Local {
        mine: Vec<LocalObject>,
        problems: Vec<FileResult>,
    },
    /// S3 URLs; objects are chosen by key while listing.
    S3 { urls: Vec<S3Url>, s3: S3Options },
}

impl Source {
    /// Redo the objects of an interrupted run. Returns the run and how many
    /// of its objects were found again.
    fn redo(
        &self,
        keys: &[String],
        state: &State,
        shard: Shard,
        opts: &ScanOptions,
        reporter: &Reporter,
        notes: &mut Vec<String>,
    ) -> Result<(LocalRun, usize)> {
        match self {
            Source::Local { mine, .. } => {
                let want: HashSet<&str> = keys.iter().map(String::as_str).collect();
                let redo: Vec<LocalObject> = mine
                    .iter()
                    .filter(|o| want.contains(o.key.as_str()))
                    .cloned()
                    .collect();
                Ok((run_objects(&redo, Vec::new(), opts, reporter), redo.len()))
            }
            Source::S3 { urls, s3 } => {
                let pick = Arc::new(KeyPick::only(shard, keys).with_floors(state));
                let (run, rep) = run_s3_objects(urls, s3, pick.clone(), opts, reporter)?;
                tracing::info!(?rep, "S3 source (redo) done");
                notes.push(s3_note(&rep));
                Ok((run, usize::try_from(pick.taken()).unwrap_or(usize::MAX)))
            }
        }
    }

    /// Read the objects of this shard that the state (if any) does not cover.
    fn fresh(
        &mut self,
        state: Option<&StateFile>,
        shard: Shard,
        opts: &ScanOptions,
        reporter: &Reporter,
        notes: &mut Vec<String>,
    ) -> Result<LocalRun> {
        match self {
            Source::Local { mine, problems } => {
                let mine = std::mem::take(mine);
                let (todo, done): (Vec<LocalObject>, Vec<LocalObject>) = match state {
                    Some(sf) => mine
                        .into_iter()
                        .partition(|o| !sf.state.is_processed(&o.key)),
                    None => (mine, Vec::new()),
                };
                if let Some(sf) = state {
                    notes.push(format!(
                        "state {}: {} object(s) processed by earlier runs were not read again (not counted as seen); {} new",
                        sf.path().display(),
                        done.len(),
                        todo.len()
                    ));
                }
                Ok(run_objects(&todo, std::mem::take(problems), opts, reporter))
            }
            Source::S3 { urls, s3 } => {
                let mut pick = KeyPick::new(shard, state.map(|sf| &sf.state));
                if let Some(sf) = state {
                    pick = pick.with_floors(&sf.state);
                }
                let pick = Arc::new(pick);
                let (run, rep) = run_s3_objects(urls, s3, pick.clone(), opts, reporter)?;
                tracing::info!(?rep, "S3 source done");
                if !shard.is_all() {
                    let total = pick.considered();
                    notes.push(summary_line(shard, total - pick.other_shards(), total));
                }
                if let Some(sf) = state {
                    notes.push(format!(
                        "state {}: {} object(s) processed by earlier runs were not read again (not counted as seen; listings of {} account/region prefix(es) started after the state's marks); {} new",
                        sf.path().display(),
                        pick.already_processed(),
                        sf.state.list_floors().len(),
                        pick.taken()
                    ));
                }
                notes.push(s3_note(&rep));
                Ok(run)
            }
        }
    }
}

/// Scan with `--state`, `--parquet-dir` and/or `--shard`, write every output
/// and return the findings and accounting of this invocation.
pub(super) fn scan(
    a: &ScanArgs,
    opts: &ScanOptions,
    reporter: &Reporter,
) -> Result<(Vec<Finding>, Stats)> {
    if a.remote.lookup {
        bail!("--state, --parquet-dir and --shard read log objects; they do not apply to --lookup");
    }
    let mut roots = Vec::new();
    let mut urls = Vec::new();
    for i in &a.inputs {
        if i == "-" {
            bail!("--state, --parquet-dir and --shard need files or directories, not stdin (-)");
        }
        if i.starts_with("s3://") {
            urls.push(S3Url::parse(i)?);
        } else {
            roots.push(PathBuf::from(i));
        }
    }
    if !urls.is_empty() && !roots.is_empty() {
        bail!(
            "--state, --parquet-dir and --shard take either local paths or s3:// URLs in one run, not both (one state per input root)"
        );
    }
    let shard = a
        .shard
        .as_deref()
        .map(Shard::parse)
        .transpose()?
        .unwrap_or(Shard::ALL);
    let by = PartitionBy::parse(&a.partition_by)?;
    let aws = aws_options(&a.remote)?;
    let mut store: Option<Arc<S3Store>> = None;
    let mut get_store = || -> Result<Arc<S3Store>> {
        if let Some(s) = &store {
            return Ok(s.clone());
        }
        let s = Arc::new(S3Store::new(&aws)?);
        store = Some(s.clone());
        Ok(s)
    };
    let dataset = match a.parquet_dir.as_deref() {
        Some(d) if d.starts_with("s3://") => Some(Destination::S3 {
            url: S3Url::parse(d)?,
            store: get_store()?,
        }),
        Some(d) => Some(Destination::Dir(PathBuf::from(d))),
        None => None,
    };
    let inputs: Vec<String> = if urls.is_empty() {
        canonical_roots(&roots)
    } else {
        urls.iter().map(|u| u.to_string()).collect()
    };
    let mut state = match a.state.as_deref() {
        Some(s) if s.starts_with("s3://") => Some(StateFile::open_s3(
            get_store()?,
            &S3Url::parse(s)?,
            shard,
            &inputs,
        )?),
        Some(s) => Some(StateFile::open(Path::new(s), shard, &inputs)?),
        None => None,
    };

    let mut notes = Vec::new();
    let mut source = if urls.is_empty() {
        let (objects, problems) = list_local(&roots);
        let total = objects.len() as u64;
        let mine: Vec<LocalObject> = objects.into_iter().filter(|o| shard.owns(&o.key)).collect();
        if !shard.is_all() {
            notes.push(summary_line(shard, mine.len() as u64, total));
        }
        Source::Local { mine, problems }
    } else {
        if a.remote.s3_concurrency == 0 {
            bail!("--s3-concurrency must be at least 1");
        }
        if a.remote.region.len() > 1 {
            bail!(
                "--region is given {} times: S3 takes one region (several are for --lookup only)",
                a.remote.region.len()
            );
        }
        Source::S3 {
            urls,
            s3: S3Options {
                aws: aws.clone(),
                concurrency: a.remote.s3_concurrency,
            },
        }
    };

    let mut findings: Vec<Finding> = Vec::new();
    let mut stats = Stats::default();

    // A run a killed process left behind: redo exactly it, under its id.
    if let Some(sf) = state.as_mut()
        && let Some(pending) = sf.pending().cloned()
    {
        let (run, found) = source.redo(
            &pending.objects,
            &sf.state,
            shard,
            opts,
            reporter,
            &mut notes,
        )?;
        if let Some(dest) = &dataset {
            let plan = dataset::planned_outputs(&run.findings, by, &pending.run_id);
            let mut union: Vec<String> = pending.outputs.clone();
            union.extend(plan.iter().cloned());
            union.sort();
            union.dedup();
            if union != pending.outputs {
                sf.replan(union.clone())?;
            }
            let written = dest.write(&pending.run_id, &run.findings, by)?;
            dest.remove_stale(&union, &written.files)?;
        }
        sf.commit()?;
        notes.push(format!(
            "state: recovered the interrupted run {}: {} of its {} object(s) read again, outputs rewritten under the same names",
            pending.run_id,
            found,
            pending.objects.len()
        ));
        findings.extend(run.findings);
        merge_stats(&mut stats, &run.stats);
    }

    // New objects.
    let run = source.fresh(state.as_ref(), shard, opts, reporter, &mut notes)?;
    let run_id = new_run_id(shard);
    if let Some(sf) = state.as_mut() {
        let outputs = match &dataset {
            Some(_) => dataset::planned_outputs(&run.findings, by, &run_id),
            None => Vec::new(),
        };
        sf.begin(PendingRun {
            run_id: run_id.clone(),
            objects: run.settled.clone(),
            outputs,
        })?;
    }
    if let Some(dest) = &dataset {
        let written = dest.write(&run_id, &run.findings, by)?;
        let how = match dest {
            Destination::S3 { .. } => format!(
                " ({} with one PutObject, {} multipart upload(s) of {} part(s) in all)",
                written.single_puts, written.multipart, written.parts
            ),
            Destination::Dir(_) => String::new(),
        };
        notes.push(format!(
            "dataset {}: run {run_id} wrote {} file(s){how}",
            dest.name(),
            written.files.len()
        ));
    }
    findings.extend(run.findings);
    merge_stats(&mut stats, &run.stats);
    if let Some(b) = &reporter.bar {
        b.finish_and_clear();
    }
    stats.notes = notes;
    write_outputs(a, &findings, &stats)?;
    if let Some(sf) = state.as_mut() {
        sf.commit()?;
    }
    Ok((findings, stats))
}

/// `trailtriage report PARQUET_FILE_OR_DIR...`
pub(super) fn report(a: ReportArgs) -> Result<Exit> {
    let fail_on = a.fail_on.as_deref().map(FailOn::parse).transpose()?;
    // S3 inputs use the default AWS chain (AWS_PROFILE, AWS_REGION,
    // AWS_ENDPOINT_URL, ...).
    let store = if a
        .inputs
        .iter()
        .any(|p| p.to_string_lossy().starts_with("s3://"))
    {
        Some(S3Store::new(&trailtriage::source::AwsOptions::default())?)
    } else {
        None
    };
    let (findings, mut stats, _) = dataset::read_findings_with(&a.inputs, store.as_ref());
    stats.notes.push(format!(
        "input: {} Parquet file(s) written by trailtriage ({} read, {} unreadable) with {} row(s); no logs were scanned, so file and record counts describe the Parquet files and their rows",
        stats.files_seen, stats.files_read, stats.files_failed, stats.records.read
    ));
    for (name, why) in &stats.failed {
        eprintln!(
            "trailtriage: {}: {}",
            trailtriage::util::sanitize(name),
            trailtriage::util::sanitize(why)
        );
    }
    write_report(&a.report, a.report_format, a.color, &findings, &stats)?;
    Ok(exit_for(&findings, &stats, fail_on.as_ref()))
}

fn write_report(
    target: &str,
    format: ReportFormat,
    color: ColorChoice,
    findings: &[Finding],
    stats: &Stats,
) -> Result<()> {
    let format = match format {
        ReportFormat::Text => Format::Text,
        ReportFormat::Markdown => Format::Markdown,
        ReportFormat::Json => Format::Json,
        ReportFormat::Html => Format::Html,
    };
    let to_tty = target == "-" && std::io::stdout().is_terminal();
    let color = match color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => to_tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    };
    let width = if to_tty {
        terminal_width().unwrap_or(100)
    } else {
        100
    };
    let text = report::render(findings, stats, format, TextStyle { width, color });
    if target == "-" {
        write_stdout(text.as_bytes())
    } else {
        let path = Path::new(target);
        atomic::write_atomic(path, |w| w.write_all(text.as_bytes()))
            .with_context(|| format!("writing the report to {target}"))
    }
}

//! Scheduled and scaled-out runs: `--state`, `--parquet-dir`, `--shard`, and
//! the `report` subcommand over Parquet. The protocol itself lives in the
//! library (`trailtriage::state`, `trailtriage::sink::dataset`); this file
//! sequences it around the outputs.

use std::collections::HashSet;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::args::{ColorChoice, ReportArgs, ReportFormat, ScanArgs};
use super::exit::Exit;
use super::{FailOn, Reporter, exit_for, terminal_width, write_outputs, write_stdout};
use trailtriage::finding::Finding;
use trailtriage::pipeline::{ScanOptions, Stats};
use trailtriage::shard::{Shard, summary_line};
use trailtriage::sink::atomic;
use trailtriage::sink::dataset::{self, PartitionBy};
use trailtriage::sink::report::{self, Format, TextStyle};
use trailtriage::state::{
    LocalObject, PendingRun, StateFile, canonical_roots, list_local, merge_stats, new_run_id,
    run_objects,
};

/// Whether this scan uses the incremental / partitioned / sharded path.
pub(super) fn applies(a: &ScanArgs) -> bool {
    a.state.is_some() || a.parquet_dir.is_some() || a.shard.is_some()
}

fn local_only(flag: &str, value: &str) -> Result<PathBuf> {
    if value.starts_with("s3://") {
        bail!(
            "{flag} {value}: S3 locations are not supported yet for {flag}; give a local path (see docs/SCALE.md)"
        );
    }
    Ok(PathBuf::from(value))
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
    for i in &a.inputs {
        if i == "-" {
            bail!("--state, --parquet-dir and --shard need files or directories, not stdin (-)");
        }
        roots.push(local_only(
            "an input with --state/--parquet-dir/--shard",
            i,
        )?);
    }
    let shard = a
        .shard
        .as_deref()
        .map(Shard::parse)
        .transpose()?
        .unwrap_or(Shard::ALL);
    let by = PartitionBy::parse(&a.partition_by)?;
    let dataset_dir = a
        .parquet_dir
        .as_deref()
        .map(|d| local_only("--parquet-dir", d))
        .transpose()?;
    let mut state = match a.state.as_deref() {
        Some(s) => {
            let p = local_only("--state", s)?;
            Some(StateFile::open(&p, shard, &canonical_roots(&roots))?)
        }
        None => None,
    };

    let (objects, problems) = list_local(&roots);
    let total = objects.len() as u64;
    let mine: Vec<LocalObject> = objects.into_iter().filter(|o| shard.owns(&o.key)).collect();
    let mut notes = Vec::new();
    if !shard.is_all() {
        notes.push(summary_line(shard, mine.len() as u64, total));
    }

    let mut findings: Vec<Finding> = Vec::new();
    let mut stats = Stats::default();

    // A run a killed process left behind: redo exactly it, under its id.
    if let Some(sf) = state.as_mut()
        && let Some(pending) = sf.pending().cloned()
    {
        let want: HashSet<&str> = pending.objects.iter().map(String::as_str).collect();
        let redo: Vec<LocalObject> = mine
            .iter()
            .filter(|o| want.contains(o.key.as_str()))
            .cloned()
            .collect();
        let run = run_objects(&redo, Vec::new(), opts, reporter);
        if let Some(dir) = &dataset_dir {
            let plan = dataset::planned_outputs(&run.findings, by, &pending.run_id);
            let mut union: Vec<String> = pending.outputs.clone();
            union.extend(plan.iter().cloned());
            union.sort();
            union.dedup();
            if union != pending.outputs {
                sf.replan(union.clone())?;
            }
            let written = dataset::write_dataset(dir, &pending.run_id, &run.findings, by)?;
            dataset::remove_stale(dir, &union, &written)?;
        }
        sf.commit()?;
        notes.push(format!(
            "state: recovered the interrupted run {}: {} of its {} object(s) read again, outputs rewritten under the same names",
            pending.run_id,
            redo.len(),
            pending.objects.len()
        ));
        findings.extend(run.findings);
        merge_stats(&mut stats, &run.stats);
    }

    // New objects.
    let (todo, done): (Vec<LocalObject>, Vec<LocalObject>) = match &state {
        Some(sf) => mine
            .into_iter()
            .partition(|o| !sf.state.is_processed(&o.key)),
        None => (mine, Vec::new()),
    };
    if let Some(sf) = &state {
        notes.push(format!(
            "state {}: {} object(s) processed by earlier runs were not read again (not counted as seen); {} new",
            sf.path().display(),
            done.len(),
            todo.len()
        ));
    }
    let run = run_objects(&todo, problems, opts, reporter);
    let run_id = new_run_id(shard);
    if let Some(sf) = state.as_mut() {
        let outputs = match &dataset_dir {
            Some(_) => dataset::planned_outputs(&run.findings, by, &run_id),
            None => Vec::new(),
        };
        sf.begin(PendingRun {
            run_id: run_id.clone(),
            objects: run.settled.clone(),
            outputs,
        })?;
    }
    if let Some(dir) = &dataset_dir {
        let written = dataset::write_dataset(dir, &run_id, &run.findings, by)?;
        notes.push(format!(
            "dataset {}: run {run_id} wrote {} file(s)",
            dir.display(),
            written.len()
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
    let (findings, mut stats, _) = dataset::read_findings(&a.inputs);
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

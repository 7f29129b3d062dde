//! The pipeline: workers decode, scan, pre-filter, parse and classify one
//! input object at a time with reused buffers; a collector receives the
//! per-object results over a bounded channel and keeps the accounting.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;
use simd_json::prelude::*;

use crate::classify::{SelectOptions, classify, select};
use crate::decode::Decoder;
use crate::event::Event;
use crate::filter::Filters;
use crate::finding::Finding;
use crate::norm::Norm;
use crate::policy::context::{self, ContextEvent, ContextIndex, Probe};
use crate::scan::{Rec, scan};
use crate::select::Prefilter;

/// What the pipeline needs to know, validated.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    pub select: SelectOptions,
    pub filters: Filters,
    /// Limit on the decompressed size of one object.
    pub max_decompressed: u64,
    /// Worker threads (0 = all cores).
    pub threads: usize,
    /// IAM inventory / Organizations export for causes.md §4 step 5.
    pub inventory: Option<std::sync::Arc<crate::policy::Inventory>>,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            select: SelectOptions::default(),
            filters: Filters::default(),
            max_decompressed: crate::decode::DEFAULT_MAX_DECOMPRESSED,
            threads: 0,
            inventory: None,
        }
    }
}

/// What happened to one input object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "reason", rename_all = "snake_case")]
pub enum Outcome {
    Read,
    Skipped(String),
    Failed(String),
}

/// Record counts of one object or a whole run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RecordCounts {
    pub read: u64,
    pub selected: u64,
    pub not_selected: u64,
    pub malformed: u64,
    /// Selected by scope, then dropped by a user filter (counted in not_selected).
    pub filtered: u64,
}

impl RecordCounts {
    fn add(&mut self, o: &RecordCounts) {
        self.read += o.read;
        self.selected += o.selected;
        self.not_selected += o.not_selected;
        self.malformed += o.malformed;
        self.filtered += o.filtered;
    }
}

/// The result of processing one object.
#[derive(Debug)]
pub struct FileResult {
    pub name: String,
    pub outcome: Outcome,
    pub counts: RecordCounts,
    pub findings: Vec<Finding>,
    /// The request context of each finding that log context may settle (a
    /// failed role assumption with AccessDenied and a role), index for index
    /// with `findings`.
    pub probes: Vec<Option<Box<Probe>>>,
    /// Log-context events of this object (`policy::context`).
    pub context: Vec<ContextEvent>,
    /// Malformed records: (index, reason); at most a few per object.
    pub malformed: Vec<(u64, String)>,
    pub compressed_bytes: u64,
    pub decompressed_bytes: u64,
}

const MAX_MALFORMED_REPORTED: usize = 5;

/// Per-thread state: every buffer is reused across objects.
pub struct Worker {
    decoder: Decoder,
    input: Vec<u8>,
    scratch: Vec<u8>,
    buffers: simd_json::Buffers,
}

impl Default for Worker {
    fn default() -> Self {
        Worker {
            decoder: Decoder::new(),
            input: Vec::new(),
            scratch: Vec::with_capacity(64 * 1024),
            buffers: simd_json::Buffers::new(64 * 1024),
        }
    }
}

/// Why an object is skipped by name alone (never downloaded or read).
pub fn skip_reason_by_name(name: &str) -> Option<&'static str> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    if name.contains("CloudTrail-Digest") {
        Some("CloudTrail-Digest file (integrity digest, no events)")
    } else if name.contains("CloudTrail-Insight") {
        Some("CloudTrail-Insight file (Insights events, not API calls)")
    } else if base.contains("_Config_")
        || base.starts_with("ConfigWritabilityCheckFile")
        || name.contains("/Config/")
    {
        Some("AWS Config object, not CloudTrail")
    } else {
        None
    }
}

impl Worker {
    pub fn new() -> Worker {
        Worker::default()
    }

    /// Read a local file into the worker's buffer and process it.
    pub fn process_path(&mut self, path: &Path, opts: &ScanOptions, pf: &Prefilter) -> FileResult {
        let name = path.display().to_string();
        if let Some(r) = skip_reason_by_name(&name) {
            return FileResult::skipped(name, r);
        }
        let mut input = std::mem::take(&mut self.input);
        input.clear();
        let res = std::fs::File::open(path).and_then(|mut f| {
            // Compressed input larger than the decompressed limit cannot be genuine.
            let mut limited = (&mut f).take(opts.max_decompressed.saturating_add(1));
            limited.read_to_end(&mut input)
        });
        let out = match res {
            Err(e) => FileResult::failed(name, format!("cannot read: {e}")),
            Ok(_) if input.len() as u64 > opts.max_decompressed => FileResult::failed(
                name,
                format!("larger than the limit of {} bytes", opts.max_decompressed),
            ),
            Ok(_) => self.process_bytes(&name, &input, opts, pf),
        };
        self.input = input;
        out
    }

    /// Process one object's raw bytes (gzip or plain JSON).
    pub fn process_bytes(
        &mut self,
        name: &str,
        raw: &[u8],
        opts: &ScanOptions,
        pf: &Prefilter,
    ) -> FileResult {
        let mut fr = FileResult::new(name.to_string());
        fr.compressed_bytes = raw.len() as u64;
        let Worker {
            decoder,
            scratch,
            buffers,
            ..
        } = self;
        let decoded = match decoder.decode(name, raw, opts.max_decompressed) {
            Ok(d) => d,
            Err(e) => {
                fr.outcome = Outcome::Failed(e.reason());
                return fr;
            }
        };
        let json = decoded.bytes;
        fr.decompressed_bytes = json.len() as u64;
        let mut idx: u64 = 0;
        let mut handle = |rec: Rec<'_>| {
            let i = idx;
            idx += 1;
            fr.counts.read += 1;
            let bytes: &[u8] = match &rec {
                Rec::Raw(b) | Rec::Plain(b) | Rec::Clean(b) => b,
                Rec::Owned(v) => v,
                Rec::Bad(reason) => {
                    fr.note_malformed(i, reason.clone());
                    return;
                }
            };
            // Searched per record, while the scan has just brought it into
            // cache: on the benchmark corpus this measured faster than one
            // file-wide multi-literal pass (`Prefilter::find_hits`, which
            // gives the same answers); see BENCHMARKS.md, "prefilter". Most
            // records are decided by the scanner's needle-pair proof alone.
            if pf.could_match_rec(&rec) != Some(true) {
                fr.counts.not_selected += 1;
                return;
            }
            process_record(bytes, i, name, opts, scratch, buffers, &mut fr);
        };
        let scanned = scan(json, &mut handle);
        if let Some(problem) = decoded.problem {
            // Records before the damage were read; the object is still failed.
            if let Err(e) = &scanned {
                fr.note_malformed(
                    idx,
                    format!(
                        "record cut by the damaged stream at byte {}: {}",
                        e.offset, e.reason
                    ),
                );
                fr.counts.read += 1;
            }
            fr.outcome = Outcome::Failed(format!(
                "{} ({} record(s) before it were read)",
                problem.reason(),
                fr.counts.read.saturating_sub(fr.counts.malformed.min(1))
            ));
            return fr;
        }
        match scanned {
            Ok(summary) => {
                if summary.empty {
                    fr.outcome = Outcome::Skipped("empty file".into());
                } else if summary.unrecognized {
                    fr.outcome = Outcome::Failed(
                        "not a CloudTrail log: no Records array, record, LookupEvents or EventBridge shape found"
                            .into(),
                    );
                }
            }
            Err(e) => {
                fr.counts.read += 1;
                fr.note_malformed(
                    idx,
                    format!("malformed JSON at byte {}: {}", e.offset, e.reason),
                );
                fr.outcome = Outcome::Failed(format!(
                    "malformed JSON at byte {}: {} ({} record(s) before it were read)",
                    e.offset, e.reason, idx
                ));
            }
        }
        fr
    }
}

/// Parse, select and classify one candidate record (shared by the fast path
/// and its slow twin in [`crate::slow`]).
pub(crate) fn process_record(
    bytes: &[u8],
    i: u64,
    name: &str,
    opts: &ScanOptions,
    scratch: &mut Vec<u8>,
    buffers: &mut simd_json::Buffers,
    fr: &mut FileResult,
) {
    scratch.clear();
    scratch.extend_from_slice(bytes);
    let value = match simd_json::to_borrowed_value_with_buffers(scratch, buffers) {
        Ok(v) => v,
        Err(e) => {
            fr.note_malformed(i, format!("record {i} is not valid JSON: {e}"));
            return;
        }
    };
    if !value.is_object() {
        fr.note_malformed(i, format!("record {i} is not a JSON object"));
        return;
    }
    let e = Event::from_value(&value);
    let n = Norm::of(&e);
    let mode = opts.select.log_context;
    if mode != context::LogContext::Off
        && let Some(c) = context::extract(&value, &e, mode)
    {
        fr.context.push(c);
    }
    let Some(sel) = select(&e, &n, opts.select) else {
        fr.counts.not_selected += 1;
        return;
    };
    let mut v = classify(&e, &n, sel);
    // Step 5 (inventory-backed), after the log-only classification.
    let inventory_used = match (&opts.inventory, sel) {
        (Some(inv), crate::classify::Selection::Assume) => {
            crate::policy::apply_step5(&e, &n, &mut v, inv)
        }
        _ => false,
    };
    let mut f = Finding::new(&e, &n, sel, v, name, Some(i as i64));
    f.inventory_used = inventory_used;
    // Log context may still change the cause of a failed role assumption
    // (AccessDenied with a role): its cause filter waits for the join.
    let joinable = mode.roles()
        && sel == crate::classify::Selection::Assume
        && n.code == Some("AccessDenied")
        && n.target_role_arn.is_some();
    let defer_cause = joinable && !opts.filters.causes.is_empty();
    let accepted = if defer_cause {
        opts.filters.accept_except_cause(&f)
    } else {
        opts.filters.accept(&f)
    };
    if accepted {
        fr.counts.selected += 1;
        let probe = joinable.then(|| {
            Box::new(Probe {
                req: crate::policy::request_context(&e, &n, opts.inventory.as_deref()),
                recheck_causes: defer_cause.then(|| opts.filters.causes.clone()),
            })
        });
        fr.findings.push(f);
        fr.probes.push(probe);
    } else {
        fr.counts.not_selected += 1;
        fr.counts.filtered += 1;
    }
}

impl FileResult {
    pub fn new(name: String) -> FileResult {
        FileResult {
            name,
            outcome: Outcome::Read,
            counts: RecordCounts::default(),
            findings: Vec::new(),
            probes: Vec::new(),
            context: Vec::new(),
            malformed: Vec::new(),
            compressed_bytes: 0,
            decompressed_bytes: 0,
        }
    }

    pub fn skipped(name: String, reason: &str) -> FileResult {
        let mut f = FileResult::new(name);
        f.outcome = Outcome::Skipped(reason.to_string());
        f
    }

    pub fn failed(name: String, reason: String) -> FileResult {
        let mut f = FileResult::new(name);
        f.outcome = Outcome::Failed(reason);
        f
    }

    pub(crate) fn note_malformed(&mut self, i: u64, reason: String) {
        self.counts.malformed += 1;
        if self.malformed.len() < MAX_MALFORMED_REPORTED {
            self.malformed.push((i, reason));
        }
    }
}

/// Accounting of a whole run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    pub files_seen: u64,
    pub files_read: u64,
    pub files_skipped: u64,
    pub files_failed: u64,
    pub records: RecordCounts,
    /// Selected records dropped as duplicates of an earlier eventID.
    pub duplicates: u64,
    pub findings: u64,
    pub compressed_bytes: u64,
    pub decompressed_bytes: u64,
    /// Skip reasons with their counts.
    pub skipped_reasons: BTreeMap<String, u64>,
    /// Every failed object with its reason.
    pub failed: Vec<(String, String)>,
    /// Earliest and latest event time among findings (epoch ms).
    pub first_event_ms: Option<i64>,
    pub last_event_ms: Option<i64>,
    /// Retries performed by remote sources (S3, LookupEvents).
    pub retries: u64,
    /// Whether a remote source (S3, LookupEvents) was read; the report's
    /// accounting then shows the retries.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub remote: bool,
    /// Lines about how the input was chosen (shard, state, Parquet input),
    /// carried into the report's notes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Stats {
    /// The accounting invariants of design.md §2.
    pub fn invariants_hold(&self) -> bool {
        let r = &self.records;
        r.read == r.selected + r.not_selected + r.malformed
            && self.files_seen == self.files_read + self.files_skipped + self.files_failed
            && self.findings + self.duplicates == r.selected
    }
}

/// A finding held by the collector, with what the log-context join needs.
struct Held {
    f: Finding,
    probe: Option<Box<Probe>>,
}

/// Receives per-object results and keeps the accounting and findings.
#[derive(Default)]
pub struct Collector {
    pub stats: Stats,
    /// Findings kept so far (a finding is over a kilobyte: it moves only
    /// when this grows).
    findings: Vec<Held>,
    /// Index in `findings` by eventID: only the finding with the smallest
    /// sort key is kept, so memory follows the distinct events, not the
    /// copies (a bucket read twice, overlapping exports). Findings without
    /// an eventID are never deduplicated.
    by_id: HashMap<String, usize>,
    /// Log-context events of every object, joined in [`Collector::finish`].
    context: ContextIndex,
}

/// Callbacks for the binary (progress, warnings); the library never prints.
pub trait Observer: Sync {
    /// An object is done.
    fn object_done(&self, _r: &FileResult) {}
}

/// An observer that does nothing.
pub struct Silent;
impl Observer for Silent {}

impl Collector {
    pub fn new() -> Collector {
        Collector::default()
    }

    pub fn add(&mut self, mut r: FileResult) {
        let s = &mut self.stats;
        s.files_seen += 1;
        match &r.outcome {
            Outcome::Read => s.files_read += 1,
            Outcome::Skipped(why) => {
                s.files_skipped += 1;
                *s.skipped_reasons.entry(why.clone()).or_default() += 1;
            }
            Outcome::Failed(why) => {
                s.files_failed += 1;
                s.failed.push((r.name.clone(), why.clone()));
            }
        }
        s.records.add(&r.counts);
        s.compressed_bytes += r.compressed_bytes;
        s.decompressed_bytes += r.decompressed_bytes;
        let probes = std::mem::take(&mut r.probes);
        let mut probes = probes.into_iter();
        for f in r.findings.drain(..) {
            let probe = probes.next().flatten();
            self.insert(Held { f, probe });
        }
        for c in r.context.drain(..) {
            self.context.add(c);
        }
    }

    /// Keep `f` unless a finding with the same eventID and a smaller (or
    /// equal) sort key is already held: the same choice as sorting everything
    /// and keeping the first of each eventID.
    fn insert(&mut self, h: Held) {
        if h.f.event_id.is_empty() {
            self.findings.push(h);
            return;
        }
        match self.by_id.entry(h.f.event_id.clone()) {
            Entry::Vacant(v) => {
                v.insert(self.findings.len());
                self.findings.push(h);
            }
            Entry::Occupied(o) => {
                self.stats.duplicates += 1;
                let kept = &mut self.findings[*o.get()];
                if h.f.sort_key() < kept.f.sort_key() {
                    *kept = h;
                }
            }
        }
    }

    /// Sort, dedupe by eventID, apply cross-event escalations, and return the
    /// findings with the final accounting.
    pub fn finish(mut self) -> (Vec<Finding>, Stats) {
        drop(self.by_id);
        // Log context (causes.md §4 step 5, last sentence): joined once every
        // object is read, since the issuing AssumeRole or the DeleteRole may
        // sit in any file.
        let mut ctx = self.context;
        let join = !ctx.is_empty();
        if join {
            ctx.seal();
        }
        let mut touched = 0u64;
        let mut dropped = 0u64;
        let mut findings: Vec<Finding> = self
            .findings
            .into_iter()
            .filter_map(|mut h| {
                if join {
                    let before = h.f.evidence.len();
                    context::apply(&mut h.f, h.probe.as_deref().map(|p| &p.req), &ctx);
                    if h.f.evidence.len() != before {
                        touched += 1;
                    }
                }
                // The deferred cause filter, on the final cause.
                if let Some(causes) = h.probe.as_ref().and_then(|p| p.recheck_causes.as_ref())
                    && !causes.contains(&h.f.cause_id)
                {
                    dropped += 1;
                    return None;
                }
                Some(h.f)
            })
            .collect();
        let r = &mut self.stats.records;
        r.selected -= dropped;
        r.not_selected += dropped;
        r.filtered += dropped;
        if join {
            let (s, r) = ctx.counts();
            self.stats.notes.push(format!(
                "log context: {r} role-management event(s) and {s} issued session(s) read; {touched} finding(s) carry evidence from them"
            ));
        }
        drop(ctx);
        sort_findings(&mut findings);
        self.stats.failed.sort();
        crate::burst::escalate(&mut findings);
        self.stats.findings = findings.len() as u64;
        self.stats.first_event_ms = findings.iter().filter_map(|f| f.event_time).min();
        self.stats.last_event_ms = findings.iter().filter_map(|f| f.event_time).max();
        (findings, self.stats)
    }
}

/// Sort findings by [`Finding::sort_key`], stably. A finding is over a
/// kilobyte; a merge sort moves each one about log2(n) times, so the order
/// is found on indices and each finding moves twice (BENCHMARKS.md, session
/// 5's reading).
pub fn sort_findings(findings: &mut Vec<Finding>) {
    let mut order: Vec<usize> = (0..findings.len()).collect();
    order.sort_by(|&a, &b| findings[a].sort_key().cmp(&findings[b].sort_key()));
    let mut slots: Vec<Option<Finding>> = std::mem::take(findings).into_iter().map(Some).collect();
    findings.extend(order.iter().filter_map(|&i| slots[i].take()));
}

/// One input named by the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Path(PathBuf),
    Stdin,
}

/// Expand inputs into a sorted list of files (directories are walked
/// recursively, following symlinks but never into a loop). Problems met while
/// walking come back as failed results.
pub fn expand_paths(inputs: &[PathBuf]) -> (Vec<PathBuf>, Vec<FileResult>) {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for p in inputs {
        match std::fs::metadata(p) {
            Err(e) => problems.push(FileResult::failed(
                p.display().to_string(),
                format!("cannot read: {e}"),
            )),
            Ok(m) if m.is_dir() => {
                let mut seen = HashSet::new();
                walk(p, &mut seen, &mut files, &mut problems);
            }
            Ok(_) => files.push(p.clone()),
        }
    }
    files.sort();
    files.dedup();
    (files, problems)
}

/// Extensions a directory walk takes.
pub fn wanted_extension(p: &Path) -> bool {
    let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    n.ends_with(".json") || n.ends_with(".gz") || n.ends_with(".jsonl") || n.ends_with(".ndjson")
}

/// What identifies a directory for loop detection: device and inode on
/// Unix (one `stat`), the canonical path elsewhere.
#[cfg(unix)]
type DirKey = (u64, u64);
#[cfg(not(unix))]
type DirKey = PathBuf;

#[cfg(unix)]
fn dir_key(dir: &Path) -> std::io::Result<DirKey> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(dir)?;
    Ok((m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn dir_key(dir: &Path) -> std::io::Result<DirKey> {
    std::fs::canonicalize(dir)
}

/// Walk `dir` recursively. Entry types come from the directory listing
/// itself (no `stat` per file); only symlinks are followed with a `stat`.
fn walk(
    dir: &Path,
    seen: &mut HashSet<DirKey>,
    files: &mut Vec<PathBuf>,
    problems: &mut Vec<FileResult>,
) {
    let key = match dir_key(dir) {
        Ok(k) => k,
        Err(e) => {
            problems.push(FileResult::failed(
                dir.display().to_string(),
                format!("cannot read directory: {e}"),
            ));
            return;
        }
    };
    if !seen.insert(key) {
        problems.push(FileResult::skipped(
            dir.display().to_string(),
            "directory already visited (symlink loop)",
        ));
        return;
    }
    let rd = match std::fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) => {
            problems.push(FileResult::failed(
                dir.display().to_string(),
                format!("cannot read directory: {e}"),
            ));
            return;
        }
    };
    /// What an entry is, following symlinks.
    enum Kind {
        Dir,
        File,
        Other,
    }
    let mut entries: Vec<(PathBuf, std::io::Result<Kind>)> = Vec::new();
    for ent in rd {
        match ent {
            Ok(e) => {
                let path = e.path();
                let kind = match e.file_type() {
                    Ok(t) if t.is_dir() => Ok(Kind::Dir),
                    Ok(t) if t.is_file() => Ok(Kind::File),
                    Ok(t) if !t.is_symlink() => Ok(Kind::Other),
                    // A symlink (or a file system that does not say): stat.
                    _ => std::fs::metadata(&path).map(|m| {
                        if m.is_dir() {
                            Kind::Dir
                        } else if m.is_file() {
                            Kind::File
                        } else {
                            Kind::Other
                        }
                    }),
                };
                entries.push((path, kind));
            }
            Err(e) => problems.push(FileResult::failed(
                dir.display().to_string(),
                format!("cannot list directory: {e}"),
            )),
        }
    }
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    for (p, kind) in entries {
        match kind {
            Ok(Kind::Dir) => walk(&p, seen, files, problems),
            Ok(Kind::File) => {
                if wanted_extension(&p) {
                    files.push(p);
                }
            }
            Ok(Kind::Other) => {}
            Err(e) => problems.push(FileResult::failed(
                p.display().to_string(),
                format!("cannot read: {e}"),
            )),
        }
    }
}

/// Run the local pipeline (files, directories, stdin) and return the
/// findings and accounting.
pub fn run_local(
    inputs: &[Input],
    opts: &ScanOptions,
    observer: &dyn Observer,
) -> (Vec<Finding>, Stats) {
    let mut collector = Collector::new();
    run_local_into(inputs, opts, observer, &mut collector);
    collector.finish()
}

/// [`run_local`] into a collector shared with other sources (S3,
/// LookupEvents), so accounting and dedupe stay global.
pub fn run_local_into(
    inputs: &[Input],
    opts: &ScanOptions,
    observer: &dyn Observer,
    collector: &mut Collector,
) {
    let paths: Vec<PathBuf> = inputs
        .iter()
        .filter_map(|i| match i {
            Input::Path(p) => Some(p.clone()),
            Input::Stdin => None,
        })
        .collect();
    let (files, problems) = expand_paths(&paths);
    for p in problems {
        observer.object_done(&p);
        collector.add(p);
    }
    let pf = Prefilter::new(opts.select);
    if inputs.contains(&Input::Stdin) {
        let mut w = Worker::new();
        let mut buf = Vec::new();
        let r = match crate::decode::read_all_bounded(
            "<stdin>",
            std::io::stdin().lock(),
            opts.max_decompressed,
            &mut buf,
        ) {
            Ok(()) => w.process_bytes("<stdin>", &buf, opts, &pf),
            Err(e) => FileResult::failed("<stdin>".into(), e.reason()),
        };
        observer.object_done(&r);
        collector.add(r);
    }
    run_files(&files, opts, &pf, observer, collector);
}

/// Process files in parallel; results stream to the collector over a bounded channel.
pub fn run_files(
    files: &[PathBuf],
    opts: &ScanOptions,
    pf: &Prefilter,
    observer: &dyn Observer,
    collector: &mut Collector,
) {
    let pool = match rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads)
        .build()
    {
        Ok(p) => p,
        Err(_) => {
            // Fall back to the calling thread only.
            let mut w = Worker::new();
            for f in files {
                let r = w.process_path(f, opts, pf);
                observer.object_done(&r);
                collector.add(r);
            }
            return;
        }
    };
    let (tx, rx) = crossbeam_channel::bounded::<FileResult>(256);
    std::thread::scope(|s| {
        s.spawn(move || {
            pool.install(|| {
                use rayon::prelude::*;
                files.par_iter().for_each_init(
                    || (Worker::new(), tx.clone()),
                    |(w, tx), f| {
                        let r = w.process_path(f, opts, pf);
                        // The receiver only goes away if the collector panicked.
                        let _ = tx.send(r);
                    },
                );
            });
            drop(tx);
        });
        for r in rx {
            observer.object_done(&r);
            collector.add(r);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORD: &str = r#"{"Records":[{"eventVersion":"1.08","eventTime":"2026-01-02T03:04:05Z",
        "eventSource":"sts.amazonaws.com","eventName":"AssumeRole","awsRegion":"us-east-1",
        "eventID":"e1","errorCode":"AccessDenied",
        "errorMessage":"User: arn:aws:iam::111122223333:user/alice is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::444455556666:role/R",
        "userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333"},
        "recipientAccountId":"111122223333","requestParameters":null}]}"#;

    #[test]
    fn sort_findings_is_the_stable_sort_by_key() {
        let opts = ScanOptions::default();
        let pf = Prefilter::new(opts.select);
        let mut w = Worker::new();
        let r = w.process_bytes("x.json", RECORD.as_bytes(), &opts, &pf);
        let base = r.findings[0].clone();
        let mut seed = 7u64;
        let mut v: Vec<Finding> = (0..300)
            .map(|k| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let mut f = base.clone();
                f.event_time = Some((seed >> 60) as i64);
                f.event_id = format!("e{}", (seed >> 40) % 4);
                // Equal keys keep their arrival order: told apart by evidence.
                f.evidence = format!("{k}");
                f
            })
            .collect();
        let mut want = v.clone();
        want.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        sort_findings(&mut v);
        let got: Vec<&str> = v.iter().map(|f| f.evidence.as_str()).collect();
        let want: Vec<&str> = want.iter().map(|f| f.evidence.as_str()).collect();
        assert_eq!(got, want);
    }

    #[cfg(unix)]
    #[test]
    fn walk_follows_symlinks_reports_dangling_ones_and_stops_at_loops() {
        use std::os::unix::fs::symlink;
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        std::fs::create_dir_all(d.join("a/b")).unwrap();
        std::fs::create_dir_all(d.join("elsewhere")).unwrap();
        for f in [
            "a/2.json.gz",
            "a/b/1.json",
            "a/notes.txt",
            "elsewhere/x.jsonl",
        ] {
            std::fs::write(d.join(f), b"{}").unwrap();
        }
        symlink(d.join("elsewhere"), d.join("a/linked")).unwrap();
        symlink(d.join("a/b/1.json"), d.join("a/0.json")).unwrap();
        symlink(d.join("missing.json"), d.join("a/dangling.json")).unwrap();
        symlink(d.join("a"), d.join("a/b/up")).unwrap();
        let (files, problems) = expand_paths(&[d.join("a")]);
        let rel: Vec<String> = files
            .iter()
            .map(|p| p.strip_prefix(d).unwrap().display().to_string())
            .collect();
        assert_eq!(
            rel,
            ["a/0.json", "a/2.json.gz", "a/b/1.json", "a/linked/x.jsonl"]
        );
        let mut why: Vec<(String, String)> = problems
            .iter()
            .map(|r| {
                let reason = match &r.outcome {
                    Outcome::Failed(w) | Outcome::Skipped(w) => w.clone(),
                    Outcome::Read => String::new(),
                };
                (r.name.clone(), reason)
            })
            .collect();
        why.sort();
        assert_eq!(why.len(), 2, "{why:?}");
        assert!(
            why[0].0.ends_with("a/b/up") && why[0].1.contains("symlink loop"),
            "{why:?}"
        );
        assert!(
            why[1].0.ends_with("a/dangling.json") && why[1].1.starts_with("cannot read"),
            "{why:?}"
        );
    }

    #[test]
    fn dedupe_on_arrival_keeps_the_smallest_sort_key_whatever_the_order() {
        let opts = ScanOptions::default();
        let pf = Prefilter::new(opts.select);
        let mut w = Worker::new();
        let mut c = Collector::new();
        for name in ["c.json", "a.json", "b.json"] {
            let r = w.process_bytes(name, RECORD.as_bytes(), &opts, &pf);
            assert_eq!(r.findings.len(), 1, "{name}");
            c.add(r);
        }
        let (findings, stats) = c.finish();
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].source_file, "a.json");
        assert_eq!(stats.duplicates, 2);
        assert_eq!(stats.findings, 1);
    }
}

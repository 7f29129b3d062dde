//! `--state FILE`: incremental, idempotent scheduled runs.
//!
//! # What the state remembers
//!
//! Which log objects earlier runs processed, compactly. CloudTrail names its
//! objects `ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHMMZ_UNIQUE.json.gz` under
//! `.../AWSLogs/[ORG/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/`; the time in the
//! name is the delivery time. Per account/region prefix the state keeps a
//! *high-water mark* (the latest delivery time processed) and the exact set
//! of processed keys within [`DEFAULT_MARGIN_MINUTES`] of it, because
//! delivery order is not key order: a key older than `mark - margin` is taken
//! as processed, a key inside the margin is processed only if it is in the
//! set. Keys that do not follow the layout (SIEM exports, hand-made files)
//! fall back to an exact set of processed keys.
//!
//! # Two-phase protocol
//!
//! A run killed at any point and started again loses nothing and duplicates
//! nothing:
//!
//! 1. Find the objects to read (not processed, in this shard) and process them.
//! 2. [`StateFile::begin`]: atomically write the state with a `pending` run:
//!    its run id, the exact list of objects, and the output files it will
//!    write (named after the run id).
//! 3. Write the outputs, each to a temporary name then renamed.
//! 4. [`StateFile::commit`]: atomically move the pending objects into the
//!    processed marks and drop `pending`.
//!
//! On start, a pending run left by a killed process is redone first: the same
//! objects, the same run id, hence the same output names (overwritten, and
//! files of the old plan that the redo does not produce are removed), then
//! committed; only then are new objects read. Objects that could not be read
//! for I/O reasons (`cannot read`, `cannot download`) are not recorded and are
//! tried again by the next run.
//!
//! One process per state file at a time (schedulers: forbid overlapping
//! runs, e.g. `flock`); each shard of a `--shard K/N` fleet has its own state
//! file, and the state refuses a different shard or a different set of input
//! roots than the one it was made for.
//!
//! # Test hook
//!
//! In debug builds only (`cfg(debug_assertions)`; release builds compile it
//! out), the environment variable `TRAILTRIAGE_TEST_CRASH_AT=POINT[:N]` makes
//! the process call `std::process::abort()` the N-th time (default 1st) it
//! reaches `POINT`, to test recovery from a real kill. Points:
//! `after_files` (after each object's result is collected),
//! `during_pending_write`, `after_pending_write`, `before_parquet_rename`
//! (once per dataset file), `before_state_commit`, `during_state_write`
//! (halfway through writing the committed state).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use crate::finding::Finding;
use crate::pipeline::{Collector, FileResult, Observer, Outcome, ScanOptions, Stats};
use crate::select::Prefilter;
use crate::shard::{Shard, local_key};
#[cfg(feature = "aws")]
use crate::sink::s3::{PutIf, S3Store, StoreError};
#[cfg(feature = "aws")]
use crate::source::keys::S3Url;
#[cfg(feature = "aws")]
use crate::source::pick::KeyPick;
#[cfg(feature = "aws")]
use std::sync::Arc;

/// Keys delivered up to this many minutes before the high-water mark are
/// remembered one by one; older ones are covered by the mark.
pub const DEFAULT_MARGIN_MINUTES: i64 = 120;

/// Format version of the state file.
pub const STATE_VERSION: u32 = 1;

/// Environment variable of the crash test hook (debug builds only).
pub const CRASH_ENV: &str = "TRAILTRIAGE_TEST_CRASH_AT";

/// Errors of the state file. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read the state file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot parse the state file {path}: {reason}")]
    Parse { path: PathBuf, reason: String },
    #[error("cannot write the state file {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the state file {path} was made for {what} {recorded}, not {given}; use another state file (one per shard and per input)"
    )]
    Mismatch {
        path: PathBuf,
        what: &'static str,
        recorded: String,
        given: String,
    },
    #[error(
        "the state file {path} has version {found}; this trailtriage reads version {STATE_VERSION}"
    )]
    Version { path: PathBuf, found: u32 },
    #[error("the state file {path} has no pending run to {action}")]
    NoPending { path: PathBuf, action: &'static str },
    #[cfg(feature = "aws")]
    #[error("state on S3: {source}")]
    Remote {
        #[source]
        source: StoreError,
    },
}

/// The processed keys of one account/region prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrefixMark {
    /// The latest delivery time processed, `YYYYMMDDTHHMMZ`.
    pub high_water: String,
    /// Processed keys delivered within the margin before `high_water`.
    pub near: BTreeSet<String>,
}

/// A run whose outputs may be partly written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRun {
    pub run_id: String,
    /// The object keys the run covers.
    pub objects: Vec<String>,
    /// The output files it writes, relative to the dataset directory.
    pub outputs: Vec<String>,
}

/// The content of a state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    pub margin_minutes: i64,
    /// `K/N` of the shard this state belongs to (`0/1`: unsharded).
    pub shard: String,
    /// The input roots, as canonical paths or URLs.
    pub inputs: Vec<String>,
    /// Committed runs so far.
    pub runs: u64,
    /// Id of the last committed run.
    pub last_run: Option<String>,
    /// Per account/region prefix: high-water mark and keys near it.
    pub prefixes: BTreeMap<String, PrefixMark>,
    /// Processed keys that do not follow the CloudTrail layout.
    pub exact: BTreeSet<String>,
    pub pending: Option<PendingRun>,
}

impl Default for State {
    fn default() -> Self {
        State {
            version: STATE_VERSION,
            margin_minutes: DEFAULT_MARGIN_MINUTES,
            shard: Shard::ALL.to_string(),
            inputs: Vec::new(),
            runs: 0,
            last_run: None,
            prefixes: BTreeMap::new(),
            exact: BTreeSet::new(),
            pending: None,
        }
    }
}

/// Where a key sits in the delivery order: its account/region prefix and
/// its delivery time in minutes since the epoch. `None` for keys that do
/// not carry a CloudTrail delivery name.
pub fn delivery(key: &str) -> Option<(String, i64)> {
    let (dir, file) = match key.rsplit_once('/') {
        Some((d, f)) => (d, f),
        None => ("", key),
    };
    let mut parts = file.splitn(5, '_');
    let account = parts.next()?;
    let kind = parts.next()?;
    let region = parts.next()?;
    let stamp = parts.next()?;
    let _unique = parts.next()?;
    if !is_account_id(account) || kind != "CloudTrail" || !is_region(region) || stamp.len() != 14 {
        return None;
    }
    let t = NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%MZ").ok()?;
    let minutes = t.and_utc().timestamp().div_euclid(60);
    // Drop the `YYYY/MM/DD` directories: the prefix is the account/region level.
    let segs: Vec<&str> = dir.split('/').filter(|s| !s.is_empty()).collect();
    let mut keep = segs.len();
    if keep >= 3 {
        let (y, m, d) = (segs[keep - 3], segs[keep - 2], segs[keep - 1]);
        if y.len() == 4
            && m.len() == 2
            && d.len() == 2
            && [y, m, d]
                .iter()
                .all(|s| s.bytes().all(|b| b.is_ascii_digit()))
        {
            keep -= 3;
        }
    }
    let base = segs[..keep].join("/");
    let layout_tail = format!("{account}/CloudTrail/{region}");
    let group = if base.ends_with(&layout_tail) {
        format!("{base}/")
    } else if base.is_empty() {
        format!("{account}/CloudTrail/{region}/")
    } else {
        format!("{base}/{account}/CloudTrail/{region}/")
    };
    Some((group, minutes))
}

use crate::source::keys::{is_account_id, is_region};

fn stamp_of(minutes: i64) -> String {
    chrono::DateTime::from_timestamp(minutes.saturating_mul(60), 0)
        .map(|d| d.format("%Y%m%dT%H%MZ").to_string())
        .unwrap_or_default()
}

fn minutes_of(stamp: &str) -> Option<i64> {
    NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%MZ")
        .ok()
        .map(|t| t.and_utc().timestamp().div_euclid(60))
}

impl State {
    /// Whether an earlier run processed this object key.
    pub fn is_processed(&self, key: &str) -> bool {
        if self.exact.contains(key) {
            return true;
        }
        let Some((group, t)) = delivery(key) else {
            return false;
        };
        let Some(mark) = self.prefixes.get(&group) else {
            return false;
        };
        if mark.near.contains(key) {
            return true;
        }
        minutes_of(&mark.high_water).is_some_and(|hw| t < hw - self.margin_minutes)
    }

    /// Per account/region prefix of the CloudTrail layout with a mark: the
    /// prefix and a key every unprocessed key of it sorts after (the day
    /// directory one day before `mark - margin`, without its slash). Listings
    /// may start after it.
    pub fn list_floors(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (group, mark) in &self.prefixes {
            let Some(hw) = minutes_of(&mark.high_water) else {
                continue;
            };
            let segs: Vec<&str> = group.trim_end_matches('/').rsplit('/').take(3).collect();
            let is_layout = segs.len() == 3
                && is_region(segs[0])
                && segs[1] == "CloudTrail"
                && is_account_id(segs[2]);
            if !is_layout {
                continue;
            }
            let t0 = hw - self.margin_minutes - 24 * 60;
            let Some(day) = chrono::DateTime::from_timestamp(t0.saturating_mul(60), 0) else {
                continue;
            };
            out.push((group.clone(), format!("{group}{}", day.format("%Y/%m/%d"))));
        }
        out
    }

    /// Record these keys as processed.
    pub fn record<'a>(&mut self, keys: impl IntoIterator<Item = &'a str>) {
        let mut touched = BTreeSet::new();
        for key in keys {
            match delivery(key) {
                Some((group, t)) => {
                    let mark = self.prefixes.entry(group.clone()).or_default();
                    if minutes_of(&mark.high_water).is_none_or(|hw| t > hw) {
                        mark.high_water = stamp_of(t);
                    }
                    mark.near.insert(key.to_string());
                    touched.insert(group);
                }
                None => {
                    self.exact.insert(key.to_string());
                }
            }
        }
        let margin = self.margin_minutes;
        for g in touched {
            if let Some(mark) = self.prefixes.get_mut(&g)
                && let Some(hw) = minutes_of(&mark.high_water)
            {
                mark.near
                    .retain(|k| delivery(k).is_some_and(|(_, t)| t >= hw - margin));
            }
        }
    }
}

/// Where a state document lives.
#[derive(Debug, Clone)]
enum Location {
    Local(PathBuf),
    /// `s3://bucket/key`, with the ETag of the version this run read or
    /// wrote last (`None`: no object yet).
    #[cfg(feature = "aws")]
    S3 {
        store: Arc<S3Store>,
        bucket: String,
        key: String,
        etag: Option<String>,
    },
}

/// A state file on local disk or a state object on S3.
#[derive(Debug)]
pub struct StateFile {
    path: PathBuf,
    loc: Location,
    pub state: State,
}

fn parse_state(bytes: &[u8], path: &Path) -> Result<State, StateError> {
    let st: State = serde_json::from_slice(bytes).map_err(|e| StateError::Parse {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    if st.version != STATE_VERSION {
        return Err(StateError::Version {
            path: path.to_path_buf(),
            found: st.version,
        });
    }
    Ok(st)
}

fn check_owner(
    state: &State,
    path: &Path,
    shard: Shard,
    inputs: &[String],
) -> Result<(), StateError> {
    if state.shard != shard.to_string() {
        return Err(StateError::Mismatch {
            path: path.to_path_buf(),
            what: "shard",
            recorded: state.shard.clone(),
            given: shard.to_string(),
        });
    }
    let mut a = state.inputs.clone();
    let mut b = inputs.to_vec();
    a.sort();
    b.sort();
    if a != b {
        return Err(StateError::Mismatch {
            path: path.to_path_buf(),
            what: "inputs",
            recorded: state.inputs.join(", "),
            given: inputs.join(", "),
        });
    }
    Ok(())
}

fn fresh(shard: Shard, inputs: &[String]) -> State {
    State {
        shard: shard.to_string(),
        inputs: inputs.to_vec(),
        ..State::default()
    }
}

impl StateFile {
    /// Load `path`, or start an empty state if it does not exist yet. The
    /// state must belong to this shard and these input roots.
    pub fn open(path: &Path, shard: Shard, inputs: &[String]) -> Result<StateFile, StateError> {
        let state = match std::fs::read(path) {
            Ok(bytes) => parse_state(&bytes, path)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => fresh(shard, inputs),
            Err(e) => {
                return Err(StateError::Read {
                    path: path.to_path_buf(),
                    source: e,
                });
            }
        };
        check_owner(&state, path, shard, inputs)?;
        Ok(StateFile {
            path: path.to_path_buf(),
            loc: Location::Local(path.to_path_buf()),
            state,
        })
    }

    #[cfg(feature = "aws")]
    /// Load the state object `s3://bucket/key` (`url.prefix` is the key), or
    /// start an empty state if there is none. Every later write is
    /// conditional on the version read here (see [`crate::sink::s3::PutIf`]).
    pub fn open_s3(
        store: Arc<S3Store>,
        url: &S3Url,
        shard: Shard,
        inputs: &[String],
    ) -> Result<StateFile, StateError> {
        let path = PathBuf::from(url.to_string());
        if url.prefix.is_empty() || url.prefix.ends_with('/') {
            return Err(StateError::Parse {
                path,
                reason: "an S3 state location needs an object key, e.g. s3://bucket/state/trailtriage.json".into(),
            });
        }
        let (state, etag) = match store.get(&url.bucket, &url.prefix) {
            Ok(Some((bytes, etag))) => (parse_state(&bytes, &path)?, etag),
            Ok(None) => (fresh(shard, inputs), None),
            Err(e) => return Err(StateError::Remote { source: e }),
        };
        check_owner(&state, &path, shard, inputs)?;
        Ok(StateFile {
            path,
            loc: Location::S3 {
                store,
                bucket: url.bucket.clone(),
                key: url.prefix.clone(),
                etag,
            },
            state,
        })
    }

    /// The path or URL of the state.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The run a killed process left behind, if any.
    pub fn pending(&self) -> Option<&PendingRun> {
        self.state.pending.as_ref()
    }

    /// Phase 1: record a pending run (objects and planned outputs) and write
    /// the state atomically, before any output of the run is written.
    pub fn begin(&mut self, run: PendingRun) -> Result<(), StateError> {
        self.state.pending = Some(run);
        self.save("during_pending_write")?;
        crash_point("after_pending_write");
        Ok(())
    }

    /// Replace the planned outputs of the pending run (a redo whose outputs
    /// differ from the first attempt's), written atomically.
    pub fn replan(&mut self, outputs: Vec<String>) -> Result<(), StateError> {
        let Some(p) = self.state.pending.as_mut() else {
            return Err(StateError::NoPending {
                path: self.path.clone(),
                action: "replan",
            });
        };
        p.outputs = outputs;
        self.save("during_pending_write")
    }

    /// Phase 2: after every output is safely written, move the pending
    /// objects into the processed marks and write the state atomically.
    pub fn commit(&mut self) -> Result<(), StateError> {
        crash_point("before_state_commit");
        let Some(p) = self.state.pending.take() else {
            return Err(StateError::NoPending {
                path: self.path.clone(),
                action: "commit",
            });
        };
        self.state.record(p.objects.iter().map(String::as_str));
        self.state.runs += 1;
        self.state.last_run = Some(p.run_id);
        self.save("during_state_write")
    }

    /// Write the state atomically. Local: a temporary file in the same
    /// directory, synced, then renamed over the old one (and the directory
    /// synced). S3: one conditional PutObject of the whole document.
    fn save(&mut self, hook: &str) -> Result<(), StateError> {
        let werr = |source| StateError::Write {
            path: self.path.clone(),
            source,
        };
        let mut bytes =
            serde_json::to_vec_pretty(&self.state).map_err(|e| werr(std::io::Error::other(e)))?;
        bytes.push(b'\n');
        match &mut self.loc {
            Location::Local(path) => save_local(path, &bytes, hook).map_err(werr),
            #[cfg(feature = "aws")]
            Location::S3 {
                store,
                bucket,
                key,
                etag,
            } => {
                // A kill here leaves the previous version in place: S3
                // replaces an object only when its upload is complete.
                crash_point(hook);
                let cond = match etag.take() {
                    Some(e) => PutIf::Matches(e),
                    None => PutIf::Absent,
                };
                match store.put(bucket, key, bytes, &cond) {
                    Ok(new) => {
                        *etag = new;
                        Ok(())
                    }
                    Err(e) => {
                        // Keep the condition: a retry must not overwrite blindly.
                        if let PutIf::Matches(old) = cond {
                            *etag = Some(old);
                        }
                        Err(StateError::Remote { source: e })
                    }
                }
            }
        }
    }
}

fn save_local(path: &Path, bytes: &[u8], hook: &str) -> std::io::Result<()> {
    let tmp = crate::sink::atomic::temp_path(path);
    let res = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        let half = bytes.len() / 2;
        f.write_all(&bytes[..half])?;
        f.flush()?;
        crash_point(hook);
        f.write_all(&bytes[half..])?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        sync_dir(path);
        Ok(())
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

/// Sync the directory holding `path` so a rename survives a power cut
/// (best effort: not every platform can open a directory).
pub fn sync_dir(path: &Path) {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// A new run id: UTC time, the shard, and a hash of the process id and the
/// clock, e.g. `20261007T150000Z-s0of1-1a2b3c4d`. Sorts by start time.
pub fn new_run_id(shard: Shard) -> String {
    let now = chrono::Utc::now();
    let nanos = now.timestamp_nanos_opt().unwrap_or_default();
    let seed = format!("{nanos}-{}-{shard}", std::process::id());
    let h = crate::shard::fnv1a64(seed.as_bytes());
    format!(
        "{}-s{}of{}-{:08x}",
        now.format("%Y%m%dT%H%M%SZ"),
        shard.index,
        shard.count,
        h as u32
    )
}

/// The crash test hook (see the module documentation). Debug builds only.
#[cfg(debug_assertions)]
pub fn crash_point(point: &str) {
    static SPEC: std::sync::OnceLock<Option<(String, u64)>> = std::sync::OnceLock::new();
    static COUNTS: Mutex<Option<HashMap<String, u64>>> = Mutex::new(None);
    let spec = SPEC.get_or_init(|| {
        let v = std::env::var(CRASH_ENV).ok()?;
        match v.split_once(':') {
            Some((p, n)) => Some((p.to_string(), n.parse().unwrap_or(1))),
            None => Some((v, 1)),
        }
    });
    let Some((want, nth)) = spec else { return };
    if want != point {
        return;
    }
    let Ok(mut g) = COUNTS.lock() else { return };
    let c = g
        .get_or_insert_with(HashMap::new)
        .entry(point.to_string())
        .or_default();
    *c += 1;
    if *c == *nth {
        std::process::abort();
    }
}

/// Environment variable of the failure test hook (debug builds only).
pub const FAIL_ENV: &str = "TRAILTRIAGE_TEST_FAIL_AT";

/// The failure test hook: true the N-th time (default 1st) the run reaches
/// `POINT` when `TRAILTRIAGE_TEST_FAIL_AT=POINT[:N]`, for code paths that
/// must clean up after an error (e.g. `upload_part`: abort the multipart
/// upload). Debug builds only.
#[cfg(debug_assertions)]
pub fn fail_point(point: &str) -> bool {
    static SPEC: std::sync::OnceLock<Option<(String, u64)>> = std::sync::OnceLock::new();
    static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let spec = SPEC.get_or_init(|| {
        let v = std::env::var(FAIL_ENV).ok()?;
        match v.split_once(':') {
            Some((p, n)) => Some((p.to_string(), n.parse().unwrap_or(1))),
            None => Some((v, 1)),
        }
    });
    match spec {
        Some((want, nth)) if want == point => {
            COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1 == *nth
        }
        _ => false,
    }
}

/// The failure test hook is compiled out of release builds.
#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn fail_point(_point: &str) -> bool {
    false
}

/// The crash test hook is compiled out of release builds.
#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn crash_point(_point: &str) {}

/// One local file of a run, with its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalObject {
    pub path: PathBuf,
    /// The path relative to its input root (`/` separators): the key for
    /// shards and for the state.
    pub key: String,
}

/// The local files under the input roots (sorted by key, then path), and
/// problems met while walking (as failed results).
pub fn list_local(roots: &[PathBuf]) -> (Vec<LocalObject>, Vec<FileResult>) {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for root in roots {
        let (files, mut p) = crate::pipeline::expand_paths(std::slice::from_ref(root));
        problems.append(&mut p);
        for f in files {
            if seen.insert(f.clone()) {
                out.push(LocalObject {
                    key: local_key(root, &f),
                    path: f,
                });
            }
        }
    }
    out.sort_by(|a, b| (&a.key, &a.path).cmp(&(&b.key, &b.path)));
    (out, problems)
}

/// The canonical form of input roots, as recorded in the state.
pub fn canonical_roots(roots: &[PathBuf]) -> Vec<String> {
    roots
        .iter()
        .map(|r| {
            std::fs::canonicalize(r)
                .unwrap_or_else(|_| r.clone())
                .display()
                .to_string()
        })
        .collect()
}

/// Whether an object with this outcome is done with (recorded in the state).
/// Objects that could not be read for I/O reasons are tried again next run.
pub fn is_settled(outcome: &Outcome) -> bool {
    match outcome {
        Outcome::Read | Outcome::Skipped(_) => true,
        Outcome::Failed(why) => {
            !(why.starts_with("cannot read") || why.starts_with("cannot download"))
        }
    }
}

/// The result of processing a chosen set of local objects.
#[derive(Debug)]
pub struct LocalRun {
    pub findings: Vec<Finding>,
    pub stats: Stats,
    /// Keys of the objects processed and settled (to record in the state).
    pub settled: Vec<String>,
}

struct Tracking<'a> {
    inner: &'a dyn Observer,
    /// The key of an object by its name.
    key_of: &'a (dyn Fn(&str) -> Option<String> + Sync),
    settled: Mutex<Vec<String>>,
}

impl Observer for Tracking<'_> {
    fn object_done(&self, r: &FileResult) {
        self.inner.object_done(r);
        if is_settled(&r.outcome)
            && let Some(key) = (self.key_of)(&r.name)
            && let Ok(mut g) = self.settled.lock()
        {
            g.push(key);
        }
        crash_point("after_files");
    }
}

/// Process the given local objects (plus `problems`, counted as failed) and
/// report which of them are settled.
pub fn run_objects(
    objects: &[LocalObject],
    problems: Vec<FileResult>,
    opts: &ScanOptions,
    observer: &dyn Observer,
) -> LocalRun {
    let names: HashMap<String, String> = objects
        .iter()
        .map(|o| (o.path.display().to_string(), o.key.clone()))
        .collect();
    let key_of = |n: &str| names.get(n).cloned();
    let tracking = Tracking {
        inner: observer,
        key_of: &key_of,
        settled: Mutex::new(Vec::new()),
    };
    let mut collector = Collector::new();
    for p in problems {
        tracking.inner.object_done(&p);
        collector.add(p);
    }
    let pf = Prefilter::new(opts.select);
    let paths: Vec<PathBuf> = objects.iter().map(|o| o.path.clone()).collect();
    crate::pipeline::run_files(&paths, opts, &pf, &tracking, &mut collector);
    let (findings, stats) = collector.finish();
    let mut settled = tracking.settled.into_inner().unwrap_or_default();
    settled.sort();
    settled.dedup();
    LocalRun {
        findings,
        stats,
        settled,
    }
}

#[cfg(feature = "aws")]
/// Process the objects under S3 URLs that `pick` wants (listing and
/// choosing by key, before downloading) and report which are settled, keyed
/// by [`crate::source::pick::relative_key`].
pub fn run_s3_objects(
    urls: &[S3Url],
    s3: &crate::source::s3::S3Options,
    pick: Arc<KeyPick>,
    opts: &ScanOptions,
    observer: &dyn Observer,
) -> Result<(LocalRun, crate::source::s3::S3Report), crate::source::SourceError> {
    let p2 = pick.clone();
    let key_of = move |n: &str| p2.key_of(n);
    let tracking = Tracking {
        inner: observer,
        key_of: &key_of,
        settled: Mutex::new(Vec::new()),
    };
    let mut collector = Collector::new();
    let pf = Prefilter::new(opts.select);
    let rep = crate::source::s3::run_s3_picked(
        urls,
        s3,
        Some(pick),
        opts,
        &pf,
        &tracking,
        &mut collector,
    )?;
    let (findings, stats) = collector.finish();
    let mut settled = tracking.settled.into_inner().unwrap_or_default();
    settled.sort();
    settled.dedup();
    Ok((
        LocalRun {
            findings,
            stats,
            settled,
        },
        rep,
    ))
}

/// Add the accounting of `b` to `a` (a redone pending run and the new run
/// of one invocation).
pub fn merge_stats(a: &mut Stats, b: &Stats) {
    a.files_seen += b.files_seen;
    a.files_read += b.files_read;
    a.files_skipped += b.files_skipped;
    a.files_failed += b.files_failed;
    a.records.read += b.records.read;
    a.records.selected += b.records.selected;
    a.records.not_selected += b.records.not_selected;
    a.records.malformed += b.records.malformed;
    a.records.filtered += b.records.filtered;
    a.duplicates += b.duplicates;
    a.findings += b.findings;
    a.compressed_bytes += b.compressed_bytes;
    a.decompressed_bytes += b.decompressed_bytes;
    for (k, v) in &b.skipped_reasons {
        *a.skipped_reasons.entry(k.clone()).or_default() += v;
    }
    a.failed.extend(b.failed.iter().cloned());
    a.failed.sort();
    a.first_event_ms = match (a.first_event_ms, b.first_event_ms) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    };
    a.last_event_ms = match (a.last_event_ms, b.last_event_ms) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    };
    a.retries += b.retries;
    a.remote |= b.remote;
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "AWSLogs/111122223333/CloudTrail/us-east-1/";

    fn key(day: &str, stamp: &str, u: &str) -> String {
        format!(
            "{P}2026/10/{day}/111122223333_CloudTrail_us-east-1_202610{day}T{stamp}Z_{u}.json.gz"
        )
    }

    #[test]
    fn delivery_names() {
        let k = key("05", "1645", "abc");
        let (g, t) = delivery(&k).unwrap_or_default();
        assert_eq!(g, P);
        assert_eq!(stamp_of(t), "20261005T1645Z");
        // Under a trail prefix and an organization id.
        let k = "t/AWSLogs/o-abcdef1234/444455556666/CloudTrail/eu-west-1/2026/01/31/444455556666_CloudTrail_eu-west-1_20260131T2355Z_x.json.gz";
        assert_eq!(
            delivery(k).map(|x| x.0).as_deref(),
            Some("t/AWSLogs/o-abcdef1234/444455556666/CloudTrail/eu-west-1/")
        );
        // A root that starts below the region: the account and region come from the name.
        let k = "2026/10/05/111122223333_CloudTrail_us-east-1_20261005T1645Z_x.json.gz";
        assert_eq!(
            delivery(k).map(|x| x.0).as_deref(),
            Some("111122223333/CloudTrail/us-east-1/")
        );
        for k in [
            "exports/siem.ndjson",
            "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/10/07/111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_20261007T150000Z.json.gz",
            "111122223333_CloudTrail_us-east-1_2026100T1645Z_x.json.gz",
            "111122223333_CloudTrail_us-east-1_20261005T1645Z.json.gz",
        ] {
            assert_eq!(delivery(k), None, "{k}");
        }
    }

    #[test]
    fn high_water_mark_with_a_margin() {
        let mut st = State::default();
        let a = key("05", "1000", "a");
        let b = key("05", "1200", "b");
        st.record([a.as_str(), b.as_str()]);
        assert_eq!(st.prefixes[P].high_water, "20261005T1200Z");
        assert!(st.is_processed(&a) && st.is_processed(&b));
        // Delivered late, inside the margin: not processed yet.
        assert!(!st.is_processed(&key("05", "1130", "late")));
        // Newer: not processed.
        assert!(!st.is_processed(&key("05", "1300", "new")));
        // Older than mark - margin: covered by the mark.
        assert!(st.is_processed(&key("05", "0959", "old")));
        // Another region is another prefix.
        assert!(!st.is_processed(
            "AWSLogs/111122223333/CloudTrail/eu-west-1/2026/10/05/111122223333_CloudTrail_eu-west-1_20261005T0800Z_x.json.gz"
        ));
        // The mark moves; keys fall out of the near set once they are covered.
        let c = key("05", "1500", "c");
        st.record([c.as_str()]);
        let near: Vec<&String> = st.prefixes[P].near.iter().collect();
        assert_eq!(near, vec![&c]);
        assert!(st.is_processed(&a) && st.is_processed(&b));
        // Non-layout keys: exact set.
        st.record(["exports/siem.ndjson"]);
        assert!(st.is_processed("exports/siem.ndjson"));
        assert!(!st.is_processed("exports/other.ndjson"));
    }

    #[test]
    fn settled_outcomes() {
        assert!(is_settled(&Outcome::Read));
        assert!(is_settled(&Outcome::Skipped("x".into())));
        assert!(is_settled(&Outcome::Failed("failed to gunzip: bad".into())));
        assert!(!is_settled(&Outcome::Failed("cannot read: denied".into())));
        assert!(!is_settled(&Outcome::Failed(
            "cannot download: timeout".into()
        )));
    }

    #[test]
    fn open_begin_commit_round_trip() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("state.json");
        let inputs = vec!["/logs".to_string()];
        let mut sf = StateFile::open(&path, Shard::ALL, &inputs).unwrap_or_else(|e| panic!("{e}"));
        assert!(sf.pending().is_none());
        let k = key("05", "1000", "a");
        sf.begin(PendingRun {
            run_id: "r1".into(),
            objects: vec![k.clone()],
            outputs: vec!["date=2026-10-05/part-r1.parquet".into()],
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let again = StateFile::open(&path, Shard::ALL, &inputs).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.pending().map(|p| p.run_id.as_str()), Some("r1"));
        assert!(!again.state.is_processed(&k));
        sf.commit().unwrap_or_else(|e| panic!("{e}"));
        let again = StateFile::open(&path, Shard::ALL, &inputs).unwrap_or_else(|e| panic!("{e}"));
        assert!(again.pending().is_none());
        assert!(again.state.is_processed(&k));
        assert_eq!(again.state.runs, 1);
        // Another shard or other inputs are refused.
        let s = Shard { index: 1, count: 4 };
        let e = StateFile::open(&path, s, &inputs)
            .err()
            .map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("shard 0/1")));
        let e = StateFile::open(&path, Shard::ALL, &["/other".into()]).err();
        assert!(e.is_some());
    }
}

//! `--parquet-dir DIR`: a partitioned Parquet dataset, Hive style.
//!
//! Each run adds one new file per partition it has rows for,
//! `DIR/date=YYYY-MM-DD/part-RUN_ID.parquet` (or
//! `DIR/date=YYYY-MM-DD/account=CALLER_ACCOUNT/part-RUN_ID.parquet` with
//! `--partition-by date,account`). A file is written to a hidden temporary
//! name in its partition (`.part-RUN_ID.parquet.tmp`, which query engines
//! skip), synced, then renamed: readers never see a partial file. Because
//! names derive from the run id, redoing an interrupted run overwrites its
//! files instead of adding duplicates (see [`crate::state`]).
//!
//! `date` is the UTC date of `event_time` (`unknown` when a record had
//! none); `account` is `caller_account_id` (`unknown` when absent). Row
//! groups hold up to [`super::parquet::ROW_GROUP_ROWS`] rows, in event-time
//! order, with page-level statistics (min/max, column index) on every
//! column, so engines prune on `event_time`, `cause_id` and
//! `caller_account_id`.
//!
//! The module also reads datasets back for `trailtriage report`.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::finding::Finding;
use crate::pipeline::{Outcome, RecordCounts, Stats};
#[cfg(feature = "aws")]
use crate::sink::s3::{S3Store, UploadKind};
#[cfg(feature = "aws")]
use crate::source::keys::S3Url;

/// How the dataset is partitioned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PartitionBy {
    /// `date=YYYY-MM-DD/`
    #[default]
    Date,
    /// `date=YYYY-MM-DD/account=ACCOUNT/`
    DateAccount,
}

impl PartitionBy {
    /// Parse `date` or `date,account`.
    pub fn parse(s: &str) -> Result<PartitionBy, Error> {
        let cols: Vec<&str> = s.split(',').map(str::trim).collect();
        match cols.as_slice() {
            ["date"] => Ok(PartitionBy::Date),
            ["date", "account"] => Ok(PartitionBy::DateAccount),
            _ => Err(Error::Config(format!(
                "--partition-by {s:?}: expected `date` or `date,account`"
            ))),
        }
    }
}

fn hive_value(s: &str) -> String {
    // Hive escapes these in partition values; account ids never need it, but
    // a hostile log could put anything in caller_account_id.
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The partition directory of one finding, relative to the dataset root.
pub fn partition_of(f: &Finding, by: PartitionBy) -> String {
    let date = f
        .event_time
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "unknown".to_string());
    match by {
        PartitionBy::Date => format!("date={date}"),
        PartitionBy::DateAccount => {
            let acct = f
                .caller_account_id
                .as_deref()
                .filter(|a| !a.is_empty())
                .map(hive_value)
                .unwrap_or_else(|| "unknown".to_string());
            format!("date={date}/account={acct}")
        }
    }
}

/// The file name of a run's file in each partition.
pub fn file_name(run_id: &str) -> String {
    format!("part-{run_id}.parquet")
}

/// Findings grouped by partition (each group keeps the input order).
pub fn partitions(findings: &[Finding], by: PartitionBy) -> BTreeMap<String, Vec<usize>> {
    let mut out: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, f) in findings.iter().enumerate() {
        out.entry(partition_of(f, by)).or_default().push(i);
    }
    out
}

/// The files a run will write, relative to the dataset root (`/` separators).
pub fn planned_outputs(findings: &[Finding], by: PartitionBy, run_id: &str) -> Vec<String> {
    partitions(findings, by)
        .into_keys()
        .map(|p| format!("{p}/{}", file_name(run_id)))
        .collect()
}

fn werr(path: &Path, source: std::io::Error) -> Error {
    Error::Write {
        path: path.to_path_buf(),
        source,
    }
}

fn rel_path(root: &Path, rel: &str) -> PathBuf {
    let mut p = root.to_path_buf();
    for seg in rel.split('/') {
        p.push(seg);
    }
    p
}

/// Write one file per partition for this run; returns the files written,
/// relative to `root`.
pub fn write_dataset(
    root: &Path,
    run_id: &str,
    findings: &[Finding],
    by: PartitionBy,
) -> Result<Vec<String>, Error> {
    let mut written = Vec::new();
    for (part, idx) in partitions(findings, by) {
        let rel = format!("{part}/{}", file_name(run_id));
        let path = rel_path(root, &rel);
        let dir = path.parent().unwrap_or(root);
        std::fs::create_dir_all(dir).map_err(|e| werr(dir, e))?;
        let rows: Vec<Finding> = idx.iter().map(|&i| findings[i].clone()).collect();
        write_one(&path, &rows)?;
        written.push(rel);
    }
    Ok(written)
}

fn write_one(path: &Path, rows: &[Finding]) -> Result<(), Error> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let res = (|| -> Result<(), Error> {
        let file = File::create(&tmp).map_err(|e| werr(path, e))?;
        let mut w = BufWriter::with_capacity(256 * 1024, file);
        super::parquet::write_to(&mut w, rows).map_err(|reason| Error::Parquet {
            path: path.to_path_buf(),
            reason,
        })?;
        w.flush().map_err(|e| werr(path, e))?;
        w.get_ref().sync_all().map_err(|e| werr(path, e))?;
        drop(w);
        crate::state::crash_point("before_parquet_rename");
        std::fs::rename(&tmp, path).map_err(|e| werr(path, e))?;
        crate::state::sync_dir(path);
        Ok(())
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

/// Remove files of an earlier plan that a redo did not write again.
pub fn remove_stale(root: &Path, old_plan: &[String], written: &[String]) -> Result<(), Error> {
    let keep: HashSet<&str> = written.iter().map(String::as_str).collect();
    for rel in old_plan {
        if keep.contains(rel.as_str()) {
            continue;
        }
        let p = rel_path(root, rel);
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(werr(&p, e)),
        }
    }
    Ok(())
}

/// Where a dataset goes: a local directory or `s3://bucket/prefix`.
#[derive(Debug, Clone)]
pub enum Destination {
    Dir(PathBuf),
    #[cfg(feature = "aws")]
    S3 {
        store: std::sync::Arc<S3Store>,
        url: S3Url,
    },
}

/// What a dataset write did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    /// The files written, relative to the dataset root.
    pub files: Vec<String>,
    /// S3 only: files uploaded with one PutObject, and with multipart uploads.
    pub single_puts: u64,
    pub multipart: u64,
    pub parts: u64,
}

impl Destination {
    /// The directory or URL, for messages.
    pub fn name(&self) -> String {
        match self {
            Destination::Dir(d) => d.display().to_string(),
            #[cfg(feature = "aws")]
            Destination::S3 { url, .. } => url.to_string(),
        }
    }

    /// Write one file per partition for this run (see [`write_dataset`] and
    /// [`write_dataset_s3`]).
    pub fn write(
        &self,
        run_id: &str,
        findings: &[Finding],
        by: PartitionBy,
    ) -> Result<Written, Error> {
        match self {
            Destination::Dir(d) => Ok(Written {
                files: write_dataset(d, run_id, findings, by)?,
                ..Written::default()
            }),
            #[cfg(feature = "aws")]
            Destination::S3 { store, url } => write_dataset_s3(store, url, run_id, findings, by),
        }
    }

    /// Remove files of an earlier plan that a redo did not write again.
    pub fn remove_stale(&self, old_plan: &[String], written: &[String]) -> Result<(), Error> {
        match self {
            Destination::Dir(d) => remove_stale(d, old_plan, written),
            #[cfg(feature = "aws")]
            Destination::S3 { store, url } => {
                let keep: HashSet<&str> = written.iter().map(String::as_str).collect();
                for rel in old_plan.iter().filter(|r| !keep.contains(r.as_str())) {
                    let key = s3_key(url, rel);
                    store
                        .delete(&url.bucket, &key)
                        .map_err(|e| s3_err(&url.object_name(&key), e))?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(feature = "aws")]
/// The object key of a dataset file: the prefix as a directory, then `rel`.
pub fn s3_key(url: &S3Url, rel: &str) -> String {
    let p = url.prefix.trim_end_matches('/');
    if p.is_empty() {
        rel.to_string()
    } else {
        format!("{p}/{rel}")
    }
}

#[cfg(feature = "aws")]
fn s3_err(name: &str, e: crate::sink::s3::StoreError) -> Error {
    Error::Write {
        path: PathBuf::from(name),
        source: std::io::Error::other(e.reason()),
    }
}

#[cfg(feature = "aws")]
/// [`write_dataset`] to `s3://bucket/prefix`: each file is produced straight
/// into its upload and appears under its final key only when complete (one
/// PutObject when small, else a multipart upload, aborted on error; see
/// [`crate::sink::s3`]).
pub fn write_dataset_s3(
    store: &S3Store,
    url: &S3Url,
    run_id: &str,
    findings: &[Finding],
    by: PartitionBy,
) -> Result<Written, Error> {
    let mut w = Written::default();
    for (part, idx) in partitions(findings, by) {
        let rel = format!("{part}/{}", file_name(run_id));
        let key = s3_key(url, &rel);
        let name = url.object_name(&key);
        let rows: Vec<Finding> = idx.iter().map(|&i| findings[i].clone()).collect();
        let mut parquet_err = None;
        let res = store.upload(&url.bucket, &key, |up| {
            super::parquet::write_to(up, &rows).inspect_err(|e| parquet_err = Some(e.clone()))
        });
        match res {
            Ok(UploadKind::Single(_)) => w.single_puts += 1,
            Ok(UploadKind::Multipart { parts, .. }) => {
                w.multipart += 1;
                w.parts += parts;
            }
            Err(e) => {
                return Err(match parquet_err {
                    Some(reason) if !matches!(e, crate::sink::s3::StoreError::Request { .. }) => {
                        Error::Parquet {
                            path: PathBuf::from(name),
                            reason,
                        }
                    }
                    _ => s3_err(&name, e),
                });
            }
        }
        w.files.push(rel);
    }
    Ok(w)
}

/// The `*.parquet` files named or found under directories (walked
/// recursively, hidden names skipped), sorted; unreadable inputs come back
/// as (name, reason).
pub fn find_parquet(inputs: &[PathBuf]) -> (Vec<PathBuf>, Vec<(String, String)>) {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for p in inputs {
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => walk(p, &mut files, &mut problems, 0),
            Ok(_) => files.push(p.clone()),
            Err(e) => problems.push((p.display().to_string(), format!("cannot read: {e}"))),
        }
    }
    files.sort();
    files.dedup();
    (files, problems)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>, problems: &mut Vec<(String, String)>, depth: usize) {
    if depth > 32 {
        problems.push((
            dir.display().to_string(),
            "directory nesting deeper than 32 levels (symlink loop?)".into(),
        ));
        return;
    }
    let rd = match std::fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) => {
            problems.push((
                dir.display().to_string(),
                format!("cannot read directory: {e}"),
            ));
            return;
        }
    };
    for ent in rd {
        let ent = match ent {
            Ok(e) => e,
            Err(e) => {
                problems.push((
                    dir.display().to_string(),
                    format!("cannot list directory: {e}"),
                ));
                continue;
            }
        };
        let p = ent.path();
        let name = ent.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        match std::fs::metadata(&p) {
            Ok(m) if m.is_dir() => walk(&p, files, problems, depth + 1),
            Ok(m) if m.is_file() && name.ends_with(".parquet") => files.push(p),
            Ok(_) => {}
            Err(e) => problems.push((p.display().to_string(), format!("cannot read: {e}"))),
        }
    }
}

/// Read findings back from Parquet files and directories (for `trailtriage
/// report`). The accounting then describes the Parquet files: files seen /
/// read / failed, and rows as records (every row is a selected record).
/// Rows are sorted like a scan's and deduplicated by event id (a dataset
/// and a single-file output of the same run may both be named).
pub fn read_findings(inputs: &[PathBuf]) -> (Vec<Finding>, Stats, Vec<(String, Outcome)>) {
    read_findings_with(inputs, None)
}

/// Without the `aws` feature there is no S3 client: `s3://` inputs are
/// reported as unreadable.
#[cfg(not(feature = "aws"))]
pub type S3Store = std::convert::Infallible;

#[cfg(feature = "aws")]
/// The `*.parquet` objects under an S3 prefix (or the object it names),
/// skipping names that start with `.` or `_` below the prefix, like the
/// directory walk.
pub fn find_parquet_s3(store: &S3Store, url: &S3Url) -> Result<Vec<String>, String> {
    let keys = store.list(url).map_err(|e| e.reason())?;
    let mut out: Vec<String> = keys
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| {
            if *k == url.prefix {
                return true;
            }
            let rel = crate::source::pick::relative_key(url, k);
            k.ends_with(".parquet")
                && !rel
                    .split('/')
                    .any(|seg| seg.starts_with('.') || seg.starts_with('_'))
        })
        .collect();
    out.sort();
    Ok(out)
}

/// [`read_findings`], with `s3://bucket/prefix` inputs read through `store`
/// (every Parquet object under the prefix; the store is needed when an
/// input is an S3 URL).
pub fn read_findings_with(
    inputs: &[PathBuf],
    store: Option<&S3Store>,
) -> (Vec<Finding>, Stats, Vec<(String, Outcome)>) {
    let (local, remote): (Vec<PathBuf>, Vec<PathBuf>) = inputs
        .iter()
        .cloned()
        .partition(|p| !p.to_string_lossy().starts_with("s3://"));
    let (files, mut problems) = find_parquet(&local);
    let mut stats = Stats::default();
    let mut outcomes = Vec::new();
    let mut all = Vec::new();
    #[cfg(not(feature = "aws"))]
    for r in &remote {
        let _ = store;
        problems.push((
            r.to_string_lossy().into_owned(),
            "reading s3:// needs the `aws` feature".to_string(),
        ));
    }
    #[cfg(feature = "aws")]
    for r in &remote {
        let name = r.to_string_lossy().into_owned();
        let listed = match (S3Url::parse(&name), store) {
            (Err(e), _) => Err(e.to_string()),
            (Ok(_), None) => Err("no S3 client for this input".to_string()),
            (Ok(url), Some(s)) => find_parquet_s3(s, &url).map(|keys| (url, keys, s)),
        };
        let (url, keys, s) = match listed {
            Ok(x) => x,
            Err(why) => {
                problems.push((name, why));
                continue;
            }
        };
        for key in keys {
            let oname = url.object_name(&key);
            stats.files_seen += 1;
            match s.read_parquet(&url.bucket, &key) {
                Ok((rows, size)) => {
                    stats.files_read += 1;
                    stats.compressed_bytes += size;
                    stats.records = add_counts(stats.records, rows.len() as u64);
                    all.extend(rows);
                    outcomes.push((oname, Outcome::Read));
                }
                Err(why) => {
                    stats.files_failed += 1;
                    stats.failed.push((oname.clone(), why.clone()));
                    outcomes.push((oname, Outcome::Failed(why)));
                }
            }
        }
    }
    for (name, why) in problems {
        stats.files_seen += 1;
        stats.files_failed += 1;
        stats.failed.push((name.clone(), why.clone()));
        outcomes.push((name, Outcome::Failed(why)));
    }
    for f in files {
        let name = f.display().to_string();
        stats.files_seen += 1;
        match super::parquet::read_file(&f) {
            Ok(rows) => {
                stats.files_read += 1;
                stats.compressed_bytes += std::fs::metadata(&f).map(|m| m.len()).unwrap_or(0);
                let n = rows.len() as u64;
                stats.records = add_counts(stats.records, n);
                all.extend(rows);
                outcomes.push((name, Outcome::Read));
            }
            Err(e) => {
                stats.files_failed += 1;
                let why = match e {
                    Error::Parquet { reason, .. } => {
                        format!("not a trailtriage Parquet file: {reason}")
                    }
                    other => other.to_string(),
                };
                stats.failed.push((name.clone(), why.clone()));
                outcomes.push((name, Outcome::Failed(why)));
            }
        }
    }
    all.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    let before = all.len();
    let mut seen = HashSet::new();
    all.retain(|f| f.event_id.is_empty() || seen.insert(f.event_id.clone()));
    stats.duplicates = (before - all.len()) as u64;
    stats.findings = all.len() as u64;
    stats.failed.sort();
    stats.first_event_ms = all.iter().filter_map(|f| f.event_time).min();
    stats.last_event_ms = all.iter().filter_map(|f| f.event_time).max();
    (all, stats, outcomes)
}

fn add_counts(mut c: RecordCounts, n: u64) -> RecordCounts {
    c.read += n;
    c.selected += n;
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    fn finding(id: &str, t: Option<i64>, acct: Option<&str>) -> Finding {
        let log = br#"{"Records":[{"eventVersion":"1.08","eventTime":"2026-10-01T12:00:00Z",
          "eventID":"e1","eventSource":"sts.amazonaws.com","eventName":"AssumeRole",
          "awsRegion":"us-east-1","recipientAccountId":"111122223333",
          "userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333"},
          "errorCode":"AccessDenied",
          "errorMessage":"User: arn:aws:iam::111122223333:user/alice is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::111122223333:role/Deploy because no identity-based policy allows the sts:AssumeRole action",
          "requestParameters":null}]}"#;
        let opts = crate::pipeline::ScanOptions::default();
        let pf = crate::select::Prefilter::new(opts.select);
        let r = crate::pipeline::Worker::new().process_bytes("t.json", log, &opts, &pf);
        let mut f = r
            .findings
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no finding"));
        f.event_id = id.to_string();
        f.event_time = t;
        f.caller_account_id = acct.map(str::to_string);
        f.cause_id = "missing_identity_permission".into();
        f
    }

    #[test]
    fn partition_names() {
        let f = finding("a", Some(1_791_200_000_000), Some("111122223333"));
        assert_eq!(partition_of(&f, PartitionBy::Date), "date=2026-10-05");
        assert_eq!(
            partition_of(&f, PartitionBy::DateAccount),
            "date=2026-10-05/account=111122223333"
        );
        let g = finding("b", None, None);
        assert_eq!(
            partition_of(&g, PartitionBy::DateAccount),
            "date=unknown/account=unknown"
        );
        let h = finding("c", Some(0), Some("../x"));
        assert_eq!(
            partition_of(&h, PartitionBy::DateAccount),
            "date=1970-01-01/account=.._x"
        );
        assert_eq!(PartitionBy::parse("date").ok(), Some(PartitionBy::Date));
        assert_eq!(
            PartitionBy::parse("date, account").ok(),
            Some(PartitionBy::DateAccount)
        );
        assert!(PartitionBy::parse("account").is_err());
    }

    #[test]
    fn writes_one_file_per_partition_with_statistics_and_reads_back() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let day = 86_400_000;
        let t0 = 1_791_200_000_000;
        let rows = vec![
            finding("a", Some(t0), Some("111122223333")),
            finding("b", Some(t0 + 1000), Some("444455556666")),
            finding("c", Some(t0 + day), Some("111122223333")),
        ];
        let plan = planned_outputs(&rows, PartitionBy::Date, "r1");
        let written = write_dataset(dir.path(), "r1", &rows, PartitionBy::Date)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plan, written);
        assert_eq!(
            written,
            vec![
                "date=2026-10-05/part-r1.parquet".to_string(),
                "date=2026-10-06/part-r1.parquet".to_string()
            ]
        );
        // Statistics and the page index on the columns engines prune on.
        let f = File::open(rel_path(dir.path(), &written[0])).unwrap_or_else(|e| panic!("{e}"));
        let r = SerializedFileReader::new(f).unwrap_or_else(|e| panic!("{e}"));
        let md = r.metadata();
        let schema = md.file_metadata().schema_descr();
        for col in ["event_time", "cause_id", "caller_account_id"] {
            let i = (0..schema.num_columns())
                .find(|&i| schema.column(i).name() == col)
                .unwrap_or_else(|| panic!("{col}"));
            let c = md.row_group(0).column(i);
            let st = c
                .statistics()
                .unwrap_or_else(|| panic!("{col}: no statistics"));
            assert!(
                st.min_bytes_opt().is_some() && st.max_bytes_opt().is_some(),
                "{col}"
            );
            assert!(c.column_index_offset().is_some(), "{col}: no column index");
        }
        // No temporary file is left.
        let names: Vec<String> = std::fs::read_dir(dir.path().join("date=2026-10-05"))
            .unwrap_or_else(|e| panic!("{e}"))
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect();
        assert_eq!(names, vec!["part-r1.parquet".to_string()]);
        let (back, stats, _) = read_findings(&[dir.path().to_path_buf()]);
        let ids: Vec<&str> = back.iter().map(|f| f.event_id.as_str()).collect();
        assert_eq!(ids, vec!["a", "b", "c"]);
        assert_eq!(
            (stats.files_seen, stats.files_read, stats.records.read),
            (2, 2, 3)
        );
        assert!(stats.invariants_hold());
        // A redo with a different plan removes the stale file.
        remove_stale(dir.path(), &written, &written[..1]).unwrap_or_else(|e| panic!("{e}"));
        assert!(!rel_path(dir.path(), &written[1]).exists());
    }
}

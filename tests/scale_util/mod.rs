//! Helpers shared by the state, shard and dataset tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use trailtriage::Finding;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The binary under test: `CARGO_BIN_EXE_trailtriage`, or the file named by
/// `TRAILTRIAGE_TEST_BIN` (when several worktrees share one target
/// directory, the uplifted `target/debug/trailtriage` may be another
/// worktree's by the time the tests run).
pub fn bin() -> Command {
    let exe = std::env::var_os("TRAILTRIAGE_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_trailtriage")));
    let mut c = Command::new(exe);
    c.env_remove(trailtriage::state::CRASH_ENV)
        .env_remove("NO_COLOR")
        .env("COLUMNS", "100");
    c
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Copy a directory tree.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        let t = to.join(e.file_name());
        if p.is_dir() {
            copy_tree(&p, &t);
        } else {
            std::fs::copy(&p, &t).unwrap();
        }
    }
}

/// A fresh copy of sample-logs under `dir/logs`.
pub fn sample_copy(dir: &Path) -> PathBuf {
    let logs = dir.join("logs");
    copy_tree(&root().join("sample-logs"), &logs);
    logs
}

/// Run the binary with `args` and a JSON report; returns the output and the
/// parsed report.
pub fn scan_json(
    args: &[&str],
    report: &Path,
    env: Option<(&str, &str)>,
) -> (Output, Option<Value>) {
    let mut c = bin();
    c.arg("scan").args(args).args([
        "--report",
        report.to_str().unwrap(),
        "--report-format",
        "json",
        "-q",
    ]);
    if let Some((k, v)) = env {
        c.env(k, v);
    }
    let _ = std::fs::remove_file(report);
    let out = c.output().unwrap();
    let json = std::fs::read(report)
        .ok()
        .map(|b| serde_json::from_slice(&b).unwrap());
    (out, json)
}

/// Every row of every Parquet file under `dir`, file by file (no dedupe).
pub fn dataset_rows(dir: &Path) -> Vec<Finding> {
    let (files, problems) = trailtriage::sink::dataset::find_parquet(&[dir.to_path_buf()]);
    assert!(problems.is_empty(), "{problems:?}");
    let mut out = Vec::new();
    for f in files {
        out.extend(trailtriage::sink::parquet::read_file(&f).unwrap());
    }
    out
}

/// event_id -> cause_id, asserting every event id appears once.
pub fn by_event(rows: &[Finding]) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for r in rows {
        let prev = m.insert(r.event_id.clone(), r.cause_id.clone());
        assert!(
            prev.is_none(),
            "duplicate event id {} in the dataset",
            r.event_id
        );
    }
    m
}

/// No temporary files left in a dataset: every file is `part-*.parquet`.
pub fn only_final_files(dir: &Path) -> Vec<PathBuf> {
    let mut stray = Vec::new();
    fn walk(d: &Path, stray: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, stray);
            } else {
                let n = p.file_name().unwrap().to_string_lossy().into_owned();
                if !(n.starts_with("part-") && n.ends_with(".parquet")) {
                    stray.push(p);
                }
            }
        }
    }
    if dir.exists() {
        walk(dir, &mut stray);
    }
    stray
}

pub fn stat(report: &Value, field: &str) -> u64 {
    report["stats"][field]
        .as_u64()
        .unwrap_or_else(|| panic!("stats.{field} in {report}"))
}

pub fn notes(report: &Value) -> Vec<String> {
    report["notes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

pub mod s3;

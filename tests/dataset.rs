//! `--parquet-dir`: a Hive-partitioned dataset DuckDB reads with
//! `hive_partitioning=true` gives the same rows as a single-file run; and
//! `trailtriage report` over Parquet gives the same report as the scan.

mod scale_util;

use std::path::Path;
use std::process::Command;

use scale_util::*;
use serde_json::Value;

fn duckdb() -> String {
    let bin = std::env::var("DUCKDB").unwrap_or_else(|_| "duckdb".into());
    let ok = Command::new(&bin)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "DuckDB CLI not found ({bin}): run `python3 -m pip install duckdb-cli` or scripts/test.sh"
    );
    bin
}

fn sql(q: &str) -> Vec<Value> {
    let out = Command::new(duckdb())
        .args(["-json", "-c", q])
        .output()
        .unwrap();
    assert!(out.status.success(), "{q}: {}", text(&out.stderr));
    let s = text(&out.stdout);
    if s.trim().is_empty() {
        return Vec::new();
    }
    serde_json::from_str(&s).unwrap()
}

fn scan(args: &[&str]) {
    let out = bin().arg("scan").args(args).arg("-q").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

const COLS: &str =
    "event_id, cause_id, severity, epoch_ms(event_time) AS t, caller_account_id, source_file";

#[test]
fn duckdb_reads_the_partitioned_dataset_like_a_single_file() {
    let dir = tempfile::tempdir().unwrap();
    let logs = root().join("sample-logs");
    let single = dir.path().join("single.parquet");
    let by_date = dir.path().join("by_date");
    let by_acct = dir.path().join("by_acct");
    scan(&[
        logs.to_str().unwrap(),
        "--parquet",
        single.to_str().unwrap(),
    ]);
    scan(&[
        logs.to_str().unwrap(),
        "--parquet-dir",
        by_date.to_str().unwrap(),
    ]);
    scan(&[
        logs.to_str().unwrap(),
        "--parquet-dir",
        by_acct.to_str().unwrap(),
        "--partition-by",
        "date,account",
    ]);
    let want = sql(&format!(
        "SELECT {COLS} FROM read_parquet('{}') ORDER BY event_id",
        single.display()
    ));
    assert_eq!(want.len(), 192);
    for ds in [&by_date, &by_acct] {
        let got = sql(&format!(
            "SELECT {COLS} FROM read_parquet('{}/**/*.parquet', hive_partitioning=true) ORDER BY event_id",
            ds.display()
        ));
        assert_eq!(got, want, "{}", ds.display());
        // The partition columns agree with the rows.
        let bad = sql(&format!(
            "SELECT count(*) AS n FROM read_parquet('{}/**/*.parquet', hive_partitioning=true)
             WHERE CAST(date AS VARCHAR) <> strftime(event_time AT TIME ZONE 'UTC', '%Y-%m-%d')",
            ds.display()
        ));
        assert_eq!(bad[0]["n"], 0, "{}", ds.display());
    }
    let bad = sql(&format!(
        "SELECT count(*) AS n FROM read_parquet('{}/**/*.parquet', hive_partitioning=true)
         WHERE CAST(account AS VARCHAR) <> coalesce(caller_account_id, 'unknown')",
        by_acct.display()
    ));
    assert_eq!(bad[0]["n"], 0);
    // One file per partition, Hive names.
    let parts = sql(&format!(
        "SELECT DISTINCT regexp_extract(filename, 'date=[0-9-]+/') AS p FROM read_parquet('{}/**/*.parquet', filename=true) ORDER BY p",
        by_date.display()
    ));
    let parts: Vec<&str> = parts.iter().filter_map(|r| r["p"].as_str()).collect();
    assert_eq!(
        parts,
        vec!["date=2026-10-05/", "date=2026-10-06/", "date=2026-10-07/"]
    );
    assert!(only_final_files(&by_date).is_empty());
}

fn report_json(args: &[&str]) -> (i32, Value, String) {
    let out = bin()
        .args(args)
        .args(["--report", "-", "--report-format", "json"])
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), v, text(&out.stderr))
}

#[test]
fn report_over_parquet_matches_the_scan_report() {
    let dir = tempfile::tempdir().unwrap();
    let logs = root().join("sample-logs");
    let single = dir.path().join("single.parquet");
    let ds = dir.path().join("ds");
    scan(&[
        logs.to_str().unwrap(),
        "--parquet",
        single.to_str().unwrap(),
    ]);
    scan(&[
        logs.to_str().unwrap(),
        "--parquet-dir",
        ds.to_str().unwrap(),
    ]);
    let (code, scanned, e) = report_json(&["scan", logs.to_str().unwrap()]);
    assert_eq!(code, 0, "{e}");
    for input in [single.as_path(), ds.as_path()] {
        let (code, r, e) = report_json(&["report", input.to_str().unwrap()]);
        assert_eq!(code, 0, "{e}");
        for key in [
            "findings",
            "by_cause",
            "by_severity",
            "top_callers",
            "top_roles",
            "account_pairs",
            "by_day",
            "accounts",
        ] {
            assert_eq!(r[key], scanned[key], "{}: {key}", input.display());
        }
        // The accounting describes the Parquet files read.
        let files = if input == single.as_path() { 1 } else { 3 };
        assert_eq!(r["stats"]["files_seen"], files, "{r}");
        assert_eq!(r["stats"]["files_read"], files);
        assert_eq!(r["stats"]["records"]["read"], 192);
        let notes = notes(&r);
        assert!(
            notes
                .iter()
                .any(|n| n.starts_with(&format!("input: {files} Parquet file(s)"))),
            "{notes:?}"
        );
    }
    // Both at once: rows are merged by event id.
    let (code, r, _) = report_json(&["report", single.to_str().unwrap(), ds.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(r["findings"], 192);
    assert_eq!(r["stats"]["duplicates"], 192);
    // Text and markdown work too.
    for fmt in ["text", "markdown", "html"] {
        let out = bin()
            .args(["report", ds.to_str().unwrap(), "--report-format", fmt])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{fmt}: {}", text(&out.stderr));
        assert!(text(&out.stdout).contains("192"), "{fmt}");
    }
}

#[test]
fn report_names_unreadable_parquet_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.parquet");
    std::fs::write(&bad, b"not parquet").unwrap();
    let (code, r, e) = report_json(&[
        "report",
        bad.to_str().unwrap(),
        &dir.path().join("missing").display().to_string(),
    ]);
    assert_eq!(code, 1, "{e}");
    assert!(e.contains(bad.to_str().unwrap()), "{e}");
    assert!(e.contains("missing"), "{e}");
    assert_eq!(r["stats"]["files_failed"], 2);
    let _ = Path::new("");
}

#[test]
fn parquet_dir_on_an_unreachable_s3_fails_clearly() {
    // Nothing listens on port 9 of 127.0.0.1 (the tests never reach AWS);
    // tests/s3_scale.rs writes datasets to a real S3-compatible server.
    let out = s3::s3s_fs::offline_aws(&mut bin())
        .args([
            "scan",
            root().join("sample-logs").to_str().unwrap(),
            "--parquet-dir",
            "s3://bucket/prefix",
            "--endpoint-url",
            "http://127.0.0.1:9",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("s3://bucket/prefix"),
        "{}",
        text(&out.stderr)
    );
}

//! Runs every DuckDB query of queries/duckdb against Parquet that trailtriage
//! produced from sample-logs/, and checks the answers against the same
//! figures computed from the findings in Rust. Needs the DuckDB CLI
//! (`pip install duckdb-cli`; scripts/test.sh installs it). Fails, never
//! skips, when it is missing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use trailtriage::Finding;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

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

fn findings_parquet(dir: &Path) -> (PathBuf, Vec<Finding>) {
    let pq = dir.join("findings.parquet");
    let out = Command::new(env!("CARGO_BIN_EXE_trailtriage"))
        .args([
            "scan",
            root().join("sample-logs").to_str().unwrap(),
            "--parquet",
            pq.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let f = trailtriage::sink::parquet::read_file(&pq).unwrap();
    (pq, f)
}

fn query(pq: &Path, file: &str, pre: &str) -> Vec<Value> {
    let sql = std::fs::read_to_string(root().join("queries/duckdb").join(file)).unwrap();
    let script = format!(
        "CREATE VIEW findings AS SELECT * FROM read_parquet('{}');\n{pre}\n{sql}",
        pq.display()
    );
    let out = Command::new(duckdb())
        .args(["-json", "-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{file}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = String::from_utf8(out.stdout).unwrap();
    if s.trim().is_empty() {
        return Vec::new();
    }
    serde_json::from_str(&s).unwrap_or_else(|e| panic!("{file}: {e}: {s}"))
}

fn n(v: &Value) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| v.as_str().and_then(|s| s.parse().ok()).unwrap_or(u64::MAX))
}

#[test]
fn every_duckdb_query_gives_the_right_answers() {
    let dir = tempfile::tempdir().unwrap();
    let (pq, f) = findings_parquet(dir.path());
    assert_eq!(f.len(), 192);

    // top_causes
    let rows = query(&pq, "top_causes.sql", "");
    let mut want: BTreeMap<&str, (u64, u64, u64, u64, u64)> = BTreeMap::new();
    for x in &f {
        let e = want.entry(&x.cause_id).or_default();
        e.0 += 1;
        match x.confidence.as_str() {
            "certain" => e.1 += 1,
            "likely" => e.2 += 1,
            _ => e.3 += 1,
        }
        if x.severity == "high" {
            e.4 += 1;
        }
    }
    assert_eq!(rows.len(), want.len());
    for r in &rows {
        let w = want[r["cause_id"].as_str().unwrap()];
        assert_eq!(
            (
                n(&r["failures"]),
                n(&r["certain"]),
                n(&r["likely"]),
                n(&r["possible"]),
                n(&r["high"])
            ),
            w,
            "{r}"
        );
    }
    assert!(
        n(&rows[0]["failures"]) >= n(&rows[1]["failures"]),
        "ordered by count"
    );

    // top_callers
    let rows = query(&pq, "top_callers.sql", "");
    let mut callers: BTreeMap<String, (u64, BTreeSet<&str>)> = BTreeMap::new();
    for x in &f {
        let k = x
            .caller_arn
            .clone()
            .unwrap_or_else(|| format!("({})", x.caller_type));
        let e = callers.entry(k).or_default();
        e.0 += 1;
        if let Some(r) = &x.target_role_arn {
            e.1.insert(r);
        }
    }
    let top = callers.values().map(|v| v.0).max().unwrap();
    assert_eq!(n(&rows[0]["failures"]), top);
    for r in &rows {
        let w = &callers[r["caller"].as_str().unwrap()];
        assert_eq!(n(&r["failures"]), w.0);
        assert_eq!(n(&r["distinct_roles"]), w.1.len() as u64);
    }

    // failures_by_account_pair
    let rows = query(&pq, "failures_by_account_pair.sql", "");
    let total: u64 = rows.iter().map(|r| n(&r["failures"])).sum();
    assert_eq!(total, f.len() as u64);
    let mut pairs: BTreeMap<(String, String), u64> = BTreeMap::new();
    for x in &f {
        *pairs
            .entry((
                x.caller_account_id.clone().unwrap_or("?".into()),
                x.role_account_id.clone().unwrap_or("?".into()),
            ))
            .or_default() += 1;
    }
    for r in &rows {
        let k = (
            r["caller_account"].as_str().unwrap().to_string(),
            r["role_account"].as_str().unwrap().to_string(),
        );
        assert!(pairs.contains_key(&k), "{r}");
    }
    let cross: u64 = rows
        .iter()
        .filter(|r| r["cross_account"] == true)
        .map(|r| n(&r["failures"]))
        .sum();
    assert_eq!(
        cross,
        f.iter().filter(|x| x.cross_account == Some(true)).count() as u64
    );

    // new_callers_since_yesterday, pinned to the last event
    let last = f.iter().filter_map(|x| x.event_time).max().unwrap();
    let as_of = trailtriage::finding::format_time_ms(last);
    let rows = query(
        &pq,
        "new_callers_since_yesterday.sql",
        &format!("SET VARIABLE as_of = TIMESTAMPTZ '{as_of}';"),
    );
    let mut first: BTreeMap<&str, i64> = BTreeMap::new();
    for x in &f {
        if let (Some(c), Some(t)) = (&x.caller_arn, x.event_time) {
            let e = first.entry(c).or_insert(t);
            *e = (*e).min(t);
        }
    }
    let want: BTreeSet<&str> = first
        .iter()
        .filter(|(_, t)| **t > last - 86_400_000 && **t <= last)
        .map(|(c, _)| *c)
        .collect();
    let got: BTreeSet<&str> = rows
        .iter()
        .map(|r| r["caller_arn"].as_str().unwrap())
        .collect();
    assert!(!want.is_empty());
    assert_eq!(got, want);

    // source_identity_sessions
    let rows = query(&pq, "source_identity_sessions.sql", "");
    let total: u64 = rows.iter().map(|r| n(&r["failures"])).sum();
    let want = f
        .iter()
        .filter(|x| x.source_identity.is_some() || x.inherited_source_identity.is_some())
        .count() as u64;
    assert!(want > 0);
    assert_eq!(total, want);

    // role_enumeration_bursts: the same 10-minute buckets computed in Rust
    let rows = query(&pq, "role_enumeration_bursts.sql", "");
    let mut buckets: BTreeMap<(&str, i64), BTreeSet<&str>> = BTreeMap::new();
    for x in &f {
        if let (Some(c), Some(r), Some(t)) = (&x.caller_arn, &x.target_role_arn, x.event_time) {
            buckets
                .entry((c, t.div_euclid(600_000)))
                .or_default()
                .insert(r);
        }
    }
    let want: BTreeSet<(&str, u64)> = buckets
        .iter()
        .filter(|(_, roles)| roles.len() >= 5)
        .map(|((c, _), roles)| (*c, roles.len() as u64))
        .collect();
    let got: BTreeSet<(&str, u64)> = rows
        .iter()
        .map(|r| (r["caller_arn"].as_str().unwrap(), n(&r["distinct_roles"])))
        .collect();
    assert!(
        !want.is_empty(),
        "sample-logs hold a role-enumeration burst"
    );
    assert_eq!(got, want);
}

#[test]
fn every_query_file_is_covered() {
    let mut files: Vec<String> = std::fs::read_dir(root().join("queries/duckdb"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "failures_by_account_pair.sql",
            "new_callers_since_yesterday.sql",
            "role_enumeration_bursts.sql",
            "source_identity_sessions.sql",
            "top_callers.sql",
            "top_causes.sql"
        ],
        "a new query needs its answer checked in every_duckdb_query_gives_the_right_answers"
    );
}

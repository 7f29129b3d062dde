//! Fixture tests: every cause of the log-only catalogue has records that must
//! hit it and near-misses that must land elsewhere (tests/fixtures/cases), and
//! the bundled sample-logs classify exactly as their ground truth says.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;
use trailtriage::classify::{SelectOptions, catalog};
use trailtriage::pipeline::{Input, ScanOptions, Silent, Worker, run_local};
use trailtriage::select::Prefilter;

const INVENTORY_ONLY: &[&str] = &[
    "role_not_found",
    "source_identity_required",
    "role_session_name_condition_failed",
    "trust_condition_not_met",
];

fn cases_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cases")
}

fn load_cases() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(cases_dir())
        .expect("fixture dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    entries.sort();
    for p in entries {
        let v: Value =
            serde_json::from_slice(&std::fs::read(&p).expect("read")).expect("fixture JSON");
        out.push((p.file_stem().unwrap().to_string_lossy().into_owned(), v));
    }
    out
}

fn run_case(case: &Value) -> Result<(), String> {
    let opts_v = case.get("options");
    let flag = |k: &str| {
        opts_v
            .and_then(|o| o.get(k))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    let opts = ScanOptions {
        select: SelectOptions {
            all_denied: flag("all_denied"),
            include_context: flag("include_context"),
            ..SelectOptions::default()
        },
        ..ScanOptions::default()
    };
    let pf = Prefilter::new(opts.select);
    let doc = serde_json::json!({ "Records": [case["record"].clone()] });
    let bytes = serde_json::to_vec(&doc).unwrap();
    let r = Worker::new().process_bytes("fixture.json", &bytes, &opts, &pf);
    let expect = &case["expect"];
    let selected = expect
        .get("selected")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    if !selected {
        return if r.findings.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "expected not selected, got {}",
                r.findings[0].cause_id
            ))
        };
    }
    let Some(f) = r.findings.first() else {
        return Err(format!(
            "expected a finding, got none (counts {:?})",
            r.counts
        ));
    };
    let mut errs = Vec::new();
    if let Some(c) = expect.get("cause_id").and_then(Value::as_str)
        && f.cause_id != c
    {
        errs.push(format!(
            "cause {} != expected {c} (evidence: {})",
            f.cause_id, f.evidence
        ));
    }
    if let Some(c) = expect.get("confidence").and_then(Value::as_str)
        && f.confidence != c
    {
        errs.push(format!("confidence {} != expected {c}", f.confidence));
    }
    if let Some(sec) = expect.get("secondary_causes").and_then(Value::as_array) {
        let want: BTreeSet<&str> = sec.iter().filter_map(Value::as_str).collect();
        let got: BTreeSet<&str> = f.secondary_causes.iter().map(String::as_str).collect();
        if want != got {
            errs.push(format!("secondary {got:?} != expected {want:?}"));
        }
    }
    // Invariants that hold for every finding.
    if f.evidence.is_empty() {
        errs.push("empty evidence".into());
    }
    if f.remediation.is_empty() {
        errs.push("empty remediation".into());
    }
    if f.secondary_causes.contains(&f.cause_id) {
        errs.push("primary cause repeated as secondary".into());
    }
    for hint in [
        "external_id_missing",
        "external_id_mismatch",
        "mfa_required_not_provided",
        "role_chaining_wrong_principal",
    ] {
        if f.cause_id == hint {
            errs.push(format!(
                "request-shape hint {hint} used as the primary cause"
            ));
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs.join("; "))
    }
}

#[test]
fn every_fixture_case_classifies_as_expected() {
    let mut failures = Vec::new();
    let mut n = 0;
    for (file, v) in load_cases() {
        for kind in ["hits", "misses"] {
            for case in v[kind].as_array().into_iter().flatten() {
                n += 1;
                if let Err(e) = run_case(case) {
                    failures.push(format!(
                        "{file} {kind} {:?}: {e}",
                        case["name"].as_str().unwrap_or("?")
                    ));
                }
            }
        }
    }
    assert!(n > 100, "only {n} fixture cases found");
    assert!(
        failures.is_empty(),
        "{} of {n} fixture cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_log_only_cause_has_hits_and_near_misses() {
    let cases: BTreeMap<String, Value> = load_cases().into_iter().collect();
    let mut missing = Vec::new();
    for c in catalog::CAUSES {
        if INVENTORY_ONLY.contains(&c.id) {
            continue;
        }
        match cases.get(c.id) {
            None => missing.push(format!("{}: no fixture file", c.id)),
            Some(v) => {
                let hits = v["hits"].as_array().map_or(0, Vec::len);
                let misses = v["misses"].as_array().map_or(0, Vec::len);
                if hits == 0 || misses == 0 {
                    missing.push(format!("{}: {hits} hits, {misses} misses", c.id));
                }
                // Each hit must really exercise the cause, as primary or (for hints) secondary.
                for h in v["hits"].as_array().into_iter().flatten() {
                    let e = &h["expect"];
                    let primary = e["cause_id"].as_str() == Some(c.id);
                    let secondary = e["secondary_causes"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(c.id)));
                    if !primary && !secondary {
                        missing.push(format!(
                            "{}: hit {:?} does not expect this cause",
                            c.id, h["name"]
                        ));
                    }
                }
            }
        }
    }
    for file in cases.keys() {
        if catalog::cause(file).is_none() {
            missing.push(format!("{file}: fixture for an unknown cause id"));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[test]
fn catalogue_ids_are_unique_snake_case_and_documented() {
    let mut seen = BTreeSet::new();
    for c in catalog::CAUSES {
        assert!(seen.insert(c.id), "duplicate cause id {}", c.id);
        assert!(
            c.id.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{} is not snake_case",
            c.id
        );
        for (what, text) in [
            ("title", c.title),
            ("checklist", c.checklist),
            ("signals", c.signals),
            ("settle", c.settle),
            ("remediation", c.remediation),
        ] {
            assert!(!text.trim().is_empty(), "{} has no {what}", c.id);
        }
    }
    // The §2 index lists 57 ids: these 54 causes, the two console sub-hints
    // (secondary only) and `context_only` (test data only).
    assert_eq!(
        seen.len(),
        54,
        "causes.md §2 lists 54 causes besides sub-hints"
    );
    for (id, _) in catalog::SUB_HINTS {
        assert!(seen.insert(id), "sub-hint {id} collides with a cause id");
    }
}

#[test]
fn sample_logs_match_their_ground_truth() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let expected: Value = serde_json::from_slice(
        &std::fs::read(root.join("tests/fixtures/sample-logs-expected.json")).unwrap(),
    )
    .unwrap();
    let (findings, stats) = run_local(
        &[Input::Path(root.join("sample-logs"))],
        &ScanOptions::default(),
        &Silent,
    );
    assert!(stats.invariants_hold(), "{stats:?}");
    assert_eq!(stats.files_failed, 0, "{:?}", stats.failed);
    assert_eq!(stats.files_read, expected["files"].as_u64().unwrap());
    assert_eq!(
        stats.files_skipped,
        expected["digest_files"].as_u64().unwrap()
    );
    assert_eq!(stats.records.read, expected["records"].as_u64().unwrap());
    assert_eq!(stats.records.malformed, 0);
    let want: BTreeMap<&str, (&str, &str, BTreeSet<&str>)> = expected["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["event_id"].as_str().unwrap(),
                (
                    f["cause_id"].as_str().unwrap(),
                    f["confidence"].as_str().unwrap(),
                    f["secondary_causes"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter_map(Value::as_str)
                        .collect(),
                ),
            )
        })
        .collect();
    let got: BTreeMap<&str, (&str, &str, BTreeSet<&str>)> = findings
        .iter()
        .map(|f| {
            (
                f.event_id.as_str(),
                (
                    f.cause_id.as_str(),
                    f.confidence.as_str(),
                    f.secondary_causes.iter().map(String::as_str).collect(),
                ),
            )
        })
        .collect();
    let mut diffs = Vec::new();
    for (id, w) in &want {
        match got.get(id) {
            None => diffs.push(format!("{id}: expected {w:?}, not found")),
            Some(g) if g != w => diffs.push(format!("{id}: expected {w:?}, got {g:?}")),
            _ => {}
        }
    }
    for id in got.keys() {
        if !want.contains_key(id) {
            diffs.push(format!("{id}: unexpected finding {:?}", got[id]));
        }
    }
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
    assert_eq!(
        stats.duplicates,
        stats.records.selected - findings.len() as u64
    );
    // Every log-only cause is produced by at least one sample record (as primary or secondary).
    let mut present: BTreeSet<&str> = BTreeSet::new();
    for f in &findings {
        present.insert(&f.cause_id);
        present.extend(f.secondary_causes.iter().map(String::as_str));
    }
    let (ctx, _) = run_local(
        &[Input::Path(root.join("sample-logs"))],
        &ScanOptions {
            select: SelectOptions {
                all_denied: true,
                include_context: true,
                ..SelectOptions::default()
            },
            ..ScanOptions::default()
        },
        &Silent,
    );
    present.extend(ctx.iter().map(|f| f.cause_id.as_str()));
    let absent: Vec<&str> = catalog::CAUSES
        .iter()
        .map(|c| c.id)
        .filter(|id| !INVENTORY_ONLY.contains(id) && !present.contains(id))
        .collect();
    assert!(
        absent.is_empty(),
        "causes no sample record produces: {absent:?}"
    );
}

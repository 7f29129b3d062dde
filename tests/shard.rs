//! `--shard K/N`: four shards together equal one unsharded run, and every
//! object lands in exactly one shard.

mod scale_util;

use std::collections::{BTreeMap, BTreeSet};

use scale_util::*;
use trailtriage::shard::Shard;

#[test]
fn four_shards_equal_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let logs = sample_copy(dir.path());
    let report = dir.path().join("r.json");

    // One unsharded run.
    let whole = dir.path().join("whole");
    let (out, rep) = scan_json(
        &[
            logs.to_str().unwrap(),
            "--parquet-dir",
            whole.to_str().unwrap(),
        ],
        &report,
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let rep = rep.unwrap();
    assert_eq!(stat(&rep, "files_seen"), 22);
    let want: BTreeSet<(String, String)> = dataset_rows(&whole)
        .into_iter()
        .map(|f| (f.event_id, f.cause_id))
        .collect();
    assert_eq!(want.len(), 192);

    // The object keys, relative to the input root, and their expected shard.
    let (objects, _) = trailtriage::state::list_local(std::slice::from_ref(&logs));
    assert_eq!(objects.len(), 22);
    let mut expected: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
    for o in &objects {
        expected
            .entry(Shard::of(&o.key, 4))
            .or_default()
            .insert(o.key.clone());
    }

    // Four shards into one shared dataset (run ids differ per shard).
    let shared = dir.path().join("shared");
    let mut seen_total = 0;
    let mut got: BTreeSet<(String, String)> = BTreeSet::new();
    for k in 0..4u64 {
        let spec = format!("{k}/4");
        let (out, rep) = scan_json(
            &[
                logs.to_str().unwrap(),
                "--shard",
                &spec,
                "--parquet-dir",
                shared.to_str().unwrap(),
            ],
            &report,
            None,
        );
        assert_eq!(out.status.code(), Some(0), "{spec}: {}", text(&out.stderr));
        let rep = rep.unwrap();
        let mine = expected.get(&k).map_or(0, |s| s.len()) as u64;
        assert_eq!(
            stat(&rep, "files_seen"),
            mine,
            "{spec}: objects of other shards are not seen"
        );
        seen_total += stat(&rep, "files_seen");
        assert!(
            notes(&rep)
                .iter()
                .any(|n| n.starts_with(&format!("shard {spec}: {mine} of 22 objects"))),
            "{spec}: {:?}",
            notes(&rep)
        );
    }
    assert_eq!(seen_total, 22, "every object in exactly one shard");

    // Each shard's rows come only from its own objects.
    let rows = dataset_rows(&shared);
    for r in &rows {
        let key = r
            .source_file
            .strip_prefix(&format!("{}/", logs.display()))
            .unwrap_or_else(|| panic!("{}", r.source_file));
        let k = Shard::of(key, 4);
        assert!(expected[&k].contains(key), "{key}");
        got.insert((r.event_id.clone(), r.cause_id.clone()));
    }
    assert_eq!(got, want, "the union of four shards differs from one run");

    // `report` over the shards' dataset equals the unsharded count (duplicate
    // deliveries that fell into different shards are merged by event id).
    let out = bin()
        .args([
            "report",
            shared.to_str().unwrap(),
            "--report-format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["findings"], 192);
}

#[test]
fn shards_are_stable_across_input_spellings() {
    // The same tree named by a relative and an absolute path shards alike.
    let dir = tempfile::tempdir().unwrap();
    let logs = sample_copy(dir.path());
    let report = dir.path().join("r.json");
    let mut counts = Vec::new();
    for input in [logs.to_str().unwrap().to_string(), "logs".to_string()] {
        let out = bin()
            .current_dir(dir.path())
            .args([
                "scan",
                &input,
                "--shard",
                "2/4",
                "--report",
                "-",
                "--report-format",
                "json",
                "-q",
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        counts.push((stat(&r, "files_seen"), r["findings"].clone()));
    }
    assert_eq!(counts[0], counts[1]);
    let _ = report;
}

#[test]
fn bad_shard_values_are_usage_errors() {
    for v in ["4/4", "1", "x/2", "0/0"] {
        let out = bin()
            .args([
                "scan",
                root().join("sample-logs").to_str().unwrap(),
                "--shard",
                v,
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{v}");
        assert!(
            text(&out.stderr).contains("--shard"),
            "{v}: {}",
            text(&out.stderr)
        );
    }
}

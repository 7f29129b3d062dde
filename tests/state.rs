//! `--state`: a scheduled run reads each object once, and a run killed at any
//! point (a real `abort()` through the debug-build hook
//! TRAILTRIAGE_TEST_CRASH_AT) and started again loses nothing and duplicates
//! nothing: the dataset equals one clean run's.

mod scale_util;

use std::path::Path;

use scale_util::*;

const CRASH: &str = trailtriage::state::CRASH_ENV;

fn clean_dataset(dir: &Path, logs: &Path) -> std::collections::BTreeMap<String, String> {
    let ds = dir.join("clean");
    let (out, _) = scan_json(
        &[
            logs.to_str().unwrap(),
            "--parquet-dir",
            ds.to_str().unwrap(),
        ],
        &dir.join("clean.json"),
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    by_event(&dataset_rows(&ds))
}

/// Kill a run at `point`, run again without the hook, compare with a clean run.
fn crash_then_recover(points: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let logs = sample_copy(dir.path());
    let want = clean_dataset(dir.path(), &logs);
    assert_eq!(want.len(), 192);
    let ds = dir.path().join("ds");
    let st = dir.path().join("state.json");
    let args = [
        logs.to_str().unwrap(),
        "--state",
        st.to_str().unwrap(),
        "--parquet-dir",
        ds.to_str().unwrap(),
    ];
    let report = dir.path().join("r.json");
    for point in points {
        let (out, _) = scan_json(&args, &report, Some((CRASH, point)));
        assert_eq!(
            out.status.code(),
            None,
            "{point}: the process must die by abort(), not exit: {}",
            text(&out.stderr)
        );
    }
    let (out, rep) = scan_json(&args, &report, None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{points:?}: {}",
        text(&out.stderr)
    );
    let rep = rep.unwrap();
    let got = by_event(&dataset_rows(&ds));
    assert_eq!(
        got, want,
        "{points:?}: the recovered dataset differs from a clean run"
    );
    assert!(
        only_final_files(&ds).is_empty(),
        "{points:?}: {:?}",
        only_final_files(&ds)
    );
    let state: serde_json::Value = serde_json::from_slice(&std::fs::read(&st).unwrap()).unwrap();
    assert!(state["pending"].is_null(), "{points:?}: {state}");
    // Another run reads nothing and adds nothing.
    let (out, rep2) = scan_json(&args, &report, None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let rep2 = rep2.unwrap();
    assert_eq!(stat(&rep2, "files_seen"), 0, "{rep2}");
    assert_eq!(by_event(&dataset_rows(&ds)), want);
    let _ = rep;
}

#[cfg(debug_assertions)]
#[test]
fn killed_between_files_recovers() {
    crash_then_recover(&["after_files:3"]);
}

#[cfg(debug_assertions)]
#[test]
fn killed_while_writing_the_pending_state_recovers() {
    crash_then_recover(&["during_pending_write"]);
}

#[cfg(debug_assertions)]
#[test]
fn killed_after_the_pending_state_recovers() {
    crash_then_recover(&["after_pending_write"]);
}

#[cfg(debug_assertions)]
#[test]
fn killed_during_the_parquet_write_recovers() {
    // The first partition file is in place, the second is a temporary file.
    crash_then_recover(&["before_parquet_rename:2"]);
}

#[cfg(debug_assertions)]
#[test]
fn killed_before_the_state_commit_recovers_and_says_so() {
    crash_then_recover(&["before_state_commit"]);
}

#[cfg(debug_assertions)]
#[test]
fn killed_during_the_state_write_recovers() {
    crash_then_recover(&["during_state_write"]);
}

#[cfg(debug_assertions)]
#[test]
fn killed_again_while_recovering_recovers() {
    // Killed mid-dataset, then killed again while redoing the pending run.
    crash_then_recover(&[
        "before_parquet_rename:2",
        "before_parquet_rename:1",
        "before_state_commit",
    ]);
}

#[cfg(debug_assertions)]
#[test]
fn recovery_is_reported_and_reuses_the_run_id() {
    let dir = tempfile::tempdir().unwrap();
    let logs = sample_copy(dir.path());
    let ds = dir.path().join("ds");
    let st = dir.path().join("state.json");
    let args = [
        logs.to_str().unwrap(),
        "--state",
        st.to_str().unwrap(),
        "--parquet-dir",
        ds.to_str().unwrap(),
    ];
    let report = dir.path().join("r.json");
    let (out, _) = scan_json(&args, &report, Some((CRASH, "before_state_commit")));
    assert_eq!(out.status.code(), None);
    let state: serde_json::Value = serde_json::from_slice(&std::fs::read(&st).unwrap()).unwrap();
    let run_id = state["pending"]["run_id"].as_str().unwrap().to_string();
    assert_eq!(state["pending"]["objects"].as_array().unwrap().len(), 22);
    let before: Vec<_> = trailtriage::sink::dataset::find_parquet(std::slice::from_ref(&ds)).0;
    assert!(!before.is_empty());
    assert!(before.iter().all(|p| {
        p.to_string_lossy()
            .ends_with(&format!("part-{run_id}.parquet"))
    }));
    let (out, rep) = scan_json(&args, &report, None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let rep = rep.unwrap();
    let n = notes(&rep);
    assert!(
        n.iter().any(|l| l.contains(&format!(
            "recovered the interrupted run {run_id}: 22 of its 22 object(s)"
        ))),
        "{n:?}"
    );
    // The redo overwrote the same files: no new names.
    let after: Vec<_> = trailtriage::sink::dataset::find_parquet(std::slice::from_ref(&ds)).0;
    assert_eq!(before, after);
    assert_eq!(stat(&rep, "files_seen"), 22);
    assert_eq!(stat(&rep, "findings"), 192);
}

fn write(path: &Path, body: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
}

fn record(id: &str, time: &str) -> String {
    format!(
        r#"{{"Records":[{{"eventVersion":"1.08","eventTime":"{time}","eventID":"{id}","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","awsRegion":"us-east-1","recipientAccountId":"111122223333","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333"}},"errorCode":"AccessDenied","errorMessage":"User: arn:aws:iam::111122223333:user/alice is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::111122223333:role/Deploy because no identity-based policy allows the sts:AssumeRole action","requestParameters":null}}]}}"#
    )
}

#[test]
fn scheduled_runs_read_each_object_once() {
    let dir = tempfile::tempdir().unwrap();
    let logs = sample_copy(dir.path());
    let ds = dir.path().join("ds");
    let st = dir.path().join("state.json");
    let args = [
        logs.to_str().unwrap(),
        "--state",
        st.to_str().unwrap(),
        "--parquet-dir",
        ds.to_str().unwrap(),
    ];
    let report = dir.path().join("r.json");
    let run = || {
        let (out, rep) = scan_json(&args, &report, None);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        rep.unwrap()
    };
    let r1 = run();
    assert_eq!(stat(&r1, "files_seen"), 22);
    assert_eq!(stat(&r1, "files_read"), 21);
    assert_eq!(stat(&r1, "findings"), 192);

    let r2 = run();
    assert_eq!(stat(&r2, "files_seen"), 0, "{r2}");
    assert_eq!(stat(&r2, "files_read"), 0);
    assert_eq!(stat(&r2, "findings"), 0);
    assert!(
        notes(&r2)
            .iter()
            .any(|n| n.contains("22 object(s) processed by earlier runs")),
        "{:?}",
        notes(&r2)
    );

    // A newly delivered object: the third run reads exactly that one.
    let region = logs.join("AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/08");
    write(
        &region.join("111122223333_CloudTrail_us-east-1_20261008T0100Z_newobject0001.json"),
        &record("new-event-1", "2026-10-08T00:58:00Z"),
    );
    let r3 = run();
    assert_eq!(stat(&r3, "files_seen"), 1, "{r3}");
    assert_eq!(stat(&r3, "files_read"), 1);
    assert_eq!(stat(&r3, "findings"), 1);

    // Delivered late, inside the 2 h margin before the high-water mark (01:00):
    // read by the next run. Older than the margin: taken as processed.
    write(
        &region.join("111122223333_CloudTrail_us-east-1_20261008T0010Z_lateobject001.json"),
        &record("late-event-1", "2026-10-08T00:05:00Z"),
    );
    let r4 = run();
    assert_eq!(stat(&r4, "files_seen"), 1, "{r4}");
    assert_eq!(stat(&r4, "findings"), 1);

    // Non-layout names are remembered exactly.
    write(
        &logs.join("exports/siem.json"),
        &record("siem-event-1", "2026-10-08T02:00:00Z"),
    );
    let r5 = run();
    assert_eq!(stat(&r5, "files_seen"), 1, "{r5}");
    let r6 = run();
    assert_eq!(stat(&r6, "files_seen"), 0, "{r6}");

    let all = by_event(&dataset_rows(&ds));
    assert_eq!(all.len(), 192 + 3);
    assert!(only_final_files(&ds).is_empty());
    let state: serde_json::Value = serde_json::from_slice(&std::fs::read(&st).unwrap()).unwrap();
    assert_eq!(state["runs"], 6);
    assert!(
        state["exact"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k == "exports/siem.json")
    );
}

#[test]
fn the_state_belongs_to_one_shard_and_one_input() {
    let dir = tempfile::tempdir().unwrap();
    let logs = sample_copy(dir.path());
    let st = dir.path().join("state.json");
    let report = dir.path().join("r.json");
    let (out, _) = scan_json(
        &[logs.to_str().unwrap(), "--state", st.to_str().unwrap()],
        &report,
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let (out, _) = scan_json(
        &[
            logs.to_str().unwrap(),
            "--state",
            st.to_str().unwrap(),
            "--shard",
            "1/4",
        ],
        &report,
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let e = text(&out.stderr);
    assert!(
        e.contains(st.to_str().unwrap()) && e.contains("shard 0/1"),
        "{e}"
    );
    let other = dir.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    let (out, _) = scan_json(
        &[other.to_str().unwrap(), "--state", st.to_str().unwrap()],
        &report,
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("inputs"),
        "{}",
        text(&out.stderr)
    );
    // A damaged state file is named, never silently replaced.
    std::fs::write(&st, "{not json").unwrap();
    let (out, _) = scan_json(
        &[logs.to_str().unwrap(), "--state", st.to_str().unwrap()],
        &report,
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("cannot parse the state file"),
        "{}",
        text(&out.stderr)
    );
}

//! `--shard`, `--state` and `--parquet-dir` over `s3://`, against a real
//! S3-compatible server (s3s-fs 0.14.1 on 127.0.0.1, started per test; never
//! AWS, never a mock of the SDK). Fetched-object counts come from the
//! report's `S3:` notes; objects are read back from the server's files.

mod scale_util;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use scale_util::s3::{S3sFs, ScaleServer, s3_count};
use scale_util::*;
use trailtriage::shard::Shard;

const CRASH: &str = trailtriage::state::CRASH_ENV;
const PART_SIZE: &str = trailtriage::sink::s3::PART_SIZE_ENV;
const FAIL: &str = trailtriage::state::FAIL_ENV;

/// sample-logs as the bucket `trail` (22 objects: 21 logs and a Digest).
fn trail(srv: &S3sFs) {
    copy_tree(&root().join("sample-logs"), &srv.bucket_dir("trail"));
}

fn ok(out: &std::process::Output, what: &str) {
    assert_eq!(out.status.code(), Some(0), "{what}: {}", text(&out.stderr));
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn record(id: &str, time: &str) -> Vec<u8> {
    gzip(format!(
        r#"{{"Records":[{{"eventVersion":"1.08","eventTime":"{time}","eventID":"{id}","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","awsRegion":"us-east-1","recipientAccountId":"111122223333","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333"}},"errorCode":"AccessDenied","errorMessage":"User: arn:aws:iam::111122223333:user/alice is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::111122223333:role/Deploy because no identity-based policy allows the sts:AssumeRole action","requestParameters":null}}]}}"#
    ).as_bytes())
}

fn put(dir: &Path, key: &str, body: &[u8]) {
    let p = dir.join(key);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, body).unwrap();
}

/// One log object of 4,000 failed AssumeRole calls on 2026-10-01, each with
/// a 2,000-character pseudo-random user agent: its findings make a Parquet
/// file of more than 5 MiB (S3's and s3s-fs's smallest multipart part), so
/// with 5 MiB parts it goes up in two.
fn big_bucket(srv: &S3sFs) {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rnd = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut recs = Vec::new();
    for i in 0..4000 {
        let ua: String = (0..2000)
            .map(|_| ALNUM[(rnd() % ALNUM.len() as u64) as usize] as char)
            .collect();
        recs.push(format!(
            r#"{{"eventVersion":"1.08","eventTime":"2026-10-01T10:{:02}:{:02}Z","eventID":"big-{i}","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","awsRegion":"us-east-1","recipientAccountId":"111122223333","userAgent":"{ua}","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333"}},"errorCode":"AccessDenied","errorMessage":"User: arn:aws:iam::111122223333:user/alice is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::111122223333:role/Deploy because no identity-based policy allows the sts:AssumeRole action","requestParameters":null}}"#,
            (i / 60) % 60,
            i % 60
        ));
    }
    let body = format!(r#"{{"Records":[{}]}}"#, recs.join(","));
    put(
        &srv.bucket_dir("big"),
        "AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/01/111122223333_CloudTrail_us-east-1_20261001T1100Z_big.json.gz",
        &gzip(body.as_bytes()),
    );
}

const FIVE_MIB: &str = "5242880";

/// event_id -> cause_id of one clean local run over sample-logs.
fn clean_local(dir: &Path) -> BTreeMap<String, String> {
    let logs = sample_copy(dir);
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
    ok(&out, "clean local run");
    by_event(&dataset_rows(&ds))
}

#[test]
fn four_shards_over_s3_equal_one_run_and_match_the_same_tree_on_disk() {
    let srv = S3sFs::start();
    trail(&srv);
    let dir = tempfile::tempdir().unwrap();
    let logs = sample_copy(dir.path());
    let report = dir.path().join("r.json");

    let whole = dir.path().join("whole");
    let (out, rep) = srv.scan_json(
        &["s3://trail/", "--parquet-dir", whole.to_str().unwrap()],
        &report,
        &[],
    );
    ok(&out, "unsharded");
    let rep = rep.unwrap();
    assert_eq!(stat(&rep, "files_seen"), 22);
    assert_eq!(
        s3_count(&rep, "objects fetched"),
        21,
        "the Digest is skipped by key"
    );
    let want: BTreeSet<(String, String)> = dataset_rows(&whole)
        .into_iter()
        .map(|f| (f.event_id, f.cause_id))
        .collect();
    assert_eq!(want.len(), 192);

    // Expected shard of every object: the local keys (paths relative to the root).
    let (objects, _) = trailtriage::state::list_local(std::slice::from_ref(&logs));
    let mut expected: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
    for o in &objects {
        expected
            .entry(Shard::of(&o.key, 4))
            .or_default()
            .insert(o.key.clone());
    }

    let mut fetched = 0;
    let mut seen = 0;
    let mut union: BTreeSet<(String, String)> = BTreeSet::new();
    for k in 0..4u64 {
        let spec = format!("{k}/4");
        let s3_ds = dir.path().join(format!("s3-{k}"));
        let (out, rep) = srv.scan_json(
            &[
                "s3://trail/",
                "--shard",
                &spec,
                "--parquet-dir",
                s3_ds.to_str().unwrap(),
            ],
            &report,
            &[],
        );
        ok(&out, &spec);
        let rep = rep.unwrap();
        let mine = expected.get(&k).map_or(0, |s| s.len()) as u64;
        assert_eq!(
            stat(&rep, "files_seen"),
            mine,
            "{spec}: only this shard's objects are seen"
        );
        assert!(
            notes(&rep)
                .iter()
                .any(|n| n.starts_with(&format!("shard {spec}: {mine} of 22 objects"))),
            "{spec}: {:?}",
            notes(&rep)
        );
        fetched += s3_count(&rep, "objects fetched");
        seen += stat(&rep, "files_seen");
        let rows = dataset_rows(&s3_ds);
        for r in &rows {
            let key = r.source_file.strip_prefix("s3://trail/").unwrap();
            assert!(
                expected[&k].contains(key),
                "{spec}: {key} is not of this shard"
            );
        }
        let mine_rows: BTreeSet<(String, String)> = rows
            .iter()
            .map(|f| (f.event_id.clone(), f.cause_id.clone()))
            .collect();

        // The same shard of the same tree on disk: the same rows.
        let local_ds = dir.path().join(format!("local-{k}"));
        let (out, _) = scan_json(
            &[
                logs.to_str().unwrap(),
                "--shard",
                &spec,
                "--parquet-dir",
                local_ds.to_str().unwrap(),
            ],
            &report,
            None,
        );
        ok(&out, &spec);
        let local_rows: BTreeSet<(String, String)> = dataset_rows(&local_ds)
            .into_iter()
            .map(|f| (f.event_id, f.cause_id))
            .collect();
        assert_eq!(
            mine_rows, local_rows,
            "{spec}: S3 and disk shard differently"
        );
        union.extend(mine_rows);
    }
    assert_eq!(seen, 22, "every object in exactly one shard");
    assert_eq!(
        fetched, 21,
        "each log object fetched exactly once across the shards"
    );
    assert_eq!(union, want, "four shards differ from one run");
}

#[test]
fn scheduled_runs_over_s3_read_each_object_once() {
    let srv = S3sFs::start();
    trail(&srv);
    srv.bucket_dir("findings");
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let args = [
        "s3://trail/",
        "--state",
        "s3://findings/state/trailtriage.json",
        "--parquet-dir",
        "s3://findings/ds",
    ];
    let run = || {
        let (out, rep) = srv.scan_json(&args, &report, &[]);
        ok(&out, "scheduled run");
        rep.unwrap()
    };
    let r1 = run();
    assert_eq!(stat(&r1, "files_seen"), 22);
    assert_eq!(s3_count(&r1, "objects fetched"), 21);
    assert_eq!(stat(&r1, "findings"), 192);
    let state_path = srv.root.path().join("findings/state/trailtriage.json");
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state_path).unwrap()).unwrap();
    assert!(state["pending"].is_null());
    assert_eq!(state["inputs"][0], "s3://trail");

    let r2 = run();
    assert_eq!(s3_count(&r2, "objects fetched"), 0, "{r2}");
    assert_eq!(stat(&r2, "files_seen"), 0);
    assert_eq!(stat(&r2, "findings"), 0);
    // The listing starts after the marks: fewer keys listed than the bucket holds.
    assert!(s3_count(&r2, "keys listed in") < 22, "{r2}");

    // New deliveries, one of them late (inside the 2 h margin before the
    // mark of 2026-10-08 01:00): the next runs read exactly those.
    let bucket = srv.root.path().join("trail");
    let rp = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/08/";
    put(
        &bucket,
        &format!("{rp}111122223333_CloudTrail_us-east-1_20261008T0100Z_new1.json.gz"),
        &record("new-1", "2026-10-08T00:58:00Z"),
    );
    put(
        &bucket,
        "AWSLogs/444455556666/CloudTrail/eu-west-1/2026/10/08/444455556666_CloudTrail_eu-west-1_20261008T0300Z_new2.json.gz",
        &record("new-2", "2026-10-08T02:58:00Z"),
    );
    let r3 = run();
    assert_eq!(s3_count(&r3, "objects fetched"), 2, "{r3}");
    assert_eq!(stat(&r3, "files_seen"), 2);
    assert_eq!(stat(&r3, "findings"), 2);
    put(
        &bucket,
        &format!("{rp}111122223333_CloudTrail_us-east-1_20261008T0010Z_late.json.gz"),
        &record("late-1", "2026-10-08T00:05:00Z"),
    );
    let r4 = run();
    assert_eq!(s3_count(&r4, "objects fetched"), 1, "{r4}");
    assert_eq!(stat(&r4, "findings"), 1);
    let r5 = run();
    assert_eq!(s3_count(&r5, "objects fetched"), 0, "{r5}");

    // The dataset on S3 (read back from the server's files) has every event once.
    let rows = dataset_rows(&srv.root.path().join("findings/ds"));
    let all = by_event(&rows);
    assert_eq!(all.len(), 192 + 3);
    assert!(only_final_files(&srv.root.path().join("findings/ds")).is_empty());
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state_path).unwrap()).unwrap();
    assert_eq!(state["runs"], 5);
}

#[test]
fn local_state_with_s3_input_and_listing_starts_after_the_marks() {
    let srv = S3sFs::start();
    let bucket = srv.bucket_dir("trail");
    // 40 deliveries per day over 10 days in one region: after the first run,
    // only the keys from the day before `mark - 2 h` on are listed.
    let rp = "AWSLogs/111122223333/CloudTrail/us-east-1";
    for d in 1..=10u32 {
        for i in 0..40u32 {
            let (h, m) = (i / 2, (i % 2) * 30);
            put(
                &bucket,
                &format!(
                    "{rp}/2026/10/{d:02}/111122223333_CloudTrail_us-east-1_202610{d:02}T{h:02}{m:02}Z_k{i}.json.gz"
                ),
                &record(
                    &format!("e-{d}-{i}"),
                    &format!("2026-10-{d:02}T{h:02}:{m:02}:00Z"),
                ),
            );
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let st = dir.path().join("state.json");
    let report = dir.path().join("r.json");
    let args = ["s3://trail/AWSLogs/", "--state", st.to_str().unwrap()];
    let (out, r1) = srv.scan_json(&args, &report, &[]);
    ok(&out, "first");
    let r1 = r1.unwrap();
    assert_eq!(s3_count(&r1, "objects fetched"), 400);
    let (out, r2) = srv.scan_json(&args, &report, &[]);
    ok(&out, "second");
    let r2 = r2.unwrap();
    assert_eq!(s3_count(&r2, "objects fetched"), 0, "{r2}");
    // Mark 10/10 19:30, minus 2 h, minus a day: listing from the 10/09 directory.
    assert_eq!(s3_count(&r2, "keys listed in"), 80, "{r2}");
    let state: serde_json::Value = serde_json::from_slice(&std::fs::read(&st).unwrap()).unwrap();
    let mark = &state["prefixes"]["111122223333/CloudTrail/us-east-1/"];
    assert_eq!(mark["high_water"], "20261010T1930Z", "{state}");
}

/// Kill a run over S3 (state and dataset on S3 too) at `points`, run again
/// without the hook, and compare the dataset with a clean local run's.
fn crash_then_recover_s3(points: &[&str]) {
    let srv = S3sFs::start();
    trail(&srv);
    srv.bucket_dir("findings");
    let dir = tempfile::tempdir().unwrap();
    let want = clean_local(dir.path());
    assert_eq!(want.len(), 192);
    let report = dir.path().join("r.json");
    let args = [
        "s3://trail/",
        "--state",
        "s3://findings/state.json",
        "--parquet-dir",
        "s3://findings/ds/",
    ];
    for point in points {
        let (out, _) = srv.scan_json(&args, &report, &[(CRASH, point)]);
        assert_eq!(
            out.status.code(),
            None,
            "{point}: must die by abort(): {}",
            text(&out.stderr)
        );
    }
    let (out, rep) = srv.scan_json(&args, &report, &[]);
    ok(&out, &format!("{points:?}"));
    let rep = rep.unwrap();
    let ds = srv.root.path().join("findings/ds");
    assert_eq!(
        by_event(&dataset_rows(&ds)),
        want,
        "{points:?}: recovered dataset differs"
    );
    assert!(only_final_files(&ds).is_empty());
    let state: serde_json::Value = serde_json::from_slice(
        &std::fs::read(srv.root.path().join("findings/state.json")).unwrap(),
    )
    .unwrap();
    assert!(state["pending"].is_null(), "{points:?}: {state}");
    // The recovering run fetched each object at most once (redo + new).
    assert!(s3_count(&rep, "objects fetched") <= 21, "{rep}");
    // Another run reads nothing and adds nothing.
    let (out, rep2) = srv.scan_json(&args, &report, &[]);
    ok(&out, "after recovery");
    let rep2 = rep2.unwrap();
    assert_eq!(s3_count(&rep2, "objects fetched"), 0, "{rep2}");
    assert_eq!(stat(&rep2, "files_seen"), 0);
    assert_eq!(by_event(&dataset_rows(&ds)), want);
}

#[cfg(debug_assertions)]
#[test]
fn s3_run_killed_between_files_or_while_writing_the_pending_state_recovers() {
    crash_then_recover_s3(&["after_files:3"]);
    crash_then_recover_s3(&["during_pending_write"]);
    crash_then_recover_s3(&["after_pending_write"]);
}

#[cfg(debug_assertions)]
#[test]
fn s3_run_killed_during_the_dataset_upload_recovers() {
    crash_then_recover_s3(&["before_parquet_rename:2"]);
    crash_then_recover_s3(&["before_parquet_rename:2", "before_parquet_rename:1"]);
}

#[cfg(debug_assertions)]
#[test]
fn s3_run_killed_at_the_state_commit_recovers_and_reuses_the_run_id() {
    crash_then_recover_s3(&["before_state_commit"]);
    crash_then_recover_s3(&["during_state_write"]);
    // The redo of a run killed before its commit re-reads exactly its objects.
    let srv = S3sFs::start();
    trail(&srv);
    srv.bucket_dir("findings");
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let args = [
        "s3://trail/",
        "--state",
        "s3://findings/st.json",
        "--parquet-dir",
        "s3://findings/ds",
    ];
    let (out, _) = srv.scan_json(&args, &report, &[(CRASH, "before_state_commit")]);
    assert_eq!(out.status.code(), None);
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(srv.root.path().join("findings/st.json")).unwrap())
            .unwrap();
    let run_id = state["pending"]["run_id"].as_str().unwrap().to_string();
    assert_eq!(state["pending"]["objects"].as_array().unwrap().len(), 22);
    let (out, rep) = srv.scan_json(&args, &report, &[]);
    ok(&out, "recovery");
    let rep = rep.unwrap();
    assert!(
        notes(&rep).iter().any(|l| l.contains(&format!(
            "recovered the interrupted run {run_id}: 22 of its 22 object(s)"
        ))),
        "{:?}",
        notes(&rep)
    );
    assert_eq!(
        s3_count(&rep, "objects fetched"),
        21,
        "the redo reads its objects once, the new run none"
    );
    assert_eq!(stat(&rep, "findings"), 192);
}

#[test]
fn dataset_on_s3_equals_the_local_dataset_single_put_and_multipart() {
    let srv = S3sFs::start();
    trail(&srv);
    srv.bucket_dir("findings");
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let local = dir.path().join("local");
    let (out, _) = srv.scan_json(
        &["s3://trail/", "--parquet-dir", local.to_str().unwrap()],
        &report,
        &[],
    );
    ok(&out, "local dataset");
    let sorted = |mut v: Vec<trailtriage::Finding>| {
        v.sort_by(|a, b| a.event_id.cmp(&b.event_id));
        v
    };
    let want = sorted(dataset_rows(&local));
    assert_eq!(want.len(), 192);
    let partitions = |d: &Path| -> BTreeSet<String> {
        std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    };

    // Small files: one PutObject each.
    let (out, rep) = srv.scan_json(
        &["s3://trail/", "--parquet-dir", "s3://findings/single"],
        &report,
        &[],
    );
    ok(&out, "single");
    let n = notes(&rep.unwrap());
    let single = srv.root.path().join("findings/single");
    let files = trailtriage::sink::dataset::find_parquet(std::slice::from_ref(&single)).0;
    assert!(
        n.iter()
            .any(|l| l.starts_with("dataset s3://findings/single: run ")
                && l.contains(&format!(
                    "wrote {} file(s) ({} with one PutObject, 0 multipart",
                    files.len(),
                    files.len()
                ))),
        "{n:?}"
    );
    assert_eq!(sorted(dataset_rows(&single)), want);
    assert_eq!(partitions(&single), partitions(&local));

    // A file larger than the part size goes up in parts (5 MiB: the smallest
    // part S3 and s3s-fs accept); the rows equal the local dataset's.
    big_bucket(&srv);
    let big_local = dir.path().join("big-local");
    let (out, _) = srv.scan_json(
        &["s3://big/", "--parquet-dir", big_local.to_str().unwrap()],
        &report,
        &[],
    );
    ok(&out, "big local");
    let want = sorted(dataset_rows(&big_local));
    assert_eq!(want.len(), 4000);
    let (out, rep) = srv.scan_json(
        &["s3://big/", "--parquet-dir", "s3://findings/multi"],
        &report,
        &[(PART_SIZE, FIVE_MIB)],
    );
    ok(&out, "multipart");
    let n = notes(&rep.unwrap());
    let line = n
        .iter()
        .find(|l| l.starts_with("dataset s3://findings/multi"))
        .unwrap();
    let multi = srv.root.path().join("findings/multi");
    let files = trailtriage::sink::dataset::find_parquet(std::slice::from_ref(&multi)).0;
    assert_eq!(files.len(), 1);
    let size = std::fs::metadata(&files[0]).unwrap().len();
    let parts = size.div_ceil(5 << 20);
    assert!(
        parts >= 2,
        "the file ({size} bytes) must be larger than a part"
    );
    assert!(
        line.contains(&format!(
            "(0 with one PutObject, 1 multipart upload(s) of {parts} part(s) in all)"
        )),
        "{line}"
    );
    assert_eq!(sorted(dataset_rows(&multi)), want);
    assert!(srv.open_uploads().is_empty(), "{:?}", srv.open_uploads());
    // The same file with the default part size (16 MiB): one PutObject.
    let (out, rep) = srv.scan_json(
        &["s3://big/", "--parquet-dir", "s3://findings/one"],
        &report,
        &[],
    );
    ok(&out, "one put");
    let n = notes(&rep.unwrap());
    assert!(
        n.iter()
            .any(|l| l.contains("(1 with one PutObject, 0 multipart")),
        "{n:?}"
    );
    // Readable by `report`.
    let out = srv
        .bin()
        .args(["report", multi.to_str().unwrap(), "--report-format", "json"])
        .output()
        .unwrap();
    ok(&out, "report");
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["findings"], 4000);
}

#[cfg(debug_assertions)]
#[test]
fn a_failed_multipart_upload_is_aborted_and_leaves_no_object() {
    let srv = S3sFs::start();
    big_bucket(&srv);
    srv.bucket_dir("findings");
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let args = [
        "s3://big/",
        "--state",
        "s3://findings/st.json",
        "--parquet-dir",
        "s3://findings/ds",
    ];
    let key_of = |err: &str| -> String {
        err.split("s3://findings/")
            .nth(1)
            .and_then(|s| s.split(':').next())
            .unwrap_or_else(|| panic!("no key in {err}"))
            .to_string()
    };
    // The 1st UploadPart fails (while Parquet is written), then in another
    // run the 2nd (the last part, sent when the file is complete).
    for point in ["upload_part:1", "upload_part:2"] {
        let (out, _) = srv.scan_json(&args, &report, &[(PART_SIZE, FIVE_MIB), (FAIL, point)]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{point}: {err}");
        assert!(err.contains("UploadPart failed"), "{point}: {err}");
        let key = key_of(&err);
        assert!(key.starts_with("ds/date=2026-10-01/part-"), "{key}");
        assert!(
            !srv.root.path().join("findings").join(&key).exists(),
            "{point}: {key} exists after a failed upload"
        );
        assert!(
            srv.open_uploads().is_empty(),
            "{point}: the multipart upload was not aborted: {:?}",
            srv.open_uploads()
        );
        assert!(
            !srv.root.path().join("findings/ds").exists(),
            "{point}: no object under the dataset prefix"
        );
        let state: serde_json::Value = serde_json::from_slice(
            &std::fs::read(srv.root.path().join("findings/st.json")).unwrap(),
        )
        .unwrap();
        assert!(
            !state["pending"].is_null(),
            "{point}: the run stays pending, not committed"
        );
    }

    // The next run redoes it: every row once.
    let (out, rep) = srv.scan_json(&args, &report, &[(PART_SIZE, FIVE_MIB)]);
    ok(&out, "redo");
    assert_eq!(stat(&rep.unwrap(), "findings"), 4000);
    let rows = dataset_rows(&srv.root.path().join("findings/ds"));
    assert_eq!(by_event(&rows).len(), 4000);
    assert!(srv.open_uploads().is_empty());
}

#[test]
fn a_concurrent_writer_of_the_state_is_detected() {
    use std::sync::Arc;
    use trailtriage::sink::s3::S3Store;
    use trailtriage::source::keys::S3Url;
    use trailtriage::state::{PendingRun, StateFile};
    let srv = S3sFs::start();
    srv.bucket_dir("findings");
    let aws = trailtriage::source::AwsOptions {
        region: Some("us-east-1".into()),
        endpoint_url: Some(srv.endpoint()),
        static_credentials: Some(trailtriage::source::StaticCredentials {
            access_key_id: "test".into(),
            secret_access_key: "test".into(),
            session_token: None,
        }),
        ..Default::default()
    };
    let store = Arc::new(S3Store::new(&aws).unwrap());
    let url = S3Url::parse("s3://findings/state.json").unwrap();
    let inputs = vec!["s3://trail/".to_string()];
    let run = |id: &str| PendingRun {
        run_id: id.into(),
        objects: vec![],
        outputs: vec![],
    };
    // Two processes open the same (absent) state; the first to write wins.
    let mut a = StateFile::open_s3(store.clone(), &url, Shard::ALL, &inputs).unwrap();
    let mut b = StateFile::open_s3(store.clone(), &url, Shard::ALL, &inputs).unwrap();
    a.begin(run("a")).unwrap();
    let e = b.begin(run("b")).unwrap_err().to_string();
    assert!(e.contains("changed since this run read it"), "{e}");
    // Both exist now: a later write by b is refused too, a's go through.
    a.commit().unwrap();
    let mut c = StateFile::open_s3(store.clone(), &url, Shard::ALL, &inputs).unwrap();
    assert_eq!(c.state.runs, 1);
    assert!(b.begin(run("b2")).is_err());
    c.begin(run("c")).unwrap();
    c.commit().unwrap();
    assert!(
        a.begin(run("a2")).is_err(),
        "a's ETag is stale after c wrote"
    );
    // A key is needed.
    let e = StateFile::open_s3(
        store,
        &S3Url::parse("s3://findings/dir/").unwrap(),
        Shard::ALL,
        &inputs,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("needs an object key"), "{e}");
}

#[test]
fn report_reads_a_dataset_on_s3() {
    let srv = S3sFs::start();
    trail(&srv);
    srv.bucket_dir("findings");
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.json");
    let (out, _) = srv.scan_json(
        &["s3://trail/", "--parquet-dir", "s3://findings/ds"],
        &report,
        &[],
    );
    ok(&out, "scan");
    let ds = srv.root.path().join("findings/ds");
    let files = trailtriage::sink::dataset::find_parquet(std::slice::from_ref(&ds)).0;
    // Names query engines skip are skipped here too.
    put(&ds, "_SUCCESS", b"");
    put(&ds, "date=2026-10-05/.part-x.parquet.tmp", b"partial");
    put(&ds, "_tmp/part-y.parquet", b"not parquet");
    let run = |input: &str| -> serde_json::Value {
        let out = srv
            .bin()
            .args(["report", input, "--report-format", "json"])
            .output()
            .unwrap();
        ok(&out, input);
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let remote = run("s3://findings/ds");
    let local = run(ds.to_str().unwrap());
    assert_eq!(remote["findings"], 192);
    assert_eq!(stat(&remote, "files_read"), files.len() as u64);
    assert_eq!(stat(&remote, "files_failed"), 0);
    assert_eq!(remote["findings"], local["findings"]);
    assert_eq!(remote["stats"]["records"], local["stats"]["records"]);
    // A damaged object is named and the exit code is 1.
    put(&ds, "date=2026-10-05/part-bad.parquet", b"PAR1 not really");
    let out = srv
        .bin()
        .args(["report", "s3://findings/ds/"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("s3://findings/ds/date=2026-10-05/part-bad.parquet"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn local_input_with_state_and_dataset_on_s3() {
    let srv = S3sFs::start();
    srv.bucket_dir("findings");
    let dir = tempfile::tempdir().unwrap();
    let logs = sample_copy(dir.path());
    let report = dir.path().join("r.json");
    let args = [
        logs.to_str().unwrap(),
        "--state",
        "s3://findings/local-state.json",
        "--parquet-dir",
        "s3://findings/ds",
    ];
    let (out, r1) = srv.scan_json(&args, &report, &[]);
    ok(&out, "first");
    let r1 = r1.unwrap();
    assert_eq!(stat(&r1, "files_seen"), 22);
    let (out, r2) = srv.scan_json(&args, &report, &[]);
    ok(&out, "second");
    assert_eq!(stat(&r2.unwrap(), "files_seen"), 0);
    let state: serde_json::Value = serde_json::from_slice(
        &std::fs::read(srv.root.path().join("findings/local-state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["runs"], 2);
    assert_eq!(
        by_event(&dataset_rows(&srv.root.path().join("findings/ds"))).len(),
        192
    );
}

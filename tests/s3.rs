//! The S3 source against real servers on 127.0.0.1, never AWS and never a
//! mock of the SDK:
//!
//! - s3s-fs 0.14.1 (install with `scripts/ci/s3-server.sh`; found on PATH or
//!   via `$S3S_FS`) serving a bucket laid out like a real trail, with real
//!   SigV4 credentials;
//! - a small HTTP responder for what s3s-fs cannot do on purpose (AccessDenied
//!   and NoSuchKey on GetObject, a body that breaks off, a 503 once).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use trailtriage::filter::parse_time_bound;
use trailtriage::finding::Finding;
use trailtriage::pipeline::{Collector, Input, ScanOptions, Silent, Stats, run_local};
use trailtriage::select::Prefilter;
use trailtriage::source::keys::S3Url;
use trailtriage::source::s3::{S3Options, S3Report, run_s3};
use trailtriage::source::{AwsOptions, SourceError, StaticCredentials};

const ORG: &str = "o-abcdef1234";
const ORG_ACCOUNTS: [&str; 2] = ["111111111111", "222222222222"];
const ORG_REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];
const SOLO_ACCOUNT: &str = "333333333333";
const SOLO_REGION: &str = "us-west-2";
const DAYS: [u32; 5] = [1, 2, 3, 4, 5];
/// Tiny objects in one day prefix, to make every listing page.
const BULK: usize = 1100;
const BULK_ACCOUNT: &str = "222222222222";
const BULK_REGION: &str = "eu-west-1";
const BULK_DAY: u32 = 1;

// ---------------------------------------------------------------- s3s-fs

mod s3s_fs;
use s3s_fs::{S3sFs, copy_tree, normalized};

// ---------------------------------------------------------------- corpus

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

fn failed_assume(id: &str, time: &str, region: &str, acct: &str) -> serde_json::Value {
    serde_json::json!({
        "eventVersion": "1.08", "eventTime": time, "eventID": id,
        "eventSource": "sts.amazonaws.com", "eventName": "AssumeRole",
        "awsRegion": region, "recipientAccountId": acct,
        "sourceIPAddress": "203.0.113.9", "userAgent": "aws-cli/2.15",
        "userIdentity": {"type": "IAMUser", "arn": format!("arn:aws:iam::{acct}:user/alice"), "accountId": acct},
        "errorCode": "AccessDenied",
        "errorMessage": format!("User: arn:aws:iam::{acct}:user/alice is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::{acct}:role/Deploy because no identity-based policy allows the sts:AssumeRole action"),
        "requestParameters": {"roleArn": format!("arn:aws:iam::{acct}:role/Deploy"), "roleSessionName": "s"}
    })
}

fn ok_call(id: &str, time: &str, region: &str, acct: &str) -> serde_json::Value {
    serde_json::json!({
        "eventVersion": "1.08", "eventTime": time, "eventID": id,
        "eventSource": "sts.amazonaws.com", "eventName": "GetCallerIdentity",
        "awsRegion": region, "recipientAccountId": acct,
        "userIdentity": {"type": "IAMUser", "arn": format!("arn:aws:iam::{acct}:user/bob"), "accountId": acct},
        "requestParameters": null
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Log,
    Digest,
    Corrupt,
    Bulk,
}

/// Every key of the generated trail bucket with its kind, region prefix and day.
#[derive(Default)]
struct Layout {
    keys: Vec<(String, Kind, String, u32)>,
}

impl Layout {
    fn count(&self, f: impl Fn(&(String, Kind, String, u32)) -> bool) -> u64 {
        self.keys.iter().filter(|k| f(k)).count() as u64
    }
}

fn put(dir: &Path, key: &str, bytes: &[u8]) {
    let p = dir.join(key);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(&p, bytes).expect("write object");
}

/// An organization trail under `org/`, a single-account trail at the bucket
/// root, Digest files, one corrupt object and 1,100 tiny objects in one day.
fn build_trail_bucket(dir: &Path) -> Layout {
    let mut l = Layout::default();
    let mut trails: Vec<(String, &str, &str, usize)> = Vec::new();
    for a in ORG_ACCOUNTS {
        for r in ORG_REGIONS {
            trails.push((format!("org/AWSLogs/{ORG}/{a}/"), a, r, 2));
        }
    }
    trails.push((
        format!("AWSLogs/{SOLO_ACCOUNT}/"),
        SOLO_ACCOUNT,
        SOLO_REGION,
        1,
    ));
    for (base, acct, region, per_day) in &trails {
        let rp = format!("{base}CloudTrail/{region}/");
        for d in DAYS {
            // 00:05 holds events of 23:55 the day before; 12:00 events of 11:50.
            for (i, hm) in ["0005", "1200"].iter().enumerate().take(*per_day) {
                let event_time = if i == 0 {
                    let prev = chrono::NaiveDate::from_ymd_opt(2026, 10, d)
                        .and_then(|x| x.pred_opt())
                        .expect("date");
                    format!("{}T23:55:00Z", prev.format("%Y-%m-%d"))
                } else {
                    format!("2026-10-{d:02}T11:50:00Z")
                };
                let key = format!(
                    "{rp}2026/10/{d:02}/{acct}_CloudTrail_{region}_202610{d:02}T{hm}Z_f{i}.json.gz"
                );
                let id = format!("ev-{acct}-{region}-{d}-{i}");
                let body = serde_json::json!({"Records": [
                    failed_assume(&id, &event_time, region, acct),
                    ok_call(&format!("{id}-ok"), &event_time, region, acct),
                ]});
                put(dir, &key, &gzip(body.to_string().as_bytes()));
                l.keys.push((key, Kind::Log, rp.clone(), d));
            }
            if *region == ORG_REGIONS[0] || *acct == SOLO_ACCOUNT {
                let key = format!(
                    "{base}CloudTrail-Digest/{region}/2026/10/{d:02}/{acct}_CloudTrail-Digest_{region}_trail_{region}_202610{d:02}T120000Z.json.gz"
                );
                put(
                    dir,
                    &key,
                    &gzip(br#"{"awsAccountId":"x","digestStartTime":"2026-10-01T00:00:00Z"}"#),
                );
                l.keys.push((
                    key,
                    Kind::Digest,
                    format!("{base}CloudTrail-Digest/{region}/"),
                    d,
                ));
            }
        }
    }
    let rp = format!("org/AWSLogs/{ORG}/111111111111/CloudTrail/us-east-1/");
    let key =
        format!("{rp}2026/10/03/111111111111_CloudTrail_us-east-1_20261003T1300Z_corrupt.json.gz");
    put(
        dir,
        &key,
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03this is not deflate data at all",
    );
    l.keys.push((key, Kind::Corrupt, rp, 3));
    let rp = format!("org/AWSLogs/{ORG}/{BULK_ACCOUNT}/CloudTrail/{BULK_REGION}/");
    let small = gzip(
        serde_json::json!({"Records": [ok_call("bulk", "2026-10-01T00:00:00Z", BULK_REGION, BULK_ACCOUNT)]})
            .to_string()
            .as_bytes(),
    );
    for i in 0..BULK {
        let key = format!(
            "{rp}2026/10/{BULK_DAY:02}/{BULK_ACCOUNT}_CloudTrail_{BULK_REGION}_20261001T0000Z_bulk{i:05}.json.gz"
        );
        put(dir, &key, &small);
        l.keys.push((key, Kind::Bulk, rp.clone(), BULK_DAY));
    }
    l
}

// ---------------------------------------------------------------- helpers

fn aws(endpoint: &str, secret: &str) -> AwsOptions {
    AwsOptions {
        profile: None,
        region: Some("us-east-1".into()),
        endpoint_url: Some(endpoint.to_string()),
        max_attempts: None,
        retry_backoff: None,
        static_credentials: Some(StaticCredentials {
            access_key_id: "test".into(),
            secret_access_key: secret.into(),
            session_token: None,
        }),
        ..AwsOptions::default()
    }
}

fn scan_opts(since: Option<&str>, until: Option<&str>) -> ScanOptions {
    let now = chrono::Utc::now().timestamp_millis();
    let mut o = ScanOptions {
        threads: 2,
        ..ScanOptions::default()
    };
    o.filters.since_ms = since.map(|s| parse_time_bound(s, now).expect("since"));
    o.filters.until_ms = until.map(|s| parse_time_bound(s, now).expect("until"));
    o
}

fn s3_scan(
    urls: &[&str],
    aws: AwsOptions,
    opts: &ScanOptions,
    concurrency: usize,
) -> Result<(S3Report, Vec<Finding>, Stats), SourceError> {
    let urls: Vec<S3Url> = urls.iter().map(|u| S3Url::parse(u).expect("url")).collect();
    let s3 = S3Options { aws, concurrency };
    let pf = Prefilter::new(opts.select);
    let mut c = Collector::new();
    let rep = run_s3(&urls, &s3, opts, &pf, &Silent, &mut c)?;
    let (f, s) = c.finish();
    assert!(s.invariants_hold(), "{s:?}");
    Ok((rep, f, s))
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trailtriage"));
    s3s_fs::offline_aws(&mut c);
    c
}

// ---------------------------------------------------------------- tests

#[test]
fn whole_bucket_pages_skips_digests_and_reports_the_corrupt_object() {
    let srv = S3sFs::start();
    let layout = build_trail_bucket(&srv.bucket_dir("trail"));
    let opts = scan_opts(None, None);
    let (rep, findings, stats) =
        s3_scan(&["s3://trail"], aws(&srv.endpoint(), "test"), &opts, 16).expect("scan");

    let total = layout.keys.len() as u64;
    let digests = layout.count(|k| k.1 == Kind::Digest);
    assert!(total > 1000, "the bucket must need more than one list page");
    assert!(!rep.pruned);
    assert_eq!(rep.keys_listed, total);
    assert_eq!(rep.list_requests, total.div_ceil(1000), "{rep:?}");
    assert_eq!(rep.skipped_by_key, digests);
    assert_eq!(rep.objects_fetched, total - digests, "{rep:?}");
    assert_eq!(rep.objects_failed, 0);
    assert_eq!(stats.files_seen, total);
    assert_eq!(stats.files_skipped, digests);
    assert_eq!(
        stats
            .skipped_reasons
            .get("CloudTrail-Digest file (integrity digest, no events)"),
        Some(&digests)
    );
    // The corrupt object is named and counted; the rest is read.
    let corrupt = layout
        .keys
        .iter()
        .find(|k| k.1 == Kind::Corrupt)
        .expect("corrupt key");
    assert_eq!(stats.files_failed, 1, "{:?}", stats.failed);
    assert_eq!(stats.failed[0].0, format!("s3://trail/{}", corrupt.0));
    let logs = layout.count(|k| k.1 == Kind::Log);
    assert_eq!(findings.len() as u64, logs);
    assert!(
        findings
            .iter()
            .all(|f| f.source_file.starts_with("s3://trail/"))
    );
    assert!(
        findings
            .iter()
            .all(|f| f.cause_id == "missing_identity_permission")
    );
    assert_eq!(stats.records.read, 2 * logs + BULK as u64);

    // Identical to reading the same tree from disk.
    let dir = srv.root.path().join("trail");
    let (local, lstats) = run_local(&[Input::Path(dir.clone())], &opts, &Silent);
    assert_eq!(
        normalized(&findings, "s3://trail"),
        normalized(&local, &dir.display().to_string())
    );
    assert_eq!(stats.records, lstats.records);
    assert_eq!(stats.files_read, lstats.files_read);
}

#[test]
fn date_window_lists_only_the_days_in_range_plus_margins() {
    let srv = S3sFs::start();
    let layout = build_trail_bucket(&srv.bucket_dir("trail"));
    let since = "2026-10-03T00:00:00Z";
    let until = "2026-10-04T00:00:00Z";
    let opts = scan_opts(Some(since), Some(until));
    let (rep, findings, stats) =
        s3_scan(&["s3://trail/"], aws(&srv.endpoint(), "test"), &opts, 8).expect("scan");

    // Day prefixes 10/02 .. 10/04 of every CloudTrail region; no Digest prefix is listed.
    let in_days = |k: &(String, Kind, String, u32)| k.1 != Kind::Digest && (2..=4).contains(&k.3);
    let expected = layout.count(in_days);
    assert!(rep.pruned);
    assert_eq!(rep.keys_listed, expected, "{rep:?}");
    assert_eq!(rep.objects_fetched, expected, "{rep:?}");
    assert_eq!(rep.skipped_by_key, 0);
    assert!(rep.keys_listed < layout.keys.len() as u64 / 10);
    // Discovery (root, org/, AWSLogs x2, org id, 3 accounts) + 5 regions x 3 days.
    assert_eq!(rep.list_requests, 1 + 1 + 2 + 1 + 3 + 5 * 3, "{rep:?}");
    assert_eq!(
        stats.files_failed, 1,
        "the corrupt object of 10/03 is fetched and reported"
    );

    // Events of 10/03 11:50 (delivered 10/03) and 10/03 23:55 (delivered
    // 10/04 00:05, found thanks to the margin after --until).
    let mut times: Vec<String> = findings.iter().map(|f| f.event_id.clone()).collect();
    times.sort();
    assert!(
        findings.iter().any(|f| f.event_id.ends_with("-4-0")),
        "{times:?}"
    );
    assert!(
        findings.iter().any(|f| f.event_id.ends_with("-3-1")),
        "{times:?}"
    );
    // 2 org accounts x 2 regions x 2 files + the single-account trail's 00:05 file of 10/04.
    assert_eq!(findings.len(), 2 * 2 * 2 + 1, "{times:?}");

    // Identical to the local scan of the whole tree with the same window.
    let dir = srv.root.path().join("trail");
    let (local, _) = run_local(&[Input::Path(dir.clone())], &opts, &Silent);
    assert_eq!(
        normalized(&findings, "s3://trail"),
        normalized(&local, &dir.display().to_string())
    );
}

#[test]
fn account_and_region_filters_prune_discovery() {
    let srv = S3sFs::start();
    let layout = build_trail_bucket(&srv.bucket_dir("trail"));
    let mut opts = scan_opts(None, None);
    opts.filters.accounts = vec![BULK_ACCOUNT.into()];
    opts.filters.log_regions = vec!["us-east-1".into()];
    let url = format!("s3://trail/org/AWSLogs/{ORG}");
    let (rep, findings, _) =
        s3_scan(&[&url], aws(&srv.endpoint(), "test"), &opts, 8).expect("scan");
    let rp = format!("org/AWSLogs/{ORG}/{BULK_ACCOUNT}/CloudTrail/us-east-1/");
    let expected = layout.count(|k| k.2 == rp);
    assert!(rep.pruned);
    assert_eq!(rep.keys_listed, expected, "{rep:?}");
    assert_eq!(rep.objects_fetched, expected);
    // org id level, account's CloudTrail/ level, the region.
    assert_eq!(rep.list_requests, 3, "{rep:?}");
    assert_eq!(findings.len() as u64, expected);
    assert!(
        findings
            .iter()
            .all(|f| f.source_file.starts_with(&format!("s3://trail/{rp}")))
    );
}

#[test]
fn long_and_open_windows_list_ranges_and_stop_early() {
    let srv = S3sFs::start();
    let layout = build_trail_bucket(&srv.bucket_dir("trail"));
    let regions: Vec<String> = {
        let mut r: Vec<String> = layout
            .keys
            .iter()
            .filter(|k| k.1 != Kind::Digest)
            .map(|k| k.2.clone())
            .collect();
        r.sort();
        r.dedup();
        r
    };
    // Expected: every key up to the last day, plus the first key after it per region (the stop).
    let expect = |first: u32, last: u32| -> u64 {
        regions
            .iter()
            .map(|rp| {
                let inside = layout
                    .count(|k| &k.2 == rp && k.1 != Kind::Digest && k.3 >= first && k.3 <= last);
                let after = layout.count(|k| &k.2 == rp && k.1 != Kind::Digest && k.3 > last);
                inside + u64::from(after > 0)
            })
            .sum()
    };
    // More than 92 days: one range listing per region, from since-1d, stopping after until+1d.
    let opts = scan_opts(Some("2026-05-01"), Some("2026-10-02T00:00:00Z"));
    let (rep, findings, _) =
        s3_scan(&["s3://trail"], aws(&srv.endpoint(), "test"), &opts, 16).expect("scan");
    assert_eq!(rep.keys_listed, expect(1, 2), "{rep:?}");
    assert_eq!(
        rep.objects_fetched,
        expect(1, 2) - regions.len() as u64,
        "{rep:?}"
    );
    // Events before 10/02 00:00: the 11:50 of 10/01 and the 23:55 of 09/30 and 10/01.
    let end = parse_time_bound("2026-10-02T00:00:00Z", 0).expect("time");
    assert!(
        findings
            .iter()
            .all(|f| f.event_time.is_some_and(|t| t < end))
    );
    assert_eq!(findings.len(), 4 * (1 + 2) + 2);

    // Only --until: from the start of each region.
    let opts = scan_opts(None, Some("2026-10-01T12:00:00Z"));
    let (rep, _, _) =
        s3_scan(&["s3://trail"], aws(&srv.endpoint(), "test"), &opts, 16).expect("scan");
    assert_eq!(rep.keys_listed, expect(1, 2), "{rep:?}");
}

#[test]
fn identical_findings_from_s3_and_disk_through_the_binary() {
    let srv = S3sFs::start();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-logs");
    copy_tree(&sample, &srv.bucket_dir("samples"));
    let run = |input: &str, extra: &[&str]| -> (Vec<serde_json::Value>, i32) {
        let out = bin()
            .args([
                "scan",
                input,
                "--jsonl",
                "-",
                "-q",
                "--endpoint-url",
                &srv.endpoint(),
            ])
            .args(extra)
            .output()
            .expect("run trailtriage");
        let rows = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).expect("jsonl row"))
            .collect();
        (rows, out.status.code().unwrap_or(-1))
    };
    let strip = |rows: Vec<serde_json::Value>, root: &str| -> Vec<serde_json::Value> {
        rows.into_iter()
            .map(|mut v| {
                let sf = v["source_file"].as_str().unwrap_or("").to_string();
                let rel = sf.strip_prefix(root).unwrap_or(&sf).to_string();
                v["source_file"] = serde_json::Value::String(rel);
                v
            })
            .collect()
    };
    let local_root = format!("{}/", sample.display());
    for extra in [
        &[][..],
        &["--since", "2026-10-06", "--until", "2026-10-07"][..],
    ] {
        let (s3_rows, s3_code) = run("s3://samples/", extra);
        let (disk_rows, disk_code) = run(&local_root, extra);
        assert!(!s3_rows.is_empty());
        assert_eq!(s3_code, disk_code);
        let sorted = |mut v: Vec<serde_json::Value>| {
            v.sort_by_key(|x| x.to_string());
            v
        };
        assert_eq!(
            sorted(strip(s3_rows, "s3://samples/")),
            sorted(strip(disk_rows, &local_root)),
            "{extra:?}"
        );
    }
}

#[test]
fn wrong_credentials_fail_clearly_with_exit_2() {
    let srv = S3sFs::start();
    build_trail_bucket(&srv.bucket_dir("trail"));
    let out = bin()
        .args(["scan", "s3://trail/", "--endpoint-url", &srv.endpoint()])
        .env("AWS_SECRET_ACCESS_KEY", "wrong")
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(
            "s3://trail: access denied listing (SignatureDoesNotMatch): check credentials"
        ),
        "{err}"
    );
    // Also with a time window (the first delimiter listing fails) and through the library.
    let mut a = aws(&srv.endpoint(), "wrong");
    a.max_attempts = Some(1);
    let e = s3_scan(
        &["s3://trail/AWSLogs/"],
        a,
        &scan_opts(Some("2026-10-01"), None),
        4,
    )
    .expect_err("must fail");
    assert!(matches!(e, SourceError::ListDenied { .. }), "{e}");
    assert!(
        e.to_string()
            .starts_with("s3://trail/AWSLogs/: access denied listing (SignatureDoesNotMatch)"),
        "{e}"
    );
    // No credentials at all.
    let out = bin()
        .args(["scan", "s3://trail/", "--endpoint-url", &srv.endpoint()])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("s3://trail: no AWS credentials found"),
        "{err}"
    );
    assert!(!err.contains("DispatchFailure"), "no debug dump: {err}");
    // An unknown bucket is a listing failure too.
    let out = bin()
        .args([
            "scan",
            "s3://no-such-bucket/",
            "--endpoint-url",
            &srv.endpoint(),
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("s3://no-such-bucket: listing failed: NoSuchBucket")
    );
}

#[test]
fn exit_code_1_and_the_object_named_when_one_object_is_corrupt() {
    let srv = S3sFs::start();
    let layout = build_trail_bucket(&srv.bucket_dir("trail"));
    let corrupt = layout
        .keys
        .iter()
        .find(|k| k.1 == Kind::Corrupt)
        .expect("corrupt");
    let out = bin()
        .args(["scan", "s3://trail/org/", "--endpoint-url", &srv.endpoint()])
        .args([
            "--since",
            "2026-10-03",
            "--until",
            "2026-10-04",
            "--report-format",
            "json",
        ])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("s3://trail/{}", corrupt.0)), "{err}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json report");
    assert_eq!(report["stats"]["files_failed"], 1);
    let notes = report["stats"]["notes"].to_string();
    assert!(notes.contains("S3: "), "{notes}");
}

// ---------------------------------------------------------------- responder

/// A bare S3 responder for failures s3s-fs cannot produce: every request is
/// answered on its own connection (`Connection: close`).
struct Responder {
    port: u16,
    gets: Arc<Mutex<BTreeMap<String, u64>>>,
}

const GOOD_KEY: &str = "AWSLogs/111111111111/CloudTrail/us-east-1/2026/10/01/good.json.gz";
const DENIED_KEY: &str = "AWSLogs/111111111111/CloudTrail/us-east-1/2026/10/01/denied.json.gz";
const GONE_KEY: &str = "AWSLogs/111111111111/CloudTrail/us-east-1/2026/10/01/gone.json.gz";
const CUT_KEY: &str = "AWSLogs/111111111111/CloudTrail/us-east-1/2026/10/01/cut.json.gz";
const FLAKY_KEY: &str = "AWSLogs/111111111111/CloudTrail/us-east-1/2026/10/01/flaky.json.gz";
const SLOW_KEY: &str = "AWSLogs/111111111111/CloudTrail/us-east-1/2026/10/01/slow.json.gz";

fn log_body(id: &str) -> Vec<u8> {
    gzip(
        serde_json::json!({"Records": [failed_assume(id, "2026-10-01T10:00:00Z", "us-east-1", "111111111111")]})
            .to_string()
            .as_bytes(),
    )
}

impl Responder {
    fn start() -> Responder {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        let gets: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
        let g2 = gets.clone();
        let flaky_served = Arc::new(AtomicU64::new(0));
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(s) = s else { continue };
                let g = g2.clone();
                let f = flaky_served.clone();
                std::thread::spawn(move || serve_one(s, &g, &f));
            }
        });
        Responder { port, gets }
    }
}

fn serve_one(mut s: TcpStream, gets: &Mutex<BTreeMap<String, u64>>, flaky: &AtomicU64) {
    let mut r = BufReader::new(s.try_clone().expect("clone"));
    let mut line = String::new();
    if r.read_line(&mut line).is_err() {
        return;
    }
    let target = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let mut len = 0usize;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; len];
    let _ = r.read_exact(&mut body);
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let key = path.trim_start_matches("/bucket").trim_start_matches('/');
    let respond = |s: &mut TcpStream,
                   status: &str,
                   ctype: &str,
                   body: &[u8],
                   claimed: Option<usize>| {
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            claimed.unwrap_or(body.len())
        );
        let _ = s.write_all(head.as_bytes());
        let _ = s.write_all(body);
        let _ = s.flush();
    };
    let error = |code: &str, msg: &str| {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{msg}</Message></Error>"
        )
    };
    if key.is_empty() && query.contains("list-type=2") {
        let keys = [GOOD_KEY, DENIED_KEY, GONE_KEY, CUT_KEY, FLAKY_KEY, SLOW_KEY];
        let mut xml = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>bucket</Name><Prefix></Prefix><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>",
        );
        xml.push_str(&format!("<KeyCount>{}</KeyCount>", keys.len()));
        for k in keys {
            xml.push_str(&format!("<Contents><Key>{k}</Key><Size>100</Size><StorageClass>STANDARD</StorageClass></Contents>"));
        }
        xml.push_str("</ListBucketResult>");
        respond(&mut s, "200 OK", "application/xml", xml.as_bytes(), None);
        return;
    }
    let n = {
        let mut g = gets.lock().expect("lock");
        let n = g.entry(key.to_string()).or_default();
        *n += 1;
        *n
    };
    match key {
        GOOD_KEY => respond(
            &mut s,
            "200 OK",
            "application/octet-stream",
            &log_body("good"),
            None,
        ),
        DENIED_KEY => respond(
            &mut s,
            "403 Forbidden",
            "application/xml",
            error("AccessDenied", "Access Denied").as_bytes(),
            None,
        ),
        GONE_KEY => respond(
            &mut s,
            "404 Not Found",
            "application/xml",
            error("NoSuchKey", "The specified key does not exist.").as_bytes(),
            None,
        ),
        CUT_KEY => {
            let b = log_body("cut");
            respond(
                &mut s,
                "200 OK",
                "application/octet-stream",
                &b[..10],
                Some(b.len()),
            );
        }
        FLAKY_KEY => {
            let b = log_body("flaky");
            if flaky.fetch_add(1, Ordering::SeqCst) == 0 {
                respond(
                    &mut s,
                    "200 OK",
                    "application/octet-stream",
                    &b[..10],
                    Some(b.len()),
                );
            } else {
                respond(&mut s, "200 OK", "application/octet-stream", &b, None);
            }
        }
        SLOW_KEY if n == 1 => respond(
            &mut s,
            "503 Slow Down",
            "application/xml",
            error("SlowDown", "Please reduce your request rate.").as_bytes(),
            None,
        ),
        SLOW_KEY => respond(
            &mut s,
            "200 OK",
            "application/octet-stream",
            &log_body("slow"),
            None,
        ),
        _ => respond(
            &mut s,
            "404 Not Found",
            "application/xml",
            error("NoSuchKey", "no").as_bytes(),
            None,
        ),
    }
}

#[test]
fn per_object_errors_are_named_counted_and_the_run_goes_on() {
    let srv = Responder::start();
    let endpoint = format!("http://127.0.0.1:{}", srv.port);
    let (rep, findings, stats) = s3_scan(
        &["s3://bucket/"],
        aws(&endpoint, "test"),
        &scan_opts(None, None),
        4,
    )
    .expect("scan");
    let mut ids: Vec<&str> = findings.iter().map(|f| f.event_id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, vec!["flaky", "good", "slow"], "{stats:?}");
    assert_eq!(rep.keys_listed, 6);
    assert_eq!(rep.objects_fetched, 3);
    assert_eq!(rep.objects_failed, 3);
    assert_eq!(stats.files_failed, 3);
    let failed: BTreeMap<&str, &str> = stats
        .failed
        .iter()
        .map(|(n, w)| (n.as_str(), w.as_str()))
        .collect();
    let name = |k: &str| format!("s3://bucket/{k}");
    let why = |k: &str| {
        *failed
            .get(name(k).as_str())
            .unwrap_or_else(|| panic!("{k} not failed: {failed:?}"))
    };
    assert!(why(DENIED_KEY).contains("AccessDenied"), "{failed:?}");
    assert!(why(GONE_KEY).contains("NoSuchKey"), "{failed:?}");
    assert!(why(CUT_KEY).contains("truncated body"), "{failed:?}");
    assert!(why(CUT_KEY).contains("after 3 attempts"), "{failed:?}");
    // Retries: 2 re-reads of the cut body, 1 of the flaky one, and the SDK's retry of the 503.
    assert_eq!(rep.retries, 4, "{rep:?}");
    assert_eq!(stats.retries, 4);
    let gets = srv.gets.lock().expect("lock").clone();
    assert_eq!(gets.get(SLOW_KEY), Some(&2));
    assert_eq!(gets.get(CUT_KEY), Some(&3));
    assert_eq!(
        gets.get(DENIED_KEY),
        Some(&1),
        "AccessDenied is not retried"
    );
}

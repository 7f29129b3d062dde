//! The S3 source through a fault-injecting proxy (tests/fault_proxy) in
//! front of the real s3s-fs server, both on 127.0.0.1: 503 SlowDown,
//! connections cut or reset in the middle of a body, delays and stalls,
//! requests never answered (the response timeout), on GetObject and on
//! ListObjectsV2. The real aws-sdk-s3 talks to the proxy;
//! nothing is mocked. What must hold: the findings equal those of a scan of
//! the same tree on disk, every retry is counted, and an object that keeps
//! failing is named and counted as failed while the rest is read.

mod fault_proxy;
mod s3s_fs;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fault_proxy::{Fault, FaultProxy, Req, Script};
use s3s_fs::{S3sFs, copy_tree, normalized};
use trailtriage::filter::parse_time_bound;
use trailtriage::finding::Finding;
use trailtriage::pipeline::{Collector, Input, ScanOptions, Silent, Stats, run_local};
use trailtriage::select::Prefilter;
use trailtriage::source::keys::S3Url;
use trailtriage::source::s3::{S3Options, S3Report, run_s3};
use trailtriage::source::{AwsOptions, SourceError, StaticCredentials, Timeouts};

const BUCKET: &str = "trail";
/// First retry backoff in these tests (the default is 1 s for the SDK).
const BACKOFF_MS: u64 = 10;

// ---------------------------------------------------------------- s3s-fs

/// s3s-fs serving a copy of `sample-logs/` as bucket `trail`.
fn with_samples() -> S3sFs {
    let srv = S3sFs::start();
    copy_tree(&samples(), &srv.bucket_dir(BUCKET));
    srv
}

/// Keys of the log objects (Digest files are skipped by key, never fetched).
fn log_keys(srv: &S3sFs) -> Vec<String> {
    let dir = srv.bucket_dir(BUCKET);
    let mut keys: Vec<String> = walk(&dir)
        .into_iter()
        .map(|p| {
            p.strip_prefix(&dir)
                .expect("under the bucket")
                .to_string_lossy()
                .into_owned()
        })
        .filter(|k| k.contains("/CloudTrail/"))
        .collect();
    keys.sort();
    keys
}

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-logs")
}

fn walk(d: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(d).expect("read_dir") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

// ---------------------------------------------------------------- scripts

/// Faults per object key, one per attempt (later attempts pass), and per
/// listing (by attempt only).
#[derive(Clone, Default)]
struct Plan {
    objects: BTreeMap<String, Vec<Fault>>,
    /// Faults on every object's attempts from this many on (a key that keeps failing).
    always: BTreeMap<String, Fault>,
    listings: Vec<Fault>,
}

impl Plan {
    fn script(self) -> Script {
        Arc::new(move |r: &Req| {
            let nth = |v: &[Fault]| {
                v.get(r.attempt as usize - 1)
                    .cloned()
                    .unwrap_or(Fault::Pass)
            };
            if r.is_list() {
                return nth(&self.listings);
            }
            let Some(key) = r.key(BUCKET) else {
                return Fault::Pass;
            };
            if let Some(f) = self.always.get(key) {
                return f.clone();
            }
            self.objects.get(key).map_or(Fault::Pass, |v| nth(v))
        })
    }

    /// Retries the client must make: one per failure in a sequence.
    fn expected_retries(&self) -> u64 {
        let seqs = self.objects.values().chain(std::iter::once(&self.listings));
        seqs.flatten().filter(|f| f.is_failure()).count() as u64
    }
}

/// Several kinds of trouble spread over the objects: 503 on a first attempt,
/// a body cut (FIN) or reset (RST) part-way, a 503 then a reset of the
/// retried attempt, delays before answering and a stall inside a body.
fn transient_plan(keys: &[String]) -> Plan {
    let mut p = Plan::default();
    for (i, k) in keys.iter().enumerate() {
        let seq = match i % 6 {
            0 => vec![Fault::SlowDown],
            1 => vec![Fault::CutBody(100)],
            2 => vec![Fault::ResetBody(40).delayed(150)],
            3 => vec![Fault::SlowDown.delayed(50), Fault::ResetBody(0)],
            4 => vec![Fault::StallBody(30, Duration::from_millis(200))],
            _ => vec![Fault::Pass.delayed(100)],
        };
        p.objects.insert(k.clone(), seq);
    }
    p.listings = vec![Fault::SlowDown];
    p
}

// ---------------------------------------------------------------- runs

fn aws(endpoint: &str) -> AwsOptions {
    AwsOptions {
        profile: None,
        region: Some("us-east-1".into()),
        endpoint_url: Some(endpoint.to_string()),
        max_attempts: None,
        retry_backoff: Some(Duration::from_millis(BACKOFF_MS)),
        static_credentials: Some(StaticCredentials {
            access_key_id: "test".into(),
            secret_access_key: "test".into(),
            session_token: None,
        }),
        ..AwsOptions::default()
    }
}

fn scan_opts() -> ScanOptions {
    ScanOptions {
        threads: 2,
        ..ScanOptions::default()
    }
}

fn s3_scan(
    url: &str,
    endpoint: &str,
    opts: &ScanOptions,
) -> Result<(S3Report, Vec<Finding>, Stats), SourceError> {
    s3_scan_with(url, aws(endpoint), opts)
}

fn s3_scan_with(
    url: &str,
    aws: AwsOptions,
    opts: &ScanOptions,
) -> Result<(S3Report, Vec<Finding>, Stats), SourceError> {
    let urls = vec![S3Url::parse(url).expect("url")];
    let s3 = S3Options {
        aws,
        concurrency: 8,
    };
    let pf = Prefilter::new(opts.select);
    let mut c = Collector::new();
    let rep = run_s3(&urls, &s3, opts, &pf, &Silent, &mut c)?;
    let (f, s) = c.finish();
    assert!(s.invariants_hold(), "{s:?}");
    Ok((rep, f, s))
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trailtriage"));
    s3s_fs::offline_aws(&mut c)
        .env_remove("NO_COLOR")
        .env("TRAILTRIAGE_RETRY_BACKOFF_MS", BACKOFF_MS.to_string())
        .env("COLUMNS", "100");
    c
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `scan INPUT --jsonl J --parquet P --report R --report-format json`: the
/// JSONL rows (source_file made relative to `root`), the Parquet rows, the
/// JSON report and the process output.
struct BinRun {
    jsonl: Vec<serde_json::Value>,
    parquet: Vec<Finding>,
    report: serde_json::Value,
    out: Output,
}

fn bin_scan(input: &str, root: &str, endpoint: &str) -> BinRun {
    let dir = tempfile::tempdir().expect("tempdir");
    let (jl, pq, rp) = (
        dir.path().join("f.jsonl"),
        dir.path().join("f.parquet"),
        dir.path().join("r.json"),
    );
    let out = bin()
        .args(["scan", input, "--endpoint-url", endpoint, "-j2"])
        .arg("--jsonl")
        .arg(&jl)
        .arg("--parquet")
        .arg(&pq)
        .arg("--report")
        .arg(&rp)
        .args(["--report-format", "json"])
        .output()
        .expect("run trailtriage");
    let read = |p: &Path| {
        std::fs::read_to_string(p)
            .unwrap_or_else(|e| panic!("{}: {e}\n{}", p.display(), text(&out.stderr)))
    };
    let mut jsonl: Vec<serde_json::Value> = read(&jl)
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).expect("jsonl row");
            let sf = v["source_file"].as_str().unwrap_or("").to_string();
            let rel = sf
                .strip_prefix(root)
                .unwrap_or_else(|| panic!("{sf} does not start with {root}"));
            v["source_file"] = serde_json::Value::String(rel.to_string());
            v
        })
        .collect();
    jsonl.sort_by_key(|v| v.to_string());
    let mut parquet = trailtriage::sink::parquet::read_file(&pq).expect("read parquet");
    for f in &mut parquet {
        f.source_file = f
            .source_file
            .strip_prefix(root)
            .unwrap_or(&f.source_file)
            .to_string();
    }
    parquet.sort_by_key(|f| serde_json::to_string(f).unwrap_or_default());
    let report = serde_json::from_str(&read(&rp)).expect("json report");
    BinRun {
        jsonl,
        parquet,
        report,
        out,
    }
}

// ---------------------------------------------------------------- tests

#[test]
fn transient_faults_change_nothing_but_the_retry_count() {
    let srv = with_samples();
    let keys = log_keys(&srv);
    assert!(keys.len() >= 18, "{keys:?}");
    let plan = transient_plan(&keys);
    let expected = plan.expected_retries();
    // 503s, cuts and resets on objects (one object gets two), plus the listing's 503.
    assert!(expected > keys.len() as u64 / 2, "{expected}");

    let proxy = FaultProxy::start(srv.addr(), plan.clone().script());
    let started = Instant::now();
    let url = format!("s3://{BUCKET}/");
    let opts = scan_opts();
    let (rep, findings, stats) = s3_scan(&url, &proxy.endpoint(), &opts).expect("scan");
    let took = started.elapsed();

    let log = proxy.describe();
    assert_eq!(proxy.failures_injected(), expected, "{log}");
    assert_eq!(rep.retries, expected, "{rep:?}\n{log}");
    assert_eq!(stats.retries, expected);
    assert_eq!(rep.objects_failed, 0, "{:?}", stats.failed);
    assert_eq!(stats.files_failed, 0, "{:?}", stats.failed);
    assert_eq!(rep.objects_fetched, keys.len() as u64);
    // Each object was asked for once more than it failed.
    let per_path = proxy.requests_per_path();
    for (k, seq) in &plan.objects {
        let failures = seq.iter().filter(|f| f.is_failure()).count() as u64;
        assert_eq!(
            per_path.get(&format!("/{BUCKET}/{k}")),
            Some(&(failures + 1)),
            "{k}\n{log}"
        );
    }

    // Identical to reading the same tree from disk.
    let dir = srv.bucket_dir(BUCKET);
    let (local, lstats) = run_local(&[Input::Path(dir.clone())], &opts, &Silent);
    assert!(!local.is_empty());
    assert_eq!(
        normalized(&findings, &format!("s3://{BUCKET}")),
        normalized(&local, &dir.display().to_string())
    );
    assert_eq!(stats.records, lstats.records);
    assert_eq!(stats.files_read, lstats.files_read);
    assert_eq!(stats.files_skipped, lstats.files_skipped);
    eprintln!(
        "library scan through the proxy: {} objects, {expected} retries, {took:?}",
        keys.len()
    );

    // Through the binary: JSONL and Parquet rows equal the disk scan's, and
    // the JSON report and its notes show the retries. A fresh proxy, so the
    // same faults fire again.
    let proxy = FaultProxy::start(srv.addr(), plan.script());
    let s3 = bin_scan(&url, &url, &proxy.endpoint());
    let root = format!("{}/", dir.display());
    let disk = bin_scan(&root, &root, &proxy.endpoint());
    assert_eq!(s3.out.status.code(), Some(0), "{}", text(&s3.out.stderr));
    assert_eq!(disk.out.status.code(), Some(0));
    assert!(!s3.jsonl.is_empty());
    assert_eq!(s3.jsonl, disk.jsonl);
    assert_eq!(s3.parquet, disk.parquet);
    assert_eq!(s3.parquet.len(), s3.jsonl.len());
    let st = &s3.report["stats"];
    assert_eq!(st["retries"], expected, "{st}");
    assert_eq!(st["files_failed"], 0);
    assert_eq!(disk.report["stats"]["retries"], 0);
    let notes = s3.report["notes"].to_string();
    assert!(notes.contains(&format!("{expected} retries")), "{notes}");
    assert_eq!(proxy.failures_injected(), expected, "{}", proxy.describe());
}

#[test]
fn an_object_that_keeps_failing_is_reported_and_the_rest_is_read() {
    let srv = with_samples();
    let keys = log_keys(&srv);
    let (reset, throttled, denied) = (&keys[2], &keys[7], &keys[11]);
    let mut plan = Plan::default();
    plan.always.insert(reset.clone(), Fault::ResetBody(64));
    plan.always.insert(throttled.clone(), Fault::SlowDown);
    plan.always.insert(
        denied.clone(),
        Fault::Error {
            status: 403,
            code: "AccessDenied",
        },
    );
    for k in keys
        .iter()
        .step_by(3)
        .filter(|k| !plan.always.contains_key(*k))
    {
        plan.objects.insert(k.clone(), vec![Fault::SlowDown]);
    }
    // The reset object is read 3 times (2 re-reads), the throttled one gets the
    // SDK's 3 attempts (2 retries), AccessDenied is not retried.
    let expected = plan.expected_retries() + 2 + 2;
    let proxy = FaultProxy::start(srv.addr(), plan.clone().script());
    let url = format!("s3://{BUCKET}/");
    let opts = scan_opts();
    let (rep, findings, stats) = s3_scan(&url, &proxy.endpoint(), &opts).expect("scan goes on");

    let log = proxy.describe();
    let per_path = proxy.requests_per_path();
    let hits = |k: &str| per_path.get(&format!("/{BUCKET}/{k}")).copied();
    assert_eq!(hits(reset), Some(3), "{log}");
    assert_eq!(hits(throttled), Some(3), "{log}");
    assert_eq!(hits(denied), Some(1), "AccessDenied is not retried\n{log}");
    assert_eq!(rep.retries, expected, "{rep:?}\n{log}");
    assert_eq!(stats.retries, expected);

    let failed: BTreeMap<&str, &str> = stats
        .failed
        .iter()
        .map(|(n, w)| (n.as_str(), w.as_str()))
        .collect();
    let why = |k: &str| {
        let name = format!("s3://{BUCKET}/{k}");
        *failed
            .get(name.as_str())
            .unwrap_or_else(|| panic!("{name} not reported: {failed:?}"))
    };
    assert_eq!(failed.len(), 3, "{failed:?}");
    assert!(why(reset).contains("truncated body"), "{failed:?}");
    assert!(why(reset).contains("reset"), "a real RST: {failed:?}");
    assert!(why(reset).contains("after 3 attempts"), "{failed:?}");
    assert!(why(throttled).contains("SlowDown"), "{failed:?}");
    assert!(why(denied).contains("AccessDenied"), "{failed:?}");
    assert_eq!(rep.objects_failed, 3);
    assert_eq!(rep.objects_fetched, keys.len() as u64 - 3);

    // Accounting: every file seen is read, skipped or failed; all the others are read.
    let dir = srv.bucket_dir(BUCKET);
    let (local, lstats) = run_local(&[Input::Path(dir.clone())], &opts, &Silent);
    assert_eq!(stats.files_seen, lstats.files_seen);
    assert_eq!(
        stats.files_seen,
        stats.files_read + stats.files_skipped + stats.files_failed
    );
    assert_eq!(stats.files_read, lstats.files_read - 3);
    assert_eq!(stats.files_failed, 3);
    // Identical to a disk scan of the tree without the three failed objects.
    let rest = tempfile::tempdir().expect("tempdir");
    copy_tree(&dir, rest.path());
    for k in [reset, throttled, denied] {
        std::fs::remove_file(rest.path().join(k)).expect("remove");
    }
    let (local_rest, _) = run_local(&[Input::Path(rest.path().to_path_buf())], &opts, &Silent);
    assert!(
        local_rest.len() < local.len(),
        "the failed objects held findings"
    );
    assert_eq!(
        normalized(&findings, &format!("s3://{BUCKET}")),
        normalized(&local_rest, &rest.path().display().to_string())
    );

    // Through the binary: exit code 1, the object named on stderr and in the
    // text report, the retries in the notes, the accounting line.
    let proxy = FaultProxy::start(srv.addr(), plan.script());
    let out = bin()
        .args(["scan", &url, "--endpoint-url", &proxy.endpoint()])
        .output()
        .expect("run");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let reset_name = format!("s3://{BUCKET}/{reset}");
    assert!(stderr.contains(&reset_name), "{stderr}");
    assert!(stdout.contains("Unreadable input"), "{stdout}");
    assert!(
        stdout.contains(&format!("{reset_name}: cannot download: truncated body")),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("{expected} retries")), "{stdout}");
    assert!(stdout.contains("3 failed, "), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "\nretries: {expected} (remote requests sent again"
        )),
        "the accounting shows the retries: {stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "files: {} seen = {} read + {} skipped + 3 failed",
            stats.files_seen, stats.files_read, stats.files_skipped
        )),
        "{stdout}"
    );
}

#[test]
fn listing_faults_are_retried_and_a_listing_that_keeps_failing_is_fatal() {
    let srv = with_samples();
    let mut opts = scan_opts();
    let now = chrono::Utc::now().timestamp_millis();
    opts.filters.since_ms = Some(parse_time_bound("2026-10-06", now).expect("since"));
    opts.filters.until_ms = Some(parse_time_bound("2026-10-06T23:59:59Z", now).expect("until"));
    let url = format!("s3://{BUCKET}/AWSLogs/");

    // Reference: the same window without faults.
    let clean = FaultProxy::start(srv.addr(), Arc::new(|_: &Req| Fault::Pass));
    let (rep0, findings0, stats0) = s3_scan(&url, &clean.endpoint(), &opts).expect("clean scan");
    assert!(rep0.pruned);
    assert_eq!(rep0.retries, 0);
    assert!(!findings0.is_empty());
    let listings = clean.hits().iter().filter(|h| h.req.is_list()).count() as u64;
    assert_eq!(listings, rep0.list_requests);
    assert!(
        listings > 5,
        "delimiter discovery and day prefixes: {listings}"
    );

    // Every listing request (delimiter discovery and day prefixes) gets a 503
    // first, and one in two a delay on its retry.
    let script: Script = Arc::new(move |r: &Req| match (r.is_list(), r.attempt) {
        (true, 1) => Fault::SlowDown,
        (true, _) => Fault::Pass.delayed(30),
        _ => Fault::Pass,
    });
    let proxy = FaultProxy::start(srv.addr(), script);
    let (rep, findings, stats) = s3_scan(&url, &proxy.endpoint(), &opts).expect("scan");
    assert_eq!(rep.list_requests, rep0.list_requests);
    assert_eq!(rep.retries, rep0.list_requests, "{}", proxy.describe());
    assert_eq!(rep.keys_listed, rep0.keys_listed);
    assert_eq!(stats.records, stats0.records);
    assert_eq!(
        normalized(&findings, &format!("s3://{BUCKET}")),
        normalized(&findings0, &format!("s3://{BUCKET}"))
    );

    // A listing body cut part-way, once: the SDK reads listing bodies whole
    // and must retry this too.
    let script: Script = Arc::new(|r: &Req| match (r.is_list(), r.attempt) {
        (true, 1) => Fault::CutBody(60),
        _ => Fault::Pass,
    });
    let proxy = FaultProxy::start(srv.addr(), script);
    let (rep, findings, _) = s3_scan(&url, &proxy.endpoint(), &opts).expect("scan");
    assert_eq!(rep.retries, rep0.list_requests, "{}", proxy.describe());
    assert_eq!(findings.len(), findings0.len());

    // A prefix whose listing answers 503 every time: fatal, naming the prefix.
    let script: Script = Arc::new(|r: &Req| {
        if r.is_list() && r.query.contains("us-west-2") {
            Fault::SlowDown
        } else {
            Fault::Pass
        }
    });
    let proxy = FaultProxy::start(srv.addr(), script);
    let e = s3_scan(&url, &proxy.endpoint(), &opts).expect_err("must fail");
    let msg = e.to_string();
    assert!(matches!(e, SourceError::List { .. }), "{msg}");
    assert!(msg.starts_with(&format!("s3://{BUCKET}/AWSLogs/")), "{msg}");
    assert!(msg.contains("us-west-2"), "{msg}");
    assert!(msg.contains("SlowDown"), "{msg}");
    let tries = proxy
        .hits()
        .iter()
        .filter(|h| h.req.is_list() && h.req.query.contains("us-west-2"))
        .count();
    assert!(tries >= 3, "the SDK's 3 attempts per listing: {tries}");
}

#[test]
fn the_backoff_knob_keeps_aws_max_attempts_and_rejects_nonsense() {
    let srv = with_samples();
    let keys = log_keys(&srv);
    let mut plan = Plan::default();
    plan.always.insert(keys[0].clone(), Fault::SlowDown);
    let proxy = FaultProxy::start(srv.addr(), plan.script());
    let url = format!("s3://{BUCKET}/");
    let out = bin()
        .args(["scan", &url, "--endpoint-url", &proxy.endpoint()])
        .env("AWS_MAX_ATTEMPTS", "5")
        .output()
        .expect("run");
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let hits = proxy.requests_per_path();
    assert_eq!(hits.get(&format!("/{BUCKET}/{}", keys[0])), Some(&5));
    assert!(stdout.contains(", 1 failed, 4 retries"), "{stdout}");

    let out = bin()
        .args(["scan", &url, "--endpoint-url", &proxy.endpoint()])
        .env("TRAILTRIAGE_RETRY_BACKOFF_MS", "soon")
        .output()
        .expect("run");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("TRAILTRIAGE_RETRY_BACKOFF_MS=\"soon\": not a number of milliseconds"),
        "{stderr}"
    );
}

/// A response timeout small enough for a test, large enough that s3s-fs on
/// a busy machine never trips it.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(1);

#[test]
fn a_response_that_never_comes_times_out_is_retried_then_reported() {
    let srv = with_samples();
    let keys = log_keys(&srv);
    let dir = srv.bucket_dir(BUCKET);
    let opts = scan_opts();
    let (local, lstats) = run_local(&[Input::Path(dir.clone())], &opts, &Silent);
    // Two objects that hold findings: one gets no answer on its first
    // attempt only, the other never.
    let root = format!("{}/", dir.display());
    let with_findings: Vec<&String> = keys
        .iter()
        .filter(|k| local.iter().any(|f| f.source_file == format!("{root}{k}")))
        .collect();
    assert!(with_findings.len() >= 2, "{with_findings:?}");
    let (once, never) = (with_findings[0], with_findings[1]);
    let mut plan = Plan::default();
    plan.objects.insert(once.clone(), vec![Fault::NoAnswer]);
    plan.always.insert(never.clone(), Fault::NoAnswer);
    plan.listings = vec![Fault::NoAnswer];
    // The listing and `once` are retried once, `never` gets the SDK's 3 attempts.
    let expected = plan.expected_retries() + 2;
    assert_eq!(expected, 4);

    let proxy = FaultProxy::start(srv.addr(), plan.clone().script());
    let mut a = aws(&proxy.endpoint());
    a.timeouts = Timeouts {
        response: RESPONSE_TIMEOUT,
        ..Timeouts::default()
    };
    let url = format!("s3://{BUCKET}/");
    let started = Instant::now();
    let (rep, findings, stats) = s3_scan_with(&url, a, &opts).expect("scan goes on");
    let took = started.elapsed();
    let log = proxy.describe();
    // The listing waits once, then `never` three times in a row.
    assert!(took >= RESPONSE_TIMEOUT * 4, "{took:?}\n{log}");
    assert!(took < Duration::from_secs(30), "{took:?}\n{log}");

    let per_path = proxy.requests_per_path();
    let hits = |k: &str| per_path.get(&format!("/{BUCKET}/{k}")).copied();
    assert_eq!(hits(once), Some(2), "{log}");
    assert_eq!(hits(never), Some(3), "{log}");
    // Every unanswered request but the last of `never` was retried.
    assert_eq!(proxy.failures_injected(), expected + 1, "{log}");
    assert_eq!(rep.retries, expected, "{rep:?}\n{log}");
    assert_eq!(stats.retries, expected);

    let never_name = format!("s3://{BUCKET}/{never}");
    assert_eq!(stats.failed.len(), 1, "{:?}", stats.failed);
    let (name, why) = &stats.failed[0];
    assert_eq!(name, &never_name);
    assert!(why.starts_with("cannot download: timed out"), "{why}");
    assert!(why.contains("after 3 attempts"), "{why}");
    assert_eq!(rep.objects_failed, 1);
    assert_eq!(rep.objects_fetched, keys.len() as u64 - 1);
    assert_eq!(
        stats.files_seen,
        stats.files_read + stats.files_skipped + stats.files_failed
    );
    assert_eq!(stats.files_seen, lstats.files_seen);
    assert_eq!(stats.files_read, lstats.files_read - 1);
    assert_eq!(stats.files_failed, 1);

    // Everything but `never`, `once` included, exactly as on disk.
    let rest = tempfile::tempdir().expect("tempdir");
    copy_tree(&dir, rest.path());
    std::fs::remove_file(rest.path().join(never)).expect("remove");
    let (local_rest, _) = run_local(&[Input::Path(rest.path().to_path_buf())], &opts, &Silent);
    assert!(local_rest.len() < local.len());
    assert_eq!(
        normalized(&findings, &format!("s3://{BUCKET}")),
        normalized(&local_rest, &rest.path().display().to_string())
    );
    eprintln!("library scan with {RESPONSE_TIMEOUT:?} response timeouts: {took:?}; {name}: {why}");

    // Through the binary, with the flag: exit code 1, the object named on
    // stderr and in the report, the retries in the accounting.
    let proxy = FaultProxy::start(srv.addr(), plan.script());
    let started = Instant::now();
    let out = bin()
        .args(["scan", &url, "--endpoint-url", &proxy.endpoint()])
        .args(["--response-timeout", "1s"])
        .output()
        .expect("run");
    let took = started.elapsed();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(took >= RESPONSE_TIMEOUT * 4, "{took:?}");
    assert!(stderr.contains(&never_name), "{stderr}");
    assert!(
        stdout.contains(&format!("{never_name}: cannot download: timed out")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "files: {} seen = {} read + {} skipped + 1 failed",
            stats.files_seen, stats.files_read, stats.files_skipped
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "\nretries: {expected} (remote requests sent again"
        )),
        "{stdout}"
    );
    assert_eq!(
        proxy.requests_per_path().get(&format!("/{BUCKET}/{never}")),
        Some(&3)
    );
    eprintln!("binary scan with --response-timeout 1s: {took:?}");

    // A nonsense timeout is a usage error.
    let out = bin()
        .args(["scan", &url, "--endpoint-url", &proxy.endpoint()])
        .args(["--response-timeout", "0"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("--response-timeout"),
        "{}",
        text(&out.stderr)
    );
}

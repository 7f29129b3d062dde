//! CLI tests: the real binary on sample-logs, real public logs and broken input.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use flate2::{Compression, write::GzEncoder};
use trailtriage::finding::Finding;
use trailtriage::sink::schema::column_names;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trailtriage"));
    c.env_remove("NO_COLOR").env("COLUMNS", "100");
    c
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run trailtriage")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

const DENIED: &str = r#"{"eventVersion":"1.08","eventTime":"2026-10-01T12:00:00Z","eventID":"11111111-2222-3333-4444-555555555555","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","awsRegion":"us-east-1","recipientAccountId":"111122223333","sourceIPAddress":"198.51.100.7","userAgent":"aws-cli/2","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","accessKeyId":"AKIAEXAMPLE"},"errorCode":"AccessDenied","errorMessage":"User: arn:aws:iam::111122223333:user/alice is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::444455556666:role/Deploy","requestParameters":null}"#;

#[test]
fn sample_logs_report_and_exit_code() {
    let out = run(&["scan", root().join("sample-logs").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(s.contains("findings   192"), "{s}");
    assert!(
        s.contains("files: 22 seen = 21 read + 1 skipped + 0 failed"),
        "{s}"
    );
    assert!(
        s.contains("records: 2119 read = 2119 selected") || s.contains("records: 2119 read ="),
        "{s}"
    );
    assert!(s.contains("cross_account_denied_ambiguous"));
    assert!(s.contains("CloudTrail-Digest file"));
    assert!(
        !s.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );
}

#[test]
fn broken_inputs_are_named_counted_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = format!(r#"{{"Records":[{DENIED}]}}"#);
    std::fs::write(d.join("good.json.gz"), gz(good.as_bytes())).unwrap();
    let full = gz(good.repeat(50).as_bytes());
    std::fs::write(d.join("truncated.json.gz"), &full[..full.len() / 2]).unwrap();
    std::fs::write(d.join("notjson.json"), b"this is not json").unwrap();
    std::fs::write(d.join("empty.json"), b"").unwrap();
    std::fs::write(d.join("zero.json"), br#"{"Records":[]}"#).unwrap();
    let digest =
        d.join("111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_20261001T000000Z.json.gz");
    std::fs::write(&digest, gz(br#"{"awsAccountId":"111122223333"}"#)).unwrap();
    std::fs::write(d.join("ignored.txt"), b"not walked").unwrap();
    let out = run(&[
        "scan",
        d.to_str().unwrap(),
        "--report",
        "-",
        "--report-format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1), "unreadable input gives exit 1");
    let err = text(&out.stderr);
    assert!(
        err.contains("truncated.json.gz") && err.contains("gunzip"),
        "{err}"
    );
    assert!(err.contains("notjson.json"), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let st = &v["stats"];
    assert_eq!(st["files_seen"], 6);
    assert_eq!(st["files_read"], 2, "{st}");
    assert_eq!(st["files_skipped"], 2, "digest and empty file: {st}");
    assert_eq!(st["files_failed"], 2);
    // good.json.gz: 1 record; truncated.json.gz: the 2 records before the
    // cut are read and the cut one is malformed; notjson.json: 1 malformed value.
    assert_eq!(st["records"]["read"], 5, "{st}");
    assert_eq!(st["records"]["selected"], 3);
    assert_eq!(st["records"]["malformed"], 2, "{st}");
    assert_eq!(st["duplicates"], 2, "the same eventID three times");
    assert!(err.contains("2 record(s) before it were read"), "{err}");
    assert_eq!(v["findings"], 1);
    assert_eq!(
        v["by_cause"][0]["cause_id"],
        "cross_account_denied_ambiguous"
    );
}

#[test]
fn a_file_named_on_the_command_line_is_read_whatever_its_extension() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("export.log");
    std::fs::write(&p, gz(format!("{DENIED}\n{DENIED}\n").as_bytes())).unwrap();
    let out = run(&["scan", p.to_str().unwrap(), "--jsonl", "-"]);
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(lines.len(), 1, "NDJSON duplicate eventID is deduped");
}

#[test]
fn stdin_and_jsonl_columns_match_the_schema() {
    let mut child = bin()
        .args(["scan", "-", "--jsonl", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&gz(DENIED.as_bytes()))
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let line = text(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    let keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    let mut want = column_names();
    let mut got = keys.clone();
    want.sort();
    got.sort();
    assert_eq!(got, want, "JSONL lines carry exactly the Parquet columns");
    assert_eq!(v["source_file"], "<stdin>");
    assert_eq!(v["role_arn_source"], "error_message");
    assert_eq!(
        v["target_role_arn"],
        "arn:aws:iam::444455556666:role/Deploy"
    );
    assert_eq!(v["cross_account"], true);
    assert_eq!(v["trail_perspective"], "caller");
    let sec: Vec<&str> = v["secondary_causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert!(
        sec.contains(&"external_id_missing") && sec.contains(&"mfa_required_not_provided"),
        "{sec:?}"
    );
}

#[test]
fn parquet_round_trip_equals_jsonl() {
    let dir = tempfile::tempdir().unwrap();
    let pq = dir.path().join("out.parquet");
    let jl = dir.path().join("out.jsonl");
    let out = run(&[
        "scan",
        root().join("sample-logs").to_str().unwrap(),
        "--parquet",
        pq.to_str().unwrap(),
        "--jsonl",
        jl.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        out.stdout.is_empty(),
        "no report on stdout when outputs are given"
    );
    let back = trailtriage::sink::parquet::read_file(&pq).unwrap();
    let lines: Vec<Finding> = std::fs::read_to_string(&jl)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(back.len(), 192);
    assert_eq!(back, lines);
    // No temporary file is left beside the outputs.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn output_is_identical_whatever_the_thread_count() {
    let logs = root().join("sample-logs");
    let a = run(&["scan", logs.to_str().unwrap(), "-j1", "--jsonl", "-"]);
    let b = run(&["scan", logs.to_str().unwrap(), "-j4", "--jsonl", "-"]);
    assert_eq!(a.stdout, b.stdout);
    let a = run(&[
        "scan",
        logs.to_str().unwrap(),
        "-j1",
        "--report-format",
        "markdown",
    ]);
    let b = run(&[
        "scan",
        logs.to_str().unwrap(),
        "-j3",
        "--report-format",
        "markdown",
    ]);
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn filters_narrow_the_findings() {
    let logs = root().join("sample-logs");
    let count = |extra: &[&str]| -> u64 {
        let mut args = vec!["scan", logs.to_str().unwrap(), "--report-format", "json"];
        args.extend_from_slice(extra);
        let out = run(&args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["findings"].as_u64().unwrap()
    };
    let all = count(&[]);
    let saml = count(&["--cause", "saml_invalid_response"]);
    assert!(saml > 0 && saml < all);
    assert_eq!(count(&["--since", "2030-01-01"]), 0);
    assert_eq!(count(&["--until", "2000-01-01"]), 0);
    assert_eq!(
        count(&["--since", "2026-10-05", "--until", "2026-10-08"]),
        all
    );
    assert!(count(&["--role", "*AWSServiceRoleFor*"]) >= 1);
    assert!(count(&["--account", "777788889999"]) < all);
    assert!(count(&["--log-region", "us-east-1"]) < all);
    assert!(count(&["--caller", "*:root"]) >= 1);
    let more = count(&["--all-denied"]);
    assert!(more > all, "--all-denied adds other denied events");
}

#[test]
fn fail_on_gives_exit_3() {
    let logs = root().join("sample-logs");
    let out = run(&[
        "scan",
        logs.to_str().unwrap(),
        "--fail-on",
        "high",
        "--report",
        "/dev/null",
    ]);
    assert_eq!(out.status.code(), Some(3));
    let out = run(&[
        "scan",
        logs.to_str().unwrap(),
        "--fail-on",
        "role_not_found",
        "--report",
        "/dev/null",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "no role_not_found from the log alone"
    );
    let out = run(&["scan", logs.to_str().unwrap(), "--fail-on", "bogus"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--fail-on"));
}

#[test]
fn usage_errors_exit_2_with_a_clear_message() {
    for (args, needle) in [
        (vec!["scan", "x", "--cause", "nope"], "--cause"),
        (
            vec!["scan", "x", "--since", "yesterday"],
            "cannot read time",
        ),
        (vec!["scan", "x", "--account", "12"], "12-digit"),
        (vec!["scan"], "required"),
        (vec!["causes", "nope"], "unknown cause id"),
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            text(&out.stderr).contains(needle),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn missing_input_is_reported_not_fatal() {
    let out = run(&["scan", "/nonexistent/trailtriage-logs"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("/nonexistent/trailtriage-logs"));
}

#[test]
fn decompression_bomb_is_stopped_with_a_message_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bomb.json.gz");
    let mut big = b"{\"Records\":[".to_vec();
    big.extend(std::iter::repeat_n(b' ', 5 << 20));
    big.extend(b"]}");
    std::fs::write(&p, gz(&big)).unwrap();
    let out = run(&["scan", p.to_str().unwrap(), "--max-decompressed-size", "1M"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("bomb.json.gz") && err.contains("decompression bomb"),
        "{err}"
    );
}

#[test]
fn broken_pipe_exits_quietly() {
    let mut child = bin()
        .args([
            "scan",
            root().join("sample-logs").to_str().unwrap(),
            "--jsonl",
            "-",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("error"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn real_public_logs_are_read_and_the_malformed_file_is_named() {
    let real = root().join("../shared/real-logs");
    assert!(
        real.is_dir(),
        "shared/real-logs must sit beside the project root"
    );
    let out = run(&["scan", real.to_str().unwrap(), "--jsonl", "-"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "one malformed file and one sidecar"
    );
    let err = text(&out.stderr);
    assert!(err.contains("aws.execution.ec2-user-data.json"), "{err}");
    let rows: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // 4 genuine denied AssumeRole (Stratus, requestParameters null) + 1 ExpiredToken (Panther).
    assert_eq!(rows.len(), 5);
    let stratus: Vec<&serde_json::Value> = rows
        .iter()
        .filter(|r| r["error_code"] == "AccessDenied")
        .collect();
    assert_eq!(stratus.len(), 4);
    for r in stratus {
        assert_eq!(r["role_arn_source"], "error_message");
        assert!(
            r["target_role_arn"]
                .as_str()
                .unwrap()
                .starts_with("arn:aws:iam::")
        );
        assert_eq!(r["cause_id"], "same_account_denied_ambiguous");
        assert_eq!(r["confidence"], "possible");
        assert_eq!(r["caller_type"], "IAMUser");
    }
    assert!(
        rows.iter()
            .any(|r| r["cause_id"] == "caller_credentials_expired")
    );
}

#[test]
fn causes_command_lists_and_explains() {
    let out = run(&["causes"]);
    assert_eq!(out.status.code(), Some(0));
    let s = text(&out.stdout);
    assert!(
        s.contains("trust_policy_principal_not_allowed")
            && s.contains("role_path_too_long_console")
    );
    let out = run(&["causes", "scp_deny"]);
    let s = text(&out.stdout);
    assert!(
        s.contains("remediation") && s.contains("service control policy"),
        "{s}"
    );
}

#[test]
fn outputs_are_written_atomically_and_bad_targets_fail_cleanly() {
    let out = run(&[
        "scan",
        root().join("sample-logs").to_str().unwrap(),
        "--parquet",
        "/nonexistent-dir/x.parquet",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("/nonexistent-dir/x.parquet"));
    assert!(!Path::new("/nonexistent-dir").exists());
}

/// `--version` names the build: which block scanner was compiled in. The
/// repository builds for x86-64-v3 (.cargo/config.toml), so on x86-64 the
/// binary under test says AVX2 unless RUSTFLAGS overrode that, and then the
/// scanner the library reports must agree with what the binary says.
#[test]
fn version_names_the_block_scanner_of_the_build() {
    let out = run(&["--version"]);
    assert!(out.status.success());
    let v = text(&out.stdout);
    assert!(
        v.starts_with(&format!("trailtriage {}", env!("CARGO_PKG_VERSION"))),
        "{v}"
    );
    let want = match trailtriage::scan::BLOCK_SCANNER {
        "avx2" => "AVX2 block scanner",
        "sse2" => "SSE2 block scanner",
        _ => "portable block scanner",
    };
    assert!(v.contains(want), "{v}");
}

//! Hostile and broken input: each case is reported with its file and reason,
//! and all other input is read. Terminal escapes and newlines from logs never
//! reach a terminal or a Markdown report raw.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};

use flate2::{Compression, write::GzEncoder};
use serde_json::Value;

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn record(id: &str, ua: &str, session: &str) -> Value {
    serde_json::json!({
        "eventVersion": "1.08", "eventTime": "2026-10-01T12:00:00Z", "eventID": id,
        "eventSource": "sts.amazonaws.com", "eventName": "AssumeRole", "awsRegion": "us-east-1",
        "recipientAccountId": "111122223333", "sourceIPAddress": "198.51.100.7", "userAgent": ua,
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice",
                         "accountId": "111122223333", "accessKeyId": "AKIAEXAMPLE"},
        "errorCode": "AccessDenied",
        "errorMessage": "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::111122223333:role/Deploy",
        "requestParameters": {"roleArn": "arn:aws:iam::111122223333:role/Deploy", "roleSessionName": session}
    })
}

fn envelope(recs: &[Value]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "Records": recs })).unwrap()
}

fn scan(dir: &Path, extra: &[&str]) -> (Output, Value) {
    let mut args = vec![
        "scan",
        dir.to_str().unwrap(),
        "--report",
        "-",
        "--report-format",
        "json",
    ];
    args.extend_from_slice(extra);
    let out = Command::new(env!("CARGO_BIN_EXE_trailtriage"))
        .args(&args)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: stdout {} stderr {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out, v)
}

fn failed_reason(v: &Value, file: &str) -> String {
    v["stats"]["failed"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f[0].as_str().unwrap().ends_with(file))
        .map(|f| f[1].as_str().unwrap().to_string())
        .unwrap_or_else(|| panic!("{file} not reported as failed: {}", v["stats"]))
}

#[test]
fn every_hostile_file_is_reported_and_the_rest_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = envelope(&[record("good-1", "aws-cli/2", "s")]);
    std::fs::write(d.join("good.json.gz"), gz(&good)).unwrap();

    // gzip with trailing garbage: the records are read, the garbage reported
    let mut v = gz(&envelope(&[record("garbage-1", "ua", "s")]));
    v.extend(b"\x00\x01not gzip at all");
    std::fs::write(d.join("trailing.json.gz"), v).unwrap();

    // concatenated gzip members: both members are read
    let mut v = gz(b"{\"Records\":[");
    v.extend(gz(
        &serde_json::to_vec(&record("multi-1", "ua", "s")).unwrap()
    ));
    v.extend(gz(b",").iter());
    v.extend(gz(
        &serde_json::to_vec(&record("multi-2", "ua", "s")).unwrap()
    ));
    v.extend(gz(b"]}"));
    std::fs::write(d.join("multi.json.gz"), v).unwrap();

    // truncated gzip: records before the cut are read
    let many: Vec<Value> = (0..200)
        .map(|i| record(&format!("trunc-{i:03}"), "ua", "s"))
        .collect();
    let full = gz(&envelope(&many));
    std::fs::write(d.join("truncated.json.gz"), &full[..full.len() * 3 / 4]).unwrap();

    // deeply nested JSON inside a record
    let mut deep = b"{\"Records\":[{\"eventName\":\"AssumeRole\",\"x\":".to_vec();
    deep.extend(std::iter::repeat_n(b'[', 200_000));
    deep.extend(std::iter::repeat_n(b']', 200_000));
    deep.extend(b"}]}");
    std::fs::write(d.join("deep.json"), deep).unwrap();

    // invalid UTF-8 inside a failed record
    let mut bad_utf8 = serde_json::to_vec(&record("utf8-1", "UAMARK", "s")).unwrap();
    let pos = bad_utf8.windows(6).position(|w| w == b"UAMARK").unwrap();
    bad_utf8[pos] = 0xff;
    let mut f = b"{\"Records\":[".to_vec();
    f.extend(&bad_utf8);
    f.extend(b",");
    f.extend(serde_json::to_vec(&record("utf8-ok", "ua", "s")).unwrap());
    f.extend(b"]}");
    std::fs::write(d.join("utf8.json"), f).unwrap();

    // numbers where strings belong, duplicate keys
    let mut r = record("types-1", "ua", "s");
    r["eventName"] = Value::from(7);
    r["userIdentity"]["arn"] = Value::from(12.5);
    std::fs::write(
        d.join("types.json"),
        envelope(&[r, record("types-2", "ua", "s")]),
    )
    .unwrap();
    let dup = r#"{"Records":[{"eventID":"dup-1","eventID":"dup-1b","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","errorCode":"AccessDenied","errorCode":"AccessDenied","eventTime":"2026-10-01T00:00:00Z","userIdentity":{"type":"IAMUser","accountId":"111122223333"}}]}"#;
    std::fs::write(d.join("dupkeys.json"), dup).unwrap();

    // a JSON null file, an empty Records
    std::fs::write(d.join("null.json"), b"null").unwrap();
    std::fs::write(d.join("emptyrecords.json"), br#"{"Records":[]}"#).unwrap();

    // a symlink loop
    std::fs::create_dir(d.join("loop")).unwrap();
    std::os::unix::fs::symlink(d, d.join("loop/back")).unwrap();

    let (out, v) = scan(d, &[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let st = &v["stats"];
    assert!(
        st["records"]["read"].as_u64().unwrap()
            == st["records"]["selected"].as_u64().unwrap()
                + st["records"]["not_selected"].as_u64().unwrap()
                + st["records"]["malformed"].as_u64().unwrap()
    );
    assert!(failed_reason(&v, "trailing.json.gz").contains("trailing garbage"));
    let t = failed_reason(&v, "truncated.json.gz");
    assert!(
        t.contains("gunzip") && t.contains("record(s) before it were read"),
        "{t}"
    );
    assert!(failed_reason(&v, "null.json").contains("not a CloudTrail log"));
    let loops = st["skipped_reasons"].as_object().unwrap();
    assert!(
        loops.keys().any(|k| k.contains("symlink loop")),
        "{loops:?}"
    );

    let jsonl = Command::new(env!("CARGO_BIN_EXE_trailtriage"))
        .args(["scan", d.to_str().unwrap(), "--jsonl", "-"])
        .output()
        .unwrap();
    let ids: Vec<String> = String::from_utf8(jsonl.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["event_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    for want in [
        "good-1",
        "garbage-1",
        "multi-1",
        "multi-2",
        "trunc-000",
        "utf8-ok",
        "types-2",
    ] {
        assert!(ids.iter().any(|i| i == want), "{want} missing from {ids:?}");
    }
    let truncated_read = ids.iter().filter(|i| i.starts_with("trunc-")).count();
    assert!(
        truncated_read > 50,
        "records before the gzip cut are read: {truncated_read}"
    );
    assert!(
        !ids.iter().any(|i| i == "utf8-1"),
        "invalid UTF-8 record is malformed, not selected"
    );
    // eventName 7 is not a string: the record is still in scope because its
    // message names sts:AssumeRole (causes.md §1), with the wrong-typed
    // fields read as absent.
    assert!(
        ids.iter().any(|i| i == "types-1"),
        "types-1 kept via its message"
    );
    assert!(
        ids.iter().any(|i| i.starts_with("dup-1")),
        "duplicate keys: the record is still read"
    );
}

#[test]
fn a_100_mb_single_record_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = record("huge-1", "ua", "s");
    r["requestParameters"]["policy"] = Value::from("x".repeat(100 << 20));
    std::fs::write(dir.path().join("huge.json.gz"), gz(&envelope(&[r]))).unwrap();
    let (out, v) = scan(dir.path(), &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(v["findings"], 1);
}

#[test]
fn escapes_and_newlines_from_logs_never_reach_the_terminal_or_markdown_raw() {
    let dir = tempfile::tempdir().unwrap();
    let evil_ua = "evil\x1b]0;pwned\x07\x1b[31mred\nsecond line | `code` <script>";
    let evil_session = "sess\x1b[2J\r\nname";
    let mut r = record("evil-1", evil_ua, evil_session);
    r["userIdentity"]["arn"] = Value::from("arn:aws:iam::111122223333:user/\x1b[31malice\nx");
    std::fs::write(dir.path().join("evil.json"), envelope(&[r])).unwrap();
    for fmt in ["text", "markdown"] {
        let out = Command::new(env!("CARGO_BIN_EXE_trailtriage"))
            .args([
                "scan",
                dir.path().to_str().unwrap(),
                "--report-format",
                fmt,
                "--color",
                "never",
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        let s = String::from_utf8(out.stdout).unwrap();
        assert!(!s.contains('\x1b'), "{fmt}: raw escape in the report");
        assert!(
            !s.contains('\x07') && !s.contains('\r'),
            "{fmt}: raw control character"
        );
        assert!(s.contains("alice"), "{fmt}: the caller is still shown");
        if fmt == "markdown" {
            assert!(!s.contains("<script>"), "markdown escapes HTML");
        }
    }
    // JSON Lines keep the exact value (JSON escapes it).
    let out = Command::new(env!("CARGO_BIN_EXE_trailtriage"))
        .args(["scan", dir.path().to_str().unwrap(), "--jsonl", "-"])
        .output()
        .unwrap();
    let line = String::from_utf8(out.stdout).unwrap();
    assert!(!line.contains('\x1b'), "escaped inside JSON");
    let v: Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(v["user_agent"], evil_ua);
    assert_eq!(v["role_session_name"], evil_session);
}

#[test]
fn external_id_values_never_reach_any_output() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = record("xid-1", "ua", "s");
    r["requestParameters"]["externalId"] = Value::from("S3CR3T-EXTERNAL-ID-VALUE");
    r["requestParameters"]["roleArn"] = Value::from("arn:aws:iam::444455556666:role/Partner");
    std::fs::write(dir.path().join("x.json"), envelope(&[r])).unwrap();
    let pq = dir.path().join("o.parquet");
    let out = Command::new(env!("CARGO_BIN_EXE_trailtriage"))
        .args([
            "scan",
            dir.path().join("x.json").to_str().unwrap(),
            "--jsonl",
            "-",
            "--parquet",
            pq.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let all = [
        out.stdout.clone(),
        out.stderr.clone(),
        std::fs::read(&pq).unwrap(),
    ]
    .concat();
    assert!(
        !all.windows(9).any(|w| w == b"S3CR3T-EX"),
        "ExternalId value leaked"
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["external_id_present"], true);
    assert!(
        v["secondary_causes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "external_id_mismatch")
    );
}

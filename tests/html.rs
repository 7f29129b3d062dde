//! The HTML report, tested as a person would see it: rendered by headless
//! Chromium (Debian package `chromium`, installed by scripts/test.sh), after
//! its scripts ran. A missing Chromium fails these tests; it never skips them.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn trailtriage(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_trailtriage"))
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .expect("run trailtriage")
}

struct Browser {
    stdout: String,
    stderr: String,
}

/// Run headless Chromium on `url` with an empty profile, with a deadline.
fn chromium(url: &str, extra: &[&str]) -> Browser {
    let profile = tempfile::tempdir().expect("temp dir");
    let mut cmd = Command::new("chromium");
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--enable-logging=stderr",
        "--v=0",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .args(extra)
    .arg(url)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => panic!(
            "cannot start chromium ({e}): the HTML report test needs Debian's chromium; \
             run scripts/test.sh (it installs it) or `apt-get install -y chromium`"
        ),
    };
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        match child.try_wait().expect("wait for chromium") {
            Some(_) => break,
            None if Instant::now() > deadline => {
                let _ = child.kill();
                panic!("chromium did not finish within 180 s on {url}");
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    Browser {
        stdout: t_out.join().unwrap_or_default(),
        stderr: t_err.join().unwrap_or_default(),
    }
}

/// The DOM after the page's scripts ran, checked for script errors.
fn dom(url: &str) -> String {
    let b = chromium(url, &["--dump-dom"]);
    assert!(
        b.stdout.contains("</html>"),
        "chromium printed no DOM for {url}; stderr:\n{}",
        b.stderr
    );
    let console: Vec<&str> = b
        .stderr
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .collect();
    assert!(
        console.is_empty(),
        "console messages on {url}:\n{}",
        console.join("\n")
    );
    assert!(
        !b.stdout.contains(r#"id="tt-js-error""#),
        "the page recorded a script error"
    );
    assert!(
        b.stdout.contains(r#"data-tt-ready="1""#),
        "the page's script did not finish"
    );
    b.stdout
}

fn url(p: &Path) -> String {
    format!("file://{}", p.display())
}

fn render_sample(dir: &Path) -> PathBuf {
    let report = dir.join("report.html");
    let out = trailtriage(&[
        "scan",
        root().join("sample-logs").to_str().expect("utf-8 path"),
        "--report",
        report.to_str().expect("utf-8 path"),
        "--report-format",
        "html",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    report
}

/// The most frequent cause and its count, from the JSON report.
fn top_cause() -> (String, u64) {
    let out = trailtriage(&[
        "scan",
        root().join("sample-logs").to_str().expect("utf-8 path"),
        "--report-format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let c = &v["by_cause"][0];
    (
        c["cause_id"].as_str().expect("cause_id").to_string(),
        c["count"].as_u64().expect("count"),
    )
}

#[test]
fn sample_logs_page_shows_the_counts_and_runs_without_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let report = render_sample(dir.path());
    let html = std::fs::read_to_string(&report).expect("read report");

    // Self-contained: nothing to fetch (log text may mention URLs; markup may not).
    for needle in ["<link", " src=", "href=\"http", "@import", "url("] {
        assert!(
            !html.contains(needle),
            "the page refers to an outside resource ({needle})"
        );
    }

    let d = dom(&url(&report));
    // Overview, static.
    assert!(d.contains(r#"<span id="tt-findings">192</span>"#), "{d}");
    assert!(d.contains(r#"<span id="tt-files-read">21</span> read"#));
    // The chart and the four bar panels are there.
    assert!(d.contains("<svg class=\"chart\""));
    for id in ["top-causes", "top-pairs", "top-callers", "top-roles"] {
        assert!(d.contains(&format!("id=\"{id}\"")), "no panel {id}");
    }
    // A cause count, in the bars and in the cause's own section.
    let (cause, n) = top_cause();
    assert!(d.contains(&format!("<option value=\"{cause}\">{cause} ({n})</option>")));
    assert!(d.contains(&format!("id=\"cause-{cause}\"")));
    assert!(d.contains(&format!("<span class=\"bar-n\">{n}</span>")));
    // The table, written by the script: the first page of 100 rows of 192.
    assert!(
        d.contains("Showing 1–100 of 192 matching findings."),
        "table status missing"
    );
    assert_eq!(d.matches("<tr class=\"row-").count(), 100);
    assert!(!d.contains("tt-capped"), "192 findings must not be capped");

    // The same page opened on a filtered link: only that cause's rows.
    let filtered = dom(&format!("{}#findings?cause={cause}", url(&report)));
    assert!(
        filtered.contains(&format!("of {n} matching findings.")),
        "filtered status missing"
    );

    // A screenshot, for people (and a check that the page paints).
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("html-report.png");
    let _ = std::fs::remove_file(&shot);
    let b = chromium(
        &url(&report),
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1400,2000",
            "--hide-scrollbars",
        ],
    );
    let png = std::fs::read(&shot).unwrap_or_else(|e| {
        panic!(
            "no screenshot at {} ({e}); stderr:\n{}",
            shot.display(),
            b.stderr
        )
    });
    assert!(png.starts_with(b"\x89PNG") && png.len() > 20_000);
}

/// The serialized DOM with every attribute value emptied (serialized values
/// are always double-quoted, with `"` inside escaped).
fn without_attribute_values(dom: &str) -> String {
    let re = regex::Regex::new(r#"="[^"]*""#).expect("regex");
    re.replace_all(dom, "=\"\"").into_owned()
}

const HOSTILE_UA: &str = "</script><img src=x onerror=alert(1)>";

fn hostile_record() -> serde_json::Value {
    serde_json::json!({
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLEHOSTILE01",
            "arn": "arn:aws:iam::111122223333:user/mallory",
            "accountId": "111122223333",
            "accessKeyId": "AKIAEXAMPLEHOSTILE01",
            "userName": "mallory"
        },
        "eventTime": "2026-10-01T07:21:57Z",
        "eventSource": "sts.amazonaws.com",
        "eventName": "AssumeRole",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.66",
        "userAgent": HOSTILE_UA,
        "errorCode": "AccessDenied",
        "errorMessage": "User: arn:aws:iam::111122223333:user/mallory is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::444455556666:role/<b>Deploy</b>",
        "requestParameters": {
            "roleArn": "arn:aws:iam::444455556666:role/<b>Deploy</b>",
            "roleSessionName": "\u{1b}[31mred\u{1b}[0m\u{2028}</script>"
        },
        "responseElements": null,
        "requestID": "44b71776-e6b4-5c39-afb7-29b31cc10299",
        "eventID": "0badc0de-0000-4000-8000-000000000001",
        "readOnly": true,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": "111122223333",
        "eventCategory": "Management"
    })
}

#[test]
fn hostile_log_text_stays_text() {
    let dir = tempfile::tempdir().expect("temp dir");
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).expect("mkdir");
    let body = serde_json::json!({ "Records": [hostile_record()] });
    std::fs::write(logs.join("hostile.json"), body.to_string()).expect("write log");
    let report = dir.path().join("report.html");
    let out = trailtriage(&[
        "scan",
        logs.to_str().expect("utf-8 path"),
        "--report",
        report.to_str().expect("utf-8 path"),
        "--report-format",
        "html",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(&report).expect("read report");
    // In the file: no raw escape character, no closing script tag but ours,
    // no markup from the log.
    assert!(!html.contains('\u{1b}'), "raw ESC in the page");
    assert!(!html.contains('\u{2028}'), "raw U+2028 in the page");
    assert_eq!(
        html.matches("</script>").count(),
        3,
        "one per script element"
    );
    assert!(!html.contains("<img"));
    assert!(!html.contains("<b>Deploy"));

    let d = dom(&url(&report));
    assert!(d.contains(r#"<span id="tt-findings">1</span>"#));
    assert!(d.contains("Showing 1–1 of 1 matching findings."));
    // The user agent is in the table as text, the role ARN in the bars as text,
    // the ANSI escapes of the session name are shown, not interpreted.
    assert!(
        d.contains("&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"),
        "user agent not shown as text"
    );
    assert!(
        d.contains("role/&lt;b&gt;Deploy&lt;/b&gt;"),
        "role ARN not shown as text"
    );
    assert!(
        d.contains(r"\u{1b}[31mred\u{1b}[0m"),
        "session name not shown"
    );
    // Elements, not attribute values (which may hold `<` as text).
    let tags = without_attribute_values(&d);
    assert!(
        !tags.contains("<img"),
        "markup from the log became an element"
    );
    assert!(
        !tags.contains("<b>Deploy"),
        "markup from the log became an element"
    );
    assert!(!d.contains('\u{1b}'));
}

//! The LookupEvents source against a responder on 127.0.0.1 that speaks
//! awsJson1.1 (no emulator implements LookupEvents; see shared/s3-server.md).
//! The responder checks every request (target, attributes, time range, page
//! size, tokens), pages, throttles once, and records when each request came
//! so the rate limit and the parallel regions are asserted too.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use trailtriage::filter::parse_time_bound;
use trailtriage::finding::Finding;
use trailtriage::pipeline::{Collector, ScanOptions, Silent, Stats};

mod s3s_fs;
use trailtriage::select::Prefilter;
use trailtriage::source::lookup::{LookupOptions, LookupReport, run_lookup};
use trailtriage::source::{AwsOptions, SourceError, StaticCredentials};

const SINCE: &str = "2026-10-01T00:00:00Z";
const UNTIL: &str = "2026-10-08T00:00:00Z";
/// Events per page the responder returns (the SDK asks for 50).
const PAGE: usize = 2;
/// A region whose requests are refused.
const DENIED_REGION: &str = "eu-north-1";

#[derive(Debug, Clone)]
struct Seen {
    at: Instant,
    region: String,
    attr: (String, String),
    token: Option<String>,
    status: u16,
}

#[derive(Default)]
struct State {
    seen: Vec<Seen>,
    /// Problems found in requests; the test fails if any.
    violations: Vec<String>,
    throttled_once: bool,
}

struct Responder {
    port: u16,
    state: Arc<Mutex<State>>,
}

fn ms(s: &str) -> i64 {
    parse_time_bound(s, 0).expect("time")
}

fn record(id: &str, name: &str, region: &str, failed: bool) -> Value {
    let acct = "111122223333";
    let mut r = json!({
        "eventVersion": "1.08", "eventTime": "2026-10-03T10:00:00Z", "eventID": id,
        "eventSource": "sts.amazonaws.com", "eventName": name,
        "awsRegion": region, "recipientAccountId": acct,
        "sourceIPAddress": "203.0.113.7", "userAgent": "aws-cli/2.15",
        "userIdentity": {"type": "IAMUser", "arn": format!("arn:aws:iam::{acct}:user/alice"), "accountId": acct},
        "requestParameters": {"roleArn": format!("arn:aws:iam::{acct}:role/Deploy"), "roleSessionName": "s"}
    });
    if failed {
        r["errorCode"] = json!("AccessDenied");
        r["errorMessage"] = json!(format!(
            "User: arn:aws:iam::{acct}:user/alice is not authorized to perform: sts:{name} on resource: arn:aws:iam::{acct}:role/Deploy because no identity-based policy allows the sts:{name} action"
        ));
    }
    r
}

/// The events stored per region: (event id, event name, failed?).
fn events(region: &str) -> Vec<(String, &'static str, bool)> {
    let mut v = Vec::new();
    match region {
        "us-east-1" => {
            // Five AssumeRole events: three pages of two.
            for i in 0..5 {
                v.push((format!("use1-ar-{i}"), "AssumeRole", i != 2));
            }
            v.push(("use1-saml-0".into(), "AssumeRoleWithSAML", true));
            v.push(("use1-root-0".into(), "AssumeRoot", true));
            v.push(("use1-gci-0".into(), "GetCallerIdentity", false));
        }
        "eu-west-1" => {
            v.push(("euw1-ar-0".into(), "AssumeRole", true));
            v.push(("euw1-wi-0".into(), "AssumeRoleWithWebIdentity", true));
        }
        _ => {}
    }
    v
}

fn region_of(auth: &str) -> String {
    // Credential=AKID/DATE/REGION/cloudtrail/aws4_request
    auth.split("Credential=")
        .nth(1)
        .and_then(|c| c.split('/').nth(2))
        .unwrap_or("")
        .to_string()
}

impl Responder {
    fn start() -> Responder {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        let state: Arc<Mutex<State>> = Arc::default();
        let st = state.clone();
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(s) = s else { continue };
                let st = st.clone();
                std::thread::spawn(move || serve(s, &st));
            }
        });
        Responder { port, state }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn seen(&self) -> Vec<Seen> {
        self.state.lock().expect("lock").seen.clone()
    }

    fn assert_no_violations(&self) {
        let v = self.state.lock().expect("lock").violations.clone();
        assert!(v.is_empty(), "bad requests: {v:#?}");
    }
}

fn serve(s: TcpStream, st: &Mutex<State>) {
    let mut w = s.try_clone().expect("clone");
    let mut r = BufReader::new(s);
    // Keep-alive: answer requests on this connection until it closes.
    loop {
        let mut line = String::new();
        match r.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut headers = BTreeMap::new();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        let (status, reply) = answer(&line, &headers, &body, st);
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/x-amz-json-1.1\r\nx-amzn-RequestId: req-1\r\nContent-Length: {}\r\n\r\n",
            reply.len()
        );
        if w.write_all(head.as_bytes())
            .and_then(|()| w.write_all(reply.as_bytes()))
            .is_err()
        {
            return;
        }
    }
}

fn answer(
    line: &str,
    h: &BTreeMap<String, String>,
    body: &[u8],
    st: &Mutex<State>,
) -> (String, String) {
    let mut bad = Vec::new();
    if !line.starts_with("POST / ") {
        bad.push(format!("request line {line:?}"));
    }
    if h.get("x-amz-target").map(String::as_str) != Some("CloudTrail_20131101.LookupEvents") {
        bad.push(format!("X-Amz-Target {:?}", h.get("x-amz-target")));
    }
    if h.get("content-type").map(String::as_str) != Some("application/x-amz-json-1.1") {
        bad.push(format!("content-type {:?}", h.get("content-type")));
    }
    let region = region_of(h.get("authorization").map_or("", String::as_str));
    let req: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let attrs = req["LookupAttributes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if attrs.len() != 1 {
        bad.push(format!(
            "{} lookup attributes (LookupEvents takes one)",
            attrs.len()
        ));
    }
    let key = attrs
        .first()
        .and_then(|a| a["AttributeKey"].as_str())
        .unwrap_or("")
        .to_string();
    let value = attrs
        .first()
        .and_then(|a| a["AttributeValue"].as_str())
        .unwrap_or("")
        .to_string();
    let ok_attr = match key.as_str() {
        "EventName" => [
            "AssumeRole",
            "AssumeRoleWithSAML",
            "AssumeRoleWithWebIdentity",
            "AssumeRoot",
        ]
        .contains(&value.as_str()),
        "EventSource" => value == "sts.amazonaws.com",
        _ => false,
    };
    if !ok_attr {
        bad.push(format!("attribute {key}={value}"));
    }
    let secs = |k: &str| req[k].as_f64().map(|f| (f * 1000.0).round() as i64);
    if secs("StartTime") != Some(ms(SINCE)) || secs("EndTime") != Some(ms(UNTIL)) {
        bad.push(format!(
            "time range {:?}..{:?}",
            req["StartTime"], req["EndTime"]
        ));
    }
    if req["MaxResults"].as_i64() != Some(50) {
        bad.push(format!("MaxResults {:?}", req["MaxResults"]));
    }
    let token = req["NextToken"].as_str().map(str::to_string);
    // Tokens name the query they continue: "REGION|KEY|VALUE|OFFSET".
    let offset = match &token {
        None => 0,
        Some(t) => {
            let parts: Vec<&str> = t.split('|').collect();
            if parts.len() != 4 || parts[0] != region || parts[1] != key || parts[2] != value {
                bad.push(format!(
                    "token {t:?} does not continue {region}/{key}={value}"
                ));
            }
            parts
                .get(3)
                .and_then(|o| o.parse().ok())
                .unwrap_or(usize::MAX)
        }
    };
    let mut g = st.lock().expect("lock");
    g.violations.extend(bad);
    let mut seen = Seen {
        at: Instant::now(),
        region: region.clone(),
        attr: (key.clone(), value.clone()),
        token: token.clone(),
        status: 200,
    };
    if region == DENIED_REGION {
        seen.status = 400;
        g.seen.push(seen);
        return (
            "400 Bad Request".into(),
            json!({"__type": "AccessDeniedException", "Message": "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: cloudtrail:LookupEvents"}).to_string(),
        );
    }
    // Throttle once: the first request for a second page.
    if token.is_some() && !g.throttled_once {
        g.throttled_once = true;
        seen.status = 400;
        g.seen.push(seen);
        return (
            "400 Bad Request".into(),
            json!({"__type": "ThrottlingException", "message": "Rate exceeded"}).to_string(),
        );
    }
    g.seen.push(seen);
    drop(g);
    let matching: Vec<(String, &str, bool)> = events(&region)
        .into_iter()
        .filter(|(_, name, _)| {
            if key == "EventSource" {
                true
            } else {
                *name == value
            }
        })
        .collect();
    let page: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(PAGE)
        .map(|(id, name, failed)| {
            json!({
                "EventId": id, "EventName": name, "EventSource": "sts.amazonaws.com",
                "EventTime": 1_790_935_200, "ReadOnly": "false", "Username": "alice",
                "Resources": [],
                "CloudTrailEvent": record(id, name, &region, *failed).to_string(),
            })
        })
        .collect();
    let mut out = json!({ "Events": page });
    if offset + PAGE < matching.len() {
        out["NextToken"] = json!(format!("{region}|{key}|{value}|{}", offset + PAGE));
    }
    ("200 OK".into(), out.to_string())
}

fn options(endpoint: &str, regions: &[&str]) -> LookupOptions {
    LookupOptions {
        aws: AwsOptions {
            profile: None,
            region: Some("us-east-1".into()),
            endpoint_url: Some(endpoint.to_string()),
            max_attempts: None,
            retry_backoff: None,
            static_credentials: Some(StaticCredentials {
                access_key_id: "test".into(),
                secret_access_key: "test".into(),
                session_token: None,
            }),
            ..AwsOptions::default()
        },
        regions: regions.iter().map(|r| r.to_string()).collect(),
        requests_per_second: 2.0,
        max_retries: 4,
        initial_backoff: Duration::from_millis(200),
    }
}

fn scan_opts(all_denied: bool) -> ScanOptions {
    let mut o = ScanOptions {
        threads: 2,
        ..ScanOptions::default()
    };
    o.select.all_denied = all_denied;
    o.filters.since_ms = Some(ms(SINCE));
    o.filters.until_ms = Some(ms(UNTIL));
    o
}

fn lookup(
    lo: &LookupOptions,
    opts: &ScanOptions,
) -> Result<(LookupReport, Vec<Finding>, Stats), SourceError> {
    let pf = Prefilter::new(opts.select);
    let mut c = Collector::new();
    let rep = run_lookup(lo, opts, &pf, &Silent, &mut c)?;
    let (f, s) = c.finish();
    assert!(s.invariants_hold(), "{s:?}");
    Ok((rep, f, s))
}

#[test]
fn pages_throttles_once_and_keeps_to_two_requests_per_second_per_region() {
    let srv = Responder::start();
    let lo = options(&srv.endpoint(), &["us-east-1", "eu-west-1"]);
    let (rep, findings, stats) = lookup(&lo, &scan_opts(false)).expect("lookup");
    srv.assert_no_violations();

    let mut ids: Vec<&str> = findings.iter().map(|f| f.event_id.as_str()).collect();
    ids.sort();
    assert_eq!(
        ids,
        vec![
            "euw1-ar-0",
            "euw1-wi-0",
            "use1-ar-0",
            "use1-ar-1",
            "use1-ar-3",
            "use1-ar-4",
            "use1-root-0",
            "use1-saml-0"
        ]
    );
    for f in &findings {
        let region = if f.event_id.starts_with("use1") {
            "us-east-1"
        } else {
            "eu-west-1"
        };
        assert_eq!(f.source_file, format!("lookup://{region}/{}", f.event_id));
        assert_eq!(f.cause_id, "missing_identity_permission", "{}", f.event_id);
    }
    // us-east-1: AssumeRole 3 pages (+1 throttled), SAML, WebIdentity, Root; eu-west-1: one page each.
    assert_eq!(rep.requests, 4 + 3 + 4, "{rep:?}");
    assert_eq!(rep.pages, 3 + 3 + 4, "{rep:?}");
    assert_eq!(rep.throttled, 1);
    assert_eq!(rep.retries, 1);
    assert_eq!(stats.retries, 1);
    assert_eq!(rep.events, 5 + 1 + 1 + 2);
    assert_eq!(stats.files_read, 9);
    assert_eq!(stats.records.read, 9);
    assert_eq!(stats.records.selected, 8);

    let seen = srv.seen();
    // The throttled request was repeated with the same token.
    let throttled: Vec<&Seen> = seen.iter().filter(|s| s.status == 400).collect();
    assert_eq!(throttled.len(), 1);
    let again = seen
        .iter()
        .filter(|s| s.status == 200 && s.token == throttled[0].token && s.attr == throttled[0].attr)
        .count();
    assert_eq!(again, 1, "the throttled page was fetched once more");
    // At most 2 requests per second per region (a little slack for timer granularity).
    for region in ["us-east-1", "eu-west-1"] {
        let times: Vec<Instant> = seen
            .iter()
            .filter(|s| s.region == region)
            .map(|s| s.at)
            .collect();
        for w in times.windows(2) {
            let gap = w[1].duration_since(w[0]);
            assert!(
                gap >= Duration::from_millis(450),
                "{region}: requests {gap:?} apart"
            );
        }
    }
    // Regions run side by side: both started before either could finish alone.
    let first = |r: &str| {
        seen.iter()
            .find(|s| s.region == r)
            .map(|s| s.at)
            .expect("seen")
    };
    let (a, b) = (first("us-east-1"), first("eu-west-1"));
    let apart = if a > b {
        a.duration_since(b)
    } else {
        b.duration_since(a)
    };
    assert!(
        apart < Duration::from_millis(400),
        "regions started {apart:?} apart"
    );
}

#[test]
fn all_denied_queries_the_sts_event_source() {
    let srv = Responder::start();
    let lo = options(&srv.endpoint(), &["us-east-1"]);
    let (rep, findings, stats) = lookup(&lo, &scan_opts(true)).expect("lookup");
    srv.assert_no_violations();
    let seen = srv.seen();
    assert!(
        seen.iter()
            .all(|s| s.attr == ("EventSource".into(), "sts.amazonaws.com".into()))
    );
    // 8 events in pages of 2, one throttled retry.
    assert_eq!(rep.pages, 4);
    assert_eq!(rep.requests, 5);
    assert_eq!(rep.events, 8);
    assert_eq!(stats.records.read, 8);
    assert_eq!(
        findings.len(),
        6,
        "{:?}",
        findings.iter().map(|f| &f.event_id).collect::<Vec<_>>()
    );
}

#[test]
fn a_refused_region_is_a_clear_fatal_error() {
    let srv = Responder::start();
    let lo = options(&srv.endpoint(), &["us-east-1", DENIED_REGION]);
    let e = lookup(&lo, &scan_opts(false)).expect_err("must fail");
    assert!(matches!(e, SourceError::LookupDenied { .. }), "{e}");
    assert!(
        e.to_string().starts_with(&format!(
            "lookup://{DENIED_REGION}: access denied calling LookupEvents (AccessDeniedException): check credentials"
        )),
        "{e}"
    );
    // Not retried.
    let denied = srv
        .seen()
        .iter()
        .filter(|s| s.region == DENIED_REGION)
        .count();
    assert_eq!(denied, 1);
}

#[test]
fn the_binary_scans_lookup_events_in_several_regions() {
    let srv = Responder::start();
    let out = s3s_fs::offline_aws(&mut Command::new(env!("CARGO_BIN_EXE_trailtriage")))
        .args(["scan", "--lookup", "--since", SINCE, "--until", UNTIL])
        .args(["--region", "us-east-1", "--region", "eu-west-1"])
        .args(["--endpoint-url", &srv.endpoint(), "--jsonl", "-", "-q"])
        .output()
        .expect("run trailtriage");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    srv.assert_no_violations();
    let rows: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("jsonl"))
        .collect();
    assert_eq!(rows.len(), 8);
    assert!(rows.iter().all(|r| {
        r["source_file"]
            .as_str()
            .is_some_and(|s| s.starts_with("lookup://"))
    }));

    // A refused region: exit 2 and the region named.
    let out = s3s_fs::offline_aws(&mut Command::new(env!("CARGO_BIN_EXE_trailtriage")))
        .args([
            "scan",
            "--lookup",
            "--since",
            SINCE,
            "--until",
            UNTIL,
            "--region",
            DENIED_REGION,
        ])
        .args(["--endpoint-url", &srv.endpoint()])
        .output()
        .expect("run trailtriage");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "lookup://{DENIED_REGION}: access denied calling LookupEvents"
        )),
        "{err}"
    );
}

#[test]
fn an_endpoint_that_never_answers_times_out_retries_and_fails_clearly() {
    // The kernel completes the handshakes; nobody ever reads or answers.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", silent.local_addr().expect("addr"));
    let mut lo = options(&endpoint, &["us-east-1"]);
    lo.aws.timeouts.response = Duration::from_millis(300);
    let started = Instant::now();
    let e = lookup(&lo, &scan_opts(false)).expect_err("must fail");
    let took = started.elapsed();
    let msg = e.to_string();
    assert!(matches!(e, SourceError::Lookup { .. }), "{msg}");
    assert!(
        msg.starts_with("lookup://us-east-1: LookupEvents failed: timed out: "),
        "{msg}"
    );
    // Transient: the short retry budget (2), not the throttle budget (4 here).
    assert!(msg.ends_with("(gave up after 2 retries)"), "{msg}");
    assert!(took >= Duration::from_millis(900), "{took:?}");
    assert!(took < Duration::from_secs(20), "{took:?}");
    drop(silent);
}

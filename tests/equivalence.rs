//! Fast path vs slow twin (design rule 11, issue 3): the fast path (libdeflate,
//! structural scan, file-wide pre-filter, simd-json on candidates only) must
//! find exactly what the slow path (flate2, serde_json parse of everything,
//! no pre-filter) finds, record by record.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use proptest::prelude::*;
use trailtriage::SelectOptions;
use trailtriage::pipeline::{FileResult, ScanOptions, Worker, expand_paths};
use trailtriage::policy::context::LogContext;
use trailtriage::select::Prefilter;
use trailtriage::slow::process_bytes_slow;

fn option_sets() -> Vec<ScanOptions> {
    let mut v = Vec::new();
    for (all_denied, include_context, log_context) in [
        (false, false, LogContext::Roles),
        (true, true, LogContext::Full),
    ] {
        v.push(ScanOptions {
            select: SelectOptions {
                all_denied,
                include_context,
                log_context,
            },
            ..ScanOptions::default()
        });
    }
    v
}

fn fast(name: &str, raw: &[u8], opts: &ScanOptions) -> FileResult {
    let pf = Prefilter::new(opts.select);
    Worker::new().process_bytes(name, raw, opts, &pf)
}

/// Compare findings one by one (each carries its record index) and the counts.
fn assert_same(name: &str, raw: &[u8], opts: &ScanOptions) {
    let f = fast(name, raw, opts);
    let s = process_bytes_slow(name, raw, opts);
    if matches!(s.outcome, trailtriage::pipeline::Outcome::Failed(_)) {
        // A broken document: serde_json gives up on the whole top-level value,
        // while the fast path still reads the records before the break. Both
        // must call the object failed, and the fast path must lose nothing
        // the slow one found.
        assert!(
            matches!(f.outcome, trailtriage::pipeline::Outcome::Failed(_)),
            "{name}: slow failed ({:?}) but fast did not ({:?})",
            s.outcome,
            f.outcome
        );
        for x in &s.findings {
            assert!(f.findings.contains(x), "{name}: fast lost {}", x.event_id);
        }
        assert!(f.counts.read >= s.counts.read, "{name}: records read");
        return;
    }
    assert_eq!(
        f.findings.len(),
        s.findings.len(),
        "{name}: number of findings (fast {:?}, slow {:?})",
        f.counts,
        s.counts
    );
    for (a, b) in f.findings.iter().zip(&s.findings) {
        assert_eq!(a, b, "{name}: finding differs");
    }
    // Log context: the pre-filter must not drop a context event either.
    assert_eq!(f.context, s.context, "{name}: log-context events");
    assert_eq!(f.counts.read, s.counts.read, "{name}: records read");
    assert_eq!(f.counts.selected, s.counts.selected, "{name}: selected");
    assert_eq!(f.counts.malformed, s.counts.malformed, "{name}: malformed");
    assert_eq!(
        f.counts.read,
        f.counts.selected + f.counts.not_selected + f.counts.malformed
    );
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let (files, _) = expand_paths(&[dir.to_path_buf()]);
    files
}

fn differential_on(dir: &Path) -> usize {
    let files = files_under(dir);
    for p in &files {
        let raw = std::fs::read(p).expect("readable test input");
        let name = p.display().to_string();
        for opts in option_sets() {
            assert_same(&name, &raw, &opts);
        }
    }
    files.len()
}

#[test]
fn sample_logs_fast_equals_slow() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-logs");
    assert!(differential_on(&dir) > 0, "sample-logs/ has files");
}

#[test]
fn real_logs_fast_equals_slow() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/real-logs");
    assert!(
        dir.is_dir(),
        "{} must sit beside the project root (shared/real-logs)",
        dir.display()
    );
    // Every file, whatever its extension.
    let mut n = 0;
    let mut stack = vec![dir];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("listable").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let raw = std::fs::read(&p).expect("readable");
                for opts in option_sets() {
                    assert_same(&p.display().to_string(), &raw, &opts);
                }
                n += 1;
            }
        }
    }
    assert!(n > 0);
}

#[test]
fn fixtures_fast_equals_slow() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    differential_on(&dir);
}

// ---------------------------------------------------------------- proptests

/// Records selected across all cases of the main proptest (it must bite).
static SELECTED: AtomicU64 = AtomicU64::new(0);

#[test]
fn main_proptest_selects_some_records() {
    // Runs the property once more on its own and checks that the generated
    // inputs do hold selected records (a test that never selects proves little).
    fast_selects_exactly_what_slow_selects();
    assert!(
        SELECTED.load(Ordering::Relaxed) > 50,
        "{}",
        SELECTED.load(Ordering::Relaxed)
    );
}

/// A JSON value, written out by [`Style`] in many equivalent spellings.
#[derive(Debug, Clone)]
enum V {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    Arr(Vec<V>),
    Obj(Vec<(String, V)>),
}

const KEYS: &[&str] = &[
    "errorCode",
    "errorMessage",
    "eventName",
    "eventSource",
    "eventVersion",
    "eventTime",
    "eventID",
    "userIdentity",
    "type",
    "arn",
    "accountId",
    "responseElements",
    "SwitchRole",
    "requestParameters",
    "roleArn",
    "recipientAccountId",
    "additionalEventData",
    "Records",
];

const STRS: &[&str] = &[
    "AccessDenied",
    "AssumeRole",
    "AssumeRoleWithSAML",
    "AssumeRoleWithWebIdentity",
    "SwitchRole",
    "sts.amazonaws.com",
    "signin.amazonaws.com",
    "Failure",
    "AWSAccount",
    "Root",
    "IAMUser",
    "AssumedRole",
    "errorCode",
    "\"errorCode\": \"AccessDenied\"",
    "say \\\"errorCode\\\"",
    "User: arn:aws:iam::111122223333:user/a is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::444455556666:role/R",
    "arn:aws:iam::444455556666:role/R",
    "111122223333",
    "",
    "{\"Records\":[",
    "}]}",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(KEYS).prop_map(str::to_string),
        1 => "[a-zA-Z\"\\\\{}\\[\\]:, ]{0,8}",
    ]
}

fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(STRS).prop_map(str::to_string),
        1 => "[ -~]{0,16}",
        1 => "\\PC{0,6}",
    ]
}

fn value() -> impl Strategy<Value = V> {
    let leaf = prop_oneof![
        Just(V::Null),
        any::<bool>().prop_map(V::Bool),
        any::<i64>().prop_map(V::Int),
        string().prop_map(V::Str),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(V::Arr),
            prop::collection::vec((key(), inner), 0..5).prop_map(V::Obj),
        ]
    })
}

/// A record: an object whose top-level keys lean towards CloudTrail's; half
/// of them start from a failed role assumption (selected unless the random
/// members change that), with members shuffled into unusual orders.
fn record() -> impl Strategy<Value = V> {
    let random = prop::collection::vec((key(), value()), 0..9).prop_map(V::Obj);
    let failing = (
        prop::sample::select(
            &[
                "AssumeRole",
                "AssumeRoleWithSAML",
                "AssumeRoleWithWebIdentity",
                "SwitchRole",
                "GetObject",
            ][..],
        ),
        string(),
        prop::sample::select(&["IAMUser", "AWSAccount", "Root", "AssumedRole"][..]),
        prop::collection::vec((key(), value()), 0..5),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(name, code, caller, extra, at)| {
            let mut m = vec![
                ("eventName".to_string(), V::Str(name.to_string())),
                (
                    "eventSource".to_string(),
                    V::Str("sts.amazonaws.com".into()),
                ),
                (
                    "userIdentity".to_string(),
                    V::Obj(vec![("type".into(), V::Str(caller.into()))]),
                ),
                ("errorCode".to_string(), V::Str(code)),
            ];
            if name == "SwitchRole" {
                m.push((
                    "responseElements".into(),
                    V::Obj(vec![("SwitchRole".into(), V::Str("Failure".into()))]),
                ));
            }
            for x in extra {
                let k = at.index(m.len() + 1);
                m.insert(k, x);
            }
            V::Obj(m)
        });
    prop_oneof![random, failing]
}

/// Formatting choices drawn from a seed: whitespace, `\u` escapes, `\/`.
struct Style(u64);

impl Style {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn ws(&mut self, out: &mut String) {
        match self.next() % 8 {
            0 => out.push(' '),
            1 => out.push_str("\n  "),
            2 => out.push('\t'),
            3 => out.push_str(" \r\n"),
            _ => {}
        }
    }
    fn string(&mut self, s: &str, out: &mut String) {
        out.push('"');
        let escape_all = self.next().is_multiple_of(6);
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '/' if self.next().is_multiple_of(4) => out.push_str("\\/"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c if c.is_ascii_alphabetic() && (escape_all || self.next().is_multiple_of(40)) => {
                    out.push_str(&format!("\\u{:04x}", c as u32))
                }
                c => out.push(c),
            }
        }
        out.push('"');
    }
    fn value(&mut self, v: &V, out: &mut String) {
        match v {
            V::Null => out.push_str("null"),
            V::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            V::Int(i) => out.push_str(&i.to_string()),
            V::Str(s) => self.string(s, out),
            V::Arr(items) => {
                out.push('[');
                for (k, x) in items.iter().enumerate() {
                    if k > 0 {
                        out.push(',');
                    }
                    self.ws(out);
                    self.value(x, out);
                    self.ws(out);
                }
                out.push(']');
            }
            V::Obj(members) => {
                out.push('{');
                for (k, (key, x)) in members.iter().enumerate() {
                    if k > 0 {
                        out.push(',');
                    }
                    self.ws(out);
                    self.string(key, out);
                    self.ws(out);
                    out.push(':');
                    self.ws(out);
                    self.value(x, out);
                    self.ws(out);
                }
                out.push('}');
            }
        }
    }
}

/// Wrap records in one of the accepted input shapes.
fn document(recs: &[V], shape: u8, seed: u64) -> String {
    let mut st = Style(seed | 1);
    let texts: Vec<String> = recs
        .iter()
        .map(|r| {
            let mut s = String::new();
            st.value(r, &mut s);
            s
        })
        .collect();
    match shape % 5 {
        0 => format!("{{\"Records\":[{}]}}", texts.join(",\n")),
        1 => format!("[{}]", texts.join(" , ")),
        2 => texts.join("\n"),
        3 => {
            let events: Vec<String> = texts
                .iter()
                .map(|t| {
                    let mut s = String::new();
                    Style(seed | 1).string(t, &mut s);
                    format!("{{\"EventId\":\"x\",\"CloudTrailEvent\":{s}}}")
                })
                .collect();
            format!("{{\"Events\":[{}]}}", events.join(","))
        }
        _ => texts
            .iter()
            .map(|t| format!("{{\"version\":\"0\",\"detail-type\":\"AWS API Call via CloudTrail\",\"detail\":{t}}}"))
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("in-memory gzip");
    e.finish().expect("in-memory gzip")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// The fast path selects exactly what the full parse selects, and
    /// classifies it the same way, for arbitrary records in every shape.
    #[test]
    fn fast_selects_exactly_what_slow_selects(
        recs in prop::collection::vec(record(), 1..6),
        shape in any::<u8>(),
        seed in any::<u64>(),
        gz in any::<bool>(),
    ) {
        let doc = document(&recs, shape, seed);
        prop_assume!(serde_json::Deserializer::from_str(&doc).into_iter::<serde_json::Value>().all(|v| v.is_ok()));
        let raw = if gz { gzip(doc.as_bytes()) } else { doc.into_bytes() };
        for opts in option_sets() {
            assert_same("prop", &raw, &opts);
        }
        SELECTED.fetch_add(fast("prop", &raw, &ScanOptions::default()).counts.selected, Ordering::Relaxed);
    }

    /// Records built to be selected (a failed AssumeRole) with the key spelled
    /// in escapes: the pre-filter must let them through.
    #[test]
    fn escaped_keys_are_not_dropped(seed in any::<u64>(), code in string()) {
        let recs = [V::Obj(vec![
            ("eventSource".into(), V::Str("sts.amazonaws.com".into())),
            ("eventName".into(), V::Str("AssumeRole".into())),
            ("errorCode".into(), V::Str(if code.is_empty() { "AccessDenied".into() } else { code })),
        ])];
        let mut st = Style(seed | 1);
        let mut text = String::new();
        st.value(&recs[0], &mut text);
        let doc = format!("{{\"Records\":[{text}]}}");
        let doc = doc.replacen("\"errorCode\"", "\"\\u0065rrorCode\"", 1);
        let opts = ScanOptions::default();
        assert_same("escaped", doc.as_bytes(), &opts);
        let f = fast("escaped", doc.as_bytes(), &opts);
        prop_assert_eq!(f.counts.selected, 1);
    }

    /// Arbitrary bytes, plain or gzip-wrapped or cut, never panic the whole
    /// decode + scan + classify path, and the accounting always balances.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..3000), cut in any::<u16>()) {
        let opts = ScanOptions::default();
        let gz = gzip(&bytes);
        let cut_gz = &gz[..(cut as usize).min(gz.len())];
        for raw in [&bytes[..], &gz[..], cut_gz] {
            let f = fast("arbitrary", raw, &opts);
            prop_assert_eq!(f.counts.read, f.counts.selected + f.counts.not_selected + f.counts.malformed);
            let _ = process_bytes_slow("arbitrary", raw, &opts);
        }
    }

    /// JSON-ish noise (the structural bytes, escapes and needles, shuffled).
    #[test]
    fn json_noise_never_panics(parts in prop::collection::vec(prop::sample::select(&[
        "{", "}", "[", "]", "\"", "\\", ",", ":", " ", "\n", "errorCode", "Records", "Events",
        "CloudTrailEvent", "detail", "detail-type", "eventName", "AssumeRole", "\\u0065", "null", "1",
    ][..]), 0..200)) {
        let doc: String = parts.concat();
        let opts = ScanOptions::default();
        let f = fast("noise", doc.as_bytes(), &opts);
        prop_assert_eq!(f.counts.read, f.counts.selected + f.counts.not_selected + f.counts.malformed);
    }
}

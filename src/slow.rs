//! The slow twin of the fast path (design rule 11): a plain, obviously
//! correct way to find and classify the records of one input, used by the
//! differential tests and proptests to check the fast path record by record.
//!
//! It inflates with flate2 alone, parses the whole input with serde_json (into
//! a value that keeps object keys in order, duplicates included), walks the
//! accepted shapes (envelope, array, NDJSON, single record, LookupEvents
//! `Events[].CloudTrailEvent`, EventBridge `detail`) exactly as the
//! structural scanner defines them, re-serializes each record, and runs every
//! record, with no pre-filter, through the same parse, select and classify
//! step as the fast path ([`crate::pipeline::process_record`]).
//!
//! It is not meant to be fast, and it gives up on the first JSON syntax error
//! (records of earlier top-level values are kept).

use std::fmt;
use std::io::Read;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::pipeline::{FileResult, Outcome, ScanOptions, process_record};

/// A JSON value that keeps object members in document order, duplicates too.
#[derive(Debug, Clone, PartialEq)]
pub enum J {
    Null,
    Bool(bool),
    Num(serde_json::Number),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

impl<'de> Deserialize<'de> for J {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<J, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = J;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E>(self) -> Result<J, E> {
                Ok(J::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<J, E> {
                Ok(J::Bool(b))
            }
            fn visit_u64<E>(self, n: u64) -> Result<J, E> {
                Ok(J::Num(n.into()))
            }
            fn visit_i64<E>(self, n: i64) -> Result<J, E> {
                Ok(J::Num(n.into()))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<J, E> {
                serde_json::Number::from_f64(n)
                    .map(J::Num)
                    .ok_or_else(|| E::custom("number out of range"))
            }
            fn visit_str<E>(self, s: &str) -> Result<J, E> {
                Ok(J::Str(s.to_owned()))
            }
            fn visit_string<E>(self, s: String) -> Result<J, E> {
                Ok(J::Str(s))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<J, A::Error> {
                let mut v = Vec::new();
                while let Some(x) = a.next_element()? {
                    v.push(x);
                }
                Ok(J::Arr(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<J, A::Error> {
                let mut v = Vec::new();
                while let Some((k, x)) = a.next_entry::<String, J>()? {
                    v.push((k, x));
                }
                Ok(J::Obj(v))
            }
        }
        d.deserialize_any(V)
    }
}

impl J {
    /// Serialize back to JSON text.
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            J::Null => out.extend_from_slice(b"null"),
            J::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            J::Num(n) => out.extend_from_slice(n.to_string().as_bytes()),
            J::Str(s) => write_str(s, out),
            J::Arr(v) => {
                out.push(b'[');
                for (k, x) in v.iter().enumerate() {
                    if k > 0 {
                        out.push(b',');
                    }
                    x.write(out);
                }
                out.push(b']');
            }
            J::Obj(v) => {
                out.push(b'{');
                for (k, (key, x)) in v.iter().enumerate() {
                    if k > 0 {
                        out.push(b',');
                    }
                    write_str(key, out);
                    out.push(b':');
                    x.write(out);
                }
                out.push(b'}');
            }
        }
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.write(&mut v);
        v
    }
}

fn write_str(s: &str, out: &mut Vec<u8>) {
    // serde_json's string escaping; writing into a Vec cannot fail.
    let quoted = serde_json::to_string(s).unwrap_or_default();
    out.extend_from_slice(quoted.as_bytes());
}

/// One record found by the slow walk.
#[derive(Debug, Clone, PartialEq)]
pub enum SlowRec {
    /// The record's JSON text.
    Json(Vec<u8>),
    /// Something sat where a record belongs but is not one.
    Bad(String),
}

/// What one object holds, as the scanner notes it.
#[derive(Default)]
struct Info<'a> {
    is_record: bool,
    expanded: bool,
    detail: Option<&'a J>,
    has_detail_type: bool,
    cloudtrail_event: Option<&'a str>,
}

impl Info<'_> {
    fn recognized(&self) -> bool {
        self.expanded || self.is_record || self.detail.is_some() || self.cloudtrail_event.is_some()
    }
}

fn walk_object<'a>(members: &'a [(String, J)], emit: &mut dyn FnMut(SlowRec)) -> Info<'a> {
    let mut info = Info::default();
    for (k, v) in members {
        match (k.as_str(), v) {
            ("Records", J::Arr(items)) => {
                info.expanded = true;
                for x in items {
                    match x {
                        J::Obj(_) => emit(SlowRec::Json(x.to_bytes())),
                        _ => emit(SlowRec::Bad("element of Records is not an object".into())),
                    }
                }
            }
            ("Events", J::Arr(items)) => {
                info.expanded = true;
                for x in items {
                    match x {
                        J::Obj(m) => {
                            let inner = walk_object(m, &mut |_| {});
                            lookup_or_bad(x, &inner, emit);
                        }
                        _ => emit(SlowRec::Bad("element of Events is not an object".into())),
                    }
                }
            }
            ("detail", J::Obj(_)) => info.detail = Some(v),
            ("CloudTrailEvent", J::Str(s)) => info.cloudtrail_event = Some(s),
            (k, _) => {
                if matches!(
                    k,
                    "eventVersion" | "eventName" | "eventSource" | "eventTime"
                ) {
                    info.is_record = true;
                }
                if k == "detail-type" {
                    info.has_detail_type = true;
                }
            }
        }
    }
    info
}

fn lookup_or_bad(obj: &J, inner: &Info<'_>, emit: &mut dyn FnMut(SlowRec)) {
    if let Some(text) = inner.cloudtrail_event {
        emit(SlowRec::Json(text.as_bytes().to_vec()));
    } else if inner.is_record {
        emit(SlowRec::Json(obj.to_bytes()));
    } else {
        emit(SlowRec::Bad(
            "object has no CloudTrailEvent and is not a record".into(),
        ));
    }
}

fn finish_object(obj: &J, info: &Info<'_>, emit: &mut dyn FnMut(SlowRec)) {
    if info.expanded {
        return;
    }
    if info.is_record {
        emit(SlowRec::Json(obj.to_bytes()));
    } else if let (Some(d), true) = (info.detail, info.has_detail_type) {
        emit(SlowRec::Json(d.to_bytes()));
    } else if info.cloudtrail_event.is_some() {
        lookup_or_bad(obj, info, emit);
    } else if let Some(d) = info.detail {
        emit(SlowRec::Json(d.to_bytes()));
    } else {
        emit(SlowRec::Bad("object is not a CloudTrail record".into()));
    }
}

/// The outcome of the slow walk over one decoded input.
#[derive(Debug, Default)]
pub struct SlowScan {
    pub records: Vec<SlowRec>,
    pub empty: bool,
    pub recognized: bool,
    /// The JSON syntax error that stopped the walk, if any.
    pub error: Option<String>,
}

/// Walk one decoded input: every top-level value, in order.
pub fn records_of(json: &[u8]) -> SlowScan {
    let mut out = SlowScan::default();
    let json = json.strip_prefix(&[0xEF, 0xBB, 0xBF][..]).unwrap_or(json);
    if json
        .iter()
        .all(|b| matches!(b, b' ' | b'\n' | b'\r' | b'\t'))
    {
        out.empty = true;
        return out;
    }
    let mut records = Vec::new();
    let mut emit = |r: SlowRec| records.push(r);
    let mut values = 0usize;
    for value in serde_json::Deserializer::from_slice(json).into_iter::<J>() {
        let value = match value {
            Ok(v) => v,
            Err(e) => {
                out.error = Some(e.to_string());
                break;
            }
        };
        values += 1;
        match &value {
            J::Arr(items) => {
                let mut pending: Vec<String> = Vec::new();
                let mut any_record = false;
                for x in items {
                    let bad = match x {
                        J::Obj(m) => {
                            let info = walk_object(m, &mut |_| {});
                            if info.recognized() {
                                if !any_record {
                                    any_record = true;
                                    for reason in pending.drain(..) {
                                        emit(SlowRec::Bad(reason));
                                    }
                                }
                                if info.expanded {
                                    walk_object(m, &mut emit);
                                } else {
                                    finish_object(x, &info, &mut emit);
                                }
                                None
                            } else {
                                Some("object is not a CloudTrail record".to_string())
                            }
                        }
                        _ => Some("array element is not an object".to_string()),
                    };
                    if let Some(reason) = bad {
                        if any_record {
                            emit(SlowRec::Bad(reason));
                        } else {
                            pending.push(reason);
                        }
                    }
                }
                out.recognized |= any_record || pending.is_empty();
            }
            J::Obj(m) => {
                let info = walk_object(m, &mut emit);
                if info.recognized() {
                    out.recognized = true;
                    finish_object(&value, &info, &mut emit);
                } else if values > 1 {
                    emit(SlowRec::Bad("value is not a CloudTrail record".into()));
                }
            }
            J::Null => {}
            _ => {
                out.error = Some("expected a JSON object or array".into());
                break;
            }
        }
    }
    out.records = records;
    out
}

/// Decode one object with flate2 alone (every gzip member, bounded).
pub fn decode_slow(raw: &[u8], limit: u64) -> Result<Vec<u8>, String> {
    if !crate::decode::is_gzip(raw) {
        return Ok(raw.to_vec());
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(raw)
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    if out.len() as u64 > limit {
        return Err(format!("larger than the limit of {limit} bytes"));
    }
    Ok(out)
}

/// Process one object's raw bytes the slow way: the twin of
/// [`crate::pipeline::Worker::process_bytes`].
pub fn process_bytes_slow(name: &str, raw: &[u8], opts: &ScanOptions) -> FileResult {
    let mut fr = FileResult::new(name.to_string());
    fr.compressed_bytes = raw.len() as u64;
    let json = match decode_slow(raw, opts.max_decompressed) {
        Ok(j) => j,
        Err(e) => {
            fr.outcome = Outcome::Failed(e);
            return fr;
        }
    };
    fr.decompressed_bytes = json.len() as u64;
    let walk = records_of(&json);
    let mut scratch = Vec::new();
    let mut buffers = simd_json::Buffers::new(64 * 1024);
    for (i, rec) in walk.records.iter().enumerate() {
        fr.counts.read += 1;
        match rec {
            SlowRec::Bad(reason) => fr.note_malformed(i as u64, reason.clone()),
            SlowRec::Json(bytes) => process_record(
                bytes,
                i as u64,
                name,
                opts,
                &mut scratch,
                &mut buffers,
                &mut fr,
            ),
        }
    }
    if let Some(e) = walk.error {
        // The value that broke the walk counts as one malformed record, as
        // in the fast path.
        fr.counts.read += 1;
        fr.note_malformed(walk.records.len() as u64, format!("malformed JSON: {e}"));
        fr.outcome = Outcome::Failed(format!("malformed JSON: {e}"));
    } else if walk.empty {
        fr.outcome = Outcome::Skipped("empty file".into());
    } else if !walk.recognized {
        fr.outcome = Outcome::Failed(
            "not a CloudTrail log: no Records array, record, LookupEvents or EventBridge shape found"
                .into(),
        );
    }
    fr
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recs(s: &str) -> Vec<String> {
        records_of(s.as_bytes())
            .records
            .into_iter()
            .map(|r| match r {
                SlowRec::Json(b) => String::from_utf8_lossy(&b).into_owned(),
                SlowRec::Bad(_) => "bad".into(),
            })
            .collect()
    }

    #[test]
    fn shapes() {
        assert_eq!(
            recs(r#"{"Records":[{"eventName":"A","x":[1,2.5,null]},3]}"#),
            [r#"{"eventName":"A","x":[1,2.5,null]}"#, "bad"]
        );
        assert_eq!(
            recs("{\"eventName\":\"A\"}\n{\"eventName\":\"B\"}"),
            [r#"{"eventName":"A"}"#, r#"{"eventName":"B"}"#]
        );
        assert_eq!(
            recs(r#"{"Events":[{"CloudTrailEvent":"{\"eventName\":\"X\"}"}]}"#),
            [r#"{"eventName":"X"}"#]
        );
        assert_eq!(
            recs(r#"{"detail-type":"t","detail":{"eventName":"D"}}"#),
            [r#"{"eventName":"D"}"#]
        );
        assert_eq!(
            recs(r#"{"b":1,"a":2,"b":3,"eventTime":"t"}"#),
            [r#"{"b":1,"a":2,"b":3,"eventTime":"t"}"#]
        );
        assert!(records_of(b" \n").empty);
        assert!(!records_of(br#"{"digestStartTime":"x"}"#).recognized);
    }
}

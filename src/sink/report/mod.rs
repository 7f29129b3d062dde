//! The summary report: aggregated in Rust into a [`Summary`], then rendered
//! as text, Markdown, JSON or a self-contained HTML page.

mod html;
mod markdown;
mod text;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::classify::catalog;
use crate::finding::{Finding, format_time_ms};
use crate::pipeline::Stats;

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Markdown,
    Json,
    /// One self-contained page (inline CSS, SVG and JS; no network fetches).
    Html,
}

/// How many rows the "top" tables show.
pub const TOP: usize = 10;

#[derive(Debug, Serialize)]
pub struct CauseRow {
    pub cause_id: String,
    pub title: String,
    pub checklist: String,
    pub count: u64,
    pub severity: String,
    pub certain: u64,
    pub likely: u64,
    pub possible: u64,
    pub remediation: String,
    pub examples: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct CountRow {
    pub key: String,
    pub count: u64,
    /// Distinct causes for this key, most frequent first.
    pub causes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct PairRow {
    pub caller_account: String,
    pub role_account: String,
    pub cross_account: Option<bool>,
    pub count: u64,
}

/// Failures over time, stacked by cause.
#[derive(Debug, Serialize)]
pub struct Timeline {
    /// Bucket width: `hour` (spans up to 4 days), `day` (up to 400 days) or `month`.
    pub bucket: String,
    /// Every bucket from the first to the last event, empty ones included, in order.
    pub rows: Vec<TimeBucket>,
    /// Findings without an event time (in no bucket).
    pub undated: u64,
}

#[derive(Debug, Serialize)]
pub struct TimeBucket {
    /// Start of the bucket (UTC): `2026-10-05T07:00Z`, `2026-10-05` or `2026-10`.
    pub start: String,
    /// Findings per cause id in this bucket (absent causes omitted).
    pub counts: BTreeMap<String, u64>,
}

/// Bucket widths in milliseconds.
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

impl Timeline {
    fn build(findings: &[Finding]) -> Timeline {
        let times = findings.iter().filter_map(|f| f.event_time);
        let (Some(lo), Some(hi)) = (times.clone().min(), times.max()) else {
            return Timeline {
                bucket: "day".into(),
                rows: Vec::new(),
                undated: findings.len() as u64,
            };
        };
        let span = hi.saturating_sub(lo);
        let bucket = if span <= 4 * DAY_MS {
            "hour"
        } else if span <= 400 * DAY_MS {
            "day"
        } else {
            "month"
        };
        let key = |ms: i64| -> i64 {
            match bucket {
                "hour" => ms.div_euclid(HOUR_MS),
                "day" => ms.div_euclid(DAY_MS),
                _ => chrono::DateTime::from_timestamp_millis(ms).map_or(0, |d| {
                    use chrono::Datelike;
                    i64::from(d.year()) * 12 + i64::from(d.month0())
                }),
            }
        };
        let label = |k: i64| -> String {
            match bucket {
                "hour" => format_time_ms(k * HOUR_MS)[..13].to_string() + ":00Z",
                "day" => format_time_ms(k * DAY_MS)[..10].to_string(),
                _ => format!("{:04}-{:02}", k.div_euclid(12), k.rem_euclid(12) + 1),
            }
        };
        let mut map: BTreeMap<i64, BTreeMap<String, u64>> = BTreeMap::new();
        let mut undated = 0;
        for f in findings {
            match f.event_time {
                Some(t) => {
                    *map.entry(key(t))
                        .or_default()
                        .entry(f.cause_id.clone())
                        .or_default() += 1
                }
                None => undated += 1,
            }
        }
        let (first, last) = (key(lo), key(hi));
        // Fill the gaps so the axis is linear, unless absurd timestamps make
        // the range huge: then only the buckets that have events.
        let rows = if last - first < 5_000 {
            (first..=last)
                .map(|k| TimeBucket {
                    start: label(k),
                    counts: map.remove(&k).unwrap_or_default(),
                })
                .collect()
        } else {
            map.into_iter()
                .map(|(k, counts)| TimeBucket {
                    start: label(k),
                    counts,
                })
                .collect()
        };
        Timeline {
            bucket: bucket.into(),
            rows,
            undated,
        }
    }
}

/// Everything a report shows.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub tool: String,
    pub findings: u64,
    pub first_event: Option<String>,
    pub last_event: Option<String>,
    pub accounts: Vec<String>,
    pub by_severity: BTreeMap<String, u64>,
    pub by_cause: Vec<CauseRow>,
    pub top_callers: Vec<CountRow>,
    pub top_roles: Vec<CountRow>,
    pub account_pairs: Vec<PairRow>,
    pub by_day: Vec<(String, u64)>,
    pub timeline: Timeline,
    pub perspective: BTreeMap<String, u64>,
    pub notes: Vec<String>,
    pub stats: Stats,
}

fn top(map: BTreeMap<String, BTreeMap<String, u64>>, n: usize) -> Vec<CountRow> {
    let mut rows: Vec<CountRow> = map
        .into_iter()
        .map(|(key, causes)| {
            let count = causes.values().sum();
            let mut c: Vec<(String, u64)> = causes.into_iter().collect();
            c.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            CountRow {
                key,
                count,
                causes: c.into_iter().map(|x| x.0).collect(),
            }
        })
        .collect();
    rows.sort_by(|a, b| b.count.cmp(&a.count).then(a.key.cmp(&b.key)));
    rows.truncate(n);
    rows
}

/// Per cause while aggregating: count, [certain, likely, possible], example
/// event ids, count per severity.
type CauseAcc<'a> = (u64, [u64; 3], Vec<String>, BTreeMap<&'a str, u64>);

impl Summary {
    pub fn build(findings: &[Finding], stats: &Stats) -> Summary {
        let mut causes: BTreeMap<&str, CauseAcc<'_>> = BTreeMap::new();
        let mut callers: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        let mut roles: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        let mut pairs: BTreeMap<(String, String, Option<bool>), u64> = BTreeMap::new();
        let mut days: BTreeMap<String, u64> = BTreeMap::new();
        let mut sev: BTreeMap<String, u64> = BTreeMap::new();
        let mut persp: BTreeMap<String, u64> = BTreeMap::new();
        let mut accounts: BTreeSet<String> = BTreeSet::new();
        for f in findings {
            let e = causes.entry(&f.cause_id).or_default();
            e.0 += 1;
            match f.confidence.as_str() {
                "certain" => e.1[0] += 1,
                "likely" => e.1[1] += 1,
                _ => e.1[2] += 1,
            }
            if e.2.len() < 3 {
                e.2.push(f.event_id.clone());
            }
            *e.3.entry(&f.severity).or_default() += 1;
            let caller = f
                .caller_arn
                .clone()
                .unwrap_or_else(|| format!("({})", f.caller_type));
            *callers
                .entry(caller)
                .or_default()
                .entry(f.cause_id.clone())
                .or_default() += 1;
            let role = f
                .target_role_arn
                .clone()
                .unwrap_or_else(|| "(role not recorded)".into());
            *roles
                .entry(role)
                .or_default()
                .entry(f.cause_id.clone())
                .or_default() += 1;
            let ca = f.caller_account_id.clone().unwrap_or_else(|| "?".into());
            let ra = f.role_account_id.clone().unwrap_or_else(|| "?".into());
            *pairs.entry((ca, ra, f.cross_account)).or_default() += 1;
            let day = f
                .event_time
                .map(|t| format_time_ms(t)[..10].to_string())
                .unwrap_or_else(|| "unknown".into());
            *days.entry(day).or_default() += 1;
            *sev.entry(f.severity.clone()).or_default() += 1;
            *persp.entry(f.trail_perspective.clone()).or_default() += 1;
            for a in [
                &f.caller_account_id,
                &f.role_account_id,
                &f.recipient_account_id,
            ]
            .into_iter()
            .flatten()
            {
                accounts.insert(a.clone());
            }
        }
        let mut by_cause: Vec<CauseRow> = causes
            .into_iter()
            .map(|(id, (count, conf, examples, sevs))| {
                let info = catalog::cause(id);
                // The most severe severity seen for this cause.
                let severity = ["high", "medium", "low", "info"]
                    .into_iter()
                    .find(|s| sevs.contains_key(s))
                    .unwrap_or("medium")
                    .to_string();
                CauseRow {
                    cause_id: id.to_string(),
                    title: info.map_or("", |c| c.title).to_string(),
                    checklist: info.map_or("", |c| c.checklist).to_string(),
                    count,
                    severity,
                    certain: conf[0],
                    likely: conf[1],
                    possible: conf[2],
                    remediation: info.map_or("", |c| c.remediation).to_string(),
                    examples,
                }
            })
            .collect();
        by_cause.sort_by(|a, b| b.count.cmp(&a.count).then(a.cause_id.cmp(&b.cause_id)));
        let mut account_pairs: Vec<PairRow> = pairs
            .into_iter()
            .map(|((c, r, x), n)| PairRow {
                caller_account: c,
                role_account: r,
                cross_account: x,
                count: n,
            })
            .collect();
        account_pairs.sort_by(|a, b| {
            b.count.cmp(&a.count).then_with(|| {
                (&a.caller_account, &a.role_account).cmp(&(&b.caller_account, &b.role_account))
            })
        });
        account_pairs.truncate(TOP);
        let mut notes = Vec::new();
        if stats.files_failed > 0 {
            notes.push(format!(
                "{} input object(s) could not be read; findings from them are missing (see 'Unreadable input').",
                stats.files_failed
            ));
        }
        if stats.records.malformed > 0 {
            notes.push(format!(
                "{} malformed record(s) were skipped.",
                stats.records.malformed
            ));
        }
        notes.extend(stats.notes.iter().cloned());
        if let Some(n) = role_owner_only_note(findings) {
            notes.push(n);
        }
        if findings.is_empty() && stats.records.read > 0 {
            notes.push("No failed role assumption in the input. Denied cross-account AssumeRole calls are logged only in the caller's trail: if these logs are the role owner's, read the callers' trails or an organization trail too.".into());
        }
        Summary {
            tool: format!("trailtriage {}", env!("CARGO_PKG_VERSION")),
            findings: findings.len() as u64,
            first_event: stats.first_event_ms.map(format_time_ms),
            last_event: stats.last_event_ms.map(format_time_ms),
            accounts: accounts.into_iter().collect(),
            by_severity: sev,
            by_cause,
            top_callers: top(callers, TOP),
            top_roles: top(roles, TOP),
            account_pairs,
            by_day: days.into_iter().collect(),
            timeline: Timeline::build(findings),
            perspective: persp,
            notes,
            stats: stats.clone(),
        }
    }
}

/// causes.md §0 fact 1: when the input looks like the role owner's trail
/// only (every failure is on the role owner's side, or there are no failures
/// but role-owner copies of cross-account successes), denied cross-account
/// calls are invisible in it.
fn role_owner_only_note(findings: &[Finding]) -> Option<String> {
    let owner_copies = findings
        .iter()
        .filter(|f| f.caller_type == "AWSAccount" && f.cause_id == "not_assume_failure")
        .count();
    let failures: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.cause_id != "not_assume_failure")
        .collect();
    let all_owner_side =
        !failures.is_empty() && failures.iter().all(|f| f.trail_perspective == "role_owner");
    if !(all_owner_side || (failures.is_empty() && owner_copies > 0)) {
        return None;
    }
    let mut n = String::from("These logs look like the role owner's trail only (");
    if all_owner_side {
        n.push_str("every failure here is logged on the role owner's side");
    } else {
        n.push_str("no failures");
    }
    if owner_copies > 0 {
        n.push_str(&format!(
            "; {owner_copies} cross-account AssumeRole call(s) appear only as the role owner's AWSAccount copy"
        ));
    }
    n.push_str("). CloudTrail does not log denied cross-account AssumeRole calls in the role owner's account, so such denials are invisible here: read the callers' trails or an organization trail too.");
    Some(n)
}

/// Options of the text renderer.
#[derive(Debug, Clone, Copy)]
pub struct TextStyle {
    pub width: usize,
    pub color: bool,
}

impl Default for TextStyle {
    fn default() -> Self {
        TextStyle {
            width: 100,
            color: false,
        }
    }
}

/// Render a report.
pub fn render(findings: &[Finding], stats: &Stats, format: Format, style: TextStyle) -> String {
    let s = Summary::build(findings, stats);
    match format {
        Format::Text => text::render(&s, style),
        Format::Markdown => markdown::render(&s),
        Format::Html => html::render(&s, findings),
        Format::Json => {
            let mut out = serde_json::to_string_pretty(&s)
                .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
            out.push('\n');
            out
        }
    }
}

/// The closing accounting lines every report carries; the retries when a
/// remote source was read.
pub fn accounting_lines(st: &Stats) -> Vec<String> {
    let r = &st.records;
    let mut lines = vec![
        format!(
            "files: {} seen = {} read + {} skipped + {} failed",
            st.files_seen, st.files_read, st.files_skipped, st.files_failed
        ),
        format!(
            "records: {} read = {} selected + {} not selected + {} malformed ({} dropped by filters, {} duplicate eventIDs)",
            r.read, r.selected, r.not_selected, r.malformed, r.filtered, st.duplicates
        ),
    ];
    if st.remote || st.retries > 0 {
        lines.push(format!(
            "retries: {} (remote requests sent again after throttling, an error or a timeout)",
            st.retries
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounting_shows_retries_only_for_remote_sources() {
        let mut st = Stats::default();
        assert_eq!(accounting_lines(&st).len(), 2);
        st.remote = true;
        let lines = accounting_lines(&st);
        assert_eq!(lines.len(), 3);
        assert!(lines[2].starts_with("retries: 0 ("), "{lines:?}");
        st.retries = 7;
        let md = render(&[], &st, Format::Markdown, TextStyle::default());
        assert!(md.contains("\n- retries: 7 ("), "{md}");
        let text = render(&[], &st, Format::Text, TextStyle::default());
        assert!(text.contains("\nretries: 7 ("), "{text}");
        // Retries without the flag (stats merged from elsewhere) still show.
        st.remote = false;
        assert_eq!(accounting_lines(&st).len(), 3);
    }
}

//! The HTML report: one self-contained page. Styles and the script are
//! inline, the chart is an SVG built here, and nothing is fetched from the
//! network, so the file can be mailed or attached to a ticket as it is.
//!
//! Everything is aggregated in Rust (the [`Summary`]); the page only ships
//! the key columns of at most [`MAX_ROWS`] findings, the most severe and most
//! recent first, for a table that the inline script sorts and filters. A run
//! with 100,000 findings therefore gives a page of a few megabytes at most.
//!
//! Every string that comes from a log is escaped: HTML text and attributes
//! with [`esc`] (which also makes control characters such as ANSI escapes
//! visible), and the JSON inside `<script>` with [`script_json`], so that a
//! user agent such as `</script><img src=x onerror=alert(1)>` stays text.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use super::{CountRow, Summary, accounting_lines};
use crate::finding::Finding;
use crate::util::{clip, sanitize};

/// At most this many findings are embedded for the findings table.
pub const MAX_ROWS: usize = 5_000;

/// Causes beyond this many (by count) share one colour, "other causes".
const COLOURED_CAUSES: usize = 9;
const PALETTE: [&str; COLOURED_CAUSES] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f",
];
const OTHER_COLOUR: &str = "#b8b0ac";
const OTHER: &str = "other causes";

/// The columns of the findings table, in the order of each embedded row.
const COLUMNS: [&str; 11] = [
    "Time (UTC)",
    "Severity",
    "Cause",
    "Confidence",
    "Caller",
    "Target role",
    "Session name",
    "Region",
    "Source IP",
    "User agent",
    "Event ID",
];

/// Escape text for HTML element content and quoted attribute values.
/// Control characters (newlines, ANSI escapes) are first made visible.
pub fn esc(s: &str) -> String {
    let s = sanitize(s);
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

/// Serialize to JSON that is safe inside a `<script>` element: `<`, `>` and
/// `&` are written as `\u003c`, `\u003e` and `\u0026` (so no `</script>` or
/// `<!--` can appear), and U+2028/U+2029 as escapes. These characters only
/// occur inside JSON strings, where the escapes mean the same thing.
pub fn script_json<T: Serialize + ?Sized>(v: &T) -> String {
    let raw = serde_json::to_string(v).unwrap_or_else(|_| "null".into());
    let mut o = String::with_capacity(raw.len() + 16);
    for c in raw.chars() {
        match c {
            '<' => o.push_str("\\u003c"),
            '>' => o.push_str("\\u003e"),
            '&' => o.push_str("\\u0026"),
            '\u{2028}' => o.push_str("\\u2028"),
            '\u{2029}' => o.push_str("\\u2029"),
            _ => o.push(c),
        }
    }
    o
}

fn sev_rank(s: &str) -> u8 {
    match s {
        "high" => 0,
        "medium" => 1,
        "low" => 2,
        "info" => 3,
        _ => 4,
    }
}

/// One table cell's text: control characters made visible, length capped.
fn cell(s: Option<&str>, max: usize) -> String {
    s.map(|s| clip(&sanitize(s), max)).unwrap_or_default()
}

#[derive(Serialize)]
struct TableData {
    total: u64,
    columns: [&'static str; COLUMNS.len()],
    rows: Vec<[String; COLUMNS.len()]>,
}

/// The most severe, then most recent, findings, at most [`MAX_ROWS`].
fn table_rows(findings: &[Finding]) -> Vec<[String; COLUMNS.len()]> {
    let mut v: Vec<&Finding> = findings.iter().collect();
    let order = |a: &&Finding, b: &&Finding| {
        sev_rank(&a.severity)
            .cmp(&sev_rank(&b.severity))
            .then(b.event_time.cmp(&a.event_time))
            .then(a.event_id.cmp(&b.event_id))
    };
    if v.len() > MAX_ROWS {
        v.select_nth_unstable_by(MAX_ROWS, order);
        v.truncate(MAX_ROWS);
    }
    v.sort_by(order);
    v.into_iter()
        .map(|f| {
            [
                f.event_time
                    .map(crate::finding::format_time_ms)
                    .unwrap_or_default(),
                cell(Some(&f.severity), 20),
                cell(Some(&f.cause_id), 80),
                cell(Some(&f.confidence), 20),
                f.caller_arn
                    .as_deref()
                    .map(|a| cell(Some(a), 300))
                    .unwrap_or_else(|| format!("({})", cell(Some(&f.caller_type), 40))),
                cell(f.target_role_arn.as_deref(), 300),
                cell(f.role_session_name.as_deref(), 100),
                cell(f.aws_region.as_deref(), 40),
                cell(f.source_ip.as_deref(), 80),
                cell(f.user_agent.as_deref(), 200),
                cell(Some(&f.event_id), 80),
            ]
        })
        .collect()
}

/// Colour per cause id: the most frequent causes get their own colour.
fn colours(s: &Summary) -> BTreeMap<&str, &'static str> {
    s.by_cause
        .iter()
        .enumerate()
        .map(|(i, c)| {
            (
                c.cause_id.as_str(),
                PALETTE.get(i).copied().unwrap_or(OTHER_COLOUR),
            )
        })
        .collect()
}

/// The series of the chart, bottom to top: the coloured causes, then "other".
fn series(s: &Summary) -> Vec<(String, &'static str)> {
    let mut v: Vec<(String, &'static str)> = s
        .by_cause
        .iter()
        .take(COLOURED_CAUSES)
        .zip(PALETTE)
        .map(|(c, p)| (c.cause_id.clone(), p))
        .collect();
    if s.by_cause.len() > COLOURED_CAUSES {
        v.push((OTHER.to_string(), OTHER_COLOUR));
    }
    v
}

/// A round step for about `parts` grid lines up to `max`.
fn nice_step(max: u64, parts: u64) -> u64 {
    let raw = (max / parts.max(1)).max(1);
    let mut p = 1u64;
    while p.saturating_mul(10) <= raw {
        p = p.saturating_mul(10);
    }
    for m in [1, 2, 5, 10] {
        if p.saturating_mul(m) >= raw {
            return p.saturating_mul(m);
        }
    }
    p.saturating_mul(10)
}

fn short_label(bucket: &str, start: &str) -> String {
    match bucket {
        // 2026-10-05T07:00Z -> 10-05 07:00
        "hour" if start.len() >= 16 => format!("{} {}", &start[5..10], &start[11..16]),
        // 2026-10-05 -> 10-05 (the year is in the overview)
        "day" if start.len() >= 10 => start[5..10].to_string(),
        _ => start.to_string(),
    }
}

/// The stacked bar chart of failures over time, as inline SVG.
fn timeline_svg(s: &Summary) -> String {
    let t = &s.timeline;
    let ser = series(s);
    let coloured: BTreeMap<&str, usize> = ser
        .iter()
        .enumerate()
        .filter(|(_, (id, _))| id != OTHER)
        .map(|(i, (id, _))| (id.as_str(), i))
        .collect();
    let other_idx = ser.iter().position(|(id, _)| id == OTHER);
    // Per bucket, the count per series.
    let stacks: Vec<Vec<u64>> = t
        .rows
        .iter()
        .map(|r| {
            let mut v = vec![0u64; ser.len()];
            for (cause, n) in &r.counts {
                if let Some(i) = coloured.get(cause.as_str()).copied().or(other_idx) {
                    v[i] += n;
                }
            }
            v
        })
        .collect();
    let max = stacks
        .iter()
        .map(|v| v.iter().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let step = nice_step(max, 4);
    let ymax = max.div_ceil(step) * step;
    let (w, h) = (1000.0_f64, 280.0_f64);
    let (left, right, top, bottom) = (52.0, 40.0, 12.0, 42.0);
    let (pw, ph) = (w - left - right, h - top - bottom);
    let n = t.rows.len().max(1) as f64;
    let bw = pw / n;
    let gap = if bw > 4.0 { bw * 0.15 } else { 0.0 };
    let y = |v: u64| top + ph - (v as f64 / ymax as f64) * ph;
    let mut o = String::new();
    let _ = write!(
        o,
        r#"<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-labelledby="tt-chart-title"><title id="tt-chart-title">Failed role assumptions per {}, stacked by cause</title>"#,
        esc(&t.bucket)
    );
    let mut tick = 0;
    while tick <= ymax {
        let yy = y(tick);
        let _ = write!(
            o,
            r#"<line class="gridline" x1="{left}" x2="{}" y1="{yy:.1}" y2="{yy:.1}"/><text class="ytick" x="{}" y="{:.1}">{tick}</text>"#,
            w - right,
            left - 6.0,
            yy + 4.0
        );
        tick += step;
    }
    // Label every k-th bucket so that labels (about 6.6 px a character) do not overlap.
    let label_px = t
        .rows
        .first()
        .map_or(0, |r| short_label(&t.bucket, &r.start).chars().count()) as f64
        * 6.6
        + 14.0;
    let every = ((label_px / bw).ceil() as usize).max(1);
    for (i, (r, stack)) in t.rows.iter().zip(&stacks).enumerate() {
        let x = left + i as f64 * bw + gap / 2.0;
        let total: u64 = stack.iter().sum();
        let mut acc = 0u64;
        let _ = write!(o, "<g>");
        for (k, n) in stack.iter().enumerate() {
            if *n == 0 {
                continue;
            }
            let (y1, y0) = (y(acc + n), y(acc));
            acc += n;
            let (name, colour) = &ser[k];
            let _ = write!(
                o,
                r#"<rect x="{x:.2}" y="{y1:.2}" width="{:.2}" height="{:.2}" fill="{colour}"><title>{}: {} {n}</title></rect>"#,
                (bw - gap).max(0.5),
                (y0 - y1).max(0.0),
                esc(&r.start),
                esc(name),
            );
        }
        if total == 0 {
            let _ = write!(o, "<title>{}: 0</title>", esc(&r.start));
        }
        let _ = write!(o, "</g>");
        if i % every == 0 {
            let _ = write!(
                o,
                r#"<text class="xtick" x="{:.1}" y="{:.1}">{}</text>"#,
                x + (bw - gap) / 2.0,
                top + ph + 16.0,
                esc(&short_label(&t.bucket, &r.start))
            );
        }
    }
    let _ = write!(
        o,
        r#"<line class="axis" x1="{left}" x2="{}" y1="{:.1}" y2="{:.1}"/><text class="ylabel" x="{left}" y="{:.1}">failures per {} (UTC)</text></svg>"#,
        w - right,
        top + ph,
        top + ph,
        h - 4.0,
        esc(&t.bucket)
    );
    // Legend.
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for c in &s.by_cause {
        let key = if coloured.contains_key(c.cause_id.as_str()) {
            c.cause_id.as_str()
        } else {
            OTHER
        };
        *counts.entry(key).or_default() += c.count;
    }
    let _ = write!(o, r#"<ul class="legend">"#);
    for (name, colour) in &ser {
        let _ = write!(
            o,
            r#"<li><span class="swatch" style="background:{colour}"></span>{} <span class="muted">{}</span></li>"#,
            esc(name),
            counts.get(name.as_str()).copied().unwrap_or(0)
        );
    }
    let _ = write!(o, "</ul>");
    if t.undated > 0 {
        let _ = write!(
            o,
            r#"<p class="muted">{} finding(s) without an event time are not in the chart.</p>"#,
            t.undated
        );
    }
    o
}

/// One horizontal bar chart: (label HTML, detail HTML, count, colour).
fn bars(rows: &[(String, String, u64, &str)]) -> String {
    let max = rows.iter().map(|r| r.2).max().unwrap_or(1).max(1);
    let mut o = String::from(r#"<ol class="bars">"#);
    for (label, detail, n, colour) in rows {
        let pct = (*n as f64 / max as f64 * 100.0).max(0.5);
        let _ = write!(
            o,
            r#"<li><div class="bar-label">{label}{}</div><div class="bar-track"><span class="bar" style="width:{pct:.1}%;background:{colour}"></span><span class="bar-n">{n}</span></div></li>"#,
            if detail.is_empty() {
                String::new()
            } else {
                format!(r#"<div class="bar-detail">{detail}</div>"#)
            }
        );
    }
    o.push_str("</ol>");
    o
}

/// The first few causes of a caller or role, then how many more.
fn cause_list(causes: &[String]) -> String {
    const SHOW: usize = 4;
    let mut s = causes
        .iter()
        .take(SHOW)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if causes.len() > SHOW {
        let _ = write!(s, " and {} more", causes.len() - SHOW);
    }
    s
}

fn principal_bars(rows: &[CountRow], colours: &BTreeMap<&str, &'static str>) -> String {
    let v: Vec<(String, String, u64, &str)> = rows
        .iter()
        .map(|r| {
            let colour = r
                .causes
                .first()
                .and_then(|c| colours.get(c.as_str()).copied())
                .unwrap_or(OTHER_COLOUR);
            (
                format!(
                    r#"<span class="mono" title="{}">{}</span>"#,
                    esc(&r.key),
                    esc(&clip(&r.key, 120))
                ),
                esc(&cause_list(&r.causes)),
                r.count,
                colour,
            )
        })
        .collect();
    bars(&v)
}

fn card(o: &mut String, label: &str, value_html: &str, detail_html: &str) {
    let _ = write!(
        o,
        r#"<div class="card"><div class="card-label">{label}</div><div class="card-value">{value_html}</div><div class="card-detail">{detail_html}</div></div>"#
    );
}

fn overview(o: &mut String, s: &Summary) {
    let st = &s.stats;
    let _ = write!(
        o,
        r#"<section id="overview"><h2>Overview</h2><div class="cards">"#
    );
    let sev: Vec<String> = ["high", "medium", "low", "info"]
        .iter()
        .filter_map(|k| {
            s.by_severity
                .get(*k)
                .map(|n| format!(r#"<span class="sev sev-{k}">{n} {k}</span>"#))
        })
        .collect();
    card(
        o,
        "Failed role assumptions",
        &format!(r#"<span id="tt-findings">{}</span>"#, s.findings),
        &sev.join(" "),
    );
    card(
        o,
        "Causes",
        &format!(r#"<span id="tt-causes">{}</span>"#, s.by_cause.len()),
        &s.by_cause
            .first()
            .map(|c| format!("most frequent: <code>{}</code>", esc(&c.cause_id)))
            .unwrap_or_default(),
    );
    card(
        o,
        "Time range (UTC)",
        &format!(
            "<span class=\"range\">{}<br><span class=\"muted\">to</span> {}</span>",
            esc(s.first_event.as_deref().unwrap_or("-")),
            esc(s.last_event.as_deref().unwrap_or("-"))
        ),
        "",
    );
    card(
        o,
        "Accounts",
        &s.accounts.len().to_string(),
        &format!(
            r#"<span class="mono">{}</span>"#,
            esc(&clip(&s.accounts.join(", "), 400))
        ),
    );
    card(
        o,
        "Files",
        &format!(r#"<span id="tt-files-read">{}</span> read"#, st.files_read),
        &format!(
            "{} seen, {} skipped, <span class=\"{}\">{} failed</span>",
            st.files_seen,
            st.files_skipped,
            if st.files_failed > 0 { "warn" } else { "" },
            st.files_failed
        ),
    );
    card(
        o,
        "Records",
        &format!("{} read", st.records.read),
        &format!(
            "{} selected, {} not selected, {} malformed; {} dropped by filters, {} duplicate eventIDs",
            st.records.selected,
            st.records.not_selected,
            st.records.malformed,
            st.records.filtered,
            st.duplicates
        ),
    );
    let _ = write!(o, "</div>");
    if !s.perspective.is_empty() {
        let p: Vec<String> = s
            .perspective
            .iter()
            .map(|(k, n)| format!("{n} {}", esc(&k.replace('_', " "))))
            .collect();
        let _ = write!(
            o,
            r#"<p class="muted">Trail perspective: {}.</p>"#,
            p.join(", ")
        );
    }
    for n in &s.notes {
        let _ = write!(
            o,
            r#"<p class="note"><strong>Note:</strong> {}</p>"#,
            esc(n)
        );
    }
    let _ = write!(o, "</section>");
}

fn top_lists(o: &mut String, s: &Summary, colours: &BTreeMap<&str, &'static str>) {
    let _ = write!(
        o,
        r#"<section id="top"><h2>Who and what</h2><div class="grid">"#
    );
    let causes: Vec<(String, String, u64, &str)> = s
        .by_cause
        .iter()
        .take(super::TOP)
        .map(|c| {
            (
                format!(
                    r##"<a href="#cause-{id}"><code>{id}</code></a> <span class="sev sev-{sev}">{sev}</span>"##,
                    id = esc(&c.cause_id),
                    sev = esc(&c.severity)
                ),
                esc(&c.title),
                c.count,
                colours.get(c.cause_id.as_str()).copied().unwrap_or(OTHER_COLOUR),
            )
        })
        .collect();
    let more = s.by_cause.len().saturating_sub(super::TOP);
    let _ = write!(
        o,
        r##"<div class="panel" id="top-causes"><h3>Top causes</h3>{}{}</div>"##,
        bars(&causes),
        if more > 0 {
            format!(
                r##"<p class="muted">and {more} more cause(s): <a href="#causes">all causes</a></p>"##
            )
        } else {
            String::new()
        }
    );
    let pairs: Vec<(String, String, u64, &str)> = s
        .account_pairs
        .iter()
        .map(|p| {
            let rel = match p.cross_account {
                Some(true) => "cross-account",
                Some(false) => "same account",
                None => "relation unknown",
            };
            (
                format!(
                    r#"<span class="mono">{} → {}</span>"#,
                    esc(&p.caller_account),
                    esc(&p.role_account)
                ),
                rel.to_string(),
                p.count,
                "#4e79a7",
            )
        })
        .collect();
    let _ = write!(
        o,
        r#"<div class="panel" id="top-pairs"><h3>Account pairs <span class="muted">caller → role</span></h3>{}</div>"#,
        bars(&pairs)
    );
    let _ = write!(
        o,
        r#"<div class="panel" id="top-callers"><h3>Top callers</h3>{}</div>"#,
        principal_bars(&s.top_callers, colours)
    );
    let _ = write!(
        o,
        r#"<div class="panel" id="top-roles"><h3>Top target roles</h3>{}</div>"#,
        principal_bars(&s.top_roles, colours)
    );
    let _ = write!(o, "</div></section>");
}

fn findings_table(o: &mut String, s: &Summary, shown: usize) {
    let _ = write!(o, r#"<section id="findings"><h2>Findings</h2>"#);
    if (shown as u64) < s.findings {
        let _ = write!(
            o,
            r#"<p class="note" id="tt-capped">The table holds the {shown} most severe, then most recent, of {} findings. Everything else on this page counts all of them; for every row use <code>--jsonl</code> or <code>--parquet</code>.</p>"#,
            s.findings
        );
    }
    let _ = write!(
        o,
        r#"<div class="controls"><label>Search <input id="tt-q" type="search" placeholder="ARN, IP, user agent, event id…" autocomplete="off"></label> <label>Cause <select id="tt-cause"><option value="">all</option>"#
    );
    for c in &s.by_cause {
        let _ = write!(
            o,
            r#"<option value="{id}">{id} ({n})</option>"#,
            id = esc(&c.cause_id),
            n = c.count
        );
    }
    let _ = write!(
        o,
        r#"</select></label> <label>Severity <select id="tt-sev"><option value="">all</option>"#
    );
    for k in ["high", "medium", "low", "info"] {
        if let Some(n) = s.by_severity.get(k) {
            let _ = write!(o, r#"<option value="{k}">{k} ({n})</option>"#);
        }
    }
    let _ = write!(
        o,
        r#"</select></label> <button type="button" id="tt-reset">Reset</button></div><p id="tt-status" class="muted" aria-live="polite">The findings table needs JavaScript.</p><div class="table-wrap"><table id="tt-table"><thead><tr>"#
    );
    for (i, c) in COLUMNS.iter().enumerate() {
        let _ = write!(
            o,
            r#"<th data-col="{i}" aria-sort="none"><button type="button">{c}</button></th>"#
        );
    }
    let _ = write!(
        o,
        r#"</tr></thead><tbody></tbody></table></div><div class="pager"><button type="button" id="tt-prev">← Previous</button> <button type="button" id="tt-next">Next →</button></div></section>"#
    );
}

fn cause_details(o: &mut String, s: &Summary, colours: &BTreeMap<&str, &'static str>) {
    if s.by_cause.is_empty() {
        return;
    }
    let _ = write!(
        o,
        r#"<section id="causes"><h2>Causes: checklist and remediation</h2>"#
    );
    for c in &s.by_cause {
        let colour = colours
            .get(c.cause_id.as_str())
            .copied()
            .unwrap_or(OTHER_COLOUR);
        let _ = write!(
            o,
            r#"<article class="cause" id="cause-{id}"><h3><span class="swatch" style="background:{colour}"></span>{title}</h3><p><code>{id}</code> <span class="sev sev-{sev}">{sev}</span> <strong>{n}</strong> finding(s): {ce} certain, {li} likely, {po} possible <button type="button" class="show-cause" data-cause="{id}">show in table</button></p><dl><dt>Checklist item</dt><dd>{check}</dd><dt>Remediation</dt><dd>{rem}</dd><dt>Example events</dt><dd>"#,
            id = esc(&c.cause_id),
            title = esc(&c.title),
            sev = esc(&c.severity),
            n = c.count,
            ce = c.certain,
            li = c.likely,
            po = c.possible,
            check = esc(&c.checklist),
            rem = esc(&c.remediation),
        );
        for e in &c.examples {
            let _ = write!(
                o,
                r#"<button type="button" class="example mono" data-q="{e}" title="show in the table">{e}</button> "#,
                e = esc(e)
            );
        }
        let _ = write!(o, "</dd></dl></article>");
    }
    let _ = write!(o, "</section>");
}

fn input_section(o: &mut String, s: &Summary) {
    let st = &s.stats;
    let _ = write!(o, r#"<section id="input"><h2>Input</h2>"#);
    if !st.skipped_reasons.is_empty() {
        let _ = write!(
            o,
            "<h3>Skipped files</h3><table class=\"small\"><thead><tr><th>reason</th><th>files</th></tr></thead><tbody>"
        );
        for (why, n) in &st.skipped_reasons {
            let _ = write!(o, "<tr><td>{}</td><td>{n}</td></tr>", esc(why));
        }
        let _ = write!(o, "</tbody></table>");
    }
    if !st.failed.is_empty() {
        let _ = write!(
            o,
            r#"<h3 class="warn">Unreadable input</h3><ul class="failed">"#
        );
        for (name, why) in &st.failed {
            let _ = write!(
                o,
                r#"<li><span class="mono">{}</span>: {}</li>"#,
                esc(name),
                esc(why)
            );
        }
        let _ = write!(o, "</ul>");
    }
    let _ = write!(o, r#"<h3>Accounting</h3><ul id="tt-accounting">"#);
    for l in accounting_lines(st) {
        let _ = write!(o, "<li>{}</li>", esc(&l));
    }
    let _ = write!(
        o,
        "<li>bytes: {} compressed, {} inflated</li></ul></section>",
        st.compressed_bytes, st.decompressed_bytes
    );
}

/// Render the page.
pub fn render(s: &Summary, findings: &[Finding]) -> String {
    let colours = colours(s);
    let rows = table_rows(findings);
    let shown = rows.len();
    let data = TableData {
        total: s.findings,
        columns: COLUMNS,
        rows,
    };
    let mut o = String::with_capacity(64 * 1024 + shown * 400);
    let _ = write!(
        o,
        r##"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>Failed role assumptions: {n} — {tool}</title>
<style>{CSS}</style>
<script>{ERROR_HOOK}</script>
</head>
<body>
<header><h1>Failed role assumptions</h1><p class="muted">{tool} · <a href="#overview">overview</a> · <a href="#timeline">over time</a> · <a href="#top">who and what</a> · <a href="#findings">findings</a> · <a href="#causes">causes</a> · <a href="#input">input</a></p></header>
<main>
"##,
        n = s.findings,
        tool = esc(&s.tool),
    );
    overview(&mut o, s);
    let _ = write!(o, r#"<section id="timeline"><h2>Failures over time</h2>"#);
    if s.timeline.rows.is_empty() {
        let _ = write!(o, r#"<p class="muted">No dated finding.</p>"#);
    } else {
        o.push_str(&timeline_svg(s));
    }
    let _ = write!(o, "</section>");
    top_lists(&mut o, s, &colours);
    findings_table(&mut o, s, shown);
    cause_details(&mut o, s, &colours);
    input_section(&mut o, s);
    let _ = write!(
        o,
        "</main>\n<script type=\"application/json\" id=\"tt-data\">{}</script>\n<script>{SCRIPT}</script>\n</body>\n</html>\n",
        script_json(&data)
    );
    o
}

/// Installed first, in its own element, so that even a syntax error in the
/// main script leaves a visible marker (`#tt-js-error`) in the page.
const ERROR_HOOK: &str = r#"window.addEventListener('error',function(e){var d=document.getElementById('tt-js-error');if(!d){d=document.createElement('div');d.id='tt-js-error';d.className='note warn';(document.body||document.documentElement).prepend(d);}d.textContent='Script error: '+(e&&e.message?e.message:'unknown');});"#;

const CSS: &str = r#"
:root{--fg:#1f2328;--muted:#59636e;--bg:#fff;--panel:#f6f8fa;--line:#d1d9e0;--high:#c62828;--medium:#e06c00;--low:#2e7d32;--info:#546e7a;--link:#0969da}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9198a1;--bg:#0d1117;--panel:#161b22;--line:#3d444d;--link:#4493f8}}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;color:var(--fg);background:var(--bg)}
header,main{max-width:1400px;margin:0 auto;padding:0 20px}
header{padding-top:16px}
h1{font-size:24px;margin:0 0 4px}
h2{font-size:18px;margin:28px 0 10px;padding-bottom:4px;border-bottom:1px solid var(--line)}
h3{font-size:15px;margin:12px 0 8px}
a{color:var(--link)}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.muted{color:var(--muted)}
.warn{color:var(--high)}
.note{background:var(--panel);border-left:4px solid var(--medium);padding:8px 12px;margin:8px 0}
#tt-js-error{border-left-color:var(--high);font-weight:bold}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(210px,1fr));gap:10px}
.card{background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:10px 12px}
.card-label{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card-value{font-size:22px;font-weight:600;margin:2px 0}
.card-value .range{font-size:13px;font-weight:600;white-space:nowrap}
.card-detail{font-size:12.5px;color:var(--muted);word-break:break-word}
.sev{display:inline-block;padding:0 6px;border-radius:10px;font-size:12px;color:#fff;background:var(--info)}
.sev-high{background:var(--high)}.sev-medium{background:var(--medium)}.sev-low{background:var(--low)}
.chart{width:100%;height:auto;display:block}
.chart .gridline{stroke:var(--line);stroke-width:1}
.chart .axis{stroke:var(--muted);stroke-width:1}
.chart text{fill:var(--muted);font-size:11px}
.chart .ytick{text-anchor:end}
.chart .xtick{text-anchor:middle}
.chart rect:hover{opacity:.75}
.legend{list-style:none;padding:0;margin:6px 0;display:flex;flex-wrap:wrap;gap:4px 16px;font-size:12.5px}
.swatch{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:5px;vertical-align:-1px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:14px}
.panel{background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:4px 14px 10px}
.bars{list-style:none;margin:0;padding:0}
.bars li{margin:6px 0}
.bar-label{font-size:12.5px;word-break:break-all}
.bar-detail{font-size:11.5px;color:var(--muted);word-break:break-word}
.bar-track{display:flex;align-items:center;gap:6px}
.bar{display:inline-block;height:10px;border-radius:2px;min-width:2px}
.bar-n{font-size:12px;font-variant-numeric:tabular-nums}
.controls{display:flex;flex-wrap:wrap;gap:8px 16px;align-items:center;margin-bottom:6px}
.controls input{width:300px}
input,select,button{font:inherit;font-size:13px}
.table-wrap{overflow-x:auto;border:1px solid var(--line);border-radius:6px}
table{border-collapse:collapse;width:100%}
#tt-table{font-size:12px}
#tt-table th{position:sticky;top:0;background:var(--panel);text-align:left;white-space:nowrap;border-bottom:1px solid var(--line)}
#tt-table th button{background:none;border:0;padding:6px;font-weight:600;color:var(--fg);cursor:pointer}
#tt-table th[aria-sort=ascending] button::after{content:" ▲"}
#tt-table th[aria-sort=descending] button::after{content:" ▼"}
#tt-table td{padding:4px 6px;border-top:1px solid var(--line);vertical-align:top;overflow-wrap:anywhere;max-width:320px}
#tt-table td.nowrap{white-space:nowrap}
#tt-table td.arn{min-width:200px}
#tt-table td.ua{max-width:260px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
#tt-table tr.row-high td:nth-child(2){color:var(--high);font-weight:600}
#tt-table tr.row-medium td:nth-child(2){color:var(--medium);font-weight:600}
#tt-table tbody tr:hover{background:var(--panel)}
table.small td,table.small th{padding:3px 8px;border-bottom:1px solid var(--line);text-align:left}
.pager{margin:8px 0}
.cause{border:1px solid var(--line);border-radius:6px;padding:2px 14px 6px;margin:10px 0}
.cause dt{font-weight:600;margin-top:6px}
.cause dd{margin:2px 0 4px 0}
button.example{margin:2px 4px 2px 0;cursor:pointer}
footer{max-width:1400px;margin:24px auto;padding:0 20px}
"#;

/// The table: sort by any column, filter by text, cause and severity, page
/// through 100 rows at a time. Data is read from `#tt-data` and written with
/// `textContent` only, never as markup.
const SCRIPT: &str = r#"
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('tt-data').textContent) || {rows: [], total: 0};
  var rows = data.rows || [];
  var SEV = {high: 0, medium: 1, low: 2, info: 3};
  var COL_SEV = 1, COL_CAUSE = 2, COL_UA = 9, PAGE = 100;
  var CLS = ['nowrap', 'nowrap', 'id', '', 'arn', 'arn', 'id', 'nowrap', 'nowrap', 'ua', 'id'];
  var hay = rows.map(function (r) { return r.join('\u0001').toLowerCase(); });
  var state = {q: '', cause: '', sev: '', col: -1, dir: 1, page: 0};
  var order = rows.map(function (_, i) { return i; });
  var q = document.getElementById('tt-q');
  var selCause = document.getElementById('tt-cause');
  var selSev = document.getElementById('tt-sev');
  var tbody = document.querySelector('#tt-table tbody');
  var status = document.getElementById('tt-status');
  var prev = document.getElementById('tt-prev');
  var next = document.getElementById('tt-next');
  var heads = document.querySelectorAll('#tt-table th');

  function key(r, c) {
    var v = r[c];
    if (c === COL_SEV) { return v in SEV ? SEV[v] : 9; }
    return v;
  }
  function sortBy(c) {
    if (state.col === c) { state.dir = -state.dir; } else { state.col = c; state.dir = 1; }
    order.sort(function (a, b) {
      var x = key(rows[a], c), y = key(rows[b], c);
      var r = x < y ? -1 : x > y ? 1 : 0;
      return r * state.dir || a - b;
    });
    for (var i = 0; i < heads.length; i++) {
      heads[i].setAttribute('aria-sort', i === c ? (state.dir > 0 ? 'ascending' : 'descending') : 'none');
    }
    state.page = 0;
    render();
  }
  function matching() {
    var out = [], needle = state.q.trim().toLowerCase();
    for (var k = 0; k < order.length; k++) {
      var i = order[k], r = rows[i];
      if (state.cause && r[COL_CAUSE] !== state.cause) { continue; }
      if (state.sev && r[COL_SEV] !== state.sev) { continue; }
      if (needle && hay[i].indexOf(needle) < 0) { continue; }
      out.push(i);
    }
    return out;
  }
  function render() {
    var list = matching();
    var pages = Math.max(1, Math.ceil(list.length / PAGE));
    if (state.page >= pages) { state.page = pages - 1; }
    var start = state.page * PAGE, end = Math.min(list.length, start + PAGE);
    var frag = document.createDocumentFragment();
    for (var k = start; k < end; k++) {
      var r = rows[list[k]], tr = document.createElement('tr');
      if (r[COL_SEV] in SEV) { tr.className = 'row-' + r[COL_SEV]; }
      for (var c = 0; c < r.length; c++) {
        var td = document.createElement('td');
        td.textContent = r[c];
        if (CLS[c]) { td.className = CLS[c]; }
        if (c === COL_UA) { td.title = r[c]; }
        tr.appendChild(td);
      }
      frag.appendChild(tr);
    }
    tbody.replaceChildren(frag);
    var of = rows.length < data.total ? ' (table holds ' + rows.length + ' of ' + data.total + ' findings)' : '';
    status.textContent = list.length
      ? 'Showing ' + (start + 1) + '–' + end + ' of ' + list.length + ' matching findings' + of + '.'
      : 'No finding matches the filters' + of + '.';
    prev.disabled = state.page === 0;
    next.disabled = state.page >= pages - 1;
  }
  function setQuery(v) { state.q = v; q.value = v; state.page = 0; }
  function show() {
    var f = document.getElementById('findings');
    if (f && f.scrollIntoView) { f.scrollIntoView(); }
  }
  q.addEventListener('input', function () { state.q = q.value; state.page = 0; render(); });
  selCause.addEventListener('change', function () { state.cause = selCause.value; state.page = 0; render(); });
  selSev.addEventListener('change', function () { state.sev = selSev.value; state.page = 0; render(); });
  prev.addEventListener('click', function () { state.page = Math.max(0, state.page - 1); render(); });
  next.addEventListener('click', function () { state.page += 1; render(); });
  document.getElementById('tt-reset').addEventListener('click', function () {
    setQuery(''); state.cause = ''; state.sev = ''; selCause.value = ''; selSev.value = ''; render();
  });
  Array.prototype.forEach.call(heads, function (th) {
    th.addEventListener('click', function () { sortBy(parseInt(th.getAttribute('data-col'), 10)); });
  });
  Array.prototype.forEach.call(document.querySelectorAll('button.example'), function (b) {
    b.addEventListener('click', function () {
      state.cause = ''; state.sev = ''; selCause.value = ''; selSev.value = '';
      setQuery(b.getAttribute('data-q') || ''); render(); show();
    });
  });
  Array.prototype.forEach.call(document.querySelectorAll('button.show-cause'), function (b) {
    b.addEventListener('click', function () {
      setQuery(''); state.sev = ''; selSev.value = '';
      state.cause = b.getAttribute('data-cause') || ''; selCause.value = state.cause; render(); show();
    });
  });
  // A link such as report.html#findings?q=alice&cause=scp_deny&sev=high opens
  // the table filtered.
  var h = location.hash, at = h.indexOf('?');
  if (at >= 0 && typeof URLSearchParams === 'function') {
    var p = new URLSearchParams(h.slice(at + 1));
    setQuery(p.get('q') || '');
    state.cause = p.get('cause') || ''; selCause.value = state.cause;
    state.sev = p.get('sev') || ''; selSev.value = state.sev;
    render(); show();
  } else {
    render();
  }
  document.body.setAttribute('data-tt-ready', '1');
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_json_cannot_close_the_script_element() {
        let s = script_json(&[
            "</script><img src=x onerror=alert(1)>",
            "a&b",
            "\u{2028}\u{2029}",
        ]);
        assert!(!s.contains('<') && !s.contains('>') && !s.contains('&'));
        assert!(!s.contains('\u{2028}') && !s.contains('\u{2029}'));
        let back: Vec<String> = serde_json::from_str(&s).unwrap_or_default();
        assert_eq!(back[0], "</script><img src=x onerror=alert(1)>");
        assert_eq!(back[1], "a&b");
    }

    #[test]
    fn esc_escapes_markup_and_shows_control_characters() {
        assert_eq!(
            esc("<b a=\"x\" c='y'>&\u{1b}[31m"),
            "&lt;b a=&quot;x&quot; c=&#39;y&#39;&gt;&amp;\\u{1b}[31m"
        );
    }

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(1, 4), 1);
        assert_eq!(nice_step(9, 4), 2);
        assert_eq!(nice_step(40, 4), 10);
        assert_eq!(nice_step(130, 4), 50);
        assert_eq!(nice_step(u64::MAX, 4), nice_step(u64::MAX, 4));
    }
}

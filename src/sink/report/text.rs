//! Plain-text report for terminals. Every string that comes from a log is
//! sanitized (no control characters reach the terminal).

use std::fmt::Write;

use super::{Summary, TextStyle, accounting_lines};
use crate::util::{clip, sanitize};

fn paint(s: &str, code: &str, on: bool) -> String {
    if on {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

fn sev_color(sev: &str) -> &'static str {
    match sev {
        "high" => "1;31",
        "medium" => "33",
        "low" => "36",
        _ => "2",
    }
}

pub fn render(s: &Summary, style: TextStyle) -> String {
    let w = style.width.clamp(60, 200);
    let c = style.color;
    let mut o = String::new();
    let rule = "─".repeat(w.min(100));
    let _ = writeln!(
        o,
        "{}",
        paint(&format!("{} — failed role assumptions", s.tool), "1", c)
    );
    let _ = writeln!(o, "{rule}");
    let range = match (&s.first_event, &s.last_event) {
        (Some(a), Some(b)) => format!("{a} → {b}"),
        _ => "-".into(),
    };
    let sev: Vec<String> = ["high", "medium", "low", "info"]
        .iter()
        .filter_map(|k| {
            s.by_severity
                .get(*k)
                .map(|n| paint(&format!("{n} {k}"), sev_color(k), c))
        })
        .collect();
    let _ = writeln!(
        o,
        "findings   {}  ({})",
        s.findings,
        if sev.is_empty() {
            "none".into()
        } else {
            sev.join(", ")
        }
    );
    let _ = writeln!(o, "time range {range}");
    let _ = writeln!(
        o,
        "accounts   {}",
        if s.accounts.is_empty() {
            "-".into()
        } else {
            s.accounts.join(", ")
        }
    );
    for n in &s.notes {
        let _ = writeln!(o, "{} {}", paint("note:", "1;33", c), n);
    }
    if !s.by_cause.is_empty() {
        let _ = writeln!(o, "\n{}", paint("By cause", "1", c));
        let idw = s
            .by_cause
            .iter()
            .map(|r| r.cause_id.len())
            .max()
            .unwrap_or(10)
            .max(5);
        let _ = writeln!(
            o,
            "  {:>6}  {:<idw$}  {:<8} {:<24} checklist",
            "count", "cause", "severity", "confidence (c/l/p)"
        );
        for r in &s.by_cause {
            let conf = format!("{}/{}/{}", r.certain, r.likely, r.possible);
            let _ = writeln!(
                o,
                "  {:>6}  {:<idw$}  {} {:<24} {}",
                r.count,
                r.cause_id,
                paint(&format!("{:<8}", r.severity), sev_color(&r.severity), c),
                conf,
                r.checklist
            );
        }
        let _ = writeln!(o, "\n{}", paint("What to do", "1", c));
        for r in &s.by_cause {
            let _ = writeln!(o, "  {} — {}", paint(&r.cause_id, "1", c), r.title);
            for line in wrap(&r.remediation, w.saturating_sub(6)) {
                let _ = writeln!(o, "      {line}");
            }
            let _ = writeln!(
                o,
                "      e.g. {}",
                r.examples
                    .iter()
                    .map(|e| sanitize(e).into_owned())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    let keyw = w.saturating_sub(20).max(30);
    for (title, rows) in [
        ("Top callers", &s.top_callers),
        ("Top target roles", &s.top_roles),
    ] {
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(o, "\n{}", paint(title, "1", c));
        for r in rows {
            let _ = writeln!(o, "  {:>6}  {}", r.count, clip(&sanitize(&r.key), keyw));
            let _ = writeln!(o, "          {}", clip(&r.causes.join(", "), keyw));
        }
    }
    if !s.account_pairs.is_empty() {
        let _ = writeln!(o, "\n{}", paint("Account pairs (caller → role)", "1", c));
        for p in &s.account_pairs {
            let x = match p.cross_account {
                Some(true) => "cross-account",
                Some(false) => "same account",
                None => "relation unknown",
            };
            let _ = writeln!(
                o,
                "  {:>6}  {} → {}  ({x})",
                p.count,
                sanitize(&p.caller_account),
                sanitize(&p.role_account)
            );
        }
    }
    if !s.by_day.is_empty() {
        let _ = writeln!(o, "\n{}", paint("By day", "1", c));
        let max = s.by_day.iter().map(|d| d.1).max().unwrap_or(1).max(1);
        let barw = w.saturating_sub(24).clamp(10, 60) as u64;
        for (d, n) in &s.by_day {
            let bar = "█".repeat(((n * barw).div_ceil(max)) as usize);
            let _ = writeln!(o, "  {d}  {n:>6}  {bar}");
        }
    }
    if !s.stats.failed.is_empty() {
        let _ = writeln!(o, "\n{}", paint("Unreadable input", "1;31", c));
        for (name, why) in &s.stats.failed {
            let _ = writeln!(o, "  {}: {}", sanitize(name), sanitize(why));
        }
    }
    if !s.stats.skipped_reasons.is_empty() {
        let _ = writeln!(o, "\n{}", paint("Skipped input", "1", c));
        for (why, n) in &s.stats.skipped_reasons {
            let _ = writeln!(o, "  {n:>6}  {}", sanitize(why));
        }
    }
    let _ = writeln!(o, "\n{rule}");
    for l in accounting_lines(&s.stats) {
        let _ = writeln!(o, "{l}");
    }
    o
}

/// Greedy word wrap.
pub fn wrap(s: &str, width: usize) -> Vec<String> {
    let width = width.max(20);
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in s.split_whitespace() {
        if !cur.is_empty() && cur.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

//! Markdown report. Log-controlled text is escaped so it cannot break tables
//! or inject markup.

use std::fmt::Write;

use super::{Summary, accounting_lines};
use crate::util::{clip, sanitize};

/// Escape text for a Markdown table cell or paragraph.
pub fn md(s: &str) -> String {
    let s = sanitize(s);
    let mut o = String::with_capacity(s.len() + 8);
    for ch in s.chars() {
        match ch {
            '|' | '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '~' => {
                o.push('\\');
                o.push(ch);
            }
            _ => o.push(ch),
        }
    }
    o
}

pub fn render(s: &Summary) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# Failed role assumptions\n");
    let _ = writeln!(o, "_{}_\n", md(&s.tool));
    let _ = writeln!(o, "| | |\n|---|---|");
    let _ = writeln!(o, "| findings | {} |", s.findings);
    let sev: Vec<String> = ["high", "medium", "low", "info"]
        .iter()
        .filter_map(|k| s.by_severity.get(*k).map(|n| format!("{n} {k}")))
        .collect();
    let _ = writeln!(
        o,
        "| by severity | {} |",
        if sev.is_empty() {
            "-".into()
        } else {
            sev.join(", ")
        }
    );
    let _ = writeln!(
        o,
        "| time range | {} → {} |",
        s.first_event.as_deref().unwrap_or("-"),
        s.last_event.as_deref().unwrap_or("-")
    );
    let _ = writeln!(
        o,
        "| accounts | {} |",
        if s.accounts.is_empty() {
            "-".into()
        } else {
            md(&s.accounts.join(", "))
        }
    );
    let st = &s.stats;
    let _ = writeln!(
        o,
        "| files | {} read, {} skipped, {} failed |",
        st.files_read, st.files_skipped, st.files_failed
    );
    let _ = writeln!(
        o,
        "| records | {} read, {} selected, {} not selected, {} malformed |",
        st.records.read, st.records.selected, st.records.not_selected, st.records.malformed
    );
    if !s.notes.is_empty() {
        let _ = writeln!(o);
        for n in &s.notes {
            let _ = writeln!(o, "> **Note:** {}", md(n));
        }
    }
    if !s.by_cause.is_empty() {
        let _ = writeln!(o, "\n## By cause\n");
        let _ = writeln!(
            o,
            "| count | cause | severity | certain | likely | possible | checklist item |"
        );
        let _ = writeln!(o, "|---:|---|---|---:|---:|---:|---|");
        for r in &s.by_cause {
            let _ = writeln!(
                o,
                "| {} | `{}` | {} | {} | {} | {} | {} |",
                r.count,
                r.cause_id,
                r.severity,
                r.certain,
                r.likely,
                r.possible,
                md(&r.checklist)
            );
        }
        let _ = writeln!(o, "\n## Remediation\n");
        for r in &s.by_cause {
            let _ = writeln!(o, "### `{}` — {}\n", r.cause_id, md(&r.title));
            let _ = writeln!(o, "{}\n", md(&r.remediation));
            let ex: Vec<String> = r
                .examples
                .iter()
                .map(|e| format!("`{}`", md(e).replace('`', "")))
                .collect();
            let _ = writeln!(o, "Example events: {}\n", ex.join(", "));
        }
    }
    for (title, rows) in [
        ("Top callers", &s.top_callers),
        ("Top target roles", &s.top_roles),
    ] {
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(o, "\n## {title}\n");
        let _ = writeln!(o, "| count | principal | causes |\n|---:|---|---|");
        for r in rows {
            let _ = writeln!(
                o,
                "| {} | {} | {} |",
                r.count,
                md(&clip(&r.key, 200)),
                md(&r.causes.join(", "))
            );
        }
    }
    if !s.account_pairs.is_empty() {
        let _ = writeln!(o, "\n## Account pairs\n");
        let _ = writeln!(
            o,
            "| count | caller account | role account | relation |\n|---:|---|---|---|"
        );
        for p in &s.account_pairs {
            let rel = match p.cross_account {
                Some(true) => "cross-account",
                Some(false) => "same account",
                None => "unknown",
            };
            let _ = writeln!(
                o,
                "| {} | {} | {} | {rel} |",
                p.count,
                md(&p.caller_account),
                md(&p.role_account)
            );
        }
    }
    if !s.by_day.is_empty() {
        let _ = writeln!(o, "\n## By day\n");
        let _ = writeln!(o, "| day | failures |\n|---|---:|");
        for (d, n) in &s.by_day {
            let _ = writeln!(o, "| {} | {n} |", md(d));
        }
    }
    if !st.failed.is_empty() {
        let _ = writeln!(o, "\n## Unreadable input\n");
        for (name, why) in &st.failed {
            let _ = writeln!(o, "- {}: {}", md(name), md(why));
        }
    }
    let _ = writeln!(o, "\n## Accounting\n");
    for l in accounting_lines(st) {
        let _ = writeln!(o, "- {}", md(&l));
    }
    o
}

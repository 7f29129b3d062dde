//! Cross-event escalation: one caller trying many roles or accounts in a
//! short window (role enumeration, causes.md §2.32), or many rejected MFA
//! codes, is raised to severity high. Runs on sorted findings, so the result
//! is deterministic.

use std::collections::{BTreeMap, BTreeSet};

use crate::finding::Finding;

/// Window length for burst detection.
pub const WINDOW_MS: i64 = 10 * 60 * 1000;
/// Distinct role ARNs from one caller inside the window that make a burst.
pub const DISTINCT_ROLES: usize = 5;
/// Distinct role accounts from one caller inside the window that make a burst.
pub const DISTINCT_ACCOUNTS: usize = 3;
/// Rejected MFA codes from one caller inside the window that make a burst.
pub const MFA_FAILURES: usize = 5;

const AMBIGUOUS: &[&str] = &[
    "cross_account_denied_ambiguous",
    "same_account_denied_ambiguous",
];

/// The findings among `idx` (time-ordered, ending with `last`) that lie
/// within the window before `last`.
fn window_ending_at(findings: &[Finding], idx: &[usize], last: usize) -> Vec<usize> {
    let t = findings[last].event_time.unwrap_or(0);
    idx.iter()
        .rev()
        .copied()
        .take_while(|&j| t - findings[j].event_time.unwrap_or(0) <= WINDOW_MS)
        .collect()
}

pub fn escalate(findings: &mut [Finding]) {
    // caller -> indices of ambiguous findings / MFA failures, in time order
    let mut by_caller: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut mfa: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, f) in findings.iter().enumerate() {
        let (Some(c), Some(_)) = (f.caller_arn.as_deref(), f.event_time) else {
            continue;
        };
        if AMBIGUOUS.contains(&f.cause_id.as_str()) {
            by_caller.entry(c).or_default().push(i);
        } else if f.cause_id == "mfa_invalid_code" {
            mfa.entry(c).or_default().push(i);
        }
    }
    let mut raise: Vec<(usize, String)> = Vec::new();
    for idx in by_caller.values() {
        for (k, &i) in idx.iter().enumerate() {
            let window = window_ending_at(findings, &idx[..=k], i);
            let roles: BTreeSet<&str> = window
                .iter()
                .filter_map(|&j| findings[j].target_role_arn.as_deref())
                .collect();
            let accts: BTreeSet<&str> = window
                .iter()
                .filter_map(|&j| findings[j].role_account_id.as_deref())
                .collect();
            if roles.len() >= DISTINCT_ROLES || accts.len() >= DISTINCT_ACCOUNTS {
                let note = format!(
                    "; role-enumeration pattern: this caller was denied on {} distinct roles in {} accounts within 10 minutes",
                    roles.len(),
                    accts.len()
                );
                for j in window {
                    raise.push((j, note.clone()));
                }
            }
        }
    }
    for idx in mfa.values() {
        for (k, &i) in idx.iter().enumerate() {
            let window = window_ending_at(findings, &idx[..=k], i);
            if window.len() >= MFA_FAILURES {
                let note = format!(
                    "; burst: {} rejected MFA codes from this caller within 10 minutes",
                    window.len()
                );
                for j in window {
                    raise.push((j, note.clone()));
                }
            }
        }
    }
    // Apply the strongest note once per finding.
    raise.sort();
    let mut last: Option<usize> = None;
    for (j, note) in raise.into_iter().rev() {
        if last == Some(j) {
            continue;
        }
        last = Some(j);
        let f = &mut findings[j];
        f.severity = "high".to_string();
        f.evidence.push_str(&note);
    }
}

//! Classification of one selected event by likely cause, following the
//! decision order of causes.md §4 literally:
//!
//! 0. scope (see [`select`]);
//! 1. the error-code map of §3 ([`codes`]);
//! 2. caller-type absolutes (Root);
//! 3. message literals ([`literals`]), with the truncation guard;
//! 4. structural checks on the request ([`structural`]);
//! 5. inventory-backed evaluation (not part of the log-only catalogue);
//! 6. request-shape hints, only ever as secondary causes ([`hints`]);
//! 7. the ambiguous fallbacks ([`fallback`]).
//!
//! The first rule that matches decides the primary cause; later rules may only
//! add secondary candidates.

pub mod catalog;
mod codes;
mod fallback;
mod hints;
mod literals;
mod structural;

use std::fmt;

use crate::event::Event;
use crate::norm::Norm;

/// How sure the classifier is, from what the record shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Confidence {
    Certain,
    Likely,
    Possible,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Certain => "certain",
            Confidence::Likely => "likely",
            Confidence::Possible => "possible",
        }
    }
}

impl fmt::Display for Confidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    High,
    Medium,
    Low,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::Info => "info",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "high" => Some(Severity::High),
            "medium" => Some(Severity::Medium),
            "low" => Some(Severity::Low),
            "info" => Some(Severity::Info),
            _ => None,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an event was selected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// A failed role assumption in scope of causes.md §1.
    Assume,
    /// Another AccessDenied-family event (`--all-denied`).
    OtherDenied,
    /// Context only: the role-owner copy of a cross-account AssumeRole (`--include-context`).
    Context,
}

/// Selection options.
#[derive(Debug, Clone, Copy, Default)]
pub struct SelectOptions {
    pub all_denied: bool,
    pub include_context: bool,
    /// Which non-failure events to gather as log context
    /// ([`crate::policy::context`]): the pre-filter lets them through.
    pub log_context: crate::policy::context::LogContext,
}

/// The classification of one event.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub cause_id: &'static str,
    pub confidence: Confidence,
    pub severity: Severity,
    pub secondary_causes: Vec<&'static str>,
    pub evidence: String,
    pub needs_input: Vec<&'static str>,
}

impl Verdict {
    pub(crate) fn new(cause_id: &'static str, confidence: Confidence, evidence: String) -> Verdict {
        let severity = catalog::cause(cause_id).map_or(Severity::Medium, |c| c.severity);
        Verdict {
            cause_id,
            confidence,
            severity,
            secondary_causes: Vec::new(),
            evidence,
            needs_input: Vec::new(),
        }
    }

    pub(crate) fn add_secondary(&mut self, id: &'static str) {
        if id != self.cause_id && !self.secondary_causes.contains(&id) {
            self.secondary_causes.push(id);
        }
    }
}

const ASSUME_NAMES: &[&str] = &[
    "AssumeRole",
    "AssumeRoleWithSAML",
    "AssumeRoleWithWebIdentity",
    "AssumeRoot",
];

/// Does the message name one of the STS actions that put an event in scope?
pub fn message_names_sts_assume(msg: &str) -> bool {
    msg.contains("sts:AssumeRole")
        || msg.contains("sts:TagSession")
        || msg.contains("sts:SetSourceIdentity")
}

/// Is the (normalized) error code of the AccessDenied family?
pub fn is_denied_family(code: &str) -> bool {
    code.contains("AccessDenied") || code.contains("Unauthorized")
}

/// Is this event an assume-role event by name (whatever its outcome)?
pub fn is_assume_event(e: &Event<'_>) -> bool {
    match (e.event_source, e.event_name) {
        (Some("sts.amazonaws.com"), Some(n)) => ASSUME_NAMES.contains(&n),
        (Some("signin.amazonaws.com"), Some("SwitchRole")) => true,
        _ => false,
    }
}

/// Step 0: is this event selected, and why?
pub fn select(e: &Event<'_>, n: &Norm<'_>, opts: SelectOptions) -> Option<Selection> {
    let in_scope = is_assume_event(e) || e.error_message.is_some_and(message_names_sts_assume);
    if in_scope && e.caller.kind == Some("AWSAccount") {
        return opts.include_context.then_some(Selection::Context);
    }
    if !e.is_failure() {
        return None;
    }
    if in_scope {
        return Some(Selection::Assume);
    }
    if opts.all_denied && n.code.is_some_and(is_denied_family) {
        return Some(Selection::OtherDenied);
    }
    None
}

/// Classify one selected event.
pub fn classify(e: &Event<'_>, n: &Norm<'_>, sel: Selection) -> Verdict {
    match sel {
        Selection::Context => Verdict::new(
            "not_assume_failure",
            Confidence::Certain,
            format!(
                "userIdentity.type=AWSAccount: the role owner's copy of a cross-account {} by account {}",
                e.event_name.unwrap_or("call"),
                e.caller.account_id.unwrap_or("(unknown)")
            ),
        ),
        Selection::OtherDenied => {
            let mut ev = format!(
                "errorCode={} on {}:{}, not a role assumption",
                e.error_code.unwrap_or(""),
                e.event_source.unwrap_or("?"),
                e.event_name.unwrap_or("?")
            );
            if let Some(t) = n.denied_policy_type {
                ev.push_str(&format!("; denied by a {t} (message suffix)"));
            }
            Verdict::new("not_assume_failure", Confidence::Certain, ev)
        }
        Selection::Assume => classify_assume(e, n),
    }
}

fn classify_assume(e: &Event<'_>, n: &Norm<'_>) -> Verdict {
    // Step 1: the error-code map.
    if let Some(v) = codes::by_code(e, n) {
        return v;
    }
    let access_denied = n.code == Some("AccessDenied");
    // Step 2: caller-type absolutes.
    let mut v = if e.caller.kind == Some("Root") {
        Some(Verdict::new(
            "root_user_cannot_assume",
            Confidence::Certain,
            format!(
                "userIdentity.type=Root (arn {}); roles may not be assumed by root, whatever the message says",
                e.caller.arn.unwrap_or("(none)")
            ),
        ))
    } else {
        None
    };
    // Step 3: message literals.
    if v.is_none() {
        v = literals::by_message(e, n);
    }
    // Step 4: structural checks.
    if v.is_none() {
        v = structural::by_structure(e, n);
    }
    // Step 7: fallback.
    let mut v = v.unwrap_or_else(|| fallback::fallback(e, n, access_denied));
    if n.message_truncated {
        v.evidence.push_str(
            "; errorMessage is at least 1000 characters without a complete policy-type suffix (CloudTrail cuts it at 1 KB): no cause was read from its end",
        );
    }
    // Step 6: request-shape hints, secondary only, AccessDenied AssumeRole
    // only. Later rules may only add secondary candidates (§4), so the hints
    // are added whichever step decided the primary cause.
    if access_denied {
        hints::add_hints(e, n, &mut v);
    }
    v
}

#[cfg(test)]
mod tests;

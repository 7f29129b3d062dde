//! Log context (causes.md §4 step 5, last sentence): events that are not
//! failures but explain one.
//!
//! * IAM role management (`CreateRole`, `DeleteRole`, `UpdateAssumeRolePolicy`,
//!   successful only): a role deleted before a failure, or created only after
//!   it, makes `role_not_found` likely (§2.5); the trust policy a
//!   `CreateRole` / `UpdateAssumeRolePolicy` set before the failure is
//!   evaluated with our own evaluator against the logged caller (§2.3 and the
//!   trust-condition causes, likely: the log shows what was set, not that
//!   nothing else changed it).
//! * Successful `AssumeRole*`: the call that issued the caller's session,
//!   joined on `userIdentity.accessKeyId` = `responseElements.credentials.accessKeyId`
//!   (§2.11): the original identity of a chained session, the session's
//!   expiration (§2.23), its session policy (§2.11), and an earlier success of
//!   the original user on the same role (§2.22, likely).
//!
//! The scan keeps one compact owned struct per context event (never the
//! ExternalId value, never the session token) and joins after every input is
//! read ([`ContextIndex`], [`apply`]). Log context never gives `certain`:
//! causes.md gives that only to an inventory.

use std::collections::HashMap;

use simd_json::BorrowedValue as V;

use super::assess::{self, Assessment, Status, TrustFacts};
use super::document::PolicyDocument;
use super::eval::RequestContext;
use crate::classify::{Confidence, Severity, catalog};
use crate::event::Event;
use crate::finding::{Finding, format_time_ms, parse_time_ms};

/// Which log context the scan gathers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogContext {
    /// None (the default: gathering costs CPU on every record, see
    /// BENCHMARKS.md "log context").
    #[default]
    Off,
    /// IAM role management events only.
    Roles,
    /// Role management and every successful `AssumeRole*` (about a tenth of
    /// all records in a typical trail).
    Full,
}

impl LogContext {
    pub fn roles(self) -> bool {
        self != LogContext::Off
    }
    pub fn sessions(self) -> bool {
        self == LogContext::Full
    }
    pub fn as_str(self) -> &'static str {
        match self {
            LogContext::Off => "off",
            LogContext::Roles => "roles",
            LogContext::Full => "full",
        }
    }
}

/// What a role-management event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleChangeKind {
    Create,
    Delete,
    UpdateTrust,
}

impl RoleChangeKind {
    pub fn event_name(self) -> &'static str {
        match self {
            RoleChangeKind::Create => "CreateRole",
            RoleChangeKind::Delete => "DeleteRole",
            RoleChangeKind::UpdateTrust => "UpdateAssumeRolePolicy",
        }
    }
}

/// One successful `CreateRole` / `DeleteRole` / `UpdateAssumeRolePolicy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleChange {
    pub kind: RoleChangeKind,
    pub time_ms: i64,
    pub event_id: String,
    /// The account whose role changed (`recipientAccountId`).
    pub account: String,
    pub role_name: String,
    /// Who made the change (`userIdentity.arn`).
    pub actor: Option<String>,
    /// The trust policy text it set (CreateRole, UpdateAssumeRolePolicy).
    /// Never printed: it may hold an ExternalId.
    pub policy: Option<String>,
}

/// One successful `AssumeRole*`: the session it issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedSession {
    pub time_ms: i64,
    pub event_id: String,
    pub event_name: String,
    /// `responseElements.credentials.accessKeyId` (ASIA…).
    pub key: String,
    pub expiration_ms: Option<i64>,
    /// `responseElements.assumedRoleUser.arn`.
    pub session_arn: Option<String>,
    pub role_arn: Option<String>,
    pub caller_type: Option<String>,
    pub caller_arn: Option<String>,
    /// The caller's own access key, to walk a chain further back.
    pub caller_key: Option<String>,
    pub source_identity: Option<String>,
    pub role_session_name: Option<String>,
    /// `requestParameters.policy` / `policyArns` were passed.
    pub session_policy: bool,
}

/// One context event, as the scan keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContextEvent {
    Role(RoleChange),
    Session(IssuedSession),
}

const MAX_FIELD: usize = 2048;
/// IAM trust policies are at most a few KB; anything larger is not one.
const MAX_POLICY: usize = 64 * 1024;

fn text<'v>(v: &'v V<'v>, k: &str) -> Option<&'v str> {
    use simd_json::prelude::*;
    v.get(k).and_then(|x| x.as_str()).filter(|x| !x.is_empty())
}

fn obj<'v>(v: &'v V<'v>, k: &str) -> Option<&'v V<'v>> {
    use simd_json::prelude::*;
    v.get(k).filter(|x| x.is_object())
}

fn own(s: Option<&str>) -> Option<String> {
    s.filter(|x| x.len() <= MAX_FIELD).map(str::to_string)
}

/// Does this record name a context event of `mode`? Cheap: looks only at
/// the parsed event's names.
pub fn wanted(e: &Event<'_>, mode: LogContext) -> bool {
    if e.is_failure() {
        return false;
    }
    match (e.event_source, e.event_name) {
        (
            Some("iam.amazonaws.com"),
            Some("CreateRole" | "DeleteRole" | "UpdateAssumeRolePolicy"),
        ) => mode.roles(),
        (
            Some("sts.amazonaws.com"),
            Some("AssumeRole" | "AssumeRoleWithSAML" | "AssumeRoleWithWebIdentity"),
        ) => mode.sessions(),
        _ => false,
    }
}

/// Extract the context event of one parsed, successful record, if it is one
/// that `mode` gathers. Values of the wrong type, or absurdly long, count as
/// absent; a record that lacks what the join needs gives nothing.
pub fn extract(v: &V<'_>, e: &Event<'_>, mode: LogContext) -> Option<ContextEvent> {
    use simd_json::prelude::*;
    if !wanted(e, mode) {
        return None;
    }
    let time_ms = e.event_time.and_then(parse_time_ms)?;
    let event_id = own(e.event_id).unwrap_or_default();
    if e.event_source == Some("iam.amazonaws.com") {
        let rp = obj(v, "requestParameters")?;
        let role_name = own(text(rp, "roleName"))?;
        let account = e
            .recipient_account_id
            .or(e.caller.account_id)
            .filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))?
            .to_string();
        let kind = match e.event_name {
            Some("CreateRole") => RoleChangeKind::Create,
            Some("DeleteRole") => RoleChangeKind::Delete,
            _ => RoleChangeKind::UpdateTrust,
        };
        let policy = match kind {
            RoleChangeKind::Delete => None,
            _ => ["policyDocument", "assumeRolePolicyDocument"]
                .iter()
                .find_map(|k| rp.get(*k))
                .and_then(|p| match p.as_str() {
                    Some(s) => Some(s.to_string()),
                    None if p.is_object() => Some(p.encode()),
                    None => None,
                })
                .filter(|p| p.len() <= MAX_POLICY),
        };
        return Some(ContextEvent::Role(RoleChange {
            kind,
            time_ms,
            event_id,
            account,
            role_name,
            actor: own(e.caller.arn),
            policy,
        }));
    }
    let re = obj(v, "responseElements")?;
    let cred = obj(re, "credentials")?;
    let key = own(text(cred, "accessKeyId"))?;
    // The pre-filter finds issued sessions by this key (select.rs).
    let session_arn = own(text(obj(re, "assumedRoleUser")?, "arn"));
    Some(ContextEvent::Session(IssuedSession {
        time_ms,
        event_id,
        event_name: e.event_name.unwrap_or("").to_string(),
        key,
        expiration_ms: text(cred, "expiration").and_then(parse_expiration),
        session_arn,
        role_arn: own(e.req_role_arn.or(e.resource_role_arn)),
        caller_type: own(e.caller.kind),
        caller_arn: own(e.caller.arn),
        caller_key: own(e.caller.access_key_id),
        source_identity: own(e.source_identity.or(e.caller.inherited_source_identity)),
        role_session_name: own(e.role_session_name),
        session_policy: e.session_policy_present,
    }))
}

/// `credentials.expiration` as CloudTrail writes it: `Mar 3, 2024, 11:19:38 PM`
/// (older records: without the comma after the year), or RFC 3339. The
/// month-name forms carry no zone; CloudTrail writes them in UTC.
pub fn parse_expiration(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Some(ms) = parse_time_ms(s) {
        return Some(ms);
    }
    ["%b %d, %Y, %I:%M:%S %p", "%b %d, %Y %I:%M:%S %p"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(s, f).ok())
        .map(|t| t.and_utc().timestamp_millis())
}

/// Every context event of a run, indexed for the join.
#[derive(Debug, Default, Clone)]
pub struct ContextIndex {
    sessions: Vec<IssuedSession>,
    by_key: HashMap<String, usize>,
    /// Role changes by (account, role name), sorted by time then eventID.
    roles: HashMap<(String, String), Vec<RoleChange>>,
    by_role_arn: HashMap<String, Vec<usize>>,
    sorted: bool,
}

impl ContextIndex {
    pub fn new() -> ContextIndex {
        ContextIndex::default()
    }

    /// Add one event. Sessions are kept once per issued key (the copy with
    /// the caller's ARN, then the earliest), so memory follows distinct
    /// sessions, not copies of the same files.
    pub fn add(&mut self, c: ContextEvent) {
        self.sorted = false;
        match c {
            ContextEvent::Role(r) => {
                // Copies of one event are dropped in `seal` (sorted, they sit
                // side by side): no quadratic search on hostile input.
                self.roles
                    .entry((r.account.clone(), r.role_name.clone()))
                    .or_default()
                    .push(r);
            }
            ContextEvent::Session(s) => match self.by_key.get(&s.key) {
                Some(&i) => {
                    let old = &self.sessions[i];
                    let rank =
                        |x: &IssuedSession| (x.caller_arn.is_none(), x.time_ms, x.event_id.clone());
                    if rank(&s) < rank(old) {
                        self.sessions[i] = s;
                    }
                }
                None => {
                    self.by_key.insert(s.key.clone(), self.sessions.len());
                    self.sessions.push(s);
                }
            },
        }
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty() && self.roles.is_empty()
    }

    /// Number of sessions and role changes held.
    pub fn counts(&self) -> (usize, usize) {
        (self.sessions.len(), self.roles.values().map(Vec::len).sum())
    }

    /// Sort and index; call once after the last [`ContextIndex::add`].
    pub fn seal(&mut self) {
        for list in self.roles.values_mut() {
            list.sort_by(|a, b| {
                (a.time_ms, &a.event_id, a.kind as u8, &a.policy).cmp(&(
                    b.time_ms,
                    &b.event_id,
                    b.kind as u8,
                    &b.policy,
                ))
            });
            list.dedup_by(|a, b| !a.event_id.is_empty() && a.event_id == b.event_id);
        }
        self.by_role_arn.clear();
        for (i, s) in self.sessions.iter().enumerate() {
            if let Some(r) = &s.role_arn {
                self.by_role_arn.entry(r.clone()).or_default().push(i);
            }
        }
        for v in self.by_role_arn.values_mut() {
            let sessions = &self.sessions;
            v.sort_by(|a, b| {
                (sessions[*a].time_ms, &sessions[*a].event_id)
                    .cmp(&(sessions[*b].time_ms, &sessions[*b].event_id))
            });
        }
        self.sorted = true;
    }

    pub fn session(&self, key: &str) -> Option<&IssuedSession> {
        self.by_key.get(key).map(|&i| &self.sessions[i])
    }

    fn role_changes(&self, account: &str, name: &str) -> &[RoleChange] {
        self.roles
            .get(&(account.to_string(), name.to_string()))
            .map_or(&[], Vec::as_slice)
    }
}

/// What the join needs of a failed role assumption (AccessDenied with a
/// target role) besides its finding: the request context the trust policy
/// is evaluated against, and the user's cause filter when it was deferred
/// until the cause is final.
#[derive(Debug, Clone)]
pub struct Probe {
    pub req: RequestContext,
    pub recheck_causes: Option<Vec<String>>,
}

/// One line of log context for `explain`.
#[derive(Debug, Clone)]
pub struct Note {
    pub item: &'static str,
    pub status: Status,
    pub why: String,
}

pub const ITEM_SESSION: &str = "log context: issuing session";
pub const ITEM_HISTORY: &str = "log context: role history";
pub const ITEM_TRUST: &str = "log context: trust policy";
pub const ITEM_CHAIN: &str = "log context: chained caller";

fn note(item: &'static str, status: Status, why: impl Into<String>) -> Note {
    Note {
        item,
        status,
        why: why.into(),
    }
}

const FALLBACKS: &[&str] = &[
    "cross_account_denied_ambiguous",
    "same_account_denied_ambiguous",
];

/// Log context may replace a cause only where the log alone left it open.
fn open(f: &Finding) -> bool {
    f.confidence == Confidence::Possible.as_str() || FALLBACKS.contains(&f.cause_id.as_str())
}

fn add_secondary(f: &mut Finding, c: &str) {
    if f.cause_id != c && !f.secondary_causes.iter().any(|s| s == c) {
        f.secondary_causes.push(c.to_string());
    }
}

fn push_evidence(f: &mut Finding, text: &str) {
    f.evidence.push_str("; log context: ");
    f.evidence.push_str(text);
}

/// Settle `cause` at `conf` from log context, as step 5 does for an
/// inventory: replace an open cause, strengthen the same cause, or add it as
/// a secondary next to a cause the log already decided.
fn settle(f: &mut Finding, cause: &'static str, conf: Confidence, ev: &str) {
    if f.cause_id == cause {
        if f.confidence == Confidence::Possible.as_str() {
            f.confidence = conf.as_str().to_string();
        }
        push_evidence(f, ev);
        return;
    }
    if !open(f) {
        add_secondary(f, cause);
        push_evidence(f, &format!("also points to {cause}: {ev}"));
        return;
    }
    let old = std::mem::take(&mut f.cause_id);
    f.secondary_causes.retain(|s| s != cause);
    if !FALLBACKS.contains(&old.as_str()) && !f.secondary_causes.contains(&old) {
        f.secondary_causes.insert(0, old.clone());
    }
    let keep_high = f.severity == Severity::High.as_str();
    let entry = catalog::cause(cause);
    f.cause_id = cause.to_string();
    f.confidence = conf.as_str().to_string();
    f.severity = if keep_high {
        Severity::High.as_str().to_string()
    } else {
        entry
            .map_or(Severity::Medium, |c| c.severity)
            .as_str()
            .to_string()
    };
    f.remediation = entry.map_or("", |c| c.remediation).to_string();
    f.evidence = format!(
        "log context settles {cause} ({conf}): {ev}; log-only: {}",
        f.evidence
    );
}

fn when(ms: i64) -> String {
    format_time_ms(ms)
}

fn minutes(ms: i64) -> String {
    let m = ms.abs() / 60_000;
    if m >= 120 {
        format!("{:.1} h", ms.abs() as f64 / 3_600_000.0)
    } else {
        format!("{m} min")
    }
}

fn describe_session(s: &IssuedSession) -> String {
    let mut d = format!(
        "{} event {} at {} issued it to {} ({})",
        s.event_name,
        s.event_id,
        when(s.time_ms),
        s.caller_arn.as_deref().unwrap_or("an unnamed caller"),
        s.caller_type.as_deref().unwrap_or("type unknown"),
    );
    if let Some(a) = &s.session_arn {
        d.push_str(&format!(" as {a}"));
    }
    if let Some(x) = &s.source_identity {
        d.push_str(&format!(", sourceIdentity {x:?}"));
    }
    if s.session_policy {
        d.push_str(", with a session policy");
    }
    match s.expiration_ms {
        Some(x) => d.push_str(&format!(", valid until {}", when(x))),
        None => d.push_str(", expiration not logged"),
    }
    d
}

/// Join one finding with the log context. `probe` is the request context of
/// a failed role assumption (AccessDenied with a target role): only those are
/// checked against role history and logged trust policies. Returns the lines
/// `explain` prints; the finding's cause, confidence and evidence change as
/// causes.md §2.5, §2.11, §2.22, §2.23 and §4 step 5 allow.
pub fn apply(f: &mut Finding, probe: Option<&RequestContext>, idx: &ContextIndex) -> Vec<Note> {
    let mut notes = Vec::new();
    let chain = session_chain(f, idx, &mut notes);
    let Some(req) = probe else {
        return notes;
    };
    if f.error_code_normalized.as_deref() != Some("AccessDenied") {
        return notes;
    }
    let decided = role_history(f, req, idx, &mut notes);
    if !decided {
        chained_wrong_principal(f, &chain, idx, &mut notes);
    }
    notes
}

/// (a) The session that issued the caller's key, and the chain behind it.
fn session_chain<'i>(
    f: &mut Finding,
    idx: &'i ContextIndex,
    notes: &mut Vec<Note>,
) -> Vec<&'i IssuedSession> {
    let mut chain: Vec<&IssuedSession> = Vec::new();
    let Some(key) = f.access_key_id.clone().filter(|k| k.starts_with("ASIA")) else {
        return chain;
    };
    let Some(first) = idx.session(&key) else {
        if !idx.sessions.is_empty() {
            notes.push(note(
                ITEM_SESSION,
                Status::Unknown,
                format!(
                    "no successful AssumeRole in the scanned logs issued the caller's key {key}"
                ),
            ));
        }
        return chain;
    };
    chain.push(first);
    let mut cur = first;
    while chain.len() < 16 {
        let Some(k) = cur.caller_key.as_deref().filter(|k| k.starts_with("ASIA")) else {
            break;
        };
        match idx.session(k) {
            Some(p) if !chain.iter().any(|c| c.key == p.key) && p.time_ms <= cur.time_ms => {
                chain.push(p);
                cur = p;
            }
            _ => break,
        }
    }
    let mut ev = format!("the caller's key {key}: {}", describe_session(first));
    let origin = chain[chain.len() - 1];
    if chain.len() > 1 {
        let path: Vec<&str> = chain
            .iter()
            .rev()
            .map(|s| s.caller_arn.as_deref().unwrap_or("?"))
            .collect();
        ev.push_str(&format!("; chain {} -> this session", path.join(" -> ")));
    }
    // A role session as the earliest caller means the chain goes back
    // further than the scanned logs.
    let complete = origin.caller_type.as_deref() != Some("AssumedRole");
    ev.push_str(&format!(
        "; {} identity {}",
        if complete {
            "original"
        } else {
            "earliest logged"
        },
        origin
            .caller_arn
            .as_deref()
            .unwrap_or("(not in the record)")
    ));
    if first.caller_type.as_deref() == Some("AssumedRole") {
        ev.push_str(" (the session was made by role chaining, which caps it at 1 hour)");
    }
    let mut status = Status::Pass;
    if let (Some(t), Some(x)) = (f.event_time, first.expiration_ms) {
        if t > x {
            status = Status::Fail;
            ev.push_str(&format!(
                "; this call came {} after the session expired",
                minutes(t - x)
            ));
            if f.cause_id == "unknown_failure" {
                add_secondary(f, "caller_credentials_expired");
            }
        } else if f.cause_id == "caller_credentials_expired" {
            ev.push_str(&format!(
                "; the logged expiration is {} after this call (clock skew, or a token other than the one issued there)",
                minutes(x - t)
            ));
        }
    }
    if first.session_policy {
        if f.cause_id != "session_policy_deny"
            && f.error_code_normalized.as_deref() == Some("AccessDenied")
            && open(f)
        {
            add_secondary(f, "session_policy_deny");
        }
    } else if f.cause_id == "session_policy_deny" {
        ev.push_str("; the issuing call passed no session policy (policy/policyArns)");
    }
    notes.push(note(ITEM_SESSION, status, ev.clone()));
    push_evidence(f, &ev);
    chain
}

fn role_of(f: &Finding) -> Option<(String, String)> {
    let arn = f.target_role_arn.as_deref()?;
    let acct = f.role_account_id.clone()?;
    let name = arn.rsplit('/').next().filter(|n| !n.is_empty())?;
    Some((acct, name.to_string()))
}

fn change_text(c: &RoleChange) -> String {
    format!(
        "{} of {} in {} at {} by {} (event {})",
        c.kind.event_name(),
        c.role_name,
        c.account,
        when(c.time_ms),
        c.actor.as_deref().unwrap_or("an unnamed caller"),
        c.event_id
    )
}

/// (b) and (c): role deleted / created later, and the trust policy the log
/// shows in force at the time. Returns whether it settled a cause.
fn role_history(
    f: &mut Finding,
    req: &RequestContext,
    idx: &ContextIndex,
    notes: &mut Vec<Note>,
) -> bool {
    let (Some((acct, name)), Some(t)) = (role_of(f), f.event_time) else {
        return false;
    };
    let changes = idx.role_changes(&acct, &name);
    if changes.is_empty() {
        return false;
    }
    // Same-second events cannot be ordered against the failure: only
    // changes strictly before or after it count.
    let before = changes.iter().rev().find(|c| c.time_ms < t);
    let after = changes.iter().find(|c| c.time_ms > t);
    match before {
        Some(c) if c.kind == RoleChangeKind::Delete => {
            let ev = format!(
                "{}, {} before this call, with no CreateRole of it in between",
                change_text(c),
                minutes(t - c.time_ms)
            );
            notes.push(note(
                ITEM_HISTORY,
                Status::Fail,
                format!("role deleted: {ev}"),
            ));
            settle(f, "role_not_found", Confidence::Likely, &ev);
            true
        }
        Some(c) => {
            notes.push(note(
                ITEM_HISTORY,
                Status::Pass,
                format!("the role existed: {}", change_text(c)),
            ));
            trust_from_log(f, req, c, after, notes)
        }
        None => match after {
            Some(c) if c.kind == RoleChangeKind::Create => {
                let ev = format!(
                    "the role was created only {} after this call: {}; no earlier CreateRole, DeleteRole or UpdateAssumeRolePolicy of it in the scanned logs",
                    minutes(c.time_ms - t),
                    change_text(c)
                );
                notes.push(note(ITEM_HISTORY, Status::Fail, ev.clone()));
                settle(f, "role_not_found", Confidence::Likely, &ev);
                true
            }
            Some(c) => {
                let ev = format!(
                    "the role existed then ({} came later); the trust policy in force at the time is not in the logs (a later update is not used)",
                    change_text(c)
                );
                notes.push(note(ITEM_HISTORY, Status::Pass, ev.clone()));
                push_evidence(f, &ev);
                false
            }
            None => false,
        },
    }
}

/// (c) Evaluate the trust policy that the last role change before the
/// failure set.
fn trust_from_log(
    f: &mut Finding,
    req: &RequestContext,
    c: &RoleChange,
    later: Option<&RoleChange>,
    notes: &mut Vec<Note>,
) -> bool {
    let Some(text) = c.policy.as_deref() else {
        return false;
    };
    let pname = format!(
        "trust policy of {} set by {} event {} at {}",
        c.role_name,
        c.kind.event_name(),
        c.event_id,
        when(c.time_ms)
    );
    let doc = match PolicyDocument::from_text(text, &pname) {
        Ok(d) => d,
        Err(_) => {
            let ev = format!("the {pname} could not be parsed, so it settles nothing");
            notes.push(note(ITEM_TRUST, Status::Unknown, ev.clone()));
            push_evidence(f, &ev);
            return false;
        }
    };
    let mut a = Assessment::default();
    let facts = TrustFacts::of_finding(f);
    // Owned copies: `facts` borrows `f`, which is changed below.
    let mut checks = {
        assess::trust_checks(&mut a, &facts, req, &pname, &doc);
        std::mem::take(&mut a.checks)
    };
    let later_note = later.map_or(String::new(), |l| {
        format!(" ({} after this call is not used)", l.kind.event_name())
    });
    let fail = checks.iter().position(|k| k.status == Status::Fail);
    if let Some(fail) = fail {
        let k = checks.swap_remove(fail);
        let cause = k.cause.unwrap_or("trust_condition_not_met");
        let ev = format!("{}: {}{later_note}", k.item, k.detail);
        notes.push(note(ITEM_TRUST, Status::Fail, ev.clone()));
        settle(f, cause, Confidence::Likely, &ev);
        return true;
    }
    let unknown: Vec<String> = checks
        .iter()
        .filter(|k| k.status == Status::Unknown)
        .map(|k| format!("{} ({})", k.item, crate::util::clip(&k.detail, 400)))
        .collect();
    if unknown.is_empty() {
        let refuted: Vec<&str> = checks
            .iter()
            .flat_map(|k| k.refutes.iter().copied())
            .collect();
        if open(f) {
            f.secondary_causes
                .retain(|s| !refuted.contains(&s.as_str()));
        }
        let ev = format!(
            "the {pname} allows this caller (every trust item passes){later_note}: the denying layer is another one, or the policy changed without a logged event"
        );
        notes.push(note(ITEM_TRUST, Status::Pass, ev.clone()));
        push_evidence(f, &ev);
    } else {
        let ev = format!(
            "the {pname} fails no item the log can decide; not decidable from the log: {}{later_note}",
            unknown.join(", ")
        );
        notes.push(note(ITEM_TRUST, Status::Unknown, ev.clone()));
        push_evidence(f, &ev);
    }
    checks.clear();
    false
}

/// §2.22 from log context: a chained caller denied on role R, while the
/// original user (or the IAM user whose name is the session name or source
/// identity) assumed R successfully before: likely.
fn chained_wrong_principal(
    f: &mut Finding,
    chain: &[&IssuedSession],
    idx: &ContextIndex,
    notes: &mut Vec<Note>,
) {
    if !f.is_chained || !open(f) {
        return;
    }
    let (Some(role), Some(t)) = (f.target_role_arn.clone(), f.event_time) else {
        return;
    };
    let origin = chain
        .last()
        .filter(|s| s.caller_type.as_deref() == Some("IAMUser"))
        .and_then(|s| s.caller_arn.clone());
    let session_name = f
        .caller_arn
        .as_deref()
        .and_then(|a| a.rsplit('/').next())
        .map(str::to_string);
    let names: Vec<String> = [
        session_name,
        f.source_identity.clone(),
        f.inherited_source_identity.clone(),
    ]
    .into_iter()
    .flatten()
    .collect();
    let Some(list) = idx.by_role_arn.get(&role) else {
        return;
    };
    let hit = list.iter().rev().map(|&i| &idx.sessions[i]).find(|s| {
        s.time_ms < t
            && s.caller_type.as_deref() == Some("IAMUser")
            && s.caller_arn.as_deref().is_some_and(|a| {
                origin.as_deref() == Some(a)
                    || a.rsplit('/')
                        .next()
                        .is_some_and(|u| names.iter().any(|n| n == u))
            })
    });
    let Some(s) = hit else { return };
    let ev = format!(
        "{} assumed {role} successfully at {} (event {}), {} before this call from a role session: the trust policy likely names the user, not the intermediate role",
        s.caller_arn.as_deref().unwrap_or("?"),
        when(s.time_ms),
        s.event_id,
        minutes(t - s.time_ms)
    );
    notes.push(note(ITEM_CHAIN, Status::Fail, ev.clone()));
    settle(f, "role_chaining_wrong_principal", Confidence::Likely, &ev);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiration_forms() {
        let a = parse_expiration("Mar 3, 2024, 11:19:38 PM");
        let b = parse_expiration("Mar 03, 2024, 11:19:38 PM");
        let c = parse_expiration("Mar 3, 2024 11:19:38 PM");
        let d = parse_expiration("2024-03-03T23:19:38Z");
        assert!(a.is_some());
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(a, d);
        assert_eq!(parse_expiration("tomorrow"), None);
    }
}

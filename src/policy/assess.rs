//! The step-5 checklist of causes.md §4, in its order: role exists -> trust
//! Principal -> trust Deny -> trust conditions (ExternalId, MFA,
//! SourceIdentity, RoleSessionName, other) -> caller identity Allow/Deny ->
//! permissions boundary -> SCP (caller's organization) -> RCP (role owner's
//! organization). The first check that fails settles the cause.

use super::document::{Effect, PolicyDocument, Statement};
use super::eval::{
    CondEval, CtxValue, Decision, PrincipalKind, RequestContext, StatementEval, Tri, decide,
    eval_document, is_secret_key, match_aws_entry,
};
use super::inventory::{Inventory, Role, RoleLookup};
use super::org::OrgPolicyKind;
use super::{STALE_AFTER_MS, request_context};
use crate::classify::Confidence;
use crate::event::Event;
use crate::norm::Norm;

/// The outcome of one checklist item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pass,
    Fail,
    Unknown,
    /// The item does not bear on this event.
    NotApplicable,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Unknown => "unknown",
            Status::NotApplicable => "n/a",
        }
    }
}

/// One checklist item.
#[derive(Debug, Clone)]
pub struct Check {
    pub item: &'static str,
    pub status: Status,
    pub detail: String,
    /// The cause a failure gives.
    pub cause: Option<&'static str>,
    /// Log-only hints this item rules out when it passes.
    pub refutes: &'static [&'static str],
}

impl Check {
    fn new(item: &'static str, status: Status, detail: impl Into<String>) -> Check {
        Check {
            item,
            status,
            detail: detail.into(),
            cause: None,
            refutes: &[],
        }
    }
    fn fail(item: &'static str, cause: &'static str, detail: impl Into<String>) -> Check {
        Check {
            cause: Some(cause),
            ..Check::new(item, Status::Fail, detail)
        }
    }
    fn refuting(mut self, r: &'static [&'static str]) -> Check {
        self.refutes = r;
        self
    }
}

/// The step-5 result for one event.
#[derive(Debug, Clone, Default)]
pub struct Assessment {
    pub checks: Vec<Check>,
    /// The settled cause, its confidence and the deciding evidence.
    pub decided: Option<(&'static str, Confidence, String)>,
    /// Other failing items (AWS names only one denying layer in a message).
    pub also_failing: Vec<&'static str>,
    /// A note on the inventory's age relative to the event.
    pub age_note: Option<String>,
    /// The inventory describes the role's or the caller's account.
    pub covered: bool,
}

pub const ITEM_ROLE: &str = "role exists";
pub const ITEM_PRINCIPAL: &str = "trust policy names the caller";
pub const ITEM_TRUST_DENY: &str = "no Deny in the trust policy";
pub const ITEM_EXTID: &str = "trust condition: ExternalId";
pub const ITEM_MFA: &str = "trust condition: MFA";
pub const ITEM_SRCID: &str = "trust condition: SourceIdentity";
pub const ITEM_SESSNAME: &str = "trust condition: RoleSessionName";
pub const ITEM_OTHER: &str = "trust condition: other";
pub const ITEM_IDENTITY: &str = "caller identity policy allows";
pub const ITEM_BOUNDARY: &str = "caller permissions boundary allows";
pub const ITEM_SCP: &str = "SCP (caller's organization)";
pub const ITEM_RCP: &str = "RCP (role owner's organization)";

/// Condition key families, in the order of causes.md §4 step 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Family {
    ExternalId,
    Mfa,
    SourceIdentity,
    SessionName,
    Other,
}

fn family(key: &str) -> Family {
    let k = key.to_ascii_lowercase();
    match k.as_str() {
        "sts:externalid" => Family::ExternalId,
        "aws:multifactorauthpresent" | "aws:multifactorauthage" => Family::Mfa,
        "sts:sourceidentity" => Family::SourceIdentity,
        "sts:rolesessionname" => Family::SessionName,
        _ => Family::Other,
    }
}

const FAMILIES: [(Family, &str, &str, &[&str]); 5] = [
    (
        Family::ExternalId,
        ITEM_EXTID,
        "external_id_missing",
        &["external_id_missing", "external_id_mismatch"],
    ),
    (
        Family::Mfa,
        ITEM_MFA,
        "mfa_required_not_provided",
        &["mfa_required_not_provided"],
    ),
    (
        Family::SourceIdentity,
        ITEM_SRCID,
        "source_identity_required",
        &[],
    ),
    (
        Family::SessionName,
        ITEM_SESSNAME,
        "role_session_name_condition_failed",
        &[],
    ),
    (Family::Other, ITEM_OTHER, "trust_condition_not_met", &[]),
];

fn stmt_ref(policy: &str, s: &Statement) -> String {
    format!("{policy} {}", s.label())
}

fn conds_text(c: &[&CondEval]) -> String {
    c.iter()
        .map(|c| c.detail.clone())
        .collect::<Vec<_>>()
        .join("; ")
}

fn fmt_age(ms: i64) -> String {
    let days = ms.abs() as f64 / 86_400_000.0;
    format!("{days:.1} days")
}

/// Walk one event through the step-5 checklist.
pub fn assess(e: &Event<'_>, n: &Norm<'_>, inv: &Inventory) -> Assessment {
    let mut a = Assessment::default();
    let Some(role_arn) = n.target_role_arn else {
        a.checks.push(Check::new(
            ITEM_ROLE,
            Status::Unknown,
            "no role ARN in the record",
        ));
        return a;
    };
    let req = request_context(e, n, Some(inv));
    let event_ms = e.event_time.and_then(crate::finding::parse_time_ms);
    let mut stale = false;
    let mut age_notes = Vec::new();
    for acct in [n.role_account, req.principal.account.as_deref()]
        .into_iter()
        .flatten()
    {
        if !inv.accounts.contains_key(acct) {
            continue;
        }
        a.covered = true;
        match (inv.snapshot_ms(acct), event_ms) {
            (Some(s), Some(t)) if (s - t).abs() > STALE_AFTER_MS => {
                stale = true;
                let when = if s > t { "after" } else { "before" };
                age_notes.push(format!(
                    "the inventory of account {acct} was taken {} {when} the event (roles and policies may have changed since)",
                    fmt_age(s - t)
                ));
            }
            (None, _) => age_notes.push(format!(
                "the inventory of account {acct} has no snapshot time"
            )),
            _ => {}
        }
    }
    age_notes.dedup();
    if !age_notes.is_empty() {
        a.age_note = Some(age_notes.join("; "));
    }

    // 1. Role exists.
    let role: Option<&Role> = match inv.role(role_arn) {
        RoleLookup::Found(r) => {
            a.checks.push(Check::new(
                ITEM_ROLE,
                Status::Pass,
                format!("{role_arn} is in {}", r.source),
            ));
            Some(r)
        }
        RoleLookup::Missing { similar } => {
            let src = n
                .role_account
                .and_then(|acct| inv.accounts.get(acct))
                .map(|x| x.sources.join(", "))
                .unwrap_or_default();
            let mut d = format!(
                "{role_arn} is not in the role list of account {} ({src})",
                n.role_account.unwrap_or("?")
            );
            if !similar.is_empty() {
                let s: Vec<String> = similar
                    .iter()
                    .map(|(arn, why)| format!("{arn} ({why})"))
                    .collect();
                d.push_str(&format!("; typo hint: did you mean {}", s.join(" or ")));
            }
            a.checks.push(Check::fail(ITEM_ROLE, "role_not_found", d));
            None
        }
        RoleLookup::NotCovered => {
            a.checks.push(Check::new(
                ITEM_ROLE,
                Status::Unknown,
                format!(
                    "the inventory does not list the roles of account {}",
                    n.role_account.unwrap_or("?")
                ),
            ));
            None
        }
    };

    // 2-4. Trust policy.
    let mut explicit_principal = false;
    match role.and_then(|r| r.trust.as_ref().map(|t| (r, t))) {
        Some((r, trust)) => {
            let pname = format!("trust policy of {} ({})", r.name, r.source);
            explicit_principal = trust_checks(&mut a, &TrustFacts::of(e, n), &req, &pname, trust);
        }
        None => {
            let why = match role {
                Some(r) => format!(
                    "the inventory has no trust policy for {} ({} is a role list)",
                    r.arn, r.source
                ),
                None => "the role is not in the inventory".into(),
            };
            for item in [
                ITEM_PRINCIPAL,
                ITEM_TRUST_DENY,
                ITEM_EXTID,
                ITEM_MFA,
                ITEM_SRCID,
                ITEM_SESSNAME,
                ITEM_OTHER,
            ] {
                a.checks
                    .push(Check::new(item, Status::Unknown, why.clone()));
            }
        }
    }

    // 5-6. Caller identity policies and boundary.
    identity_checks(&mut a, e, n, &req, inv, explicit_principal);

    // 7-8. Organizations.
    org_checks(&mut a, n, &req, inv, role_arn);

    // Settle: the first failing item, in order.
    let fails: Vec<&Check> = a
        .checks
        .iter()
        .filter(|c| c.status == Status::Fail)
        .collect();
    let conf = if stale {
        Confidence::Likely
    } else {
        Confidence::Certain
    };
    if let Some(first) = fails.first() {
        let cause = first.cause.unwrap_or("trust_condition_not_met");
        a.decided = Some((cause, conf, format!("{}: {}", first.item, first.detail)));
        for f in fails.iter().skip(1) {
            if let Some(c) = f.cause
                && c != cause
                && !a.also_failing.contains(&c)
            {
                a.also_failing.push(c);
            }
        }
    } else if let Some(x) = external_id_by_elimination(&a, e) {
        a.decided = Some((
            "external_id_mismatch",
            if stale { Confidence::Possible } else { x.0 },
            x.1,
        ));
    }
    a
}

/// What the trust-policy checks need to know of the event, beyond its
/// request context: built from a parsed record ([`TrustFacts::of`]) or from
/// an owned finding (log context, after the scan).
#[derive(Debug, Clone, Copy)]
pub struct TrustFacts<'a> {
    pub caller_type: &'a str,
    pub caller_account: Option<&'a str>,
    pub caller_arn: Option<&'a str>,
    pub session_issuer_arn: Option<&'a str>,
    pub is_chained: bool,
    pub target_role_arn: Option<&'a str>,
    pub external_id_present: bool,
    pub switch_role: bool,
}

impl<'a> TrustFacts<'a> {
    pub fn of(e: &Event<'a>, n: &Norm<'a>) -> TrustFacts<'a> {
        TrustFacts {
            caller_type: e.caller_type(),
            caller_account: n.caller_account,
            caller_arn: e.caller.arn,
            session_issuer_arn: e.caller.session_issuer_arn,
            is_chained: e.is_chained(),
            target_role_arn: n.target_role_arn,
            external_id_present: e.external_id_present,
            switch_role: e.event_name == Some("SwitchRole"),
        }
    }

    pub fn of_finding(f: &'a crate::finding::Finding) -> TrustFacts<'a> {
        TrustFacts {
            caller_type: &f.caller_type,
            caller_account: f.caller_account_id.as_deref(),
            caller_arn: f.caller_arn.as_deref(),
            session_issuer_arn: f.caller_session_issuer_arn.as_deref(),
            is_chained: f.is_chained,
            target_role_arn: f.target_role_arn.as_deref(),
            external_id_present: f.external_id_present,
            switch_role: f.event_name == "SwitchRole",
        }
    }
}

/// Trust-policy checks. Returns whether an Allow statement names the caller
/// by its own ARN (not only its account).
pub(crate) fn trust_checks(
    a: &mut Assessment,
    e: &TrustFacts<'_>,
    req: &RequestContext,
    pname: &str,
    trust: &PolicyDocument,
) -> bool {
    let evals = eval_document(trust, req);
    let allows: Vec<&StatementEval<'_>> = evals
        .iter()
        .filter(|s| {
            s.effect() == Effect::Allow && s.action == Tri::True && s.resource != Tri::False
        })
        .collect();
    let principal = Tri::any(allows.iter().map(|s| s.principal));
    let who = req
        .principal
        .arn
        .clone()
        .unwrap_or_else(|| format!("({})", e.caller_type));
    let mut explicit = false;
    for s in &allows {
        if let Some((p, false)) = &s.statement.principal {
            for entry in &p.aws {
                let by_account = entry == "*"
                    || entry.ends_with(":root")
                    || entry.bytes().all(|b| b.is_ascii_digit());
                if !by_account && match_aws_entry(entry, &req.principal) == Tri::True {
                    explicit = true;
                }
            }
        }
    }
    match principal {
        Tri::False => {
            let named: Vec<String> = allows
                .iter()
                .filter_map(|s| s.statement.principal.as_ref().map(|(p, neg)| {
                    format!("{}{} {}", s.statement.label(), if *neg { " NotPrincipal" } else { "" }, p.describe())
                }))
                .collect();
            let named = if named.is_empty() {
                format!("no Allow statement for {}", req.action)
            } else {
                format!("Allow statements name {}", named.join(" | "))
            };
            let mut cause = "trust_policy_principal_not_allowed";
            let mut d = format!("{pname}: {named}; none matches caller {who} (account {})", e.caller_account.unwrap_or("?"));
            let issuer = e.session_issuer_arn;
            if e.is_chained && issuer.is_some() && issuer == e.target_role_arn {
                cause = "self_assume_without_explicit_trust";
                d.push_str("; the caller is a session of this same role, which needs an explicit self-trust");
            } else if e.is_chained {
                let users: Vec<&String> = allows
                    .iter()
                    .filter_map(|s| s.statement.principal.as_ref())
                    .flat_map(|(p, _)| p.aws.iter())
                    .filter(|x| x.contains(":user/"))
                    .collect();
                if !users.is_empty() {
                    cause = "role_chaining_wrong_principal";
                    let session = e.caller_arn.and_then(|a| a.rsplit('/').next()).unwrap_or("?");
                    d.push_str(&format!(
                        "; the caller is a role session (session name {session:?}) but the trust names the IAM user(s) {}: call with the original user's credentials, not the intermediate role's",
                        users.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                    ));
                }
            } else if req.principal.kind == PrincipalKind::Service {
                cause = "service_trust_missing";
            }
            if trust
                .statements
                .iter()
                .filter_map(|s| s.principal.as_ref())
                .flat_map(|(p, _)| p.aws.iter())
                .any(|x| x.starts_with("AIDA") || x.starts_with("AROA"))
            {
                d.push_str("; the trust names a unique id (AIDA…/AROA…): IAM shows that when the principal it named was deleted (a recreated user or role must be re-added)");
            }
            a.checks.push(Check::fail(ITEM_PRINCIPAL, cause, d));
        }
        Tri::Unknown => a.checks.push(Check::new(
            ITEM_PRINCIPAL,
            Status::Unknown,
            format!("{pname}: cannot tell whether it names caller {who} (caller identity not in the record)"),
        )),
        Tri::True => {
            let by: Vec<String> = allows
                .iter()
                .filter(|s| s.principal == Tri::True)
                .map(|s| s.statement.label())
                .collect();
            a.checks.push(Check::new(
                ITEM_PRINCIPAL,
                Status::Pass,
                format!("{pname}: {} names caller {who}", by.join(", ")),
            ));
        }
    }
    // Deny statements.
    let denies: Vec<&StatementEval<'_>> = evals
        .iter()
        .filter(|s| s.effect() == Effect::Deny)
        .collect();
    let deny = Tri::any(denies.iter().map(|s| s.applies()));
    match deny {
        Tri::True => {
            let s = denies.iter().find(|s| s.applies() == Tri::True);
            let d = s.map_or_else(String::new, |s| {
                let conds: Vec<&CondEval> = s.conditions.iter().collect();
                format!(
                    "{} denies {} to {who}{}",
                    stmt_ref(pname, s.statement),
                    req.action,
                    if conds.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", conds_text(&conds))
                    }
                )
            });
            a.checks.push(Check::fail(
                ITEM_TRUST_DENY,
                "trust_policy_explicit_deny",
                d,
            ));
        }
        Tri::Unknown => {
            let s: Vec<String> = denies
                .iter()
                .filter(|s| s.applies() == Tri::Unknown)
                .map(|s| s.statement.label())
                .collect();
            a.checks.push(Check::new(
                ITEM_TRUST_DENY,
                Status::Unknown,
                format!(
                    "{pname}: Deny {} may apply (a condition key the log cannot give)",
                    s.join(", ")
                ),
            ));
        }
        Tri::False => a.checks.push(Check::new(
            ITEM_TRUST_DENY,
            Status::Pass,
            if denies.is_empty() {
                format!("{pname} has no Deny statement")
            } else {
                format!("{pname}: no Deny statement applies")
            },
        )),
    }
    // Conditions of the statements that name the caller.
    let candidates: Vec<&StatementEval<'_>> = allows
        .iter()
        .copied()
        .filter(|s| s.targets() == Tri::True)
        .collect();
    if candidates.is_empty() {
        let why = if principal == Tri::False {
            "no Allow statement names the caller, so its conditions are not reached"
        } else {
            "it is not known which statement names the caller"
        };
        for (_, item, _, _) in FAMILIES {
            a.checks.push(Check::new(
                item,
                if principal == Tri::False {
                    Status::NotApplicable
                } else {
                    Status::Unknown
                },
                why,
            ));
        }
        return explicit;
    }
    if let Some(ok) = candidates.iter().find(|s| s.conditions_hold() == Tri::True) {
        let lbl = stmt_ref(pname, ok.statement);
        for (fam, item, _, refutes) in FAMILIES {
            let cs: Vec<&CondEval> = ok
                .conditions
                .iter()
                .filter(|c| family(&c.key) == fam)
                .collect();
            let c = if cs.is_empty() {
                Check::new(
                    item,
                    Status::NotApplicable,
                    format!("{lbl} has no such condition"),
                )
            } else {
                Check::new(item, Status::Pass, format!("{lbl}: {}", conds_text(&cs)))
            };
            a.checks.push(c.refuting(refutes));
        }
        return explicit;
    }
    // No candidate passes for sure: report the closest one (fewest false
    // conditions, then document order).
    let best = candidates
        .iter()
        .min_by_key(|s| {
            (
                s.conditions
                    .iter()
                    .filter(|c| c.result == Tri::False)
                    .count(),
                s.statement.index,
            )
        })
        .copied();
    let Some(best) = best else { return explicit };
    let lbl = stmt_ref(pname, best.statement);
    let all_fail = candidates.iter().all(|s| s.conditions_hold() == Tri::False);
    for (fam, item, cause, refutes) in FAMILIES {
        let cs: Vec<&CondEval> = best
            .conditions
            .iter()
            .filter(|c| family(&c.key) == fam)
            .collect();
        if cs.is_empty() {
            a.checks.push(
                Check::new(
                    item,
                    Status::NotApplicable,
                    format!("{lbl} has no such condition"),
                )
                .refuting(refutes),
            );
            continue;
        }
        let r = Tri::all(cs.iter().map(|c| c.result));
        let detail = format!("{lbl}: {}", conds_text(&cs));
        let check = match r {
            Tri::False if all_fail => {
                let mut cause = cause;
                if fam == Family::ExternalId && e.external_id_present {
                    cause = "external_id_mismatch";
                }
                if e.switch_role && fam == Family::ExternalId {
                    cause = "console_switch_role_failed";
                }
                Check::fail(item, cause, detail)
            }
            Tri::False => Check::new(
                item,
                Status::Unknown,
                format!("{detail} (another statement may still allow)"),
            ),
            Tri::Unknown => Check::new(item, Status::Unknown, detail),
            Tri::True => Check::new(item, Status::Pass, detail).refuting(refutes),
        };
        a.checks.push(check);
    }
    explicit
}

/// The caller's identity policies, gathered from the inventory.
struct Identity<'a> {
    label: String,
    policies: Vec<(String, &'a PolicyDocument)>,
    missing: Vec<String>,
    boundary: Option<String>,
}

fn gather_identity<'a>(req: &RequestContext, inv: &'a Inventory) -> Result<Identity<'a>, String> {
    let who = &req.principal;
    let acct = who
        .account
        .as_deref()
        .ok_or("the caller's account is not in the record")?;
    let ai = inv
        .accounts
        .get(acct)
        .ok_or_else(|| format!("the inventory does not describe the caller's account {acct}"))?;
    let mut id = Identity {
        label: String::new(),
        policies: Vec::new(),
        missing: Vec::new(),
        boundary: None,
    };
    let attached = |list: &[(String, String)], id: &mut Identity<'a>| {
        for (name, arn) in list {
            match inv.managed.get(arn) {
                Some(m) => id
                    .policies
                    .push((format!("managed policy {}", m.name), &m.doc)),
                None => id.missing.push(format!("{name} ({arn})")),
            }
        }
    };
    let is_user_arn = who.arn.as_deref().is_some_and(|a| a.contains(":user/"));
    if who.issuer_role_arn.is_some()
        || who
            .arn
            .as_deref()
            .is_some_and(|a| a.contains(":assumed-role/"))
    {
        let role = match &who.issuer_role_arn {
            Some(i) => match inv.role(i) {
                RoleLookup::Found(r) => Some(r),
                _ => None,
            },
            None => who
                .arn
                .as_deref()
                .and_then(super::eval::session_role_name)
                .and_then(|(acct, name, _)| inv.role_by_name(acct, name)),
        }
        .ok_or_else(|| format!("the caller's role is not in the inventory of account {acct}"))?;
        if !role.details {
            return Err(format!(
                "the inventory has only a role list for {} (no policies)",
                role.arn
            ));
        }
        id.label = format!("role {}", role.name);
        for p in &role.inline {
            id.policies.push((
                format!("inline policy {} of role {}", p.name, role.name),
                &p.doc,
            ));
        }
        attached(&role.attached, &mut id);
        id.boundary = role.boundary.clone();
    } else if is_user_arn {
        let arn = who.arn.as_deref().unwrap_or("");
        let u = inv
            .user(arn)
            .ok_or_else(|| format!("user {arn} is not in the inventory of account {acct}"))?;
        id.label = format!("user {}", u.name);
        for p in &u.inline {
            id.policies.push((
                format!("inline policy {} of user {}", p.name, u.name),
                &p.doc,
            ));
        }
        attached(&u.attached, &mut id);
        for g in &u.groups {
            match ai.groups.get(g) {
                Some(gr) => {
                    for p in &gr.inline {
                        id.policies.push((
                            format!("inline policy {} of group {}", p.name, gr.name),
                            &p.doc,
                        ));
                    }
                    attached(&gr.attached, &mut id);
                }
                None => id.missing.push(format!("group {g}")),
            }
        }
        id.boundary = u.boundary.clone();
    } else {
        return Err("the caller is neither an IAM user nor a role session".into());
    }
    Ok(id)
}

fn identity_checks(
    a: &mut Assessment,
    e: &Event<'_>,
    n: &Norm<'_>,
    req: &RequestContext,
    inv: &Inventory,
    explicit_principal: bool,
) {
    match e.caller.kind {
        Some("AWSService") | Some("SAMLUser") | Some("WebIdentityUser") => {
            let why =
                "the caller is a service or federated identity: no identity policy of its own";
            a.checks
                .push(Check::new(ITEM_IDENTITY, Status::NotApplicable, why));
            a.checks
                .push(Check::new(ITEM_BOUNDARY, Status::NotApplicable, why));
            return;
        }
        Some("Root") => {
            let why =
                "the root user is not limited by identity policies (it cannot assume roles at all)";
            a.checks
                .push(Check::new(ITEM_IDENTITY, Status::NotApplicable, why));
            a.checks
                .push(Check::new(ITEM_BOUNDARY, Status::NotApplicable, why));
            return;
        }
        _ => {}
    }
    let id = match gather_identity(req, inv) {
        Ok(i) => i,
        Err(why) => {
            a.checks
                .push(Check::new(ITEM_IDENTITY, Status::Unknown, why.clone()));
            a.checks
                .push(Check::new(ITEM_BOUNDARY, Status::Unknown, why));
            return;
        }
    };
    let mut evals: Vec<(String, Vec<StatementEval<'_>>)> = Vec::new();
    for (name, doc) in &id.policies {
        evals.push((name.clone(), eval_document(doc, req)));
    }
    let decision = decide(evals.iter().flat_map(|(_, v)| v.iter()));
    let same_account = n.cross_account == Some(false);
    let missing = if id.missing.is_empty() {
        String::new()
    } else {
        format!("; not in the inventory: {}", id.missing.join(", "))
    };
    let find = |eff: Effect, t: Tri| {
        evals.iter().find_map(|(name, v)| {
            v.iter()
                .find(|s| s.effect() == eff && s.applies() == t)
                .map(|s| (name.clone(), s))
        })
    };
    let check = match decision {
        Decision::ExplicitDeny => {
            let d = match find(Effect::Deny, Tri::True) {
                Some((name, s)) => {
                    let conds: Vec<&CondEval> = s.conditions.iter().collect();
                    format!(
                        "{name} {} of {} denies {} on {}{}",
                        s.statement.label(),
                        id.label,
                        req.action,
                        req.resource,
                        if conds.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", conds_text(&conds))
                        }
                    )
                }
                None => format!("a Deny in the policies of {} applies", id.label),
            };
            Check::fail(ITEM_IDENTITY, "identity_policy_explicit_deny", d)
        }
        Decision::Allow => {
            let d = match find(Effect::Allow, Tri::True) {
                Some((name, s)) => format!(
                    "{name} {} of {} allows {} on {}",
                    s.statement.label(),
                    id.label,
                    req.action,
                    req.resource
                ),
                None => format!("the policies of {} allow it", id.label),
            };
            Check::new(ITEM_IDENTITY, Status::Pass, d)
        }
        Decision::ImplicitDeny if same_account && explicit_principal => Check::new(
            ITEM_IDENTITY,
            Status::Pass,
            format!(
                "no identity policy of {} allows it, but in the same account a trust policy that names the caller's own ARN is enough",
                id.label
            ),
        ),
        Decision::ImplicitDeny if !id.missing.is_empty() => Check::new(
            ITEM_IDENTITY,
            Status::Unknown,
            format!(
                "none of the {} known policies of {} allows {} on {}{missing}",
                id.policies.len(),
                id.label,
                req.action,
                req.resource
            ),
        ),
        Decision::ImplicitDeny => {
            let mut d = format!(
                "none of the {} policies of {} allows {} on {}",
                id.policies.len(),
                id.label,
                req.action,
                req.resource
            );
            let conds: Vec<&CondEval> = evals
                .iter()
                .flat_map(|(_, v)| v.iter())
                .filter(|s| s.effect() == Effect::Allow && s.targets() == Tri::True)
                .flat_map(|s| s.conditions.iter().filter(|c| c.result == Tri::False))
                .collect();
            if !conds.is_empty() {
                d.push_str(&format!(
                    " (an Allow exists, but its condition fails: {})",
                    conds_text(&conds)
                ));
            }
            Check::fail(ITEM_IDENTITY, "missing_identity_permission", d)
        }
        Decision::Unknown => Check::new(
            ITEM_IDENTITY,
            Status::Unknown,
            format!(
                "the policies of {} depend on a condition key the log cannot give{missing}",
                id.label
            ),
        ),
    };
    a.checks.push(check);
    // Boundary.
    let check = match &id.boundary {
        None => Check::new(
            ITEM_BOUNDARY,
            Status::NotApplicable,
            format!("{} has no permissions boundary", id.label),
        ),
        Some(arn) => match inv.managed.get(arn) {
            None => Check::new(
                ITEM_BOUNDARY,
                Status::Unknown,
                format!("boundary {arn} is not in the inventory"),
            ),
            Some(m) => {
                let ev = eval_document(&m.doc, req);
                match decide(&ev) {
                    Decision::Allow => Check::new(
                        ITEM_BOUNDARY,
                        Status::Pass,
                        format!("boundary {} allows {}", m.name, req.action),
                    ),
                    Decision::ExplicitDeny => {
                        let s = ev
                            .iter()
                            .find(|s| s.effect() == Effect::Deny && s.applies() == Tri::True);
                        Check::fail(
                            ITEM_BOUNDARY,
                            "permissions_boundary_deny",
                            format!(
                                "boundary {} of {}: {} denies {}",
                                m.name,
                                id.label,
                                s.map_or_else(|| "a statement".into(), |s| s.statement.label()),
                                req.action
                            ),
                        )
                    }
                    Decision::ImplicitDeny => Check::fail(
                        ITEM_BOUNDARY,
                        "permissions_boundary_deny",
                        format!(
                            "boundary {} of {} has no Allow for {} on {}",
                            m.name, id.label, req.action, req.resource
                        ),
                    ),
                    Decision::Unknown => Check::new(
                        ITEM_BOUNDARY,
                        Status::Unknown,
                        format!(
                            "boundary {} depends on a condition key the log cannot give",
                            m.name
                        ),
                    ),
                }
            }
        },
    };
    a.checks.push(check);
}

fn org_checks(
    a: &mut Assessment,
    n: &Norm<'_>,
    req: &RequestContext,
    inv: &Inventory,
    role_arn: &str,
) {
    let Some(org) = &inv.org else {
        a.checks.push(Check::new(
            ITEM_SCP,
            Status::Unknown,
            "no --org-policies export",
        ));
        a.checks.push(Check::new(
            ITEM_RCP,
            Status::Unknown,
            "no --org-policies export",
        ));
        return;
    };
    // SCPs: the caller's organization only (causes.md §0 fact 8).
    let scp = match (req.principal.kind, req.principal.account.as_deref()) {
        (PrincipalKind::Aws, Some(acct)) => {
            let set = org.applicable(acct, OrgPolicyKind::Scp, false);
            if let Some(why) = set.exempt {
                let st = if org.management_account.as_deref() == Some(acct) {
                    Status::Pass
                } else {
                    Status::Unknown
                };
                Check::new(ITEM_SCP, st, why)
            } else {
                org_eval(&set, req, org, ITEM_SCP, "scp_deny", true)
            }
        }
        (PrincipalKind::Aws, None) => Check::new(
            ITEM_SCP,
            Status::Unknown,
            "the caller's account is not in the record",
        ),
        _ => Check::new(
            ITEM_SCP,
            Status::NotApplicable,
            "SCPs limit IAM principals of member accounts, not this caller",
        ),
    };
    a.checks.push(scp);
    let rcp = match n.role_account {
        Some(acct) => {
            let slr = role_arn.contains(":role/aws-service-role/");
            let set = org.applicable(acct, OrgPolicyKind::Rcp, slr);
            if let Some(why) = set.exempt {
                let st = if org.management_account.as_deref() == Some(acct) || slr {
                    Status::Pass
                } else {
                    Status::Unknown
                };
                Check::new(ITEM_RCP, st, why)
            } else {
                org_eval(&set, req, org, ITEM_RCP, "rcp_deny", false)
            }
        }
        None => Check::new(ITEM_RCP, Status::Unknown, "the role's account is not known"),
    };
    a.checks.push(rcp);
}

fn org_eval(
    set: &super::org::ApplicableSet<'_>,
    req: &RequestContext,
    org: &super::org::OrgExport,
    item: &'static str,
    cause: &'static str,
    allow_side: bool,
) -> Check {
    let kind = if allow_side { "SCP" } else { "RCP" };
    let mut deny = Tri::False;
    let mut deciding = None;
    for (p, via) in &set.applies {
        for s in eval_document(&p.doc, req) {
            if s.effect() == Effect::Deny {
                let r = s.applies();
                if r == Tri::True && deciding.is_none() {
                    let conds: Vec<&CondEval> = s.conditions.iter().collect();
                    deciding = Some(format!(
                        "{kind} {} ({}, attached to {via}) {} denies {}{}",
                        p.name,
                        p.id,
                        s.statement.label(),
                        req.action,
                        if conds.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", conds_text(&conds))
                        }
                    ));
                }
                deny = deny.or(r);
            }
        }
    }
    if let Some(d) = deciding {
        return Check::fail(item, cause, d);
    }
    let mut unknown: Vec<String> = Vec::new();
    if deny == Tri::Unknown {
        unknown.push("a Deny depends on a condition key the log cannot give".into());
    }
    for (p, why) in &set.unknown {
        let has_deny = eval_document(&p.doc, req)
            .iter()
            .any(|s| s.effect() == Effect::Deny && s.applies() != Tri::False);
        if has_deny {
            unknown.push(format!("{} ({}) may apply: {why}", p.name, p.id));
        }
    }
    if allow_side {
        // SCPs must allow at every level: root, each OU, the account.
        match &set.levels {
            Some(levels) => {
                for lvl in levels {
                    let at: Vec<_> = set
                        .applies
                        .iter()
                        .filter(|(_, via)| super::org::OrgExport::via_level(via) == lvl)
                        .collect();
                    let allow = Tri::any(at.iter().map(|(p, _)| {
                        let ev = eval_document(&p.doc, req);
                        Tri::any(ev.iter().filter(|s| s.effect() == Effect::Allow).map(|s| s.applies()))
                    }));
                    match allow {
                        Tri::True => {}
                        Tri::Unknown => unknown.push(format!("whether an SCP at {lvl} allows it")),
                        Tri::False => {
                            let names: Vec<String> = at.iter().map(|(p, _)| p.name.clone()).collect();
                            return Check::fail(
                                item,
                                cause,
                                format!(
                                    "no SCP attached to {lvl} allows {} (attached there: {})",
                                    req.action,
                                    if names.is_empty() { "none".into() } else { names.join(", ") }
                                ),
                            );
                        }
                    }
                }
            }
            None => unknown.push(format!(
                "the OU tree of {} is not exported (parents/), so whether every level allows it is unknown",
                org.org_id.as_deref().unwrap_or("the organization")
            )),
        }
    }
    if unknown.is_empty() {
        let names: Vec<String> = set
            .applies
            .iter()
            .map(|(p, via)| format!("{} via {via}", p.name))
            .collect();
        Check::new(
            item,
            Status::Pass,
            if names.is_empty() {
                format!("no {kind} applies")
            } else {
                format!("no Deny applies in {}", names.join(", "))
            },
        )
    } else {
        Check::new(item, Status::Unknown, unknown.join("; "))
    }
}

/// The ExternalId value is never in the log, so "present but wrong" is
/// decidable only by elimination: every other item passes, and the one open
/// question is the ExternalId condition of the statement that names the
/// caller. When the message itself says the trust policy is the failing
/// layer ("no role trust policy allows"), the elimination is inside one
/// policy and is certain; otherwise layers the inventory does not cover
/// (session policies, VPC endpoint policies) remain, and it is only likely.
fn external_id_by_elimination(a: &Assessment, e: &Event<'_>) -> Option<(Confidence, String)> {
    if !e.external_id_present {
        return None;
    }
    let ext = a.checks.iter().find(|c| c.item == ITEM_EXTID)?;
    if ext.status != Status::Unknown {
        return None;
    }
    let trust_layer = e.error_message.is_some_and(|m| {
        m.contains("no role trust policy allows") || m.contains("no resource-based policy allows")
    });
    let trust_items = [
        ITEM_ROLE,
        ITEM_PRINCIPAL,
        ITEM_TRUST_DENY,
        ITEM_MFA,
        ITEM_SRCID,
        ITEM_SESSNAME,
        ITEM_OTHER,
    ];
    let ok = |c: &Check| matches!(c.status, Status::Pass | Status::NotApplicable);
    let trust_ok = a
        .checks
        .iter()
        .filter(|c| trust_items.contains(&c.item))
        .all(ok);
    if !trust_ok {
        return None;
    }
    if trust_layer {
        return Some((
            Confidence::Certain,
            format!(
                "{}: the request carried an externalId (value never logged), the message names the role trust policy as the denying layer, and every other part of that policy passes, so the ExternalId value did not match",
                ext.detail
            ),
        ));
    }
    if a.checks.iter().all(|c| c.item == ITEM_EXTID || ok(c)) {
        return Some((
            Confidence::Likely,
            format!(
                "{}: every other checked item passes and the externalId value is never logged, so by elimination it did not match (session and VPC endpoint policies are not covered by the inventory)",
                ext.detail
            ),
        ));
    }
    None
}

/// Does the trust policy of the role require an ExternalId (console sub-hint)?
pub fn trust_requires_external_id(inv: &Inventory, role_arn: &str) -> bool {
    match inv.role(role_arn) {
        RoleLookup::Found(r) => r.trust.as_ref().is_some_and(|t| {
            t.statements
                .iter()
                .filter(|s| s.effect == Effect::Allow)
                .any(|s| {
                    s.conditions
                        .iter()
                        .any(|c| is_secret_key(&c.key) && !c.op.if_exists)
                })
        }),
        _ => false,
    }
}

/// Is a context key known to the request (for explain output)?
pub fn key_known(req: &RequestContext, key: &str) -> bool {
    !matches!(req.get(key), None | Some(CtxValue::PresentUnknown))
}

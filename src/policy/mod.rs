//! Offline policy evidence (causes.md §4 step 5, §6): IAM inventories and
//! Organizations exports, our own evaluator for what an STS role assumption
//! needs, and the step-5 checklist that turns a log-only "possible" into a
//! settled cause.
//!
//! ```
//! use trailtriage::policy::document::PolicyDocument;
//! use trailtriage::policy::eval::{evaluate, Decision, RequestContext, RequestPrincipal, PrincipalKind, CtxValue};
//!
//! let trust = PolicyDocument::from_text(r#"{"Statement":[{"Effect":"Allow",
//!   "Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"sts:AssumeRole",
//!   "Condition":{"StringEquals":{"sts:ExternalId":"issued-by-owner"}}}]}"#, "example").unwrap();
//! let who = RequestPrincipal { kind: PrincipalKind::Aws,
//!   arn: Some("arn:aws:iam::444455556666:user/bob".into()), account: Some("444455556666".into()),
//!   issuer_role_arn: None, principal_id: None };
//! let mut req = RequestContext::new("sts:AssumeRole", "arn:aws:iam::111122223333:role/Vendor", who);
//! // The log says no externalId was sent: decidable.
//! req.set("sts:ExternalId", CtxValue::Absent);
//! assert_eq!(evaluate(&trust, &req), Decision::ImplicitDeny);
//! // One was sent, but its value is never logged: undecidable.
//! req.set("sts:ExternalId", CtxValue::PresentUnknown);
//! assert_eq!(evaluate(&trust, &req), Decision::Unknown);
//! ```

pub mod assess;
pub mod context;
pub mod document;
pub mod eval;
pub mod inventory;
pub mod org;

use crate::event::Event;
use crate::norm::Norm;
use eval::{CtxValue, PrincipalKind, RequestContext, RequestPrincipal};
pub use inventory::{Inventory, InventoryError};

/// The STS action an event asks for.
pub fn action_of(e: &Event<'_>) -> &'static str {
    match e.event_name {
        Some("AssumeRoleWithSAML") => "sts:AssumeRoleWithSAML",
        Some("AssumeRoleWithWebIdentity") => "sts:AssumeRoleWithWebIdentity",
        Some("AssumeRoot") => "sts:AssumeRoot",
        _ => "sts:AssumeRole",
    }
}

fn account_of_arn(arn: &str) -> Option<&str> {
    crate::norm::arn_parts(arn)
        .map(|p| p.1)
        .filter(|a| !a.is_empty())
}

/// The principal STS sees for this event. For a console SwitchRole the
/// console authorizes with the original sign-in identity (`SwitchFrom`).
pub fn principal_of(e: &Event<'_>, n: &Norm<'_>) -> RequestPrincipal {
    let c = &e.caller;
    let mut p = RequestPrincipal::unknown();
    match c.kind {
        Some("IAMUser") | Some("Root") | Some("FederatedUser") => {
            p.kind = PrincipalKind::Aws;
            p.arn = c.arn.map(str::to_string);
            p.account = n.caller_account.map(str::to_string);
            p.principal_id = c.principal_id.map(str::to_string);
        }
        Some("AssumedRole") => {
            p.kind = PrincipalKind::Aws;
            p.arn = c.arn.map(str::to_string);
            p.account = n.caller_account.map(str::to_string);
            p.issuer_role_arn = c.session_issuer_arn.map(str::to_string);
            p.principal_id = c.principal_id.map(str::to_string);
        }
        Some("AWSService") => {
            p.kind = PrincipalKind::Service;
            p.arn = c.invoked_by.map(str::to_string);
        }
        Some("SAMLUser") => {
            p.kind = PrincipalKind::Federated;
            p.arn = e.principal_arn.or(c.identity_provider).map(str::to_string);
        }
        Some("WebIdentityUser") => {
            p.kind = PrincipalKind::Federated;
            p.arn = c.identity_provider.map(str::to_string);
        }
        _ => {
            if c.invoked_by.is_some_and(|i| i.ends_with(".amazonaws.com")) {
                p.kind = PrincipalKind::Service;
                p.arn = c.invoked_by.map(str::to_string);
            }
        }
    }
    if e.event_name == Some("SwitchRole")
        && let Some(from) = e.switch_from
    {
        p = RequestPrincipal {
            kind: PrincipalKind::Aws,
            arn: Some(from.to_string()),
            account: account_of_arn(from).map(str::to_string),
            issuer_role_arn: None,
            principal_id: None,
        };
    }
    p
}

/// The `aws:PrincipalArn` of a principal: the role ARN for a role session.
pub fn principal_arn(p: &RequestPrincipal) -> Option<String> {
    if let Some(i) = &p.issuer_role_arn {
        return Some(i.clone());
    }
    p.arn.clone()
}

/// Build the request context of one event: every condition key the log (and
/// the inventory, for tags and the organization) can give. A key the log
/// cannot give is left out, so it evaluates as unknown.
pub fn request_context(e: &Event<'_>, n: &Norm<'_>, inv: Option<&Inventory>) -> RequestContext {
    let who = principal_of(e, n);
    let resource = n.target_role_arn.unwrap_or("");
    let mut r = RequestContext::new(action_of(e), resource, who.clone());
    let params = e.request_params_present;
    let kind = e.caller.kind;
    if who.kind == PrincipalKind::Aws {
        if let Some(a) = &who.account {
            r.set_str("aws:PrincipalAccount", a);
        }
        if let Some(a) = principal_arn(&who) {
            r.set_str("aws:PrincipalArn", &a);
        }
        let ptype = match kind {
            Some("IAMUser") => Some("User"),
            Some("AssumedRole") => Some("AssumedRole"),
            Some("Root") => Some("Account"),
            Some("FederatedUser") => Some("FederatedUser"),
            _ => None,
        };
        if let Some(t) = ptype
            && e.event_name != Some("SwitchRole")
        {
            r.set_str("aws:PrincipalType", t);
        }
        r.set_str("aws:PrincipalIsAWSService", "false");
        r.set("aws:PrincipalServiceName", CtxValue::Absent);
        if e.event_name != Some("SwitchRole") {
            if let Some(pid) = e.caller.principal_id {
                r.set_str("aws:userid", pid);
            }
            match kind {
                Some("IAMUser") => {
                    if let Some(u) = e
                        .caller
                        .user_name
                        .or_else(|| e.caller.arn.and_then(|a| a.rsplit('/').next()))
                    {
                        r.set_str("aws:username", u);
                    }
                }
                Some("AssumedRole") | Some("Root") => r.set("aws:username", CtxValue::Absent),
                _ => {}
            }
        }
        if e.caller.invoked_by.is_none() {
            r.set_str("aws:ViaAWSService", "false");
        }
    } else if who.kind == PrincipalKind::Service {
        r.set_str("aws:PrincipalIsAWSService", "true");
        if let Some(s) = &who.arn {
            r.set_str("aws:PrincipalServiceName", s);
        }
    }
    if let Some(ip) = e.source_ip
        && ip.parse::<std::net::IpAddr>().is_ok()
    {
        r.set_str("aws:SourceIp", ip);
    }
    if let Some(t) = e.event_time {
        r.set_str("aws:CurrentTime", t);
        if let Some(ms) = crate::finding::parse_time_ms(t) {
            r.set_str("aws:EpochTime", &(ms / 1000).to_string());
        }
    }
    r.set_str("aws:SecureTransport", "true");
    if let Some(reg) = e.serving_region.or(e.aws_region) {
        r.set_str("aws:RequestedRegion", reg);
    }
    if let Some(v) = e.vpc_endpoint_id {
        r.set_str("aws:SourceVpce", v);
    }
    if let Some(a) = n.role_account {
        r.set_str("aws:ResourceAccount", a);
    }
    // MFA (aws:MultiFactorAuthPresent is absent for long-term keys without MFA).
    let long_term = kind == Some("IAMUser")
        && e.caller
            .access_key_id
            .is_some_and(|k| k.starts_with("AKIA"));
    if params && e.mfa_serial_present {
        r.set_str("aws:MultiFactorAuthPresent", "true");
        r.set_str("aws:MultiFactorAuthAge", "0");
    } else if let Some(m) = e
        .caller
        .mfa_authenticated
        .filter(|_| e.event_name != Some("SwitchRole"))
    {
        if m {
            r.set_str("aws:MultiFactorAuthPresent", "true");
            if let (Some(c), Some(t)) = (
                e.caller
                    .session_created
                    .and_then(crate::finding::parse_time_ms),
                e.event_time.and_then(crate::finding::parse_time_ms),
            ) {
                r.set_str(
                    "aws:MultiFactorAuthAge",
                    &((t - c).max(0) / 1000).to_string(),
                );
            }
        } else {
            r.set_str("aws:MultiFactorAuthPresent", "false");
            r.set("aws:MultiFactorAuthAge", CtxValue::Absent);
        }
    } else if params && long_term {
        r.set("aws:MultiFactorAuthPresent", CtxValue::Absent);
        r.set("aws:MultiFactorAuthAge", CtxValue::Absent);
    }
    // Request parameters: decidable only when the record carries them.
    if params {
        r.set(
            "sts:ExternalId",
            if e.external_id_present {
                CtxValue::PresentUnknown
            } else {
                CtxValue::Absent
            },
        );
        match e.source_identity.or(e.caller.inherited_source_identity) {
            Some(s) => r.set_str("sts:SourceIdentity", s),
            None => r.set("sts:SourceIdentity", CtxValue::Absent),
        }
        if let Some(s) = e.role_session_name {
            r.set_str("sts:RoleSessionName", s);
        }
        match e.duration_seconds {
            Some(d) => r.set_str("sts:DurationSeconds", &d.to_string()),
            None => r.set("sts:DurationSeconds", CtxValue::Absent),
        }
        if !e.transitive_tag_keys_present {
            r.set("sts:TransitiveTagKeys", CtxValue::Absent);
        }
        if e.session_tag_count.unwrap_or(0) == 0 {
            r.set("aws:TagKeys", CtxValue::Absent);
            r.set_prefix_absent("aws:RequestTag/");
        }
    }
    // Principal tags: complete for an IAM user the inventory describes. A
    // role session may carry session tags the log does not show: unknown.
    if let Some(inv) = inv {
        if kind == Some("IAMUser")
            && e.event_name != Some("SwitchRole")
            && let Some(u) = e.caller.arn.and_then(|a| inv.user(a))
        {
            for (k, v) in &u.tags {
                r.set_str(&format!("aws:PrincipalTag/{k}"), v);
            }
            r.set_prefix_absent("aws:PrincipalTag/");
        }
        if let Some(org) = &inv.org
            && let Some(oid) = &org.org_id
        {
            let val = |acct: &str| match org.is_member(acct) {
                Some(true) => Some(CtxValue::Known(vec![oid.clone()])),
                Some(false) => Some(CtxValue::NotAnyOf(vec![oid.clone()])),
                None => None,
            };
            if who.kind == PrincipalKind::Aws
                && let Some(v) = who.account.as_deref().and_then(val)
            {
                r.set("aws:PrincipalOrgID", v);
            }
            if let Some(v) = n.role_account.and_then(val) {
                r.set("aws:ResourceOrgID", v);
            }
        }
    }
    r
}

/// How long before or after the event an inventory may be taken and still
/// give a `certain` verdict.
pub const STALE_AFTER_MS: i64 = 7 * 24 * 3600 * 1000;

/// Causes that step 5 may replace: what the log alone leaves open.
fn open_cause(v: &crate::classify::Verdict) -> bool {
    v.confidence != crate::classify::Confidence::Certain
        || matches!(
            v.cause_id,
            "cross_account_denied_ambiguous" | "same_account_denied_ambiguous"
        )
}

/// The trust-layer causes: a message that names the role trust policy may be
/// narrowed to one of these by the inventory.
const TRUST_LAYER: &[&str] = &[
    "trust_policy_principal_not_allowed",
    "role_not_found",
    "role_chaining_wrong_principal",
    "self_assume_without_explicit_trust",
    "service_trust_missing",
    "external_id_missing",
    "external_id_mismatch",
    "mfa_required_not_provided",
    "source_identity_required",
    "role_session_name_condition_failed",
    "trust_condition_not_met",
];

/// The request-shape hints of §4 step 6 (secondary only, possible).
const STEP6_HINTS: &[&str] = &[
    "external_id_missing",
    "external_id_mismatch",
    "mfa_required_not_provided",
    "role_chaining_wrong_principal",
];

/// Apply step 5 to a log-only verdict (AccessDenied role assumptions only).
/// Returns whether the inventory was used (it describes the role's or the
/// caller's account). Deterministic: depends only on the event and the
/// inventory.
pub fn apply_step5(
    e: &Event<'_>,
    n: &Norm<'_>,
    v: &mut crate::classify::Verdict,
    inv: &Inventory,
) -> bool {
    use crate::classify::{Confidence, Severity, catalog};
    if n.code != Some("AccessDenied") || n.target_role_arn.is_none() {
        return false;
    }
    let a = assess::assess(e, n, inv);
    if !a.covered {
        return false;
    }
    let mut note = String::from("; inventory (step 5): ");
    let refuted: Vec<&str> = a
        .checks
        .iter()
        .filter(|c| {
            matches!(
                c.status,
                assess::Status::Pass | assess::Status::NotApplicable
            )
        })
        .flat_map(|c| c.refutes.iter().copied())
        .collect();
    match &a.decided {
        Some((cause, conf, ev)) => {
            let replace = open_cause(v)
                || (v.cause_id == "trust_policy_principal_not_allowed"
                    && TRUST_LAYER.contains(cause));
            if v.cause_id == *cause {
                v.confidence = (*conf).min(v.confidence);
                note.push_str(ev);
                v.needs_input.clear();
            } else if replace {
                let old = v.cause_id;
                // Step-6 hints were candidates for an unexplained denial;
                // once the inventory explains it they are noise.
                let settled = *conf == Confidence::Certain;
                v.secondary_causes.retain(|s| {
                    s != cause && !refuted.contains(s) && !(settled && STEP6_HINTS.contains(s))
                });
                let old_is_fallback = matches!(
                    old,
                    "cross_account_denied_ambiguous" | "same_account_denied_ambiguous"
                );
                if !old_is_fallback && !v.secondary_causes.contains(&old) {
                    v.secondary_causes.insert(0, old);
                }
                let keep_high = v.severity == Severity::High;
                v.cause_id = cause;
                v.confidence = *conf;
                v.severity = catalog::cause(cause).map_or(Severity::Medium, |c| c.severity);
                if keep_high {
                    v.severity = Severity::High;
                }
                if *conf == Confidence::Certain {
                    v.needs_input.clear();
                }
                note = format!("inventory (step 5) settles {cause}: {ev}; log-only: ");
                v.evidence = format!("{note}{}", v.evidence);
                note = String::new();
            } else {
                // A certain log-only cause of another layer stands; AWS names
                // only one denying layer, so the inventory's is secondary.
                v.add_secondary(cause);
                note.push_str(&format!("also fails: {ev}"));
            }
        }
        None => {
            let open: Vec<String> = a
                .checks
                .iter()
                .filter(|c| c.status == assess::Status::Unknown)
                .map(|c| format!("{} ({})", c.item, crate::util::clip(&c.detail, 160)))
                .collect();
            if open.is_empty() {
                note.push_str("every checked item passes (the denying layer is one the inventory does not cover: session or VPC endpoint policy, or the inventory is out of date)");
            } else {
                note.push_str(&format!(
                    "no checked item fails; not decidable offline: {}",
                    open.join(", ")
                ));
            }
            if open_cause(v) {
                v.secondary_causes.retain(|s| !refuted.contains(s));
            }
        }
    }
    for c in &a.also_failing {
        v.add_secondary(c);
    }
    if v.cause_id == "console_switch_role_failed"
        && let Some(r) = n.target_role_arn
        && assess::trust_requires_external_id(inv, r)
    {
        v.add_secondary("external_id_required_console");
    }
    if let Some(age) = &a.age_note {
        if note.is_empty() {
            v.evidence.push_str(&format!("; {age}"));
        } else {
            note.push_str(&format!("; {age}"));
        }
    }
    if !note.is_empty() {
        v.evidence.push_str(&note);
    }
    true
}

//! Step 3: message literals, tried in the order of causes.md §4 step 3, each a
//! case-sensitive substring test. The policy-type literals are not read from a
//! message that CloudTrail may have cut (the truncation guard).

use super::{Confidence, Verdict};
use crate::event::Event;
use crate::norm::Norm;

/// The policy-type literals, in order, with the cause each one gives.
const POLICY_LITERALS: &[(&str, &str)] = &[
    ("service control policy", "scp_deny"),
    ("resource control policy", "rcp_deny"),
    ("VPC endpoint policy", "vpc_endpoint_policy_deny"),
    ("permissions boundary", "permissions_boundary_deny"),
    ("sessions policy", "session_policy_deny"),
    ("session policy", "session_policy_deny"),
    (
        "explicit deny in an identity-based policy",
        "identity_policy_explicit_deny",
    ),
    (
        "no identity-based policy allows",
        "missing_identity_permission",
    ),
    (
        "explicit deny in the role trust policy",
        "trust_policy_explicit_deny",
    ),
    (
        "no role trust policy allows",
        "trust_policy_principal_not_allowed",
    ),
    (
        "explicit deny in a resource-based policy",
        "trust_policy_explicit_deny",
    ),
    (
        "no resource-based policy allows",
        "trust_policy_principal_not_allowed",
    ),
];

fn lit(id: &'static str, l: &str) -> Verdict {
    Verdict::new(
        id,
        Confidence::Certain,
        format!("errorMessage contains \"{l}\""),
    )
}

/// The first policy-type literal in the message (order of the table).
fn policy_literal(msg: &str) -> Option<(&'static str, &'static str)> {
    POLICY_LITERALS
        .iter()
        .find(|(l, _)| msg.contains(l))
        .map(|(l, id)| (*l, *id))
}

pub(super) fn by_message(e: &Event<'_>, n: &Norm<'_>) -> Option<Verdict> {
    let msg = e.error_message?;
    let policy_ok = !n.message_truncated;
    if msg.contains("MultiFactorAuthentication failed") {
        return Some(if msg.contains("unable to validate MFA code") {
            lit("mfa_device_invalid", "unable to validate MFA code")
        } else {
            lit("mfa_invalid_code", "MultiFactorAuthentication failed")
        });
    }
    if msg.contains("Roles may not be assumed by root") {
        return Some(lit(
            "root_user_cannot_assume",
            "Roles may not be assumed by root",
        ));
    }
    let with_policy_secondary = |mut v: Verdict| {
        // The sts: literal decides (§4 step 3 order); the policy type the
        // message also names is evidence, not a second cause.
        if policy_ok && let Some((l, _)) = policy_literal(msg) {
            v.evidence
                .push_str(&format!("; the message also names \"{l}\""));
        }
        v
    };
    if msg.contains("sts:SetSourceIdentity") {
        let v = match (e.source_identity, e.caller.inherited_source_identity) {
            (Some(req), Some(inh)) if req != inh => {
                let mut v = Verdict::new(
                    "source_identity_changed_in_chain",
                    Confidence::Likely,
                    format!(
                        "errorMessage contains \"sts:SetSourceIdentity\"; requested sourceIdentity {req:?} differs from the inherited {inh:?}"
                    ),
                );
                v.add_secondary("set_source_identity_not_allowed");
                v
            }
            _ => lit("set_source_identity_not_allowed", "sts:SetSourceIdentity"),
        };
        return Some(with_policy_secondary(v));
    }
    if msg.contains("sts:TagSession") {
        let mut v = lit("tag_session_not_allowed", "sts:TagSession");
        if let Some(c) = e.session_tag_count {
            v.evidence
                .push_str(&format!("; {c} session tag(s) in the request"));
        }
        return Some(with_policy_secondary(v));
    }
    if policy_ok && let Some((l, id)) = policy_literal(msg) {
        let mut v = lit(id, l);
        if id == "scp_deny" && msg.contains("VPC endpoint policy") {
            v.add_secondary("vpc_endpoint_policy_deny");
            v.evidence
                .push_str("; a VPC endpoint policy denied transitively through the SCP");
        }
        if id == "vpc_endpoint_policy_deny"
            && let Some(vpce) = e.vpc_endpoint_id
        {
            v.evidence.push_str(&format!("; vpcEndpointId={vpce}"));
        }
        return Some(v);
    }
    if msg.contains("Not authorized to perform sts:AssumeRoleWithSAML") {
        let mut v = lit(
            "saml_not_authorized",
            "Not authorized to perform sts:AssumeRoleWithSAML",
        );
        if e.principal_tags_present {
            v.add_secondary("tag_session_not_allowed");
        }
        if e.source_identity.is_some() {
            v.add_secondary("set_source_identity_not_allowed");
        }
        return Some(v);
    }
    if msg.contains("Not authorized to perform sts:AssumeRoleWithWebIdentity") {
        let mut v = lit(
            "web_identity_not_authorized",
            "Not authorized to perform sts:AssumeRoleWithWebIdentity",
        );
        if e.principal_tags_present || e.session_tag_count.is_some_and(|c| c > 0) {
            v.add_secondary("tag_session_not_allowed");
        }
        return Some(v);
    }
    None
}

//! Step 4: structural checks on the request (likely), in the order of
//! causes.md §4 step 4. The role-based checks need an extracted role ARN.

use super::{Confidence, Verdict};
use crate::event::Event;
use crate::norm::{Norm, arn_parts, region_partition, role_arn_well_formed, service_subject};

fn likely(id: &'static str, why: String) -> Option<Verdict> {
    Some(Verdict::new(id, Confidence::Likely, why))
}

pub(super) fn by_structure(e: &Event<'_>, n: &Norm<'_>) -> Option<Verdict> {
    let federated = e.is_saml() || e.is_oidc();
    let service_caller = e.caller.kind == Some("AWSService");
    if let Some(role) = n.target_role_arn {
        // partition mismatch
        if let Some(rp) = n.role_partition {
            if !federated
                && !service_caller
                && let Some(cp) = e.caller.arn.and_then(arn_parts).map(|p| p.0)
                && cp != rp
            {
                return likely(
                    "cross_partition",
                    format!("role ARN partition {rp} differs from the caller ARN partition {cp}"),
                );
            }
            if let Some(region) = e.aws_region {
                let regp = region_partition(region);
                if regp != rp {
                    return likely(
                        "cross_partition",
                        format!(
                            "role ARN partition {rp} differs from partition {regp} of awsRegion {region}"
                        ),
                    );
                }
            }
        }
        if !role_arn_well_formed(role) {
            return likely(
                "role_arn_malformed",
                format!(
                    "role ARN {role:?} (from {}) fails the pattern arn:<partition>:iam::<12 digits>:role/<path><name>",
                    n.role_arn_source.as_str()
                ),
            );
        }
        if e.caller.kind == Some("AssumedRole") && e.caller.session_issuer_arn == Some(role) {
            let mut why = format!("caller session was issued by the target role itself ({role})");
            if let Some(g) = e.explicit_trust_grant {
                why.push_str(&format!("; additionalEventData.explicitTrustGrant={g}"));
            }
            return likely("self_assume_without_explicit_trust", why);
        }
    }
    if e.event_source == Some("signin.amazonaws.com") && e.event_name == Some("SwitchRole") {
        let mut v = Verdict::new(
            "console_switch_role_failed",
            Confidence::Likely,
            format!(
                "signin SwitchRole failed (responseElements.SwitchRole={}, switch from {})",
                e.switch_role_result.unwrap_or("-"),
                e.switch_from.unwrap_or("unknown")
            ),
        );
        if let Some(len) = n.role_path_and_name_len
            && len > 64
        {
            v.add_secondary("role_path_too_long_console");
            v.evidence.push_str(&format!(
                "; role path and name are {len} characters (console limit 64)"
            ));
        }
        if n.target_role_arn.is_none() {
            v.evidence
                .push_str("; the record does not name the target role");
        }
        return Some(v);
    }
    let invoked_by_service = e
        .caller
        .invoked_by
        .is_some_and(|s| s.ends_with(".amazonaws.com"));
    let service_msg = e.error_message.is_some_and(service_subject);
    if service_caller || invoked_by_service || service_msg {
        let why = if service_caller {
            "userIdentity.type=AWSService".to_string()
        } else if invoked_by_service {
            format!(
                "userIdentity.invokedBy={}",
                e.caller.invoked_by.unwrap_or("")
            )
        } else {
            "errorMessage has a service name as its subject".to_string()
        };
        return likely("service_trust_missing", why);
    }
    if let Some(role) = n.target_role_arn {
        let name = role.rsplit('/').next().unwrap_or("");
        if e.caller.kind == Some("IAMUser")
            && (name.starts_with("AWSServiceRoleFor") || name.starts_with("AWSReservedSSO_"))
        {
            return likely(
                "trust_policy_principal_not_allowed",
                format!(
                    "IAM user denied on {name}, a service-linked or Identity Center role whose trust never names IAM users"
                ),
            );
        }
    }
    None
}

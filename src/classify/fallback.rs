//! Step 7: the ambiguous fallbacks, so that classification is total.

use super::{Confidence, Severity, Verdict};
use crate::event::Event;
use crate::norm::Norm;

pub(super) fn fallback(e: &Event<'_>, n: &Norm<'_>, access_denied: bool) -> Verdict {
    if !access_denied {
        let mut v = Verdict::new(
            "unknown_failure",
            Confidence::Possible,
            match e.error_code {
                Some(c) => format!("errorCode={c} is not in the catalogue and no rule matched"),
                None => "failure without an errorCode and no rule matched".to_string(),
            },
        );
        if let Some(m) = e.error_message {
            v.evidence
                .push_str(&format!("; errorMessage={:?}", crate::util::clip(m, 300)));
        }
        return v;
    }
    let cross = n.cross_account;
    let (id, candidates, needs): (&'static str, &str, &[&'static str]) = if cross == Some(true) {
        (
            "cross_account_denied_ambiguous",
            "trust_policy_principal_not_allowed, missing_identity_permission, role_not_found, external_id_missing/external_id_mismatch or mfa_required_not_provided (trust conditions), scp_deny (caller's SCP)",
            &["iam_authorization_details", "scp_export"],
        )
    } else {
        (
            "same_account_denied_ambiguous",
            "missing_identity_permission, trust_policy_principal_not_allowed, role_not_found",
            &["iam_authorization_details"],
        )
    };
    let relation = match cross {
        Some(true) => format!(
            "role account {} differs from caller account {}",
            n.role_account.unwrap_or("?"),
            n.caller_account.unwrap_or("?")
        ),
        Some(false) => format!(
            "role and caller in account {}",
            n.caller_account.unwrap_or("?")
        ),
        None => {
            "the account relation is unknown (role or caller account not in the record)".to_string()
        }
    };
    let mut ev = format!(
        "generic AccessDenied without a policy-type suffix; {relation}; role ARN from {}; ranked candidates: {candidates}",
        n.role_arn_source.as_str()
    );
    let mut v;
    if e.event_name == Some("AssumeRoot") {
        ev = format!(
            "AssumeRoot denied for target account {} (taskPolicyArn {}); {ev}; AssumeRoot candidates: centralized root access not enabled, caller neither management account nor delegated administrator, no sts:AssumeRoot permission, caller SCP",
            n.role_account.unwrap_or("?"),
            e.task_policy_arn.unwrap_or("?")
        );
        v = Verdict::new(id, Confidence::Possible, ev);
        v.severity = Severity::High;
    } else {
        v = Verdict::new(id, Confidence::Possible, ev);
    }
    v.needs_input = needs.to_vec();
    v
}

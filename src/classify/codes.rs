//! Step 1: the deterministic error-code map of causes.md §3.

use super::{Confidence, Verdict};
use crate::event::Event;
use crate::norm::{Norm, role_arn_well_formed};

fn certain(id: &'static str, why: String) -> Option<Verdict> {
    Some(Verdict::new(id, Confidence::Certain, why))
}

/// The §3 row for this event's code, if its code has one.
pub(super) fn by_code(e: &Event<'_>, n: &Norm<'_>) -> Option<Verdict> {
    let code = n.code?;
    let raw = e.error_code.unwrap_or(code);
    let msg = e.error_message.unwrap_or("");
    let has = |s: &str| msg.contains(s);
    let why = |what: &str| format!("errorCode={raw}{what}");
    match code {
        "RegionDisabled" => certain(
            "sts_region_disabled",
            why(" (STS not activated in the region for the role's account)"),
        ),
        "ExpiredToken" => {
            if e.is_saml() {
                certain("saml_assertion_expired", why(" on AssumeRoleWithSAML"))
            } else if e.is_oidc() {
                certain(
                    "web_identity_token_expired",
                    why(" on AssumeRoleWithWebIdentity"),
                )
            } else {
                let mut w = why(": the caller's credentials had expired");
                if e.is_chained() {
                    w.push_str("; caller is a chained role session (sessions last at most 1 h)");
                }
                certain("caller_credentials_expired", w)
            }
        }
        "InvalidClientTokenId" | "SignatureDoesNotMatch" | "IncompleteSignature" => certain(
            "caller_credentials_invalid",
            why(": the caller's key or signature was rejected"),
        ),
        "ValidationError" => Some(validation(e, n, raw, msg)),
        "PackedPolicyTooLarge" => certain("packed_policy_too_large", why("")),
        "MalformedPolicyDocument" => certain("malformed_session_policy", why("")),
        "InvalidIdentityToken" => {
            if e.is_saml() {
                if has("Specified provider doesn't exist") {
                    certain(
                        "saml_provider_not_found",
                        why(
                            " on AssumeRoleWithSAML; message says \"Specified provider doesn't exist\"",
                        ),
                    )
                } else {
                    certain("saml_invalid_response", why(" on AssumeRoleWithSAML"))
                }
            } else if e.is_oidc() {
                if has("No OpenIDConnect provider") {
                    certain(
                        "oidc_provider_not_found",
                        why(
                            " on AssumeRoleWithWebIdentity; message says \"No OpenIDConnect provider\"",
                        ),
                    )
                } else if has("Incorrect token audience") {
                    certain(
                        "oidc_audience_mismatch",
                        why(
                            " on AssumeRoleWithWebIdentity; message says \"Incorrect token audience\"",
                        ),
                    )
                } else {
                    certain(
                        "web_identity_token_invalid",
                        why(" on AssumeRoleWithWebIdentity"),
                    )
                }
            } else {
                Some(Verdict::new(
                    "unknown_failure",
                    Confidence::Possible,
                    why(" on an event that is neither SAML nor web identity"),
                ))
            }
        }
        "IDPCommunicationError" => certain(
            "oidc_idp_unreachable",
            why(": the identity provider could not be reached (often transient)"),
        ),
        "IDPRejectedClaim" => certain("idp_rejected_claim", why("")),
        "Throttling" => certain("throttled", why(": not an authorization problem")),
        _ => None,
    }
}

fn validation(e: &Event<'_>, n: &Norm<'_>, raw: &str, msg: &str) -> Verdict {
    let has = |s: &str| msg.contains(s);
    let c = |id, lit: &str| {
        Verdict::new(
            id,
            Confidence::Certain,
            format!("errorCode={raw}; errorMessage contains \"{lit}\""),
        )
    };
    if has("1 hour session limit for roles assumed by role chaining") {
        let mut v = c(
            "chained_session_duration_exceeded",
            "1 hour session limit for roles assumed by role chaining",
        );
        if let Some(d) = e.duration_seconds {
            v.evidence.push_str(&format!("; durationSeconds={d}"));
        }
        return v;
    }
    if has("exceeds the MaxSessionDuration") || has("exceeds MaxSessionDuration") {
        let mut v = c(
            "duration_exceeds_max_session",
            "exceeds ... MaxSessionDuration",
        );
        if let Some(d) = e.duration_seconds {
            v.evidence.push_str(&format!("; durationSeconds={d}"));
        }
        return v;
    }
    if has("'roleSessionName'") {
        return c("invalid_session_name", "'roleSessionName'");
    }
    if has("'sourceIdentity'") {
        return c("invalid_source_identity", "'sourceIdentity'");
    }
    if has("Source Identity") {
        return c("invalid_source_identity", "Source Identity");
    }
    if has("roleArn") {
        return c("role_arn_malformed", "roleArn");
    }
    if has(" is invalid") {
        return c("role_arn_malformed", " is invalid");
    }
    if let Some(arn) = n.target_role_arn
        && !role_arn_well_formed(arn)
    {
        return Verdict::new(
            "role_arn_malformed",
            Confidence::Certain,
            format!("errorCode={raw}; role ARN {arn:?} fails the role ARN pattern"),
        );
    }
    if has("tags") {
        return c("session_tags_invalid", "tags");
    }
    if has("Tag") {
        return c("session_tags_invalid", "Tag");
    }
    Verdict::new(
        "unknown_failure",
        Confidence::Possible,
        format!("errorCode={raw} with a message the catalogue does not know"),
    )
}

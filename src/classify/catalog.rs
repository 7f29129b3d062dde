//! The cause table: one entry per cause id of causes.md §2, with the checklist
//! item it belongs to, default severity, what the log shows, what settles it,
//! and the remediation. Ids are stable and never change meaning.

use super::Severity::{self, *};

/// Documentation of one cause.
#[derive(Debug)]
pub struct CauseInfo {
    pub id: &'static str,
    pub title: &'static str,
    pub severity: Severity,
    /// The item of AWS's AssumeRole checklist this cause belongs to.
    pub checklist: &'static str,
    /// What CloudTrail shows, and with what confidence from the log alone.
    pub signals: &'static str,
    /// What extra input settles it.
    pub settle: &'static str,
    pub remediation: &'static str,
    /// causes.md section.
    pub spec: &'static str,
}

macro_rules! causes {
    ($( $id:literal, $sev:ident, $spec:literal, $title:literal, $check:literal, $sig:literal, $settle:literal, $rem:literal; )*) => {
        /// Every cause, in catalogue order.
        pub const CAUSES: &[CauseInfo] = &[
            $( CauseInfo { id: $id, severity: $sev, spec: $spec, title: $title, checklist: $check, signals: $sig, settle: $settle, remediation: $rem }, )*
        ];
    };
}

causes! {
"missing_identity_permission", Medium, "2.1", "Caller lacks sts:AssumeRole in its identity policies",
  "caller permission", "AccessDenied with 'because no identity-based policy allows the sts:AssumeRole action' (certain).",
  "The caller's policies in get-account-authorization-details.",
  "Grant sts:AssumeRole on the exact role ARN to the caller (user, group or role), and check that any conditions such as principal tags are met.";
"identity_policy_explicit_deny", Medium, "2.2", "Explicit deny in the caller's identity policy",
  "caller permission", "AccessDenied with 'with an explicit deny in an identity-based policy' (certain).",
  "The Deny statement in the caller's policies (inventory).",
  "Remove or scope the Deny, e.g. a blanket Deny sts:AssumeRole or an MFA-enforcement Deny the caller does not satisfy.";
"trust_policy_principal_not_allowed", Medium, "2.3", "Role trust policy does not allow the caller",
  "trust policy", "AccessDenied with 'because no role trust policy allows the sts:AssumeRole action' (certain that the trust policy is the failing layer, not which part of it); an IAM user denied on an AWSServiceRoleFor*/AWSReservedSSO_* role (likely).",
  "The role's AssumeRolePolicyDocument matched against the caller ARN, account and session issuer.",
  "Add the caller's exact ARN, or its account root, as Principal with sts:AssumeRole. If a Condition fails, fix the request or the condition instead.";
"trust_policy_explicit_deny", Medium, "2.4", "Explicit deny in the role trust policy",
  "trust policy", "AccessDenied with 'with an explicit deny in the role trust policy' (certain).",
  "The Deny statement of the trust policy.",
  "Remove or narrow the Deny statement in the trust policy, or call as a principal that is not denied.";
"role_not_found", Medium, "2.5", "Role does not exist, was deleted, or the name/case is wrong",
  "role exists and the ARN is right", "Only the generic AccessDenied (same text as a trust refusal): possible from the log alone; likely with a DeleteRole in the logs.",
  "An IAM inventory or role list taken at about the time of the event (case-sensitive compare).",
  "Fix the ARN (exact case, path, account ID) in the client or profile, or recreate the role (a recreated role has a new role ID; trust policies that referenced the old one must be updated).";
"role_arn_malformed", Low, "2.6", "Malformed role ARN",
  "role exists and the ARN is right", "ValidationError about roleArn (certain), or an AccessDenied whose role ARN fails the ARN pattern (likely).",
  "The log is enough.",
  "Correct the ARN format: arn:<partition>:iam::<12-digit account>:role/<path/><name>.";
"cross_partition", Medium, "2.7", "Role in another partition than the caller or region",
  "right account and partition", "The role ARN's partition differs from the caller ARN's or the region's (likely).",
  "The log is enough.",
  "STS credentials and trust do not span partitions: use a principal and endpoint in the role's own partition.";
"scp_deny", Medium, "2.8", "A service control policy of the caller's organization denies AssumeRole",
  "SCP / RCP", "Message names a service control policy (certain).",
  "An SCP export: evaluate the Deny statements on sts:AssumeRole for the caller's account chain.",
  "Exempt the principal or role ARN in the SCP, or call from an account/OU where the SCP allows it. SCPs never apply to the management account.";
"rcp_deny", Medium, "2.9", "A resource control policy of the role owner's organization denies AssumeRole",
  "SCP / RCP", "Message names a resource control policy (certain). Only the caller's trail shows it.",
  "An RCP export of the role owner's organization.",
  "Adjust the RCP in the role owner's organization (e.g. an aws:PrincipalOrgID / aws:PrincipalAccount exception for the partner), or stop the unexpected access attempt.";
"permissions_boundary_deny", Medium, "2.10", "The caller's permissions boundary does not allow AssumeRole",
  "caller permission", "Message names a permissions boundary (certain).",
  "The PermissionsBoundary of the user or role in the inventory.",
  "Add sts:AssumeRole on the role ARN to the boundary policy, or remove the Deny.";
"session_policy_deny", Medium, "2.11", "A session policy on the caller's own session denies AssumeRole",
  "caller permission", "Message names a session(s) policy (certain).",
  "The earlier AssumeRole/GetFederationToken that created the caller session (join on access key id).",
  "Include sts:AssumeRole for the target role in the session policy, or obtain the session without it.";
"external_id_missing", Medium, "2.12", "Role requires an ExternalId and none was passed",
  "ExternalId", "Generic AccessDenied on a cross-account AssumeRole without externalId: possible, a secondary hint only.",
  "The trust policy's sts:ExternalId condition (inventory).",
  "Pass the exact ExternalId the role owner issued (--external-id), or correct it in the third party's configuration.";
"external_id_mismatch", Medium, "2.12", "ExternalId passed does not match the trust policy",
  "ExternalId", "Generic AccessDenied on a cross-account AssumeRole with an externalId: possible, a secondary hint only. The value is never output.",
  "The trust policy's sts:ExternalId condition (inventory).",
  "Pass the exact ExternalId the role owner issued, or correct it in the third party's configuration.";
"mfa_required_not_provided", Medium, "2.13", "Trust policy requires MFA and the request had none",
  "trust conditions (MFA)", "Generic AccessDenied, no serialNumber, caller session without MFA or long-term AKIA key: possible, a secondary hint only.",
  "An MFA condition in the trust policy (inventory).",
  "Call with --serial-number and --token-code (or from an MFA-backed session), or relax the condition for automation principals.";
"mfa_invalid_code", Low, "2.14", "MFA one-time code rejected",
  "trust conditions (MFA)", "Message 'MultiFactorAuthentication failed with invalid MFA one time pass code' (certain).",
  "The log is enough.",
  "Retry with a fresh code and check clock skew; repeated failures from one caller deserve a look.";
"mfa_device_invalid", Low, "2.14", "MFA device serial not valid for this caller",
  "trust conditions (MFA)", "Message 'MultiFactorAuthentication failed, unable to validate MFA code' (certain).",
  "The log is enough.",
  "Use the serial number (ARN) of the MFA device assigned to this caller.";
"set_source_identity_not_allowed", Medium, "2.15", "sts:SetSourceIdentity not allowed",
  "SourceIdentity", "Message names sts:SetSourceIdentity (certain).",
  "The caller's policies and the role trust policy.",
  "Allow sts:SetSourceIdentity in the caller's permissions and in the role trust policy.";
"source_identity_changed_in_chain", Medium, "2.15", "SourceIdentity changed while chaining roles",
  "SourceIdentity", "Message names sts:SetSourceIdentity and the requested sourceIdentity differs from the inherited one (likely).",
  "The log is enough.",
  "Do not change the source identity while chaining: pass the inherited value or none.";
"source_identity_required", Medium, "2.15", "Trust policy requires a SourceIdentity the request lacks",
  "SourceIdentity", "Generic AccessDenied: only an inventory can show it (certain then).",
  "A condition on sts:SourceIdentity in the trust policy.",
  "Pass the required source identity (2-64 characters of [A-Za-z0-9_+=,.@-], not beginning with aws:).";
"invalid_source_identity", Low, "2.15", "SourceIdentity value invalid",
  "SourceIdentity", "ValidationError naming sourceIdentity (certain).",
  "The log is enough.",
  "Use 2-64 characters of [A-Za-z0-9_+=,.@-], not beginning with aws:.";
"role_session_name_condition_failed", Low, "2.16", "RoleSessionName does not meet the trust condition",
  "RoleSessionName", "Generic AccessDenied: possible; certain with an inventory condition on sts:RoleSessionName.",
  "A condition on sts:RoleSessionName in the trust policy.",
  "Use a session name that meets the condition (e.g. equal to the user name).";
"invalid_session_name", Low, "2.16", "RoleSessionName fails STS validation",
  "RoleSessionName", "ValidationError naming roleSessionName (certain).",
  "The log is enough.",
  "Use a 2-64 character ASCII session name from [A-Za-z0-9_+=,.@-].";
"tag_session_not_allowed", Medium, "2.17", "sts:TagSession not allowed",
  "session tags", "Message names sts:TagSession (certain).",
  "The role trust policy.",
  "Add sts:TagSession (with aws:RequestTag/aws:TagKeys conditions as needed) to the trust policy, or stop sending tags.";
"session_tags_invalid", Low, "2.17", "Session tags invalid",
  "session tags", "ValidationError about tags (certain).",
  "The log is enough.",
  "Send at most 50 tags, keys up to 128 and values up to 256 characters, and do not override inherited transitive tags.";
"packed_policy_too_large", Low, "2.18", "Session policy and tags exceed the packed size",
  "session policy", "errorCode PackedPolicyTooLarge (certain).",
  "The log is enough.",
  "Shrink the session policy, the number of policy ARNs (at most 10) and the tags.";
"malformed_session_policy", Low, "2.18", "Session policy document malformed",
  "session policy", "errorCode MalformedPolicyDocument (certain).",
  "The log is enough.",
  "Fix the session policy JSON.";
"root_user_cannot_assume", High, "2.19", "Root user tried to assume a role",
  "not the root user", "userIdentity.type Root (certain, whatever the message); root key use is itself a finding.",
  "The log is enough.",
  "Do not use root credentials: use an IAM user, Identity Center user or role, and delete the root access keys.";
"console_switch_role_failed", Low, "2.20", "Console Switch Role failed",
  "console limits", "signin SwitchRole failure (likely); sub-hints role_path_too_long_console (path+name over 64) and external_id_required_console (inventory).",
  "An inventory (ExternalId condition, exact role name and path).",
  "Check the account ID or alias and the case-exact role name with path. For ExternalId roles use the CLI/API. Keep path+name at 64 characters or fewer.";
"self_assume_without_explicit_trust", Low, "2.21", "Role assuming itself without explicit self-trust",
  "trust policy", "AssumedRole caller whose session issuer is the target role, generic AccessDenied (likely).",
  "The trust policy (does it name the role itself?).",
  "Add the role's own ARN to its trust policy, or stop re-assuming the current role (EC2, ECS, Lambda and EKS refresh credentials on their own).";
"role_chaining_wrong_principal", Low, "2.22", "Chained call with the wrong (intermediate) identity",
  "role chaining", "Chained caller with generic AccessDenied: possible, a secondary hint only.",
  "A trust policy naming the original user, or the earlier successful AssumeRole by that user.",
  "Call with the identity the trust policy expects (e.g. a source_profile that is the user, not the jump role), or add the intermediate role ARN to the trust policy.";
"caller_credentials_expired", Low, "2.23", "Caller's credentials expired",
  "stale credentials", "errorCode ExpiredToken (certain).",
  "The log is enough.",
  "Refresh the source credentials (re-login, re-assume from the base profile); chained sessions last at most one hour.";
"caller_credentials_invalid", Low, "2.23", "Caller's credentials invalid",
  "stale credentials", "errorCode InvalidClientTokenId / SignatureDoesNotMatch / IncompleteSignature (certain).",
  "The log is enough.",
  "Rotate or re-activate the key, check the secret and clock skew, or use regional STS endpoints for opt-in regions.";
"chained_session_duration_exceeded", Low, "2.24", "DurationSeconds over the 1 hour chaining limit",
  "role chaining", "ValidationError '1 hour session limit for roles assumed by role chaining' (certain).",
  "The log is enough.",
  "Request at most 3600 s when chaining, or assume directly from long-term or SSO credentials.";
"duration_exceeds_max_session", Low, "2.24", "DurationSeconds over the role's MaxSessionDuration",
  "session duration", "ValidationError 'exceeds the MaxSessionDuration' (certain).",
  "list-roles gives the role's MaxSessionDuration.",
  "Request at most the role's MaxSessionDuration, or raise it.";
"sts_region_disabled", Medium, "2.25", "STS not activated in this region for the role's account",
  "STS region", "errorCode RegionDisabledException (certain).",
  "The log is enough.",
  "Activate STS for that region in the role owner's account (IAM account settings), or call another regional endpoint.";
"saml_not_authorized", Medium, "2.26", "SAML federation not authorized by the role",
  "SAML federation", "AccessDenied 'Not authorized to perform sts:AssumeRoleWithSAML' (certain that it is SAML trust or role setup).",
  "The role's trust policy (saml-provider principal, SAML:aud, TagSession, SetSourceIdentity).",
  "Fix the IdP attribute mapping (Role = roleArn,providerArn) and align the trust policy's Principal and conditions.";
"saml_invalid_response", Medium, "2.26", "SAML response invalid",
  "SAML federation", "InvalidIdentityToken on AssumeRoleWithSAML (certain).",
  "The log is enough.",
  "Fix the IdP (RoleSessionName attribute, audience, issuer) and update the IAM SAML provider metadata after certificate rotation.";
"saml_provider_not_found", Medium, "2.26", "SAML provider does not exist",
  "SAML federation", "InvalidIdentityToken 'Specified provider doesn't exist' (certain).",
  "The log is enough.",
  "Recreate the IAM SAML provider, or fix the IdP's Role attribute (roleArn,providerArn).";
"saml_assertion_expired", Low, "2.26", "SAML assertion expired",
  "SAML federation", "ExpiredToken on AssumeRoleWithSAML (certain).",
  "The log is enough.",
  "Sign in to the IdP again; check clock skew between IdP and AWS.";
"web_identity_not_authorized", Medium, "2.27", "Web identity not authorized by the role",
  "OIDC federation", "AccessDenied 'Not authorized to perform sts:AssumeRoleWithWebIdentity' (certain that it is OIDC trust or role setup).",
  "The trust policy's sub/aud conditions and provider ARN.",
  "Align the trust policy's :aud/:sub conditions with the token's real claims and check the provider ARN.";
"oidc_provider_not_found", Medium, "2.27", "OIDC provider not found in the role's account",
  "OIDC federation", "InvalidIdentityToken 'No OpenIDConnect provider found' (certain).",
  "The log is enough.",
  "Create the IAM OIDC provider for the issuer in the role's account.";
"oidc_audience_mismatch", Medium, "2.27", "OIDC token audience not accepted",
  "OIDC federation", "InvalidIdentityToken 'Incorrect token audience' (certain).",
  "The log is enough.",
  "Add the token's audience to the OIDC provider's client IDs, or request a token for the right audience.";
"oidc_idp_unreachable", Low, "2.27", "OIDC identity provider could not be reached",
  "OIDC federation", "errorCode IDPCommunicationError (certain); often transient.",
  "The log is enough.",
  "Retry; check the issuer's reachability, discovery document and certificate chain.";
"idp_rejected_claim", Low, "2.27", "Identity provider rejected the claim",
  "OIDC federation", "errorCode IDPRejectedClaim (certain).",
  "The log is enough.",
  "Check the claims the IdP issues and the provider configuration.";
"web_identity_token_expired", Low, "2.27", "Web identity token expired",
  "OIDC federation", "ExpiredToken on AssumeRoleWithWebIdentity (certain).",
  "The log is enough.",
  "Refresh the token (stale projected service-account tokens are common).";
"web_identity_token_invalid", Low, "2.27", "Web identity token invalid",
  "OIDC federation", "InvalidIdentityToken with another text on AssumeRoleWithWebIdentity (certain).",
  "The log is enough.",
  "Get a fresh token from the IdP and check that the IAM OIDC provider matches the issuer.";
"trust_condition_not_met", Low, "2.28", "Another trust-policy condition not met",
  "trust conditions", "Generic AccessDenied: certain only with an inventory condition evaluated against logged values.",
  "The trust policy conditions (aws:SourceIp, aws:CurrentTime, aws:PrincipalOrgID, aws:PrincipalTag...).",
  "Meet the condition (network path, time window, tags) or amend it.";
"vpc_endpoint_policy_deny", Low, "2.29", "VPC endpoint policy denies AssumeRole",
  "VPC endpoint", "Message names a VPC endpoint policy (certain).",
  "The STS interface endpoint policy.",
  "Allow sts:AssumeRole for the role ARN in the STS interface endpoint policy.";
"service_trust_missing", Medium, "2.30", "AWS service cannot assume its role",
  "trust policy (service principal)", "AWSService caller, invokedBy a service, or a service name as the message subject (likely).",
  "The role's trust policy (Service principal).",
  "Add the service principal to the trust policy; retry after IAM propagation for newly created roles.";
"throttled", Low, "2.31", "STS throttled the request",
  "not an authorization issue", "errorCode Throttling (certain).",
  "The log is enough.",
  "Cache credentials and back off.";
"cross_account_denied_ambiguous", Medium, "2.32", "Cross-account AssumeRole denied, cause not in the log",
  "fallback", "Generic AccessDenied, role account differs from caller account (possible). Candidates: trust policy, identity permission, role missing, ExternalId/MFA condition, caller SCP.",
  "An IAM inventory of both accounts and an SCP export.",
  "Check, in order: the caller's sts:AssumeRole permission on the role ARN, the role's trust policy (Principal and conditions such as ExternalId and MFA), that the role exists with this exact ARN, and the caller's SCPs. Run `trailtriage explain EVENT_ID` for the checklist.";
"same_account_denied_ambiguous", Medium, "2.32", "AssumeRole denied, cause not in the log",
  "fallback", "Generic AccessDenied in one account, or the account relation unknown (possible). Candidates: identity permission, trust policy, role missing.",
  "An IAM inventory of the account.",
  "Check the caller's sts:AssumeRole permission on the role ARN, the role's trust policy, and that the role exists with this exact ARN.";
"unknown_failure", Medium, "2.32", "Failure with an error the catalogue does not explain",
  "fallback", "An error code or message not in the catalogue (possible); kept with its code and message.",
  "Read the error message; report it so the catalogue can grow.",
  "Read errorCode and errorMessage of the event; most are client-side request problems.";
"not_assume_failure", Info, "2.33", "Not a failed role assumption",
  "none", "The role-owner copy of a successful cross-account AssumeRole (AWSAccount caller), or an AccessDenied on another action (--all-denied).",
  "For a denied action after a successful AssumeRole: the session policy and the role owner's SCPs.",
  "For other denied actions: grant the action in the denying policy type named in the message, or stop the call.";
}

/// Sub-hints that only appear in `secondary_causes`.
pub const SUB_HINTS: &[(&str, &str)] = &[
    (
        "external_id_required_console",
        "console_switch_role_failed: the role requires an ExternalId, which the console cannot pass (inventory)",
    ),
    (
        "role_path_too_long_console",
        "console_switch_role_failed: role path plus name longer than 64 characters",
    ),
];

/// Look a cause up by id.
pub fn cause(id: &str) -> Option<&'static CauseInfo> {
    CAUSES.iter().find(|c| c.id == id)
}

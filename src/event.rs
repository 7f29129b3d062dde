//! A borrowed view of one CloudTrail record, normalized as causes.md §1 says.
//! Nothing here allocates for ordinary records: strings borrow from the parsed
//! document.

use simd_json::BorrowedValue as V;
use simd_json::prelude::*;

/// Caller identity of the record (`userIdentity`).
#[derive(Debug, Default, Clone)]
pub struct Caller<'a> {
    pub kind: Option<&'a str>,
    pub arn: Option<&'a str>,
    pub account_id: Option<&'a str>,
    pub principal_id: Option<&'a str>,
    pub access_key_id: Option<&'a str>,
    pub user_name: Option<&'a str>,
    pub invoked_by: Option<&'a str>,
    pub identity_provider: Option<&'a str>,
    pub session_issuer_arn: Option<&'a str>,
    pub mfa_authenticated: Option<bool>,
    pub session_created: Option<&'a str>,
    pub inherited_source_identity: Option<&'a str>,
}

/// Where the target role ARN came from (`role_arn_source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleArnSource {
    Request,
    Resources,
    ErrorMessage,
    None,
}

impl RoleArnSource {
    pub fn as_str(self) -> &'static str {
        match self {
            RoleArnSource::Request => "request",
            RoleArnSource::Resources => "resources",
            RoleArnSource::ErrorMessage => "error_message",
            RoleArnSource::None => "none",
        }
    }
}

/// The fields of one record that selection, classification and output use.
#[derive(Debug, Default, Clone)]
pub struct Event<'a> {
    pub event_version: Option<&'a str>,
    pub event_time: Option<&'a str>,
    pub event_id: Option<&'a str>,
    pub request_id: Option<&'a str>,
    pub shared_event_id: Option<&'a str>,
    pub event_source: Option<&'a str>,
    pub event_name: Option<&'a str>,
    pub event_type: Option<&'a str>,
    pub aws_region: Option<&'a str>,
    pub recipient_account_id: Option<&'a str>,
    pub source_ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub vpc_endpoint_id: Option<&'a str>,
    pub error_code: Option<&'a str>,
    pub error_message: Option<&'a str>,
    pub caller: Caller<'a>,
    pub endpoint_type: Option<&'a str>,
    pub serving_region: Option<&'a str>,
    pub switch_role_result: Option<&'a str>,
    pub switch_from: Option<&'a str>,
    pub explicit_trust_grant: Option<bool>,
    // request parameters
    pub request_params_present: bool,
    pub req_role_arn: Option<&'a str>,
    pub resource_role_arn: Option<&'a str>,
    pub role_session_name: Option<&'a str>,
    pub source_identity: Option<&'a str>,
    pub external_id_present: bool,
    pub mfa_serial_present: bool,
    pub duration_seconds: Option<i64>,
    pub session_tag_count: Option<i64>,
    pub transitive_tag_keys_present: bool,
    pub principal_tags_present: bool,
    pub session_policy_present: bool,
    pub target_principal: Option<&'a str>,
    pub task_policy_arn: Option<&'a str>,
    pub principal_arn: Option<&'a str>,
}

fn s<'a>(v: &'a V<'a>, k: &str) -> Option<&'a str> {
    v.get(k).and_then(|x| x.as_str()).filter(|x| !x.is_empty())
}

fn obj<'a>(v: &'a V<'a>, k: &str) -> Option<&'a V<'a>> {
    v.get(k).filter(|x| x.is_object())
}

fn boolish(v: Option<&V<'_>>) -> Option<bool> {
    let v = v?;
    if let Some(b) = v.as_bool() {
        return Some(b);
    }
    match v.as_str()? {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

fn int(v: Option<&V<'_>>) -> Option<i64> {
    let v = v?;
    if let Some(i) = v.as_i64() {
        return Some(i);
    }
    if let Some(u) = v.as_u64() {
        return i64::try_from(u).ok();
    }
    if let Some(f) = v.as_f64() {
        if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15 {
            return Some(f as i64);
        }
        return None;
    }
    v.as_str()?.trim().parse().ok()
}

fn present(v: Option<&V<'_>>) -> bool {
    match v {
        None => false,
        Some(x) => {
            !(x.is_null()
                || x.as_str().is_some_and(str::is_empty)
                || x.as_array().is_some_and(|a| a.is_empty()))
        }
    }
}

impl<'a> Event<'a> {
    /// Extract the normalized view from a parsed record. Values of the wrong
    /// JSON type (a number where a string belongs) count as absent.
    pub fn from_value(v: &'a V<'a>) -> Event<'a> {
        let mut e = Event {
            event_version: s(v, "eventVersion"),
            event_time: s(v, "eventTime"),
            event_id: s(v, "eventID"),
            request_id: s(v, "requestID"),
            shared_event_id: s(v, "sharedEventID"),
            event_source: s(v, "eventSource"),
            event_name: s(v, "eventName"),
            event_type: s(v, "eventType"),
            aws_region: s(v, "awsRegion"),
            recipient_account_id: s(v, "recipientAccountId"),
            source_ip: s(v, "sourceIPAddress"),
            user_agent: s(v, "userAgent"),
            vpc_endpoint_id: s(v, "vpcEndpointId"),
            error_code: s(v, "errorCode"),
            error_message: s(v, "errorMessage"),
            ..Event::default()
        };
        if let Some(u) = obj(v, "userIdentity") {
            let c = &mut e.caller;
            c.kind = s(u, "type");
            c.arn = s(u, "arn");
            c.account_id = s(u, "accountId");
            c.principal_id = s(u, "principalId");
            c.access_key_id = s(u, "accessKeyId");
            c.user_name = s(u, "userName");
            c.invoked_by = s(u, "invokedBy");
            c.identity_provider = s(u, "identityProvider");
            if let Some(sc) = obj(u, "sessionContext") {
                if let Some(si) = obj(sc, "sessionIssuer") {
                    c.session_issuer_arn = s(si, "arn");
                }
                if let Some(at) = obj(sc, "attributes") {
                    c.mfa_authenticated = boolish(at.get("mfaAuthenticated"));
                    c.session_created = s(at, "creationDate");
                }
                c.inherited_source_identity = s(sc, "sourceIdentity");
            }
        }
        if let Some(ad) = obj(v, "additionalEventData") {
            if let Some(rd) = obj(ad, "RequestDetails") {
                e.endpoint_type = s(rd, "endpointType");
                e.serving_region = s(rd, "awsServingRegion");
            }
            e.switch_from = s(ad, "SwitchFrom");
            e.explicit_trust_grant = boolish(ad.get("explicitTrustGrant"));
        }
        if let Some(re) = obj(v, "responseElements") {
            e.switch_role_result = s(re, "SwitchRole");
        }
        if let Some(rp) = obj(v, "requestParameters") {
            e.request_params_present = true;
            e.req_role_arn = s(rp, "roleArn");
            e.role_session_name = s(rp, "roleSessionName");
            e.source_identity = s(rp, "sourceIdentity");
            e.external_id_present = present(rp.get("externalId"));
            e.mfa_serial_present = present(rp.get("serialNumber"));
            e.duration_seconds = int(rp.get("durationSeconds"));
            let tags = rp
                .get("tags")
                .and_then(|t| t.as_array().map(|a| a.len() as i64));
            e.session_tag_count = tags;
            e.transitive_tag_keys_present = present(rp.get("transitiveTagKeys"));
            e.principal_tags_present = present(rp.get("principalTags"));
            e.session_policy_present = present(rp.get("policy")) || present(rp.get("policyArns"));
            e.target_principal = s(rp, "targetPrincipal");
            // TaskPolicyArn is a PolicyDescriptorType ({"arn": ...}); accept a bare string too.
            e.task_policy_arn = s(rp, "taskPolicyArn")
                .or_else(|| obj(rp, "taskPolicyArn").and_then(|t| s(t, "arn")));
            e.principal_arn = s(rp, "principalArn");
        }
        if let Some(res) = v.get("resources").and_then(|r| r.as_array()) {
            for r in res {
                if s(r, "type") == Some("AWS::IAM::Role")
                    && let Some(a) = s(r, "ARN")
                {
                    e.resource_role_arn = Some(a);
                    break;
                }
            }
        }
        e
    }

    /// `errorCode` present and non-empty, or a console SwitchRole `Failure`.
    pub fn is_failure(&self) -> bool {
        self.error_code.is_some() || self.switch_role_result == Some("Failure")
    }

    pub fn caller_type(&self) -> &'a str {
        self.caller.kind.unwrap_or("Unknown")
    }

    /// SAML or OIDC, decided as causes.md §1 says.
    pub fn is_saml(&self) -> bool {
        match self.event_name {
            Some("AssumeRoleWithSAML") => true,
            Some("AssumeRoleWithWebIdentity") => false,
            _ => self.caller.kind == Some("SAMLUser"),
        }
    }

    pub fn is_oidc(&self) -> bool {
        match self.event_name {
            Some("AssumeRoleWithWebIdentity") => true,
            Some("AssumeRoleWithSAML") => false,
            _ => self.caller.kind == Some("WebIdentityUser"),
        }
    }

    pub fn is_chained(&self) -> bool {
        self.caller.kind == Some("AssumedRole") && self.event_name == Some("AssumeRole")
    }
}

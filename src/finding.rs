//! One output row: an owned, classified failure with attribution. Field order
//! is the column order of the schema (`sink::schema`), and JSON Lines carry
//! exactly these fields.

use serde::{Deserialize, Serialize};

use crate::classify::{Selection, Verdict};
use crate::event::Event;
use crate::norm::Norm;

/// A classified failure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Milliseconds since the Unix epoch (UTC); serialized as RFC 3339.
    #[serde(with = "time_ms")]
    pub event_time: Option<i64>,
    pub event_id: String,
    pub request_id: Option<String>,
    pub shared_event_id: Option<String>,
    pub event_version: Option<String>,
    pub event_source: String,
    pub event_name: String,
    pub event_type: Option<String>,
    pub aws_region: Option<String>,
    pub endpoint_type: Option<String>,
    pub serving_region: Option<String>,
    pub recipient_account_id: Option<String>,
    pub caller_account_id: Option<String>,
    pub caller_type: String,
    pub caller_arn: Option<String>,
    pub caller_session_issuer_arn: Option<String>,
    pub principal_id: Option<String>,
    pub access_key_id: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub vpc_endpoint_id: Option<String>,
    pub target_role_arn: Option<String>,
    pub role_arn_source: String,
    pub role_account_id: Option<String>,
    pub role_partition: Option<String>,
    pub cross_account: Option<bool>,
    pub is_chained: bool,
    pub role_session_name: Option<String>,
    pub source_identity: Option<String>,
    pub inherited_source_identity: Option<String>,
    pub external_id_present: bool,
    pub mfa_serial_present: bool,
    pub caller_mfa_authenticated: Option<bool>,
    pub duration_seconds: Option<i32>,
    pub session_tag_count: Option<i16>,
    pub session_policy_present: bool,
    pub error_code: Option<String>,
    pub error_code_normalized: Option<String>,
    pub error_message: Option<String>,
    pub message_truncated: bool,
    pub denied_policy_type: Option<String>,
    pub cause_id: String,
    pub confidence: String,
    pub secondary_causes: Vec<String>,
    pub severity: String,
    pub evidence: String,
    pub remediation: String,
    pub needs_input: Vec<String>,
    pub inventory_used: bool,
    pub trail_perspective: String,
    pub source_file: String,
    pub source_line: Option<i64>,
}

fn o(s: Option<&str>) -> Option<String> {
    s.map(str::to_string)
}

/// Which side's trail this record comes from.
pub fn trail_perspective(e: &Event<'_>, n: &Norm<'_>) -> &'static str {
    if e.is_saml() || e.is_oidc() {
        return "role_owner";
    }
    match (n.cross_account, e.recipient_account_id) {
        (Some(false), _) => "same_account",
        (Some(true), Some(r)) if Some(r) == n.caller_account => "caller",
        (Some(true), Some(r)) if Some(r) == n.role_account => "role_owner",
        _ => "unknown",
    }
}

impl Finding {
    /// Build the owned row from a classified event.
    pub fn new(
        e: &Event<'_>,
        n: &Norm<'_>,
        sel: Selection,
        v: Verdict,
        source_file: &str,
        source_line: Option<i64>,
    ) -> Finding {
        let remediation = crate::classify::catalog::cause(v.cause_id)
            .map(|c| c.remediation)
            .unwrap_or("")
            .to_string();
        let _ = sel;
        Finding {
            event_time: e.event_time.and_then(parse_time_ms),
            event_id: e.event_id.unwrap_or("").to_string(),
            request_id: o(e.request_id),
            shared_event_id: o(e.shared_event_id),
            event_version: o(e.event_version),
            event_source: e.event_source.unwrap_or("").to_string(),
            event_name: e.event_name.unwrap_or("").to_string(),
            event_type: o(e.event_type),
            aws_region: o(e.aws_region),
            endpoint_type: o(e.endpoint_type),
            serving_region: o(e.serving_region),
            recipient_account_id: o(e.recipient_account_id),
            caller_account_id: o(n.caller_account),
            caller_type: e.caller_type().to_string(),
            caller_arn: o(caller_arn(e)),
            caller_session_issuer_arn: o(e.caller.session_issuer_arn),
            principal_id: o(e.caller.principal_id),
            access_key_id: o(e.caller.access_key_id),
            source_ip: o(e.source_ip),
            user_agent: o(e.user_agent),
            vpc_endpoint_id: o(e.vpc_endpoint_id),
            target_role_arn: o(n.target_role_arn),
            role_arn_source: n.role_arn_source.as_str().to_string(),
            role_account_id: o(n.role_account),
            role_partition: o(n.role_partition),
            cross_account: n.cross_account,
            is_chained: e.is_chained(),
            role_session_name: o(e.role_session_name),
            source_identity: o(e.source_identity),
            inherited_source_identity: o(e.caller.inherited_source_identity),
            external_id_present: e.external_id_present,
            mfa_serial_present: e.mfa_serial_present,
            caller_mfa_authenticated: e.caller.mfa_authenticated,
            duration_seconds: e.duration_seconds.and_then(|d| i32::try_from(d).ok()),
            session_tag_count: e.session_tag_count.and_then(|d| i16::try_from(d).ok()),
            session_policy_present: e.session_policy_present,
            error_code: o(e.error_code),
            error_code_normalized: o(n.code),
            error_message: o(e.error_message),
            message_truncated: n.message_truncated,
            denied_policy_type: o(n.denied_policy_type),
            cause_id: v.cause_id.to_string(),
            confidence: v.confidence.as_str().to_string(),
            secondary_causes: v.secondary_causes.iter().map(|s| s.to_string()).collect(),
            severity: v.severity.as_str().to_string(),
            evidence: v.evidence,
            remediation,
            needs_input: v.needs_input.iter().map(|s| s.to_string()).collect(),
            inventory_used: false,
            trail_perspective: trail_perspective(e, n).to_string(),
            source_file: source_file.to_string(),
            source_line,
        }
    }

    /// Sort key that makes output order independent of thread scheduling.
    pub fn sort_key(&self) -> (i64, &str, &str, i64) {
        (
            self.event_time.unwrap_or(i64::MIN),
            &self.event_id,
            &self.source_file,
            self.source_line.unwrap_or(-1),
        )
    }
}

/// The caller's ARN as §1 normalizes it: Root keeps its ARN, AWSService gives
/// `invokedBy`, SAML/OIDC give `userName` (+ identity provider).
fn caller_arn<'a>(e: &Event<'a>) -> Option<&'a str> {
    if let Some(a) = e.caller.arn {
        return Some(a);
    }
    match e.caller.kind {
        Some("AWSService") => e.caller.invoked_by,
        Some("SAMLUser") | Some("WebIdentityUser") => e.caller.user_name,
        _ => None,
    }
}

/// Parse a CloudTrail timestamp (RFC 3339) into epoch milliseconds.
pub fn parse_time_ms(s: &str) -> Option<i64> {
    // Fast path for the canonical `YYYY-MM-DDTHH:MM:SSZ`.
    let b = s.as_bytes();
    if b.len() == 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'Z'
    {
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            let mut v = 0u32;
            for &c in &b[r] {
                if !c.is_ascii_digit() {
                    return None;
                }
                v = v * 10 + u32::from(c - b'0');
            }
            Some(v)
        };
        let d = chrono::NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
        let t = d.and_hms_opt(num(11..13)?, num(14..16)?, num(17..19)?)?;
        return Some(t.and_utc().timestamp_millis());
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.timestamp_millis())
}

/// Format epoch milliseconds as RFC 3339 UTC (seconds, or milliseconds when non-zero).
pub fn format_time_ms(ms: i64) -> String {
    match chrono::DateTime::from_timestamp_millis(ms) {
        Some(d) if ms % 1000 == 0 => d.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Some(d) => d.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => ms.to_string(),
    }
}

mod time_ms {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(ms) => s.serialize_str(&super::format_time_ms(*ms)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        let v: Option<String> = Option::deserialize(d)?;
        Ok(v.and_then(|s| super::parse_time_ms(&s)))
    }
}

//! Normalization of one event before any rule (causes.md §1): error codes,
//! the target role ARN and where it came from, accounts, partitions, and the
//! truncation flag.

use std::sync::LazyLock;

use regex::Regex;

use crate::event::{Event, RoleArnSource};

/// Normalize an error code: drop a `Client.` prefix and an `Exception` suffix.
pub fn normalize_code(code: &str) -> &str {
    let c = code.strip_prefix("Client.").unwrap_or(code);
    c.strip_suffix("Exception").unwrap_or(c)
}

static MSG_ROLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"on resource: "?(arn:(?-u:[\w-])+:iam::[0-9]{12}:role/[^\s"]+)"#)
        .expect("static regex")
});

static ROLE_ARN_OK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^arn:aws(?-u:[\w-])*:iam::[0-9]{12}:role/(?-u:[\w+=,.@/-]){1,}$")
        .expect("static regex")
});

static SERVICE_SUBJECT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[A-Z](?-u:[\w .-])* is not authorized to perform: sts:AssumeRole(?-u:\b)")
        .expect("static regex")
});

/// Does this role ARN match the well-formed pattern of §2.6?
pub fn role_arn_well_formed(arn: &str) -> bool {
    ROLE_ARN_OK.is_match(arn)
}

/// Is the message's subject a service name (`CodeBuild is not authorized ...`)?
pub fn service_subject(msg: &str) -> bool {
    SERVICE_SUBJECT.is_match(msg)
}

/// Parts of an ARN: partition, account, resource.
pub fn arn_parts(arn: &str) -> Option<(&str, &str, &str)> {
    let mut it = arn.splitn(6, ':');
    if it.next()? != "arn" {
        return None;
    }
    let partition = it.next()?;
    let _service = it.next()?;
    let _region = it.next()?;
    let account = it.next()?;
    let resource = it.next()?;
    Some((partition, account, resource))
}

use crate::source::keys::is_account_id;

/// The partition a region belongs to (botocore's region patterns).
pub fn region_partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else if region.starts_with("us-isof-") {
        "aws-iso-f"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else if region.starts_with("eu-isoe-") {
        "aws-iso-e"
    } else if region.starts_with("eusc-") {
        "aws-eusc"
    } else {
        "aws"
    }
}

const POLICY_TYPES: &[&str] = &[
    "service control policy",
    "resource control policy",
    "VPC endpoint policy",
    "permissions boundary",
    "session policy",
    "sessions policy",
    "resource-based policy",
    "role trust policy",
    "identity-based policy",
];

/// The policy type named by a complete [AD] suffix at the very end of the
/// message (trailing whitespace and one `.` ignored), if any.
pub fn recognised_suffix(msg: &str) -> Option<&'static str> {
    let m = msg.trim_end();
    let m = m.strip_suffix('.').unwrap_or(m).trim_end();
    // "with an explicit deny in a|an|the <type>" at the very end
    if let Some(pos) = m.rfind("with an explicit deny in ") {
        let rest = &m[pos + "with an explicit deny in ".len()..];
        let rest = ["a ", "an ", "the "]
            .iter()
            .find_map(|a| rest.strip_prefix(a))
            .unwrap_or("");
        if rest == "VPC endpoint policy transitively through a service control policy" {
            return Some("service control policy");
        }
        if let Some(t) = POLICY_TYPES.iter().find(|t| **t == rest) {
            return Some(t);
        }
    }
    // "because no <type> allows the <action> action"
    if let Some(pos) = m.rfind("because no ") {
        let rest = &m[pos + "because no ".len()..];
        for t in POLICY_TYPES {
            if let Some(after) = rest.strip_prefix(t)
                && let Some(action) = after.strip_prefix(" allows the ")
                && let Some(action) = action.strip_suffix(" action")
                && !action.is_empty()
                && !action.contains(' ')
            {
                return Some(t);
            }
        }
    }
    None
}

/// The policy type named anywhere in the message (for --all-denied rows).
pub fn denied_policy_type(msg: &str) -> Option<&'static str> {
    if let Some(t) = recognised_suffix(msg) {
        return Some(canonical_policy_type(t));
    }
    None
}

fn canonical_policy_type(t: &'static str) -> &'static str {
    if t == "sessions policy" {
        "session policy"
    } else {
        t
    }
}

/// `message_truncated` as causes.md §1 defines it.
pub fn message_truncated(msg: Option<&str>) -> bool {
    match msg {
        Some(m) => m.chars().count() >= 1000 && recognised_suffix(m).is_none(),
        None => false,
    }
}

/// The normalized facts about one event.
#[derive(Debug, Clone)]
pub struct Norm<'a> {
    pub code: Option<&'a str>,
    pub target_role_arn: Option<&'a str>,
    pub role_arn_source: RoleArnSource,
    pub role_account: Option<&'a str>,
    pub role_partition: Option<&'a str>,
    pub role_path_and_name_len: Option<usize>,
    pub caller_account: Option<&'a str>,
    pub cross_account: Option<bool>,
    pub message_truncated: bool,
    pub denied_policy_type: Option<&'static str>,
}

impl<'a> Norm<'a> {
    pub fn of(e: &Event<'a>) -> Norm<'a> {
        let code = e.error_code.map(normalize_code).filter(|c| !c.is_empty());
        let (target, source) = if e.event_name == Some("AssumeRoot") {
            (None, RoleArnSource::None)
        } else if let Some(a) = e.req_role_arn {
            (Some(a), RoleArnSource::Request)
        } else if let Some(a) = e.resource_role_arn {
            (Some(a), RoleArnSource::Resources)
        } else if let Some(a) = e.error_message.and_then(|m| {
            MSG_ROLE
                .captures(m)
                .and_then(|c| c.get(1))
                .map(|g| g.as_str().trim_end_matches(['"', '.']))
        }) {
            (Some(a), RoleArnSource::ErrorMessage)
        } else {
            (None, RoleArnSource::None)
        };
        let parts = target.and_then(arn_parts);
        let (role_partition, mut role_account, role_len) = match parts {
            Some((p, acct, res)) => (
                Some(p),
                Some(acct).filter(|a| is_account_id(a)),
                res.strip_prefix("role/").map(str::len),
            ),
            None => (None, None, None),
        };
        if e.event_name == Some("AssumeRoot") {
            role_account = e.target_principal.and_then(|t| {
                if is_account_id(t) {
                    Some(t)
                } else {
                    arn_parts(t).map(|p| p.1).filter(|a| !a.is_empty())
                }
            });
        }
        let federated = e.is_saml() || e.is_oidc();
        let caller_account = if federated {
            None
        } else {
            e.caller.account_id.or(e.recipient_account_id).or_else(|| {
                e.caller
                    .arn
                    .and_then(arn_parts)
                    .map(|p| p.1)
                    .filter(|a| !a.is_empty())
            })
        };
        let cross_account = match (role_account, caller_account) {
            (Some(r), Some(c)) if !federated => Some(r != c),
            _ => None,
        };
        Norm {
            code,
            target_role_arn: target,
            role_arn_source: source,
            role_account,
            role_partition,
            role_path_and_name_len: role_len,
            caller_account,
            cross_account,
            message_truncated: message_truncated(e.error_message),
            denied_policy_type: e.error_message.and_then(denied_policy_type),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_normalize() {
        assert_eq!(
            normalize_code("Client.UnauthorizedOperation"),
            "UnauthorizedOperation"
        );
        assert_eq!(normalize_code("ExpiredTokenException"), "ExpiredToken");
        assert_eq!(normalize_code("RegionDisabledException"), "RegionDisabled");
        assert_eq!(normalize_code("AccessDenied"), "AccessDenied");
    }

    #[test]
    fn suffixes() {
        let t = [
            (
                "User: x is not authorized to perform: sts:AssumeRole on resource: y because no identity-based policy allows the sts:AssumeRole action",
                Some("identity-based policy"),
            ),
            (
                "... with an explicit deny in a service control policy.",
                Some("service control policy"),
            ),
            (
                "... with an explicit deny in a VPC endpoint policy transitively through a service control policy",
                Some("service control policy"),
            ),
            (
                "... with an explicit deny in a sessions policy",
                Some("sessions policy"),
            ),
            (
                "... because no service control policy allows the sts:Assu",
                None,
            ),
            (
                "User: x is not authorized to perform: sts:AssumeRole on resource: y",
                None,
            ),
        ];
        for (m, want) in t {
            assert_eq!(recognised_suffix(m), want, "{m}");
        }
    }

    #[test]
    fn partitions() {
        assert_eq!(region_partition("cn-north-1"), "aws-cn");
        assert_eq!(region_partition("us-isob-east-1"), "aws-iso-b");
        assert_eq!(region_partition("us-iso-east-1"), "aws-iso");
        assert_eq!(region_partition("eu-west-1"), "aws");
    }

    #[test]
    fn role_arn_pattern() {
        assert!(role_arn_well_formed(
            "arn:aws:iam::111122223333:role/a/b/Deploy"
        ));
        assert!(!role_arn_well_formed("arn:aws:iam::11112222333:role/x"));
        assert!(!role_arn_well_formed("arn:aws:iam::111122223333:user/x"));
        assert!(!role_arn_well_formed(
            "arn:aws:iam::111122223333:role/my role"
        ));
    }

    #[test]
    fn service_subject_detection() {
        assert!(service_subject(
            "CodeBuild is not authorized to perform: sts:AssumeRole on resource: x"
        ));
        assert!(!service_subject(
            "User: arn:aws:iam::1:user/a is not authorized to perform: sts:AssumeRole"
        ));
    }
}

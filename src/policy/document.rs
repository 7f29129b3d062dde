//! IAM policy documents: trust policies, identity policies, permissions
//! boundaries, SCPs and RCPs, parsed into one shape.
//!
//! Accepted: `Statement` as an object or an array; `Action`/`NotAction`,
//! `Resource`/`NotResource`, `Principal`/`NotPrincipal` (`"*"`, `{"AWS": ...}`,
//! `{"Service": ...}`, `{"Federated": ...}`, `{"CanonicalUser": ...}`), every
//! one of them a string or an array; condition values as strings, numbers or
//! booleans; and whole documents given as JSON objects, JSON strings, or
//! URL-encoded JSON strings (as `get-account-authorization-details` returns
//! them through the API).

use serde_json::Value;

/// Why a policy document could not be read. `location` names the file and
/// the place inside it.
#[derive(Debug, thiserror::Error)]
#[error("invalid policy document in {location}: {reason}")]
pub struct PolicyError {
    pub location: String,
    pub reason: String,
}

/// `Effect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        }
    }
}

/// The principals a `Principal` or `NotPrincipal` block names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Principals {
    /// `"Principal": "*"`.
    pub any: bool,
    pub aws: Vec<String>,
    pub service: Vec<String>,
    pub federated: Vec<String>,
    pub canonical_user: Vec<String>,
}

impl Principals {
    /// A short text for evidence.
    pub fn describe(&self) -> String {
        if self.any {
            return "\"*\"".into();
        }
        let mut parts = Vec::new();
        for (k, v) in [
            ("AWS", &self.aws),
            ("Service", &self.service),
            ("Federated", &self.federated),
            ("CanonicalUser", &self.canonical_user),
        ] {
            if !v.is_empty() {
                parts.push(format!("{k}: {}", v.join(", ")));
            }
        }
        parts.join("; ")
    }
}

/// A list of patterns, or its negation (`NotAction`, `NotResource`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Patterns {
    Is(Vec<String>),
    Not(Vec<String>),
}

/// A condition operator with its qualifiers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// The operator as written, e.g. `ForAnyValue:StringLikeIfExists`.
    pub raw: String,
    /// The base operator, e.g. `StringLike`.
    pub base: String,
    pub if_exists: bool,
    pub set: Option<SetOp>,
}

/// `ForAnyValue:` / `ForAllValues:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOp {
    AnyValue,
    AllValues,
}

/// One key test of a `Condition` block: operator, key and the policy values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub op: Operator,
    /// The key as written (`sts:ExternalId`).
    pub key: String,
    pub values: Vec<String>,
}

/// One statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// 0-based index in the document.
    pub index: usize,
    pub sid: Option<String>,
    pub effect: Effect,
    /// `Principal` (`Some(_, false)`) or `NotPrincipal` (`Some(_, true)`).
    pub principal: Option<(Principals, bool)>,
    pub action: Patterns,
    /// `None` when the statement has no Resource element (trust policies).
    pub resource: Option<Patterns>,
    pub conditions: Vec<Condition>,
}

impl Statement {
    /// `Sid "X"` or `statement #2` (1-based), for evidence.
    pub fn label(&self) -> String {
        match &self.sid {
            Some(s) => format!("Sid \"{s}\""),
            None => format!("statement #{}", self.index + 1),
        }
    }
}

/// A parsed policy document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PolicyDocument {
    pub version: Option<String>,
    pub statements: Vec<Statement>,
}

/// Decode `%XX` escapes. `+` is kept: it is a legal character of IAM names.
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3)?;
            let h = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

impl PolicyDocument {
    /// Parse a document given as a JSON value: an object, a JSON string, or a
    /// URL-encoded JSON string.
    pub fn from_value(v: &Value, location: &str) -> Result<PolicyDocument, PolicyError> {
        match v {
            Value::Object(_) => Self::from_object(v, location),
            Value::String(s) => Self::from_text(s, location),
            _ => Err(err(
                location,
                "the document is neither a JSON object nor a string",
            )),
        }
    }

    /// Parse a document from text (JSON, or URL-encoded JSON).
    pub fn from_text(s: &str, location: &str) -> Result<PolicyDocument, PolicyError> {
        let t = s.trim();
        let parsed: Result<Value, _> = serde_json::from_str(t);
        let v = match parsed {
            Ok(v) => v,
            Err(first) => {
                let decoded = percent_decode(t).ok_or_else(|| {
                    err(
                        location,
                        &format!("not JSON ({first}) and not URL-encoded JSON"),
                    )
                })?;
                serde_json::from_str(&decoded).map_err(|e| {
                    err(
                        location,
                        &format!("not JSON ({first}); URL-decoded text is not JSON either ({e})"),
                    )
                })?
            }
        };
        match &v {
            Value::Object(_) => Self::from_object(&v, location),
            _ => Err(err(location, "the document is not a JSON object")),
        }
    }

    fn from_object(v: &Value, location: &str) -> Result<PolicyDocument, PolicyError> {
        let version = v.get("Version").and_then(Value::as_str).map(str::to_string);
        let stmts: Vec<&Value> = match v.get("Statement") {
            Some(Value::Array(a)) => a.iter().collect(),
            Some(o @ Value::Object(_)) => vec![o],
            Some(_) => return Err(err(location, "Statement is neither an object nor an array")),
            None => return Err(err(location, "no Statement element")),
        };
        let mut statements = Vec::with_capacity(stmts.len());
        for (index, s) in stmts.into_iter().enumerate() {
            statements.push(parse_statement(s, index, location)?);
        }
        Ok(PolicyDocument {
            version,
            statements,
        })
    }
}

fn err(location: &str, reason: &str) -> PolicyError {
    PolicyError {
        location: location.to_string(),
        reason: reason.to_string(),
    }
}

/// A string or an array of strings (numbers and booleans become text).
fn strings(v: &Value, what: &str, location: &str) -> Result<Vec<String>, PolicyError> {
    let one = |x: &Value| -> Result<String, PolicyError> {
        match x {
            Value::String(s) => Ok(s.clone()),
            Value::Bool(b) => Ok(b.to_string()),
            Value::Number(n) => Ok(n.to_string()),
            _ => Err(err(
                location,
                &format!("{what}: expected a string, got {x}"),
            )),
        }
    };
    match v {
        Value::Array(a) => a.iter().map(one).collect(),
        other => Ok(vec![one(other)?]),
    }
}

fn parse_principals(v: &Value, what: &str, location: &str) -> Result<Principals, PolicyError> {
    let mut p = Principals::default();
    match v {
        Value::String(s) if s == "*" => p.any = true,
        Value::Object(m) => {
            for (k, val) in m {
                let list = strings(val, &format!("{what}.{k}"), location)?;
                match k.as_str() {
                    "AWS" => p.aws.extend(list),
                    "Service" => p.service.extend(list),
                    "Federated" => p.federated.extend(list),
                    "CanonicalUser" => p.canonical_user.extend(list),
                    other => {
                        return Err(err(
                            location,
                            &format!("{what}: unknown principal type {other:?}"),
                        ));
                    }
                }
            }
            // {"AWS": "*"} is the same as "*" for the principals STS sees.
            if p.aws.iter().any(|a| a == "*") {
                p.any = true;
            }
        }
        _ => {
            return Err(err(
                location,
                &format!("{what}: expected \"*\" or an object"),
            ));
        }
    }
    Ok(p)
}

/// Split `ForAnyValue:StringLikeIfExists` into its parts.
pub fn parse_operator(raw: &str) -> Operator {
    let (set, rest) = if let Some(r) = raw.strip_prefix("ForAnyValue:") {
        (Some(SetOp::AnyValue), r)
    } else if let Some(r) = raw.strip_prefix("ForAllValues:") {
        (Some(SetOp::AllValues), r)
    } else {
        (None, raw)
    };
    let (base, if_exists) = match rest.strip_suffix("IfExists") {
        Some(b) => (b, true),
        None => (rest, false),
    };
    Operator {
        raw: raw.to_string(),
        base: base.to_string(),
        if_exists,
        set,
    }
}

fn parse_statement(s: &Value, index: usize, location: &str) -> Result<Statement, PolicyError> {
    let here = format!("{location}, statement #{}", index + 1);
    if !s.is_object() {
        return Err(err(&here, "a statement is not a JSON object"));
    }
    let effect = match s.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        Some(o) => {
            return Err(err(
                &here,
                &format!("Effect {o:?} is neither Allow nor Deny"),
            ));
        }
        None => return Err(err(&here, "no Effect")),
    };
    let sid = s
        .get("Sid")
        .and_then(Value::as_str)
        .filter(|x| !x.is_empty())
        .map(str::to_string);
    let principal = match (s.get("Principal"), s.get("NotPrincipal")) {
        (Some(p), None) => Some((parse_principals(p, "Principal", &here)?, false)),
        (None, Some(p)) => Some((parse_principals(p, "NotPrincipal", &here)?, true)),
        (None, None) => None,
        (Some(_), Some(_)) => return Err(err(&here, "both Principal and NotPrincipal")),
    };
    let action = match (s.get("Action"), s.get("NotAction")) {
        (Some(a), None) => Patterns::Is(strings(a, "Action", &here)?),
        (None, Some(a)) => Patterns::Not(strings(a, "NotAction", &here)?),
        (None, None) => return Err(err(&here, "neither Action nor NotAction")),
        (Some(_), Some(_)) => return Err(err(&here, "both Action and NotAction")),
    };
    let resource = match (s.get("Resource"), s.get("NotResource")) {
        (Some(r), None) => Some(Patterns::Is(strings(r, "Resource", &here)?)),
        (None, Some(r)) => Some(Patterns::Not(strings(r, "NotResource", &here)?)),
        (None, None) => None,
        (Some(_), Some(_)) => return Err(err(&here, "both Resource and NotResource")),
    };
    let mut conditions = Vec::new();
    if let Some(c) = s.get("Condition") {
        let Value::Object(ops) = c else {
            return Err(err(&here, "Condition is not an object"));
        };
        for (op, keys) in ops {
            let Value::Object(keys) = keys else {
                return Err(err(&here, &format!("Condition.{op} is not an object")));
            };
            let parsed = parse_operator(op);
            for (key, vals) in keys {
                conditions.push(Condition {
                    op: parsed.clone(),
                    key: key.clone(),
                    values: strings(vals, &format!("Condition.{op}.{key}"), &here)?,
                });
            }
        }
    }
    Ok(Statement {
        index,
        sid,
        effect,
        principal,
        action,
        resource,
        conditions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_object_or_array_and_string_or_array() {
        let one = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}}"#;
        let d = PolicyDocument::from_text(one, "t").expect("parses");
        assert_eq!(d.statements.len(), 1);
        assert_eq!(
            d.statements[0].action,
            Patterns::Is(vec!["sts:AssumeRole".into()])
        );
        let many = r#"{"Statement":[{"Sid":"A","Effect":"Deny","NotPrincipal":"*","NotAction":["iam:*"],"NotResource":"x","Condition":{"ForAnyValue:StringLikeIfExists":{"aws:PrincipalTag/team":["a","b"]},"Bool":{"aws:MultiFactorAuthPresent":false}}}]}"#;
        let d = PolicyDocument::from_text(many, "t").expect("parses");
        let s = &d.statements[0];
        assert_eq!(s.label(), "Sid \"A\"");
        assert!(matches!(&s.principal, Some((p, true)) if p.any));
        assert_eq!(s.conditions.len(), 2);
        let c = s
            .conditions
            .iter()
            .find(|c| c.key == "aws:MultiFactorAuthPresent")
            .expect("bool");
        assert_eq!(c.values, vec!["false".to_string()]);
        let l = s
            .conditions
            .iter()
            .find(|c| c.key.starts_with("aws:PrincipalTag"))
            .expect("tag");
        assert_eq!(l.op.base, "StringLike");
        assert!(l.op.if_exists);
        assert_eq!(l.op.set, Some(SetOp::AnyValue));
    }

    #[test]
    fn url_encoded_documents() {
        let enc = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Service%22%3A%22ec2.amazonaws.com%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D";
        let d = PolicyDocument::from_value(&Value::String(enc.into()), "t").expect("parses");
        let p = &d.statements[0].principal.as_ref().expect("principal").0;
        assert_eq!(p.service, vec!["ec2.amazonaws.com".to_string()]);
    }

    #[test]
    fn errors_name_the_location() {
        let e = PolicyDocument::from_text(
            r#"{"Statement":[{"Effect":"Maybe","Action":"x"}]}"#,
            "inv.json: role X",
        )
        .expect_err("bad effect");
        assert!(
            e.to_string().contains("inv.json: role X, statement #1"),
            "{e}"
        );
        assert!(PolicyDocument::from_text("%zz", "f").is_err());
    }
}

//! Our own evaluator for exactly what an STS role assumption needs: principal
//! matching, action and resource wildcards, and the condition operators of
//! IAM. Three-valued: a condition key whose value the log cannot give makes
//! the result [`Tri::Unknown`], never a match and never a miss.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use super::document::{Condition, Effect, Patterns, PolicyDocument, Principals, SetOp, Statement};

/// Three-valued truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tri {
    True,
    False,
    Unknown,
}

impl Tri {
    pub fn from_bool(b: bool) -> Tri {
        if b { Tri::True } else { Tri::False }
    }
    pub fn negate(self) -> Tri {
        match self {
            Tri::True => Tri::False,
            Tri::False => Tri::True,
            Tri::Unknown => Tri::Unknown,
        }
    }
    pub fn and(self, o: Tri) -> Tri {
        match (self, o) {
            (Tri::False, _) | (_, Tri::False) => Tri::False,
            (Tri::Unknown, _) | (_, Tri::Unknown) => Tri::Unknown,
            _ => Tri::True,
        }
    }
    pub fn or(self, o: Tri) -> Tri {
        match (self, o) {
            (Tri::True, _) | (_, Tri::True) => Tri::True,
            (Tri::Unknown, _) | (_, Tri::Unknown) => Tri::Unknown,
            _ => Tri::False,
        }
    }
    pub fn any(it: impl IntoIterator<Item = Tri>) -> Tri {
        it.into_iter().fold(Tri::False, Tri::or)
    }
    pub fn all(it: impl IntoIterator<Item = Tri>) -> Tri {
        it.into_iter().fold(Tri::True, Tri::and)
    }
}

impl fmt::Display for Tri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Tri::True => "true",
            Tri::False => "false",
            Tri::Unknown => "unknown",
        })
    }
}

/// What the request context knows about one condition key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CtxValue {
    /// The key is present with these values (multi-valued keys have several).
    Known(Vec<String>),
    /// The key is known to be absent from the request context.
    Absent,
    /// The key is present but its value is not in the log (sts:ExternalId).
    PresentUnknown,
    /// The key is present, and its value is none of these (an account that is
    /// not in the exported organization has an aws:PrincipalOrgID that is not
    /// that organization's id).
    NotAnyOf(Vec<String>),
}

/// The kind of principal making the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    /// An IAM user, role session, federated user or root of an account.
    Aws,
    /// An AWS service (`ec2.amazonaws.com`).
    Service,
    /// A SAML or OIDC identity (`arn` is the provider).
    Federated,
    Unknown,
}

/// The principal STS sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestPrincipal {
    pub kind: PrincipalKind,
    /// The caller ARN (user ARN, `assumed-role` session ARN, root ARN), the
    /// service name, or the identity provider.
    pub arn: Option<String>,
    pub account: Option<String>,
    /// For a role session: the role's ARN (`sessionIssuer.arn`).
    pub issuer_role_arn: Option<String>,
    /// `userIdentity.principalId` (`AIDA...`, `AROA...:session`).
    pub principal_id: Option<String>,
}

impl RequestPrincipal {
    pub fn unknown() -> RequestPrincipal {
        RequestPrincipal {
            kind: PrincipalKind::Unknown,
            arn: None,
            account: None,
            issuer_role_arn: None,
            principal_id: None,
        }
    }
}

/// Everything a policy is evaluated against.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub action: String,
    pub resource: String,
    pub principal: RequestPrincipal,
    /// Condition keys, lower-cased. A key missing here is unknown.
    keys: BTreeMap<String, CtxValue>,
    /// Lower-cased prefixes (`aws:principaltag/`) whose every key is known:
    /// a key under one of them that is not set is absent.
    complete_prefixes: Vec<String>,
}

/// Keys whose values must never appear in output.
pub fn is_secret_key(key: &str) -> bool {
    key.eq_ignore_ascii_case("sts:ExternalId")
}

impl RequestContext {
    pub fn new(action: &str, resource: &str, principal: RequestPrincipal) -> RequestContext {
        RequestContext {
            action: action.to_string(),
            resource: resource.to_string(),
            principal,
            keys: BTreeMap::new(),
            complete_prefixes: Vec::new(),
        }
    }

    /// Every key under this prefix is known: one that is not set is absent.
    pub fn set_prefix_absent(&mut self, prefix: &str) {
        self.complete_prefixes.push(prefix.to_ascii_lowercase());
    }

    /// Set what is known about a key.
    pub fn set(&mut self, key: &str, v: CtxValue) {
        self.keys.insert(key.to_ascii_lowercase(), v);
    }

    /// Set a single known value.
    pub fn set_str(&mut self, key: &str, v: &str) {
        self.set(key, CtxValue::Known(vec![v.to_string()]));
    }

    /// What is known about a key (`None`: unknown).
    pub fn get(&self, key: &str) -> Option<&CtxValue> {
        static ABSENT: CtxValue = CtxValue::Absent;
        let k = key.to_ascii_lowercase();
        if let Some(v) = self.keys.get(&k) {
            return Some(v);
        }
        self.complete_prefixes
            .iter()
            .any(|p| k.starts_with(p.as_str()))
            .then_some(&ABSENT)
    }

    /// A single known value of a key.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        match self.get(key) {
            Some(CtxValue::Known(v)) if v.len() == 1 => Some(v[0].as_str()),
            _ => None,
        }
    }
}

/// The outcome of one condition test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CondEval {
    pub op: String,
    pub key: String,
    pub result: Tri,
    /// Human-readable: the policy values and the logged value compared.
    pub detail: String,
}

/// The outcome of one statement against one request.
#[derive(Debug, Clone)]
pub struct StatementEval<'d> {
    pub statement: &'d Statement,
    pub principal: Tri,
    pub action: Tri,
    pub resource: Tri,
    pub conditions: Vec<CondEval>,
}

impl StatementEval<'_> {
    /// Do principal, action and resource match (ignoring conditions)?
    pub fn targets(&self) -> Tri {
        self.principal.and(self.action).and(self.resource)
    }
    /// Do all conditions hold?
    pub fn conditions_hold(&self) -> Tri {
        Tri::all(self.conditions.iter().map(|c| c.result))
    }
    /// Does the statement apply to the request?
    pub fn applies(&self) -> Tri {
        self.targets().and(self.conditions_hold())
    }
    pub fn effect(&self) -> Effect {
        self.statement.effect
    }
}

/// The decision of one policy (or a set of policies of one type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// A Deny statement applies.
    ExplicitDeny,
    /// No Allow statement applies (a Deny may or may not apply too: the
    /// request is denied either way).
    ImplicitDeny,
    /// The log does not say enough to decide.
    Unknown,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allowed",
            Decision::ExplicitDeny => "explicitly denied",
            Decision::ImplicitDeny => "not allowed",
            Decision::Unknown => "unknown",
        }
    }
}

/// Evaluate every statement of a document.
pub fn eval_document<'d>(doc: &'d PolicyDocument, req: &RequestContext) -> Vec<StatementEval<'d>> {
    doc.statements
        .iter()
        .map(|s| eval_statement(s, req))
        .collect()
}

/// Evaluate one statement.
pub fn eval_statement<'d>(s: &'d Statement, req: &RequestContext) -> StatementEval<'d> {
    let principal = match &s.principal {
        None => Tri::True,
        Some((p, negated)) => {
            let m = match_principals(p, &req.principal);
            if *negated { m.negate() } else { m }
        }
    };
    let action = match_patterns(&s.action, &req.action, false);
    let resource = match &s.resource {
        None => Tri::True,
        Some(p) => match_patterns(p, &req.resource, true),
    };
    let conditions = s
        .conditions
        .iter()
        .map(|c| eval_condition(c, req))
        .collect();
    StatementEval {
        statement: s,
        principal,
        action,
        resource,
        conditions,
    }
}

/// Combine statement results: explicit deny wins, then an allow.
pub fn decide<'a, 'd: 'a>(evals: impl IntoIterator<Item = &'a StatementEval<'d>>) -> Decision {
    let mut deny = Tri::False;
    let mut allow = Tri::False;
    for e in evals {
        match e.effect() {
            Effect::Deny => deny = deny.or(e.applies()),
            Effect::Allow => allow = allow.or(e.applies()),
        }
    }
    match (deny, allow) {
        (Tri::True, _) => Decision::ExplicitDeny,
        (_, Tri::False) => Decision::ImplicitDeny,
        (Tri::False, Tri::True) => Decision::Allow,
        _ => Decision::Unknown,
    }
}

/// Evaluate a document and decide.
pub fn evaluate(doc: &PolicyDocument, req: &RequestContext) -> Decision {
    decide(&eval_document(doc, req))
}

// ---------------------------------------------------------------- matching

/// Glob match with `*` and `?`.
pub fn glob(pat: &str, s: &str, case_sensitive: bool) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = if case_sensitive {
        (pat.chars().collect(), s.chars().collect())
    } else {
        (
            pat.to_lowercase().chars().collect(),
            s.to_lowercase().chars().collect(),
        )
    };
    let (mut pi, mut ti) = (0usize, 0usize);
    let (mut star, mut mark) = (None::<usize>, 0usize);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(sp) = star {
            pi = sp + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

fn match_patterns(p: &Patterns, value: &str, case_sensitive: bool) -> Tri {
    match p {
        Patterns::Is(v) => Tri::from_bool(v.iter().any(|x| glob(x, value, case_sensitive))),
        Patterns::Not(v) => Tri::from_bool(!v.iter().any(|x| glob(x, value, case_sensitive))),
    }
}

use crate::source::keys::is_account_id;

/// `(partition, service, account, resource)` of an ARN.
fn arn4(arn: &str) -> Option<(&str, &str, &str, &str)> {
    let mut it = arn.splitn(6, ':');
    if it.next()? != "arn" {
        return None;
    }
    let part = it.next()?;
    let svc = it.next()?;
    let _region = it.next()?;
    let acct = it.next()?;
    let res = it.next()?;
    Some((part, svc, acct, res))
}

/// The name (last path segment) of `role/path/name` or `user/path/name`.
fn last_segment(res: &str) -> &str {
    res.rsplit('/').next().unwrap_or(res)
}

/// The role name of an `assumed-role/<name>/<session>` ARN.
pub fn session_role_name(arn: &str) -> Option<(&str, &str, &str)> {
    let (_, svc, acct, res) = arn4(arn)?;
    if svc != "sts" {
        return None;
    }
    let rest = res.strip_prefix("assumed-role/")?;
    let (role, session) = rest.split_once('/')?;
    Some((acct, role, session))
}

/// Does one `AWS` principal entry name the requester?
pub fn match_aws_entry(entry: &str, who: &RequestPrincipal) -> Tri {
    if entry == "*" {
        return Tri::True;
    }
    if who.kind != PrincipalKind::Aws {
        return if who.kind == PrincipalKind::Unknown {
            Tri::Unknown
        } else {
            Tri::False
        };
    }
    let account_is = |acct: &str| match &who.account {
        Some(a) => Tri::from_bool(a == acct),
        None => Tri::Unknown,
    };
    if is_account_id(entry) {
        return account_is(entry);
    }
    let Some((_, svc, acct, res)) = arn4(entry) else {
        // A unique id (AIDA..., AROA...): IAM shows this when the principal it
        // referred to was deleted. It matches only that principal id.
        return match &who.principal_id {
            Some(pid) => {
                let head = pid.split(':').next().unwrap_or(pid);
                Tri::from_bool(head == entry)
            }
            None => Tri::Unknown,
        };
    };
    if svc == "iam" && res == "root" {
        return account_is(acct);
    }
    // An ARN naming one principal: a different account rules it out.
    if account_is(acct) == Tri::False {
        return Tri::False;
    }
    if svc == "iam"
        && let Some(rest) = res.strip_prefix("role/")
    {
        let name = last_segment(rest);
        if let Some(issuer) = &who.issuer_role_arn
            && let Some((_, _, ia, ires)) = arn4(issuer)
        {
            return Tri::from_bool(
                ia == acct
                    && ires
                        .strip_prefix("role/")
                        .is_some_and(|r| last_segment(r) == name),
            );
        }
        if let Some(a) = &who.arn
            && let Some((sa, srole, _)) = session_role_name(a)
        {
            return Tri::from_bool(sa == acct && srole == name);
        }
        return if who.arn.is_some() {
            Tri::False
        } else {
            Tri::Unknown
        };
    }
    if svc == "iam"
        && let Some(rest) = res.strip_prefix("user/")
    {
        let name = last_segment(rest);
        return match &who.arn {
            Some(a) => match arn4(a) {
                Some((_, "iam", wa, wres)) => Tri::from_bool(
                    wa == acct
                        && wres
                            .strip_prefix("user/")
                            .is_some_and(|r| last_segment(r) == name),
                ),
                _ => Tri::False,
            },
            None => Tri::Unknown,
        };
    }
    match &who.arn {
        Some(a) => Tri::from_bool(a == entry),
        None => Tri::Unknown,
    }
}

/// Does a Principal block name the requester?
pub fn match_principals(p: &Principals, who: &RequestPrincipal) -> Tri {
    if p.any {
        return Tri::True;
    }
    let mut r = Tri::False;
    for e in &p.aws {
        r = r.or(match_aws_entry(e, who));
    }
    for s in &p.service {
        r = r.or(match who.kind {
            PrincipalKind::Service => Tri::from_bool(who.arn.as_deref() == Some(s.as_str())),
            PrincipalKind::Unknown => Tri::Unknown,
            _ => Tri::False,
        });
    }
    for f in &p.federated {
        r = r.or(match who.kind {
            PrincipalKind::Federated => match &who.arn {
                Some(a) => Tri::from_bool(
                    a == f || f.ends_with(&format!("/{a}")) || a.ends_with(&format!("/{f}")),
                ),
                None => Tri::Unknown,
            },
            PrincipalKind::Unknown => Tri::Unknown,
            _ => Tri::False,
        });
    }
    r
}

// -------------------------------------------------------------- conditions

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Str { ci: bool, like: bool },
    Num,
    Date,
    Bool,
    Ip,
    Arn,
    Null,
    Unsupported,
}

/// `(kind, negated)` of a base operator.
fn op_kind(base: &str) -> (Kind, bool) {
    match base {
        "StringEquals" => (
            Kind::Str {
                ci: false,
                like: false,
            },
            false,
        ),
        "StringNotEquals" => (
            Kind::Str {
                ci: false,
                like: false,
            },
            true,
        ),
        "StringEqualsIgnoreCase" => (
            Kind::Str {
                ci: true,
                like: false,
            },
            false,
        ),
        "StringNotEqualsIgnoreCase" => (
            Kind::Str {
                ci: true,
                like: false,
            },
            true,
        ),
        "StringLike" => (
            Kind::Str {
                ci: false,
                like: true,
            },
            false,
        ),
        "StringNotLike" => (
            Kind::Str {
                ci: false,
                like: true,
            },
            true,
        ),
        "NumericEquals"
        | "NumericLessThan"
        | "NumericLessThanEquals"
        | "NumericGreaterThan"
        | "NumericGreaterThanEquals" => (Kind::Num, false),
        "NumericNotEquals" => (Kind::Num, true),
        "DateEquals"
        | "DateLessThan"
        | "DateLessThanEquals"
        | "DateGreaterThan"
        | "DateGreaterThanEquals" => (Kind::Date, false),
        "DateNotEquals" => (Kind::Date, true),
        "Bool" => (Kind::Bool, false),
        "IpAddress" => (Kind::Ip, false),
        "NotIpAddress" => (Kind::Ip, true),
        "ArnEquals" | "ArnLike" => (Kind::Arn, false),
        "ArnNotEquals" | "ArnNotLike" => (Kind::Arn, true),
        "Null" => (Kind::Null, false),
        _ => (Kind::Unsupported, false),
    }
}

/// Substitute policy variables (`${aws:username}`, `${*}`); `None` when a
/// variable's value is not known.
fn substitute(v: &str, req: &RequestContext) -> Option<String> {
    if !v.contains("${") {
        return Some(v.to_string());
    }
    let mut out = String::new();
    let mut rest = v;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let end = after.find('}')?;
        let var = after[..end].trim();
        let (name, default) = match var.split_once(',') {
            Some((n, d)) => (n.trim(), Some(d.trim().trim_matches('\'').to_string())),
            None => (var, None),
        };
        match name {
            "*" | "?" | "$" => out.push_str(name),
            _ => match req.get(name) {
                Some(CtxValue::Known(vals)) if vals.len() == 1 => out.push_str(&vals[0]),
                Some(CtxValue::Absent) => out.push_str(&default?),
                _ => return None,
            },
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// Parse a date: RFC 3339, a date, or epoch seconds.
fn parse_date_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        return n.checked_mul(1000);
    }
    if let Some(ms) = crate::finding::parse_time_ms(s) {
        return Some(ms);
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
}

fn ip_in(ip: &str, cidr: &str) -> Option<bool> {
    let ip: IpAddr = ip.trim().parse().ok()?;
    let (net, bits) = match cidr.trim().split_once('/') {
        Some((n, b)) => (n, Some(b.parse::<u32>().ok()?)),
        None => (cidr.trim(), None),
    };
    let net: IpAddr = net.parse().ok()?;
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let bits = bits.unwrap_or(32).min(32);
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            Some(u32::from(a) & mask == u32::from(n) & mask)
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let bits = bits.unwrap_or(128).min(128);
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            Some(u128::from(a) & mask == u128::from(n) & mask)
        }
        _ => Some(false),
    }
}

/// Does one context value satisfy one policy value (positive form)?
fn match_one(kind: Kind, base: &str, ctx: &str, pol: &str, req: &RequestContext) -> Tri {
    match kind {
        Kind::Str { ci, like } => {
            let Some(p) = substitute(pol, req) else {
                return Tri::Unknown;
            };
            if like {
                Tri::from_bool(glob(&p, ctx, true))
            } else if ci {
                Tri::from_bool(p.to_lowercase() == ctx.to_lowercase())
            } else {
                Tri::from_bool(p == ctx)
            }
        }
        Kind::Arn => {
            let Some(p) = substitute(pol, req) else {
                return Tri::Unknown;
            };
            Tri::from_bool(glob(&p, ctx, true))
        }
        Kind::Bool => Tri::from_bool(pol.trim().eq_ignore_ascii_case(ctx.trim())),
        Kind::Num => {
            let (Ok(c), Ok(p)) = (ctx.trim().parse::<f64>(), pol.trim().parse::<f64>()) else {
                return Tri::Unknown;
            };
            Tri::from_bool(match base {
                "NumericLessThan" => c < p,
                "NumericLessThanEquals" => c <= p,
                "NumericGreaterThan" => c > p,
                "NumericGreaterThanEquals" => c >= p,
                _ => c == p,
            })
        }
        Kind::Date => {
            let (Some(c), Some(p)) = (parse_date_ms(ctx), parse_date_ms(pol)) else {
                return Tri::Unknown;
            };
            Tri::from_bool(match base {
                "DateLessThan" => c < p,
                "DateLessThanEquals" => c <= p,
                "DateGreaterThan" => c > p,
                "DateGreaterThanEquals" => c >= p,
                _ => c == p,
            })
        }
        Kind::Ip => match ip_in(ctx, pol) {
            Some(b) => Tri::from_bool(b),
            None => Tri::Unknown,
        },
        _ => Tri::Unknown,
    }
}

fn shown(key: &str, vals: &[String]) -> String {
    if is_secret_key(key) {
        return "(value not shown)".into();
    }
    let v: Vec<String> = vals.iter().map(|x| format!("{x:?}")).collect();
    format!("[{}]", v.join(", "))
}

/// Evaluate one condition test against the request context.
pub fn eval_condition(c: &Condition, req: &RequestContext) -> CondEval {
    let (kind, negated) = op_kind(&c.op.base);
    let pol = shown(&c.key, &c.values);
    let mk = |result: Tri, why: String| CondEval {
        op: c.op.raw.clone(),
        key: c.key.clone(),
        result,
        detail: format!("{} {} {pol}: {why}", c.op.raw, c.key),
    };
    if kind == Kind::Unsupported {
        return mk(
            Tri::Unknown,
            format!("operator {} is not evaluated", c.op.raw),
        );
    }
    let ctx = req.get(&c.key);
    if kind == Kind::Null {
        let want_absent = match c.values.first().map(|v| v.to_ascii_lowercase()) {
            Some(v) if v == "true" => true,
            Some(v) if v == "false" => false,
            _ => return mk(Tri::Unknown, "Null needs true or false".into()),
        };
        let absent = match ctx {
            Some(CtxValue::Absent) => Tri::True,
            Some(CtxValue::Known(v)) if v.is_empty() => Tri::True,
            Some(_) => Tri::False,
            None => Tri::Unknown,
        };
        let r = if want_absent { absent } else { absent.negate() };
        let why = match absent {
            Tri::True => "the key is absent from the request".to_string(),
            Tri::False => "the key is present in the request".to_string(),
            Tri::Unknown => "the log does not say whether the key is present".to_string(),
        };
        return mk(r, why);
    }
    match ctx {
        None => mk(
            Tri::Unknown,
            "the log does not give this key's value".into(),
        ),
        Some(CtxValue::Absent) => {
            let r = if c.op.if_exists {
                Tri::True
            } else {
                match c.op.set {
                    Some(SetOp::AllValues) => Tri::True,
                    Some(SetOp::AnyValue) => Tri::False,
                    None => Tri::from_bool(negated),
                }
            };
            mk(r, "the key is absent from the request".into())
        }
        Some(CtxValue::PresentUnknown) => mk(
            Tri::Unknown,
            "the key is present in the request but the log does not carry its value".into(),
        ),
        Some(CtxValue::NotAnyOf(excl)) => {
            // Only exact string comparisons against excluded values are decidable.
            let exact = matches!(
                kind,
                Kind::Str {
                    like: false,
                    ci: false
                }
            );
            let all_excluded = c.values.iter().all(|v| excl.contains(v));
            let r = if exact && all_excluded && c.op.set.is_none() {
                Tri::from_bool(negated)
            } else {
                Tri::Unknown
            };
            mk(
                r,
                format!("the logged value is none of [{}]", excl.join(", ")),
            )
        }
        Some(CtxValue::Known(vals)) => {
            let per_ctx: Vec<Tri> = vals
                .iter()
                .map(|cv| {
                    Tri::any(
                        c.values
                            .iter()
                            .map(|pv| match_one(kind, &c.op.base, cv, pv, req)),
                    )
                })
                .collect();
            // With a negated operator a context value "satisfies" when it
            // matches none of the policy values.
            let sat: Vec<Tri> = if negated {
                per_ctx.iter().map(|t| t.negate()).collect()
            } else {
                per_ctx
            };
            let r = match c.op.set {
                Some(SetOp::AllValues) => Tri::all(sat),
                Some(SetOp::AnyValue) => Tri::any(sat),
                None if negated => Tri::all(sat),
                None => Tri::any(sat),
            };
            let logged = shown(&c.key, vals);
            mk(r, format!("logged value {logged}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(arn: &str, acct: &str) -> RequestPrincipal {
        RequestPrincipal {
            kind: PrincipalKind::Aws,
            arn: Some(arn.into()),
            account: Some(acct.into()),
            issuer_role_arn: None,
            principal_id: None,
        }
    }

    fn doc(s: &str) -> PolicyDocument {
        PolicyDocument::from_text(s, "test").expect("test document parses")
    }

    #[test]
    fn globs() {
        assert!(glob("sts:Assume*", "sts:AssumeRole", true));
        assert!(glob("STS:assumerole", "sts:AssumeRole", false));
        assert!(!glob("sts:Assume?", "sts:AssumeRole", true));
        assert!(glob("*", "", true));
        assert!(glob("a*b*c", "axxbyyc", true));
        assert!(!glob("a*b*c", "axxbyy", true));
    }

    #[test]
    fn principals() {
        let u = user("arn:aws:iam::111122223333:user/ops/alice", "111122223333");
        assert_eq!(match_aws_entry("111122223333", &u), Tri::True);
        assert_eq!(
            match_aws_entry("arn:aws:iam::111122223333:root", &u),
            Tri::True
        );
        assert_eq!(
            match_aws_entry("arn:aws:iam::444455556666:root", &u),
            Tri::False
        );
        assert_eq!(
            match_aws_entry("arn:aws:iam::111122223333:user/alice", &u),
            Tri::True
        );
        assert_eq!(
            match_aws_entry("arn:aws:iam::111122223333:user/bob", &u),
            Tri::False
        );
        let s = RequestPrincipal {
            issuer_role_arn: Some("arn:aws:iam::111122223333:role/team/Jump".into()),
            principal_id: Some("AROAEXAMPLE:bob".into()),
            ..user(
                "arn:aws:sts::111122223333:assumed-role/Jump/bob",
                "111122223333",
            )
        };
        assert_eq!(
            match_aws_entry("arn:aws:iam::111122223333:role/team/Jump", &s),
            Tri::True
        );
        assert_eq!(
            match_aws_entry("arn:aws:iam::111122223333:role/Other", &s),
            Tri::False
        );
        assert_eq!(
            match_aws_entry("arn:aws:sts::111122223333:assumed-role/Jump/bob", &s),
            Tri::True
        );
        assert_eq!(
            match_aws_entry("arn:aws:iam::111122223333:user/bob", &s),
            Tri::False
        );
        assert_eq!(match_aws_entry("AROAEXAMPLE", &s), Tri::True);
        assert_eq!(match_aws_entry("AIDAOTHER", &s), Tri::False);
        let unknown = RequestPrincipal::unknown();
        assert_eq!(match_aws_entry("111122223333", &unknown), Tri::Unknown);
    }

    #[test]
    fn conditions_three_valued() {
        let d = doc(
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"444455556666"},"Action":"sts:AssumeRole",
              "Condition":{"StringEquals":{"sts:ExternalId":"s3cr3t"}}}}"#,
        );
        let mut r = RequestContext::new(
            "sts:AssumeRole",
            "arn:aws:iam::111122223333:role/R",
            user("arn:aws:iam::444455556666:user/x", "444455556666"),
        );
        assert_eq!(evaluate(&d, &r), Decision::Unknown);
        r.set("sts:ExternalId", CtxValue::Absent);
        assert_eq!(evaluate(&d, &r), Decision::ImplicitDeny);
        r.set("sts:ExternalId", CtxValue::PresentUnknown);
        let ev = eval_document(&d, &r);
        assert_eq!(decide(&ev), Decision::Unknown);
        assert!(
            !ev[0].conditions[0].detail.contains("s3cr3t"),
            "{}",
            ev[0].conditions[0].detail
        );
    }

    #[test]
    fn operators() {
        let mut r = RequestContext::new("sts:AssumeRole", "x", RequestPrincipal::unknown());
        r.set_str("aws:SourceIp", "203.0.113.7");
        r.set_str("aws:CurrentTime", "2026-10-01T12:00:00Z");
        r.set_str("aws:MultiFactorAuthPresent", "false");
        r.set_str("sts:RoleSessionName", "alice");
        r.set_str("aws:username", "alice");
        r.set("aws:PrincipalTag/team", CtxValue::Absent);
        r.set(
            "sts:TransitiveTagKeys",
            CtxValue::Known(vec!["a".into(), "b".into()]),
        );
        r.set_str("sts:DurationSeconds", "7200");
        let t = |op: &str, key: &str, vals: &str| {
            let d = doc(&format!(
                r#"{{"Statement":{{"Effect":"Allow","Action":"*","Condition":{{"{op}":{{"{key}":{vals}}}}}}}}}"#
            ));
            eval_condition(&d.statements[0].conditions[0], &r).result
        };
        assert_eq!(
            t("IpAddress", "aws:SourceIp", r#"["203.0.113.0/24"]"#),
            Tri::True
        );
        assert_eq!(
            t("NotIpAddress", "aws:SourceIp", r#""203.0.113.0/24""#),
            Tri::False
        );
        assert_eq!(
            t("IpAddress", "aws:SourceIp", r#""198.51.100.0/24""#),
            Tri::False
        );
        assert_eq!(
            t(
                "DateLessThan",
                "aws:CurrentTime",
                r#""2026-12-31T00:00:00Z""#
            ),
            Tri::True
        );
        assert_eq!(
            t("DateGreaterThan", "aws:CurrentTime", r#""2026-12-31""#),
            Tri::False
        );
        assert_eq!(t("Bool", "aws:MultiFactorAuthPresent", "true"), Tri::False);
        assert_eq!(
            t("BoolIfExists", "aws:MultiFactorAuthPresent", r#""false""#),
            Tri::True
        );
        assert_eq!(
            t(
                "StringEquals",
                "sts:RoleSessionName",
                r#""${aws:username}""#
            ),
            Tri::True
        );
        assert_eq!(
            t("StringLike", "sts:RoleSessionName", r#""bob-*""#),
            Tri::False
        );
        assert_eq!(
            t("StringEquals", "aws:PrincipalTag/team", r#""red""#),
            Tri::False
        );
        assert_eq!(
            t("StringNotEquals", "aws:PrincipalTag/team", r#""red""#),
            Tri::True
        );
        assert_eq!(
            t("StringEqualsIfExists", "aws:PrincipalTag/team", r#""red""#),
            Tri::True
        );
        assert_eq!(t("Null", "aws:PrincipalTag/team", "true"), Tri::True);
        assert_eq!(t("Null", "aws:SourceIp", "true"), Tri::False);
        assert_eq!(
            t(
                "ForAllValues:StringEquals",
                "sts:TransitiveTagKeys",
                r#"["a","b","c"]"#
            ),
            Tri::True
        );
        assert_eq!(
            t(
                "ForAllValues:StringEquals",
                "sts:TransitiveTagKeys",
                r#"["a"]"#
            ),
            Tri::False
        );
        assert_eq!(
            t(
                "ForAnyValue:StringEquals",
                "sts:TransitiveTagKeys",
                r#"["b"]"#
            ),
            Tri::True
        );
        assert_eq!(
            t("NumericLessThanEquals", "sts:DurationSeconds", "3600"),
            Tri::False
        );
        assert_eq!(
            t("StringEquals", "aws:PrincipalOrgID", r#""o-abc""#),
            Tri::Unknown
        );
        assert_eq!(t("ArnLike", "aws:PrincipalArn", r#""arn:*""#), Tri::Unknown);
        assert_eq!(t("BinaryEquals", "aws:SourceIp", r#""x""#), Tri::Unknown);
    }

    #[test]
    fn not_any_of() {
        let mut r = RequestContext::new("sts:AssumeRole", "x", RequestPrincipal::unknown());
        r.set(
            "aws:PrincipalOrgID",
            CtxValue::NotAnyOf(vec!["o-abc".into()]),
        );
        let d = doc(
            r#"{"Statement":{"Effect":"Deny","Principal":"*","Action":"*","Condition":{"StringNotEquals":{"aws:PrincipalOrgID":"o-abc"}}}}"#,
        );
        assert_eq!(evaluate(&d, &r), Decision::ExplicitDeny);
        let d = doc(
            r#"{"Statement":{"Effect":"Deny","Principal":"*","Action":"*","Condition":{"StringNotEquals":{"aws:PrincipalOrgID":"o-zzz"}}}}"#,
        );
        assert_eq!(eval_document(&d, &r)[0].applies(), Tri::Unknown);
        // Denied either way (no Allow), so the decision is a plain "not allowed".
        assert_eq!(evaluate(&d, &r), Decision::ImplicitDeny);
    }
}

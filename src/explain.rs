//! `trailtriage explain EVENT_ID`: one event walked through AWS's whole
//! cross-account AssumeRole checklist (caller credentials, root, ARN and
//! partition, right account, role exists, caller permission, trust policy
//! and its conditions, chaining, boundary, SCP/RCP, console limits, region),
//! one line per item with pass / fail / unknown and why, then the cause and
//! its remediation. The library builds an [`Explanation`]; the CLI prints
//! [`render_text`].
//!
//! Finding the record uses the plain path (flate2 + serde_json over the whole
//! file), the obviously-correct twin of the scanner: explain reads one event,
//! speed does not matter, and it must find the record whatever shape the file
//! has.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::classify::{Selection, catalog, classify, select};
use crate::event::Event;
use crate::finding::Finding;
use crate::norm::{Norm, region_partition, role_arn_well_formed};
use crate::policy::Inventory;
use crate::policy::assess::{self, Status};

/// Why explain could not run. Every variant names its object.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    #[error("event {event_id} was not found in {files} file(s) under the given paths")]
    NotFound { event_id: String, files: usize },
    #[error("cannot read {path}: {reason}")]
    Input { path: String, reason: String },
}

/// One checklist line.
#[derive(Debug, Clone)]
pub struct Line {
    pub item: String,
    pub status: Status,
    pub why: String,
}

/// The explanation of one event.
#[derive(Debug, Clone)]
pub struct Explanation {
    pub finding: Finding,
    pub lines: Vec<Line>,
    /// Problems met in files that did not hold the event (named).
    pub warnings: Vec<String>,
}

fn read_file(p: &Path, max: u64) -> Result<Vec<u8>, String> {
    let mut raw = Vec::new();
    std::fs::File::open(p)
        .and_then(|f| f.take(max.saturating_add(1)).read_to_end(&mut raw))
        .map_err(|e| e.to_string())?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .take(max.saturating_add(1))
            .read_to_end(&mut out)
            .map_err(|e| format!("gunzip: {e}"))?;
        raw = out;
    }
    if raw.len() as u64 > max {
        return Err(format!("larger than the limit of {max} bytes"));
    }
    Ok(raw)
}

/// Every record of a CloudTrail file, whatever its shape.
fn records(v: Value, out: &mut Vec<Value>) {
    match v {
        Value::Array(a) => a.into_iter().for_each(|x| records(x, out)),
        Value::Object(mut m) => {
            if let Some(r) = m.remove("Records") {
                records(r, out);
            } else if let Some(Value::Array(evs)) = m.remove("Events") {
                for ev in evs {
                    if let Some(Value::String(s)) = ev.get("CloudTrailEvent")
                        && let Ok(x) = serde_json::from_str::<Value>(s)
                    {
                        out.push(x);
                    }
                }
            } else if m.contains_key("detail") && !m.contains_key("eventID") {
                if let Some(d) = m.remove("detail") {
                    records(d, out);
                }
            } else {
                out.push(Value::Object(m));
            }
        }
        _ => {}
    }
}

fn find_record(bytes: &[u8], event_id: &str) -> Option<(Value, usize)> {
    let mut all = Vec::new();
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v) => records(v, &mut all),
        Err(_) => {
            // NDJSON
            for line in bytes.split(|b| *b == b'\n') {
                if let Ok(v) = serde_json::from_slice::<Value>(line) {
                    records(v, &mut all);
                }
            }
        }
    }
    all.into_iter()
        .enumerate()
        .find(|(_, r)| r.get("eventID").and_then(Value::as_str) == Some(event_id))
        .map(|(i, r)| (r, i))
}

/// Find one event under `paths` and explain it.
pub fn explain(
    paths: &[PathBuf],
    event_id: &str,
    inv: Option<&Inventory>,
    max_decompressed: u64,
) -> Result<Explanation, ExplainError> {
    let (files, problems) = crate::pipeline::expand_paths(paths);
    let mut warnings: Vec<String> = problems
        .iter()
        .map(|p| format!("{}: {:?}", p.name, p.outcome))
        .collect();
    let needle = event_id.as_bytes();
    for f in &files {
        let name = f.display().to_string();
        if crate::pipeline::skip_reason_by_name(&name).is_some() {
            continue;
        }
        let bytes = match read_file(f, max_decompressed) {
            Ok(b) => b,
            Err(reason) => {
                warnings.push(format!("{name}: {reason}"));
                continue;
            }
        };
        if memchr::memmem::find(&bytes, needle).is_none() {
            continue;
        }
        let Some((rec, idx)) = find_record(&bytes, event_id) else {
            continue;
        };
        let mut buf = serde_json::to_vec(&rec).map_err(|e| ExplainError::Input {
            path: name.clone(),
            reason: e.to_string(),
        })?;
        let value = simd_json::to_borrowed_value(&mut buf).map_err(|e| ExplainError::Input {
            path: name.clone(),
            reason: format!("record {idx}: {e}"),
        })?;
        let e = Event::from_value(&value);
        let n = Norm::of(&e);
        let sel = select(
            &e,
            &n,
            crate::classify::SelectOptions {
                all_denied: true,
                include_context: true,
                log_context: crate::policy::context::LogContext::Full,
            },
        )
        .unwrap_or(Selection::OtherDenied);
        let mut v = classify(&e, &n, sel);
        let used = match inv {
            Some(i) if sel == Selection::Assume => crate::policy::apply_step5(&e, &n, &mut v, i),
            _ => false,
        };
        let mut finding = Finding::new(&e, &n, sel, v, &name, Some(idx as i64));
        finding.inventory_used = used;
        let mut lines = checklist(&e, &n, inv);
        // Log context from every file under the paths, as a scan with
        // `--log-context full` joins it.
        let ctx = gather_context(&files, max_decompressed, &mut warnings);
        let probe = (sel == Selection::Assume
            && n.code == Some("AccessDenied")
            && n.target_role_arn.is_some())
        .then(|| crate::policy::request_context(&e, &n, inv));
        let notes = crate::policy::context::apply(&mut finding, probe.as_ref(), &ctx);
        if notes.is_empty() {
            let (s, r) = ctx.counts();
            lines.push(line(
                "log context",
                Status::NotApplicable,
                format!(
                    "{r} role-management event(s) and {s} issued session(s) in the logs; none bears on this event"
                ),
            ));
        }
        for nt in notes {
            lines.push(line(nt.item, nt.status, nt.why));
        }
        return Ok(Explanation {
            finding,
            lines,
            warnings,
        });
    }
    Err(ExplainError::NotFound {
        event_id: event_id.to_string(),
        files: files.len(),
    })
}

/// Every log-context event under the paths (the scan's fast path with
/// `--log-context full`).
fn gather_context(
    files: &[PathBuf],
    max_decompressed: u64,
    warnings: &mut Vec<String>,
) -> crate::policy::context::ContextIndex {
    let opts = crate::pipeline::ScanOptions {
        select: crate::classify::SelectOptions {
            log_context: crate::policy::context::LogContext::Full,
            ..Default::default()
        },
        max_decompressed,
        ..Default::default()
    };
    let pf = crate::select::Prefilter::new(opts.select);
    let mut w = crate::pipeline::Worker::new();
    let mut idx = crate::policy::context::ContextIndex::new();
    for f in files {
        let mut r = w.process_path(f, &opts, &pf);
        if let crate::pipeline::Outcome::Failed(why) = &r.outcome {
            let msg = format!("{}: {why} (log context from it may be incomplete)", r.name);
            if !warnings.contains(&msg) {
                warnings.push(msg);
            }
        }
        for c in r.context.drain(..) {
            idx.add(c);
        }
    }
    idx.seal();
    idx
}

fn line(item: &str, status: Status, why: impl Into<String>) -> Line {
    Line {
        item: item.to_string(),
        status,
        why: why.into(),
    }
}

/// The checklist of one event: log facts first, then the inventory's items.
pub fn checklist(e: &Event<'_>, n: &Norm<'_>, inv: Option<&Inventory>) -> Vec<Line> {
    let mut out = Vec::new();
    let code = n.code.unwrap_or("");
    // Caller credentials.
    out.push(match code {
        "ExpiredToken" => line(
            "caller credentials valid",
            Status::Fail,
            "errorCode ExpiredToken: the caller's session expired",
        ),
        "InvalidClientTokenId" | "SignatureDoesNotMatch" | "IncompleteSignature" => line(
            "caller credentials valid",
            Status::Fail,
            format!("errorCode {code}: key deleted, deactivated, wrong secret or clock skew"),
        ),
        _ => line(
            "caller credentials valid",
            Status::Pass,
            "STS authenticated the caller (no credential error)",
        ),
    });
    // Root.
    out.push(if e.caller.kind == Some("Root") {
        line(
            "caller is not the root user",
            Status::Fail,
            "userIdentity.type=Root: roles may not be assumed by root",
        )
    } else {
        line(
            "caller is not the root user",
            Status::Pass,
            format!("caller type {}", e.caller_type()),
        )
    });
    // ARN and partition.
    let arn_line = match n.target_role_arn {
        None => line(
            "role ARN well-formed, same partition",
            Status::Unknown,
            "no role ARN in the record",
        ),
        Some(r) if !role_arn_well_formed(r) => line(
            "role ARN well-formed, same partition",
            Status::Fail,
            format!("{r} does not match arn:<partition>:iam::<12 digits>:role/<path/><name>"),
        ),
        Some(r) => {
            let rp = n.role_partition.unwrap_or("aws");
            let cp = e.caller.arn.and_then(crate::norm::arn_parts).map(|p| p.0);
            let regp = e.aws_region.map(region_partition);
            if cp.is_some_and(|c| c != rp) || regp.is_some_and(|g| g != rp) {
                line(
                    "role ARN well-formed, same partition",
                    Status::Fail,
                    format!(
                        "role partition {rp}, caller {} , region {}",
                        cp.unwrap_or("?"),
                        regp.unwrap_or("?")
                    ),
                )
            } else {
                line(
                    "role ARN well-formed, same partition",
                    Status::Pass,
                    r.to_string(),
                )
            }
        }
    };
    out.push(arn_line);
    // Right account.
    let relation = match n.cross_account {
        Some(true) => format!(
            "cross-account: caller {} -> role {}",
            n.caller_account.unwrap_or("?"),
            n.role_account.unwrap_or("?")
        ),
        Some(false) => format!("same account {}", n.caller_account.unwrap_or("?")),
        None => "account relation unknown".into(),
    };
    let mut acct = line("right account", Status::Unknown, relation.clone());
    if let (Some(inv), Some(role), Some(racct)) = (inv, n.target_role_arn, n.role_account) {
        let name = role.rsplit('/').next().unwrap_or(role);
        let elsewhere: Vec<String> = inv
            .accounts
            .values()
            .filter(|a| a.account != racct)
            .flat_map(|a| a.roles.values())
            .filter(|r| r.name == name)
            .map(|r| r.arn.clone())
            .collect();
        if let crate::policy::inventory::RoleLookup::Found(_) = inv.role(role) {
            acct = line(
                "right account",
                Status::Pass,
                format!("{relation}; the role is in account {racct}"),
            );
        } else if !elsewhere.is_empty() {
            acct = line(
                "right account",
                Status::Fail,
                format!(
                    "{relation}; a role of that name exists in another account: {}",
                    elsewhere.join(", ")
                ),
            );
        }
    }
    out.push(acct);
    // Inventory checklist.
    let checks = match inv {
        Some(i) => assess::assess(e, n, i).checks,
        None => Vec::new(),
    };
    let suffix = n.denied_policy_type;
    let from_log = |item: &str| -> Option<Line> {
        let t = suffix?;
        let hit = match item {
            assess::ITEM_IDENTITY => t == "identity-based policy",
            assess::ITEM_PRINCIPAL => t == "role trust policy" || t == "resource-based policy",
            assess::ITEM_BOUNDARY => t == "permissions boundary",
            assess::ITEM_SCP => t == "service control policy",
            assess::ITEM_RCP => t == "resource control policy",
            _ => false,
        };
        hit.then(|| {
            line(
                item,
                Status::Fail,
                format!("the errorMessage names the denying layer: {t}"),
            )
        })
    };
    let items = [
        assess::ITEM_ROLE,
        assess::ITEM_PRINCIPAL,
        assess::ITEM_TRUST_DENY,
        assess::ITEM_EXTID,
        assess::ITEM_MFA,
        assess::ITEM_SRCID,
        assess::ITEM_SESSNAME,
        assess::ITEM_OTHER,
        assess::ITEM_IDENTITY,
        assess::ITEM_BOUNDARY,
        assess::ITEM_SCP,
        assess::ITEM_RCP,
    ];
    for item in items {
        let inv_line = checks
            .iter()
            .find(|c| c.item == item)
            .map(|c| line(item, c.status, c.detail.clone()));
        let log_line = from_log(item);
        let l = match (inv_line, log_line) {
            (Some(i), _) if i.status == Status::Fail => i,
            (_, Some(l)) => l,
            (Some(i), None) => i,
            (None, None) => line(item, Status::Unknown, log_hint(item, e, n)),
        };
        out.push(l);
    }
    // Chaining.
    out.push(if e.is_chained() {
        let issuer = e.caller.session_issuer_arn.unwrap_or("?");
        if code == "ValidationError" && e.error_message.is_some_and(|m| m.contains("role chaining")) {
            line("role chaining", Status::Fail, format!("chained from {issuer}: DurationSeconds above the 1 hour chaining limit"))
        } else {
            line("role chaining", Status::Pass, format!("chained call from a session of {issuer}: the trust policy must name that role (or its account), not the original user"))
        }
    } else {
        line("role chaining", Status::NotApplicable, "not a chained call")
    });
    // Session duration.
    let max = inv.and_then(|i| match n.target_role_arn.map(|r| i.role(r)) {
        Some(crate::policy::inventory::RoleLookup::Found(r)) => r.max_session_duration,
        _ => None,
    });
    out.push(match (e.duration_seconds, max) {
        (Some(d), Some(m)) if d > m => line(
            "session duration",
            Status::Fail,
            format!("DurationSeconds {d} > MaxSessionDuration {m}"),
        ),
        (Some(d), Some(m)) => line(
            "session duration",
            Status::Pass,
            format!("DurationSeconds {d} <= MaxSessionDuration {m}"),
        ),
        (Some(d), None) if e.is_chained() && d > 3600 => line(
            "session duration",
            Status::Fail,
            format!("DurationSeconds {d} > 3600 on a chained call"),
        ),
        (Some(d), None) => line(
            "session duration",
            Status::Unknown,
            format!("DurationSeconds {d}; MaxSessionDuration needs `aws iam list-roles` output"),
        ),
        (None, _) => line(
            "session duration",
            Status::Pass,
            "no DurationSeconds requested (default 1 hour)",
        ),
    });
    // Console limits.
    out.push(if e.event_name == Some("SwitchRole") {
        let len = n.role_path_and_name_len;
        let ext = inv
            .zip(n.target_role_arn)
            .is_some_and(|(i, r)| assess::trust_requires_external_id(i, r));
        if len.is_some_and(|l| l > 64) {
            line(
                "console limits",
                Status::Fail,
                format!(
                    "path + role name is {} characters (console limit 64)",
                    len.unwrap_or(0)
                ),
            )
        } else if ext {
            line(
                "console limits",
                Status::Fail,
                "the trust policy requires an ExternalId, which the console cannot pass",
            )
        } else {
            line(
                "console limits",
                Status::Pass,
                "path + name within 64 characters",
            )
        }
    } else {
        line(
            "console limits",
            Status::NotApplicable,
            "not a console switch",
        )
    });
    // Region.
    out.push(if code == "RegionDisabled" {
        line(
            "STS active in the region",
            Status::Fail,
            format!(
                "STS is not activated in {} for the role's account",
                e.aws_region.unwrap_or("?")
            ),
        )
    } else {
        line(
            "STS active in the region",
            Status::Pass,
            format!(
                "region {}",
                e.serving_region.or(e.aws_region).unwrap_or("?")
            ),
        )
    });
    out
}

/// What the log alone says about an item the inventory did not settle.
fn log_hint(item: &str, e: &Event<'_>, n: &Norm<'_>) -> String {
    let params = e.request_params_present;
    match item {
        assess::ITEM_ROLE => "needs --iam-inventory of the role's account (a missing role gives the same AccessDenied as a trust refusal)".into(),
        assess::ITEM_EXTID if !params => "requestParameters is null: whether an externalId was sent is not in the record".into(),
        assess::ITEM_EXTID => format!(
            "request carried {} (its value is never logged); whether the trust requires one needs --iam-inventory",
            if e.external_id_present { "an externalId" } else { "no externalId" }
        ),
        assess::ITEM_MFA => format!(
            "serialNumber {}; caller session mfaAuthenticated={}",
            if e.mfa_serial_present { "present" } else { "absent" },
            e.caller.mfa_authenticated.map_or("unknown".into(), |b| b.to_string())
        ),
        assess::ITEM_SRCID => format!(
            "sourceIdentity requested {:?}, inherited {:?}",
            e.source_identity.unwrap_or("(none)"),
            e.caller.inherited_source_identity.unwrap_or("(none)")
        ),
        assess::ITEM_SESSNAME => format!("roleSessionName {:?}", e.role_session_name.unwrap_or("(not in record)")),
        assess::ITEM_SCP | assess::ITEM_RCP => "needs --org-policies".into(),
        _ => {
            if n.cross_account == Some(true) {
                "needs --iam-inventory (cross-account: both the caller's policy and the trust policy must allow)".into()
            } else {
                "needs --iam-inventory".into()
            }
        }
    }
}

/// Render an explanation as plain text.
pub fn render_text(x: &Explanation) -> String {
    use crate::util::sanitize;
    let f = &x.finding;
    let mut s = String::new();
    s.push_str(&format!(
        "event {}  {} {}  {}\n",
        sanitize(&f.event_id),
        sanitize(&f.event_source),
        sanitize(&f.event_name),
        f.event_time
            .map(crate::finding::format_time_ms)
            .unwrap_or_default()
    ));
    s.push_str(&format!(
        "  source   {}{}\n",
        sanitize(&f.source_file),
        f.source_line
            .map(|l| format!(" record {l}"))
            .unwrap_or_default()
    ));
    s.push_str(&format!(
        "  caller   {} ({}, account {})\n",
        sanitize(f.caller_arn.as_deref().unwrap_or("?")),
        sanitize(&f.caller_type),
        f.caller_account_id.as_deref().unwrap_or("?")
    ));
    s.push_str(&format!(
        "  role     {} (account {}, {})\n",
        sanitize(f.target_role_arn.as_deref().unwrap_or("?")),
        f.role_account_id.as_deref().unwrap_or("?"),
        match f.cross_account {
            Some(true) => "cross-account",
            Some(false) => "same account",
            None => "account relation unknown",
        }
    ));
    s.push_str(&format!(
        "  error    {}: {}\n\nchecklist\n",
        sanitize(f.error_code.as_deref().unwrap_or("(none)")),
        sanitize(&crate::util::clip(
            f.error_message.as_deref().unwrap_or(""),
            400
        ))
    ));
    let w = x.lines.iter().map(|l| l.item.len()).max().unwrap_or(10);
    for l in &x.lines {
        s.push_str(&format!(
            "  {:<9} {:<w$}  {}\n",
            format!("[{}]", l.status.as_str()),
            l.item,
            sanitize(&l.why)
        ));
    }
    let title = catalog::cause(&f.cause_id).map_or("", |c| c.title);
    s.push_str(&format!(
        "\ncause        {} ({}; confidence {}, severity {})\n",
        f.cause_id, title, f.confidence, f.severity
    ));
    if !f.secondary_causes.is_empty() {
        s.push_str(&format!("also         {}\n", f.secondary_causes.join(", ")));
    }
    s.push_str(&format!("evidence     {}\n", sanitize(&f.evidence)));
    s.push_str(&format!(
        "inventory    {}\n",
        if f.inventory_used { "used" } else { "not used" }
    ));
    s.push_str(&format!("remediation  {}\n", sanitize(&f.remediation)));
    s
}

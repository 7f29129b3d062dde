//! Log context (issue 6, causes.md §4 step 5 last sentence): role-management
//! events and the successful AssumeRole that issued a caller's session,
//! joined with the failures after the scan. Hand-built logs, documentation
//! account ids only: 111122223333 owns the roles, 444455556666 holds the
//! callers.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use trailtriage::finding::Finding;
use trailtriage::pipeline::{Input, ScanOptions, Silent, Stats, run_local};
use trailtriage::policy::context::LogContext;

const O: &str = "111122223333";
const P: &str = "444455556666";

fn role(name: &str) -> String {
    format!("arn:aws:iam::{O}:role/{name}")
}

fn bob() -> Value {
    json!({"type":"IAMUser","principalId":"AIDABOBEXAMPLE000001","arn":format!("arn:aws:iam::{P}:user/bob"),
           "accountId":P,"accessKeyId":"AKIABOBEXAMPLE000001","userName":"bob"})
}

fn ops() -> Value {
    json!({"type":"IAMUser","principalId":"AIDAOPSEXAMPLE000001","arn":format!("arn:aws:iam::{O}:user/ops"),
           "accountId":O,"accessKeyId":"AKIAOPSEXAMPLE000001","userName":"ops"})
}

/// Bob's session of JumpRole, key `key`.
fn jump_session(key: &str) -> Value {
    json!({"type":"AssumedRole","principalId":"AROAJUMPROLEEXAMPLE1:bob",
           "arn":format!("arn:aws:sts::{P}:assumed-role/JumpRole/bob"),"accountId":P,
           "accessKeyId":key,
           "sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAJUMPROLEEXAMPLE1",
               "arn":format!("arn:aws:iam::{P}:role/JumpRole"),"accountId":P,"userName":"JumpRole"},
             "attributes":{"creationDate":"2026-10-01T11:00:00Z","mfaAuthenticated":"false"}}})
}

fn base(id: &str, time: &str, caller: Value, source: &str, name: &str, acct: &str) -> Value {
    json!({"eventVersion":"1.08","userIdentity":caller,"eventTime":time,
           "eventSource":source,"eventName":name,"awsRegion":"us-east-1",
           "sourceIPAddress":"198.51.100.23","userAgent":"aws-cli/2.17.50",
           "requestID":format!("req-{id}"),"eventID":id,"readOnly":false,
           "eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":acct,
           "eventCategory":"Management"})
}

/// A denied AssumeRole with the generic message.
fn denied(id: &str, time: &str, caller: Value, role_arn: &str, extra: Value) -> Value {
    let caller_arn = caller["arn"].as_str().unwrap_or("?").to_string();
    let mut r = base(id, time, caller, "sts.amazonaws.com", "AssumeRole", P);
    let mut params = json!({"roleArn": role_arn, "roleSessionName": "deploy"});
    if let (Some(p), Some(x)) = (params.as_object_mut(), extra.as_object()) {
        for (k, v) in x {
            p.insert(k.clone(), v.clone());
        }
    }
    r["errorCode"] = json!("AccessDenied");
    r["errorMessage"] = json!(format!(
        "User: {caller_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
    ));
    r["requestParameters"] = params;
    r["responseElements"] = Value::Null;
    r
}

/// A successful AssumeRole that issued `key`, valid until `expiration` (as
/// CloudTrail writes it).
fn issued(
    id: &str,
    time: &str,
    caller: Value,
    role_arn: &str,
    session: &str,
    key: &str,
    expiration: &str,
) -> Value {
    let acct = caller["accountId"].as_str().unwrap_or(P).to_string();
    let mut r = base(id, time, caller, "sts.amazonaws.com", "AssumeRole", &acct);
    let role_name = role_arn.rsplit('/').next().unwrap_or("?");
    let role_acct = role_arn.split(':').nth(4).unwrap_or("?");
    r["requestParameters"] = json!({"roleArn": role_arn, "roleSessionName": session,
        "externalId": "S3CR3T-ISSUED-EXTERNAL-ID"});
    r["responseElements"] = json!({
        "credentials": {"accessKeyId": key, "sessionToken": "S3CR3T-TOKEN-VALUE", "expiration": expiration},
        "assumedRoleUser": {"assumedRoleId": format!("AROAEXAMPLE:{session}"),
            "arn": format!("arn:aws:sts::{role_acct}:assumed-role/{role_name}/{session}")}});
    r
}

fn role_change(id: &str, time: &str, name: &str, role_name: &str, policy: Option<Value>) -> Value {
    let mut r = base(id, time, ops(), "iam.amazonaws.com", name, O);
    let mut params = json!({"roleName": role_name});
    if let Some(p) = policy {
        let key = if name == "CreateRole" {
            "assumeRolePolicyDocument"
        } else {
            "policyDocument"
        };
        params[key] = Value::String(p.to_string());
    }
    r["requestParameters"] = params;
    r["responseElements"] = if name == "DeleteRole" {
        Value::Null
    } else {
        json!({"role": {"roleName": role_name, "arn": role(role_name)}})
    };
    r
}

fn trust(statements: Value) -> Value {
    json!({"Version":"2012-10-17","Statement":statements})
}

fn write_logs(dir: &Path, files: &[(&str, Vec<Value>)]) {
    for (name, recs) in files {
        let body = serde_json::to_vec(&json!({ "Records": recs })).expect("serializes");
        std::fs::write(dir.join(name), body).expect("writes");
    }
}

fn scan(files: &[(&str, Vec<Value>)], mode: LogContext) -> (Vec<Finding>, Stats) {
    let dir = tempfile::tempdir().expect("tempdir");
    write_logs(dir.path(), files);
    let mut opts = ScanOptions::default();
    opts.select.log_context = mode;
    let (f, s) = run_local(&[Input::Path(dir.path().to_path_buf())], &opts, &Silent);
    assert!(s.invariants_hold(), "{s:?}");
    (f, s)
}

/// Runs `cmd` and asserts exit 0 (showing stderr if not).
fn run_ok(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `trailtriage scan INPUT --jsonl - ARGS` run in `cwd`; asserts exit 0 and
/// returns the JSON lines.
fn scan_bin(cwd: &Path, input: &Path, args: &[&str]) -> Vec<Value> {
    let out = run_ok(
        Command::new(env!("CARGO_BIN_EXE_trailtriage"))
            .current_dir(cwd)
            .arg("scan")
            .arg(input)
            .args(["--jsonl", "-"])
            .args(args),
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

fn find<'a>(f: &'a [Finding], id: &str) -> &'a Finding {
    f.iter()
        .find(|x| x.event_id == id)
        .unwrap_or_else(|| panic!("no finding {id}"))
}

fn has(f: &Finding, needle: &str) {
    assert!(
        f.evidence.contains(needle),
        "evidence lacks {needle:?}: {}",
        f.evidence
    );
}

/// Bob assumes JumpRole (key ASIAJUMP…), and, an hour earlier, the target
/// role directly; then the JumpRole session is denied on the target.
fn chained_logs() -> Vec<(&'static str, Vec<Value>)> {
    let jump = format!("arn:aws:iam::{P}:role/JumpRole");
    vec![
        (
            "caller-0900.json",
            vec![
                issued(
                    "ok-direct",
                    "2026-10-01T10:00:00Z",
                    bob(),
                    &role("Deploy"),
                    "bob",
                    "ASIADIRECTEXAMPLE001",
                    "Oct 1, 2026, 11:00:00 AM",
                ),
                issued(
                    "ok-jump",
                    "2026-10-01T11:00:00Z",
                    bob(),
                    &jump,
                    "bob",
                    "ASIAJUMPEXAMPLE00001",
                    "Oct 1, 2026, 12:00:00 PM",
                ),
            ],
        ),
        (
            "caller-1130.json",
            vec![denied(
                "chained-denied",
                "2026-10-01T11:30:00Z",
                jump_session("ASIAJUMPEXAMPLE00001"),
                &role("Deploy"),
                json!({}),
            )],
        ),
    ]
}

#[test]
fn chained_session_is_joined_to_its_issuing_assume_role() {
    let (f, stats) = scan(&chained_logs(), LogContext::Full);
    let x = find(&f, "chained-denied");
    has(x, "ok-jump");
    has(x, &format!("original identity arn:aws:iam::{P}:user/bob"));
    // Bob assumed Deploy himself an hour before: §2.22 likely, never certain.
    assert_eq!(
        x.cause_id, "role_chaining_wrong_principal",
        "{}",
        x.evidence
    );
    assert_eq!(x.confidence, "likely");
    has(x, "ok-direct");
    assert!(
        stats
            .notes
            .iter()
            .any(|n| n.contains("2 issued session(s) read; 1 finding(s)")),
        "{:?}",
        stats.notes
    );
    // Sessions are gathered only in `full` mode (they cost CPU).
    let (f, _) = scan(&chained_logs(), LogContext::Roles);
    let x = find(&f, "chained-denied");
    assert_eq!(x.cause_id, "cross_account_denied_ambiguous");
    assert_eq!(x.confidence, "possible");
    assert!(!x.evidence.contains("ok-jump"), "{}", x.evidence);
}

#[test]
fn chained_caller_without_an_earlier_success_of_the_user_is_not_upgraded() {
    let mut logs = chained_logs();
    logs[0].1.remove(0); // no direct success of bob on Deploy
    let (f, _) = scan(&logs, LogContext::Full);
    let x = find(&f, "chained-denied");
    assert_eq!(x.cause_id, "cross_account_denied_ambiguous");
    assert_eq!(x.confidence, "possible");
    has(x, "original identity");
}

#[test]
fn a_call_after_the_session_expired_says_so() {
    let mut expired = base(
        "expired",
        "2026-10-01T12:30:00Z",
        jump_session("ASIAJUMPEXAMPLE00001"),
        "sts.amazonaws.com",
        "AssumeRole",
        P,
    );
    expired["errorCode"] = json!("ExpiredToken");
    expired["errorMessage"] = json!("The security token included in the request is expired");
    expired["requestParameters"] = Value::Null;
    let mut early = expired.clone();
    early["eventID"] = json!("not-yet-expired");
    early["eventTime"] = json!("2026-10-01T11:45:00Z");
    let mut logs = chained_logs();
    logs.push(("caller-1230.json", vec![expired, early]));
    let (f, _) = scan(&logs, LogContext::Full);
    let x = find(&f, "expired");
    assert_eq!(x.cause_id, "caller_credentials_expired");
    assert_eq!(x.confidence, "certain");
    has(x, "this call came 30 min after the session expired");
    has(x, "valid until 2026-10-01T12:00:00Z");
    // Near miss: the logged expiration is after the call; say so, claim nothing.
    let y = find(&f, "not-yet-expired");
    assert!(
        !y.evidence.contains("after the session expired"),
        "{}",
        y.evidence
    );
    has(y, "the logged expiration is 15 min after this call");
}

#[test]
fn delete_role_before_the_failure_makes_role_not_found_likely() {
    let logs = vec![
        (
            "owner.json",
            vec![role_change(
                "del-1",
                "2026-10-01T09:00:00Z",
                "DeleteRole",
                "Gone",
                None,
            )],
        ),
        (
            "caller.json",
            vec![denied(
                "on-gone",
                "2026-10-01T12:00:00Z",
                bob(),
                &role("Gone"),
                json!({}),
            )],
        ),
    ];
    let (f, _) = scan(&logs, LogContext::Roles);
    let x = find(&f, "on-gone");
    assert_eq!(x.cause_id, "role_not_found", "{}", x.evidence);
    assert_eq!(x.confidence, "likely");
    has(
        x,
        "DeleteRole of Gone in 111122223333 at 2026-10-01T09:00:00Z",
    );
    has(x, &format!("by arn:aws:iam::{O}:user/ops (event del-1)"));
    // A second copy of every file (a bucket read twice) changes nothing.
    let mut twice = logs.clone();
    twice.push(("owner-copy.json", logs[0].1.clone()));
    twice.push(("caller-copy.json", logs[1].1.clone()));
    let (g, stats) = scan(&twice, LogContext::Roles);
    let key = |v: &[Finding]| -> Vec<(String, String, String, String)> {
        v.iter()
            .map(|x| {
                (
                    x.event_id.clone(),
                    x.cause_id.clone(),
                    x.confidence.clone(),
                    x.evidence.clone(),
                )
            })
            .collect()
    };
    assert_eq!(key(&g), key(&f));
    assert!(
        stats
            .notes
            .iter()
            .any(|n| n.contains("1 role-management event(s)")),
        "{:?}",
        stats.notes
    );
    // `off` (the default) leaves the log-only cause.
    assert_eq!(LogContext::default(), LogContext::Off);
    let (f, _) = scan(&logs, LogContext::Off);
    assert_eq!(
        find(&f, "on-gone").cause_id,
        "cross_account_denied_ambiguous"
    );
}

#[test]
fn a_role_recreated_before_the_failure_is_not_missing() {
    let allow_all = trust(
        json!([{"Effect":"Allow","Principal":{"AWS":format!("arn:aws:iam::{P}:root")},"Action":"sts:AssumeRole"}]),
    );
    let logs = vec![
        (
            "owner.json",
            vec![
                role_change("del-2", "2026-10-01T09:00:00Z", "DeleteRole", "Back", None),
                role_change(
                    "cre-2",
                    "2026-10-01T10:00:00Z",
                    "CreateRole",
                    "Back",
                    Some(allow_all),
                ),
            ],
        ),
        (
            "caller.json",
            vec![denied(
                "on-back",
                "2026-10-01T12:00:00Z",
                bob(),
                &role("Back"),
                json!({}),
            )],
        ),
    ];
    let (f, _) = scan(&logs, LogContext::Roles);
    let x = find(&f, "on-back");
    assert_ne!(x.cause_id, "role_not_found", "{}", x.evidence);
    assert_eq!(x.confidence, "possible");
    has(x, "allows this caller");
}

#[test]
fn create_role_after_the_failure_makes_role_not_found_likely() {
    let logs = vec![
        (
            "owner.json",
            vec![role_change(
                "cre-late",
                "2026-10-01T13:00:00Z",
                "CreateRole",
                "Late",
                Some(trust(
                    json!([{"Effect":"Allow","Principal":{"AWS":format!("arn:aws:iam::{P}:root")},"Action":"sts:AssumeRole"}]),
                )),
            )],
        ),
        (
            "caller.json",
            vec![denied(
                "on-late",
                "2026-10-01T12:00:00Z",
                bob(),
                &role("Late"),
                json!({}),
            )],
        ),
    ];
    let (f, _) = scan(&logs, LogContext::Roles);
    let x = find(&f, "on-late");
    assert_eq!(x.cause_id, "role_not_found", "{}", x.evidence);
    assert_eq!(x.confidence, "likely");
    has(x, "created only 60 min after this call");
    has(x, "cre-late");
}

fn partner_only() -> Value {
    trust(json!([{"Sid":"OnlyPartner","Effect":"Allow",
        "Principal":{"AWS":"arn:aws:iam::999988887777:root"},"Action":"sts:AssumeRole"}]))
}

fn bob_allowed() -> Value {
    trust(json!([{"Sid":"Bob","Effect":"Allow",
        "Principal":{"AWS":format!("arn:aws:iam::{P}:user/bob")},"Action":"sts:AssumeRole"}]))
}

#[test]
fn update_assume_role_policy_that_excludes_the_caller_is_quoted() {
    let logs = vec![
        (
            "owner.json",
            vec![role_change(
                "upd-1",
                "2026-10-01T08:00:00Z",
                "UpdateAssumeRolePolicy",
                "Vendor",
                Some(partner_only()),
            )],
        ),
        (
            "caller.json",
            vec![denied(
                "on-vendor",
                "2026-10-01T12:00:00Z",
                bob(),
                &role("Vendor"),
                json!({}),
            )],
        ),
    ];
    let (f, _) = scan(&logs, LogContext::Roles);
    let x = find(&f, "on-vendor");
    assert_eq!(
        x.cause_id, "trust_policy_principal_not_allowed",
        "{}",
        x.evidence
    );
    // causes.md gives `certain` only to an inventory.
    assert_eq!(x.confidence, "likely");
    assert!(!x.inventory_used);
    has(
        x,
        "trust policy of Vendor set by UpdateAssumeRolePolicy event upd-1 at 2026-10-01T08:00:00Z",
    );
    has(x, "Sid \"OnlyPartner\"");
    has(x, "arn:aws:iam::999988887777:root");
    has(x, &format!("none matches caller arn:aws:iam::{P}:user/bob"));
}

#[test]
fn only_the_last_trust_policy_before_the_failure_is_used() {
    // An update after the failure must not be used.
    let after = vec![
        (
            "owner.json",
            vec![role_change(
                "upd-after",
                "2026-10-01T13:00:00Z",
                "UpdateAssumeRolePolicy",
                "Vendor",
                Some(partner_only()),
            )],
        ),
        (
            "caller.json",
            vec![denied(
                "on-vendor",
                "2026-10-01T12:00:00Z",
                bob(),
                &role("Vendor"),
                json!({}),
            )],
        ),
    ];
    let (f, _) = scan(&after, LogContext::Roles);
    let x = find(&f, "on-vendor");
    assert_eq!(
        x.cause_id, "cross_account_denied_ambiguous",
        "{}",
        x.evidence
    );
    assert_eq!(x.confidence, "possible");
    has(x, "a later update is not used");
    assert!(!x.evidence.contains("OnlyPartner"), "{}", x.evidence);

    // An older policy that excluded bob, replaced before the failure by one
    // that names him: the older one is not used.
    let replaced = vec![
        (
            "owner.json",
            vec![
                role_change(
                    "upd-old",
                    "2026-10-01T07:00:00Z",
                    "UpdateAssumeRolePolicy",
                    "Vendor",
                    Some(partner_only()),
                ),
                role_change(
                    "upd-new",
                    "2026-10-01T08:00:00Z",
                    "UpdateAssumeRolePolicy",
                    "Vendor",
                    Some(bob_allowed()),
                ),
            ],
        ),
        (
            "caller.json",
            vec![denied(
                "on-vendor",
                "2026-10-01T12:00:00Z",
                bob(),
                &role("Vendor"),
                json!({}),
            )],
        ),
    ];
    let (f, _) = scan(&replaced, LogContext::Roles);
    let x = find(&f, "on-vendor");
    assert_eq!(
        x.cause_id, "cross_account_denied_ambiguous",
        "{}",
        x.evidence
    );
    has(x, "upd-new");
    has(x, "allows this caller");
    assert!(!x.evidence.contains("upd-old"), "{}", x.evidence);
}

#[test]
fn a_condition_key_the_log_cannot_give_stays_unknown() {
    let tagged = trust(json!([{"Sid":"TeamOnly","Effect":"Allow",
        "Principal":{"AWS":format!("arn:aws:iam::{P}:root")},"Action":"sts:AssumeRole",
        "Condition":{"StringEquals":{"aws:PrincipalTag/team":"platform"}}}]));
    let logs = vec![
        (
            "owner.json",
            vec![role_change(
                "upd-tag",
                "2026-10-01T08:00:00Z",
                "UpdateAssumeRolePolicy",
                "Tagged",
                Some(tagged),
            )],
        ),
        (
            "caller.json",
            vec![denied(
                "on-tagged",
                "2026-10-01T12:00:00Z",
                bob(),
                &role("Tagged"),
                json!({}),
            )],
        ),
    ];
    let (f, _) = scan(&logs, LogContext::Roles);
    let x = find(&f, "on-tagged");
    assert_eq!(
        x.cause_id, "cross_account_denied_ambiguous",
        "{}",
        x.evidence
    );
    assert_eq!(x.confidence, "possible");
    has(x, "not decidable from the log");
    has(x, "aws:PrincipalTag/team");
}

fn external_id_logs() -> Vec<(&'static str, Vec<Value>)> {
    let needs_id = trust(json!([{"Sid":"PartnerWithId","Effect":"Allow",
        "Principal":{"AWS":format!("arn:aws:iam::{P}:root")},"Action":"sts:AssumeRole",
        "Condition":{"StringEquals":{"sts:ExternalId":"S3CR3T-TRUST-EXTERNAL-ID"}}}]));
    vec![
        (
            "owner.json",
            vec![role_change(
                "cre-x",
                "2026-10-01T08:00:00Z",
                "CreateRole",
                "Partner",
                Some(needs_id),
            )],
        ),
        (
            "caller.json",
            vec![
                issued(
                    "ok-x",
                    "2026-10-01T09:00:00Z",
                    bob(),
                    &role("Partner"),
                    "bob",
                    "ASIAPARTNEREXAMPLE01",
                    "Oct 1, 2026, 10:00:00 AM",
                ),
                denied(
                    "no-xid",
                    "2026-10-01T12:00:00Z",
                    bob(),
                    &role("Partner"),
                    json!({}),
                ),
                denied(
                    "wrong-xid",
                    "2026-10-01T12:01:00Z",
                    bob(),
                    &role("Partner"),
                    json!({"externalId": "S3CR3T-REQUEST-EXTERNAL-ID"}),
                ),
            ],
        ),
    ]
}

#[test]
fn external_id_condition_from_the_log() {
    let (f, _) = scan(&external_id_logs(), LogContext::Full);
    let x = find(&f, "no-xid");
    assert_eq!(x.cause_id, "external_id_missing", "{}", x.evidence);
    assert_eq!(x.confidence, "likely");
    has(x, "Sid \"PartnerWithId\"");
    has(x, "(value not shown)");
    // An externalId was sent; its value is never logged: undecidable.
    let y = find(&f, "wrong-xid");
    assert_ne!(y.confidence, "certain");
    assert_ne!(y.confidence, "likely", "{}", y.evidence);
    for z in &f {
        assert!(!z.evidence.contains("S3CR3T"), "leak: {}", z.evidence);
    }
}

#[test]
fn external_id_values_never_reach_any_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_logs(dir.path(), &external_id_logs());
    let pq = dir.path().join("o.parquet");
    let bin = env!("CARGO_BIN_EXE_trailtriage");
    let scan = Command::new(bin)
        .args([
            "scan",
            dir.path().to_str().unwrap_or("."),
            "--log-context",
            "--jsonl",
            "-",
        ])
        .arg("--parquet")
        .arg(&pq)
        .output()
        .expect("runs");
    assert_eq!(
        scan.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&scan.stderr)
    );
    let report = Command::new(bin)
        .args([
            "scan",
            dir.path().to_str().unwrap_or("."),
            "--log-context",
            "--report-format",
            "json",
        ])
        .output()
        .expect("runs");
    let explain = Command::new(bin)
        .args([
            "explain",
            "no-xid",
            "--in",
            dir.path().to_str().unwrap_or("."),
        ])
        .output()
        .expect("runs");
    assert_eq!(explain.status.code(), Some(0));
    let all = [
        scan.stdout,
        scan.stderr,
        report.stdout,
        report.stderr,
        explain.stdout.clone(),
        explain.stderr,
        std::fs::read(&pq).expect("parquet written"),
    ]
    .concat();
    assert!(
        !all.windows(6).any(|w| w == b"S3CR3T"),
        "an ExternalId or token value leaked"
    );
    let text = String::from_utf8_lossy(&explain.stdout);
    assert!(text.contains("log context: trust policy"), "{text}");
}

#[test]
fn explain_prints_the_log_context() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_logs(dir.path(), &chained_logs());
    let out = run_ok(Command::new(env!("CARGO_BIN_EXE_trailtriage")).args([
        "explain",
        "chained-denied",
        "--in",
        dir.path().to_str().unwrap_or("."),
    ]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("[pass]    log context: issuing session"),
        "{text}"
    );
    assert!(
        text.contains(&format!("original identity arn:aws:iam::{P}:user/bob")),
        "{text}"
    );
    assert!(
        text.contains("[fail]    log context: chained caller"),
        "{text}"
    );
    assert!(text.contains("role_chaining_wrong_principal"), "{text}");
    assert!(text.contains("confidence likely"), "{text}");
}

#[test]
fn hostile_context_records_are_ignored_not_fatal() {
    // Wrong types, a huge policy, an expiration that is not a date, a
    // failed DeleteRole: none may crash, none may count as context.
    let mut bad_delete = role_change(
        "del-failed",
        "2026-10-01T09:00:00Z",
        "DeleteRole",
        "Kept",
        None,
    );
    bad_delete["errorCode"] = json!("AccessDenied");
    bad_delete["errorMessage"] = json!("User: x is not authorized to perform: iam:DeleteRole");
    let mut typed = role_change(
        "del-typed",
        "2026-10-01T09:00:00Z",
        "DeleteRole",
        "Kept",
        None,
    );
    typed["requestParameters"]["roleName"] = json!(42);
    let mut odd = issued(
        "ok-odd",
        "2026-10-01T09:00:00Z",
        bob(),
        &role("Kept"),
        "bob",
        "ASIAODDEXAMPLE000001",
        "not a date",
    );
    odd["responseElements"]["credentials"]["accessKeyId"] = json!({"nested": true});
    let logs = vec![
        ("owner.json", vec![bad_delete, typed, odd]),
        (
            "caller.json",
            vec![denied(
                "on-kept",
                "2026-10-01T12:00:00Z",
                bob(),
                &role("Kept"),
                json!({}),
            )],
        ),
    ];
    let (f, stats) = scan(&logs, LogContext::Full);
    let x = find(&f, "on-kept");
    assert_eq!(
        x.cause_id, "cross_account_denied_ambiguous",
        "{}",
        x.evidence
    );
    // The failed DeleteRole is itself a finding only with --all-denied.
    assert_eq!(stats.findings, 1);
    assert!(
        stats.notes.iter().all(|n| !n.contains("log context")),
        "{:?}",
        stats.notes
    );
}

#[test]
fn the_cause_filter_sees_the_cause_after_the_join() {
    let logs = vec![
        (
            "owner.json",
            vec![role_change(
                "del-1",
                "2026-10-01T09:00:00Z",
                "DeleteRole",
                "Gone",
                None,
            )],
        ),
        (
            "caller.json",
            vec![denied(
                "on-gone",
                "2026-10-01T12:00:00Z",
                bob(),
                &role("Gone"),
                json!({}),
            )],
        ),
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    write_logs(dir.path(), &logs);
    for (cause, want) in [("role_not_found", 1), ("cross_account_denied_ambiguous", 0)] {
        let mut opts = ScanOptions::default();
        opts.select.log_context = LogContext::Roles;
        opts.filters.causes = vec![cause.to_string()];
        let (f, s) = run_local(&[Input::Path(dir.path().to_path_buf())], &opts, &Silent);
        assert_eq!(f.len(), want, "--cause {cause}");
        assert!(s.invariants_hold(), "{s:?}");
        assert_eq!(s.records.filtered, 1 - want as u64, "--cause {cause}");
    }
}

#[test]
fn log_context_from_the_command_line_and_the_config_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_logs(
        dir.path(),
        &[
            (
                "owner.json",
                vec![role_change(
                    "del-1",
                    "2026-10-01T09:00:00Z",
                    "DeleteRole",
                    "Gone",
                    None,
                )],
            ),
            (
                "caller.json",
                vec![denied(
                    "on-gone",
                    "2026-10-01T12:00:00Z",
                    bob(),
                    &role("Gone"),
                    json!({}),
                )],
            ),
        ],
    );
    let run = |args: &[&str]| {
        let rows = scan_bin(dir.path(), Path::new("."), args);
        assert_eq!(rows.len(), 1, "one finding");
        rows[0]["cause_id"].as_str().unwrap_or("").to_string()
    };
    assert_eq!(run(&[]), "cross_account_denied_ambiguous");
    assert_eq!(run(&["--log-context=roles"]), "role_not_found");
    assert_eq!(run(&["--log-context"]), "role_not_found");
    std::fs::write(
        dir.path().join("trailtriage.toml"),
        "[scan]\nlog-context = \"roles\"\n",
    )
    .expect("writes");
    assert_eq!(run(&[]), "role_not_found");
    assert_eq!(
        run(&["--log-context=off"]),
        "cross_account_denied_ambiguous"
    );
}

/// The bundled sample-logs carry three log-context stories
/// (scripts/make_sample_logs.py, `story_deleted_role`, `story_narrowed_trust`,
/// `story_chained_session`): with `--log-context` their failures get the
/// cause the joined events show, likely, with those events as evidence;
/// without it they keep their log-only fallback cause.
#[test]
fn sample_logs_stories_are_settled_by_log_context() {
    let logs = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-logs");
    let run = |args: &[&str]| -> Vec<Finding> {
        scan_bin(&logs, &logs, args)
            .into_iter()
            .map(|v| serde_json::from_value(v).expect("a finding per line"))
            .collect()
    };
    const DELETE: &str = "95f14c9a-0a09-5a5d-a93d-9c1746b26f15";
    const UPDATE: &str = "cdf09076-711b-5483-81f1-933a9e07f5de";
    const DIRECT: &str = "73f36d77-6df3-50c1-9b1b-94006317bf38";
    const JUMP: &str = "1cf75080-e442-558d-8025-ba6260e50ae8";
    // (failure, cause without the flag, cause with it, evidence needles)
    let stories: [(&str, &str, &str, Vec<String>); 5] = [
        (
            "73b40e52-d71e-53f2-a213-b060bc0eb0e9",
            "cross_account_denied_ambiguous",
            "role_not_found",
            vec![
                format!("DeleteRole of legacy-etl-import in {O} at 2026-10-06T07:41:12Z"),
                format!("by arn:aws:iam::{O}:user/henry (event {DELETE})"),
            ],
        ),
        (
            "0ea45d8b-b689-5a3c-8ee9-d138f2a399a5",
            "cross_account_denied_ambiguous",
            "role_not_found",
            vec![format!("(event {DELETE})")],
        ),
        (
            "c3bb4968-826b-51c1-9502-c0a4ffb80117",
            "cross_account_denied_ambiguous",
            "trust_policy_principal_not_allowed",
            vec![
                format!(
                    "trust policy of partner-readonly set by UpdateAssumeRolePolicy event {UPDATE} at 2026-10-06T07:33:27Z"
                ),
                "Sid \"PartnerB\"".to_string(),
                "none matches caller arn:aws:iam::777788889999:user/carol.ops".to_string(),
            ],
        ),
        (
            "17d546d9-8fc1-5f1f-aad0-66311b9820de",
            "cross_account_denied_ambiguous",
            "trust_policy_principal_not_allowed",
            vec![format!("UpdateAssumeRolePolicy event {UPDATE}")],
        ),
        (
            "cd87d735-c9ec-5d03-a670-d168da2d9fba",
            "same_account_denied_ambiguous",
            "role_chaining_wrong_principal",
            vec![
                format!(
                    "arn:aws:iam::{O}:user/dana assumed arn:aws:iam::{O}:role/deploy-prod successfully at 2026-10-05T13:18:30Z (event {DIRECT})"
                ),
                format!("AssumeRole event {JUMP} at 2026-10-06T18:52:04Z issued it"),
                format!("original identity arn:aws:iam::{O}:user/dana"),
            ],
        ),
    ];
    let plain = run(&[]);
    let joined = run(&["--log-context"]);
    assert_eq!(plain.len(), joined.len());
    for (id, before, after, needles) in &stories {
        let p = find(&plain, id);
        assert_eq!(&p.cause_id, before, "{}", p.evidence);
        assert_eq!(p.confidence, "possible");
        assert!(!p.evidence.contains("log context"), "{}", p.evidence);
        let x = find(&joined, id);
        assert_eq!(&x.cause_id, after, "{}", x.evidence);
        assert_eq!(x.confidence, "likely");
        for n in needles {
            has(x, n);
        }
    }
    // Only the story failures carry log context.
    let carried = joined
        .iter()
        .filter(|x| x.evidence.contains("log context"))
        .count();
    assert_eq!(carried, stories.len());
}

//! Inventory-backed classification (causes.md §4 step 5), the policy
//! evaluator's properties, `explain`, and the role-owner-only report note.
//! Fixtures: tests/fixtures/inventory/ (documentation account ids only):
//! 111122223333 owns the roles, 444455556666 holds the callers (outside the
//! organization), 777788889999 is the organization's management account.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use proptest::prelude::*;
use serde_json::{Value, json};
use trailtriage::finding::{Finding, parse_time_ms};
use trailtriage::pipeline::{ScanOptions, Worker};
use trailtriage::policy::Inventory;
use trailtriage::policy::document::PolicyDocument;
use trailtriage::policy::eval::{
    CtxValue, Decision, PrincipalKind, RequestContext, RequestPrincipal, evaluate,
};
use trailtriage::select::Prefilter;

const O: &str = "111122223333";
const P: &str = "444455556666";
const EVENT_TIME: &str = "2026-10-01T12:00:00Z";
const SECRET: &str = "ext-123-secret";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/inventory")
}

fn inventory_at(org: bool, time: &str) -> Arc<Inventory> {
    let d = fixtures();
    let org_dir = d.join("org");
    let inv = Inventory::load(
        &[d.join("iam")],
        if org { Some(org_dir.as_path()) } else { None },
        parse_time_ms(time),
    )
    .expect("fixtures load");
    assert!(inv.warnings.is_empty(), "{:?}", inv.warnings);
    Arc::new(inv)
}

fn inventory(org: bool) -> Arc<Inventory> {
    inventory_at(org, "2026-10-02T00:00:00Z")
}

fn user(name: &str) -> Value {
    json!({"type":"IAMUser","principalId":format!("AIDA{}", name.to_uppercase()),
           "arn":format!("arn:aws:iam::{P}:user/{name}"),"accountId":P,
           "accessKeyId":"AKIAIOSFODNN7EXAMPLE","userName":name})
}

fn owner_user() -> Value {
    json!({"type":"IAMUser","principalId":"AIDAOPSEXAMPLE0001","arn":format!("arn:aws:iam::{O}:user/ops"),
           "accountId":O,"accessKeyId":"AKIAIOSFODNN7EXAMPL2","userName":"ops"})
}

fn bob_jump_session() -> Value {
    json!({"type":"AssumedRole","principalId":"AROAJUMPROLEEXAMPLE1:bob",
           "arn":format!("arn:aws:sts::{P}:assumed-role/JumpRole/bob"),"accountId":P,
           "accessKeyId":"ASIAIOSFODNN7EXAMPLE",
           "sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAJUMPROLEEXAMPLE1",
               "arn":format!("arn:aws:iam::{P}:role/JumpRole"),"accountId":P,"userName":"JumpRole"},
             "attributes":{"creationDate":"2026-10-01T11:50:00Z","mfaAuthenticated":"false"}}})
}

fn record(id: &str, caller: Value, role: &str, extra: Value, message: Option<&str>) -> Value {
    let caller_arn = caller["arn"].as_str().unwrap_or("?").to_string();
    let acct = caller["accountId"].as_str().unwrap_or(P).to_string();
    let mut params = json!({"roleArn": role, "roleSessionName": "deploy-bot"});
    if let (Some(p), Some(x)) = (params.as_object_mut(), extra.as_object()) {
        for (k, v) in x {
            p.insert(k.clone(), v.clone());
        }
    }
    let msg = message.map(str::to_string).unwrap_or_else(|| {
        format!(
            "User: {caller_arn} is not authorized to perform: sts:AssumeRole on resource: {role}"
        )
    });
    json!({"eventVersion":"1.08","userIdentity":caller,"eventTime":EVENT_TIME,
           "eventSource":"sts.amazonaws.com","eventName":"AssumeRole","awsRegion":"us-east-1",
           "sourceIPAddress":"198.51.100.23","userAgent":"aws-cli/2.17.50",
           "errorCode":"AccessDenied","errorMessage":msg,"requestParameters":params,
           "responseElements":null,"requestID":format!("req-{id}"),"eventID":id,"readOnly":true,
           "eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":acct,"eventCategory":"Management"})
}

fn classify_with(rec: &Value, inv: Option<Arc<Inventory>>) -> Finding {
    let opts = ScanOptions {
        inventory: inv,
        ..ScanOptions::default()
    };
    let pf = Prefilter::new(opts.select);
    let bytes = serde_json::to_vec(&json!({"Records":[rec]})).expect("serializes");
    let mut r = Worker::new().process_bytes("test.json", &bytes, &opts, &pf);
    assert_eq!(r.findings.len(), 1, "{:?}", r.outcome);
    r.findings.remove(0)
}

fn role(name: &str) -> String {
    format!("arn:aws:iam::{O}:role/{name}")
}

fn check(f: &Finding, cause: &str, confidence: &str, evidence: &[&str]) {
    assert_eq!(f.cause_id, cause, "evidence: {}", f.evidence);
    assert_eq!(f.confidence, confidence, "evidence: {}", f.evidence);
    assert!(f.inventory_used, "inventory_used");
    for e in evidence {
        assert!(
            f.evidence.contains(e),
            "evidence lacks {e:?}: {}",
            f.evidence
        );
    }
    assert!(
        !f.evidence.contains(SECRET),
        "ExternalId value leaked: {}",
        f.evidence
    );
}

#[test]
fn without_inventory_the_log_only_cause_stands() {
    let r = record(
        "e-noinv",
        user("alice"),
        &role("VendorAccess"),
        json!({}),
        None,
    );
    let f = classify_with(&r, None);
    assert_eq!(f.cause_id, "cross_account_denied_ambiguous");
    assert_eq!(f.confidence, "possible");
    assert!(!f.inventory_used);
}

#[test]
fn role_missing_with_typo_hint() {
    let r = record("e-typo", user("alice"), &role("Deplyo"), json!({}), None);
    let f = classify_with(&r, Some(inventory(false)));
    check(
        &f,
        "role_not_found",
        "certain",
        &["typo hint", "role/Deploy", "within 2 edits"],
    );
    assert!(f.needs_input.is_empty());
    // The log-only request-shape hints are dropped once the denial is explained.
    assert!(f.secondary_causes.is_empty(), "{:?}", f.secondary_causes);
}

#[test]
fn role_missing_by_case() {
    let r = record("e-case", user("alice"), &role("deploy"), json!({}), None);
    let f = classify_with(&r, Some(inventory(false)));
    check(
        &f,
        "role_not_found",
        "certain",
        &["different case", "role/Deploy"],
    );
}

#[test]
fn role_missing_without_similar_name() {
    let r = record(
        "e-gone",
        user("alice"),
        &role("LegacyPipelineRole"),
        json!({}),
        None,
    );
    let f = classify_with(&r, Some(inventory(false)));
    check(
        &f,
        "role_not_found",
        "certain",
        &["not in the role list of account 111122223333"],
    );
    assert!(!f.evidence.contains("typo hint"));
}

#[test]
fn principal_not_in_trust() {
    let r = record(
        "e-principal",
        user("alice"),
        &role("InternalOnly"),
        json!({}),
        None,
    );
    let f = classify_with(&r, Some(inventory(false)));
    check(
        &f,
        "trust_policy_principal_not_allowed",
        "certain",
        &["Sid \"OwnAccountOnly\"", "arn:aws:iam::111122223333:root"],
    );
}

#[test]
fn trust_explicit_deny() {
    let r = record(
        "e-deny",
        user("mallory"),
        &role("NoMallory"),
        json!({}),
        None,
    );
    let f = classify_with(&r, Some(inventory(false)));
    check(
        &f,
        "trust_policy_explicit_deny",
        "certain",
        &["Sid \"NotMallory\""],
    );
}

#[test]
fn external_id_required_and_absent() {
    let r = record(
        "e-extid",
        user("alice"),
        &role("VendorAccess"),
        json!({}),
        None,
    );
    let f = classify_with(&r, Some(inventory(false)));
    check(
        &f,
        "external_id_missing",
        "certain",
        &["Sid \"VendorWithExternalId\"", "sts:ExternalId", "absent"],
    );
    assert!(
        !f.secondary_causes
            .contains(&"external_id_missing".to_string())
    );
}

#[test]
fn external_id_present_is_not_decidable_from_a_generic_message() {
    let r = record(
        "e-extid-present",
        user("alice"),
        &role("VendorAccess"),
        json!({"externalId": "whatever-was-sent"}),
        None,
    );
    let f = classify_with(&r, Some(inventory(false)));
    // The value is never logged: the inventory cannot say it was wrong, and
    // the SCP/RCP layers are not exported, so nothing is eliminated.
    assert_eq!(
        f.cause_id, "cross_account_denied_ambiguous",
        "{}",
        f.evidence
    );
    assert_eq!(f.confidence, "possible");
    assert!(f.inventory_used);
    assert!(
        f.evidence.contains("not decidable offline"),
        "{}",
        f.evidence
    );
    assert!(
        f.secondary_causes
            .contains(&"external_id_mismatch".to_string())
    );
    // MFA is not required by this role: the log-only MFA hint is refuted.
    assert!(
        !f.secondary_causes
            .contains(&"mfa_required_not_provided".to_string()),
        "{:?}",
        f.secondary_causes
    );
    assert!(!f.evidence.contains(SECRET) && !f.evidence.contains("whatever-was-sent"));
}

#[test]
fn external_id_mismatch_when_the_message_names_the_trust_policy() {
    let msg = format!(
        "User: arn:aws:iam::{P}:user/alice is not authorized to perform: sts:AssumeRole on resource: {} because no role trust policy allows the sts:AssumeRole action",
        role("VendorAccess")
    );
    let r = record(
        "e-extid-wrong",
        user("alice"),
        &role("VendorAccess"),
        json!({"externalId": "whatever-was-sent"}),
        Some(&msg),
    );
    let f = classify_with(&r, Some(inventory(false)));
    check(
        &f,
        "external_id_mismatch",
        "certain",
        &["value never logged", "role trust policy"],
    );
    assert!(
        f.secondary_causes
            .contains(&"trust_policy_principal_not_allowed".to_string())
    );
    assert!(!f.evidence.contains("whatever-was-sent"));
}

#[test]
fn mfa_required() {
    let r = record("e-mfa", user("alice"), &role("MfaAdmin"), json!({}), None);
    let f = classify_with(&r, Some(inventory(false)));
    check(
        &f,
        "mfa_required_not_provided",
        "certain",
        &["Sid \"RequireMfa\"", "aws:MultiFactorAuthPresent"],
    );
}

#[test]
fn mfa_provided_passes_that_condition() {
    let r = record(
        "e-mfa-ok",
        user("alice"),
        &role("MfaAdmin"),
        json!({"serialNumber": format!("arn:aws:iam::{P}:mfa/alice")}),
        None,
    );
    let f = classify_with(&r, Some(inventory(false)));
    assert_ne!(f.cause_id, "mfa_required_not_provided", "{}", f.evidence);
    assert!(
        !f.secondary_causes
            .contains(&"mfa_required_not_provided".to_string())
    );
}

#[test]
fn source_identity_required() {
    let r = record(
        "e-srcid",
        user("alice"),
        &role("AuditTrail"),
        json!({}),
        None,
    );
    let f = classify_with(&r, Some(inventory(false)));
    check(
        &f,
        "source_identity_required",
        "certain",
        &["sts:SourceIdentity"],
    );
}

#[test]
fn session_name_condition() {
    let r = record(
        "e-sessname",
        user("alice"),
        &role("NamedSessions"),
        json!({}),
        None,
    );
    let f = classify_with(&r, Some(inventory(false)));
    check(
        &f,
        "role_session_name_condition_failed",
        "certain",
        &["sts:RoleSessionName", "\"deploy-bot\""],
    );
    // With the session named after the user, the condition holds.
    let ok = record(
        "e-sessname-ok",
        user("alice"),
        &role("NamedSessions"),
        json!({"roleSessionName":"alice"}),
        None,
    );
    let f = classify_with(&ok, Some(inventory(false)));
    assert_ne!(
        f.cause_id, "role_session_name_condition_failed",
        "{}",
        f.evidence
    );
}

#[test]
fn other_trust_condition() {
    let r = record("e-ip", user("alice"), &role("OfficeOnly"), json!({}), None);
    let f = classify_with(&r, Some(inventory(false)));
    check(
        &f,
        "trust_condition_not_met",
        "certain",
        &["aws:SourceIp", "198.51.100.23"],
    );
}

#[test]
fn chained_caller_expected_to_be_the_original_user() {
    let r = record(
        "e-chain",
        bob_jump_session(),
        &role("BobAdmin"),
        json!({"roleSessionName":"bob"}),
        None,
    );
    let f = classify_with(&r, Some(inventory(false)));
    check(
        &f,
        "role_chaining_wrong_principal",
        "certain",
        &["user/bob", "original user"],
    );
}

#[test]
fn missing_identity_permission() {
    let r = record("e-noperm", user("carol"), &role("Deploy"), json!({}), None);
    let f = classify_with(&r, Some(inventory(false)));
    check(
        &f,
        "missing_identity_permission",
        "certain",
        &["user carol"],
    );
}

#[test]
fn identity_explicit_deny() {
    let r = record("e-iddeny", user("erin"), &role("Deploy"), json!({}), None);
    let f = classify_with(&r, Some(inventory(false)));
    check(
        &f,
        "identity_policy_explicit_deny",
        "certain",
        &["StayHome", "Sid \"NoCrossAccount\""],
    );
}

#[test]
fn permissions_boundary() {
    let r = record("e-boundary", user("dave"), &role("Deploy"), json!({}), None);
    let f = classify_with(&r, Some(inventory(false)));
    check(
        &f,
        "permissions_boundary_deny",
        "certain",
        &["S3OnlyBoundary"],
    );
}

#[test]
fn managed_policy_default_version_is_used_and_group_policies_count() {
    // alice's AssumeOwnerRoles v2 (default) allows; v1 would deny everything.
    let r = record(
        "e-all-pass",
        user("alice"),
        &role("Deploy"),
        json!({}),
        None,
    );
    let f = classify_with(&r, Some(inventory(false)));
    assert_eq!(
        f.cause_id, "cross_account_denied_ambiguous",
        "{}",
        f.evidence
    );
    assert!(
        f.evidence.contains("not decidable offline: SCP"),
        "{}",
        f.evidence
    );
}

#[test]
fn scp_deny() {
    let mut r = record(
        "e-scp",
        owner_user(),
        &role("Restricted-Admin"),
        json!({}),
        None,
    );
    r["recipientAccountId"] = json!(O);
    let f = classify_with(&r, Some(inventory(true)));
    check(
        &f,
        "scp_deny",
        "certain",
        &[
            "DenyRestrictedRoles",
            "OU ou-ex12-prod1234",
            "Sid \"NoRestrictedRoles\"",
        ],
    );
}

#[test]
fn rcp_deny() {
    let r = record("e-rcp", user("alice"), &role("Deploy"), json!({}), None);
    let f = classify_with(&r, Some(inventory(true)));
    check(
        &f,
        "rcp_deny",
        "certain",
        &["OrgOnlyAssumeRole", "root r-ex12", "aws:PrincipalOrgID"],
    );
}

#[test]
fn rcp_never_restricts_service_linked_roles() {
    let arn = format!(
        "arn:aws:iam::{O}:role/aws-service-role/support.amazonaws.com/AWSServiceRoleForSupport"
    );
    let r = record("e-slr", user("alice"), &arn, json!({}), None);
    let f = classify_with(&r, Some(inventory(true)));
    assert_ne!(f.cause_id, "rcp_deny");
    assert_eq!(
        f.cause_id, "trust_policy_principal_not_allowed",
        "{}",
        f.evidence
    );
}

#[test]
fn certain_literal_stands_and_the_inventory_adds_a_secondary() {
    let msg = format!(
        "User: arn:aws:iam::{P}:user/alice is not authorized to perform: sts:AssumeRole on resource: {} with an explicit deny in a service control policy",
        role("InternalOnly")
    );
    let r = record(
        "e-literal",
        user("alice"),
        &role("InternalOnly"),
        json!({}),
        Some(&msg),
    );
    let f = classify_with(&r, Some(inventory(false)));
    assert_eq!(f.cause_id, "scp_deny");
    assert_eq!(f.confidence, "certain");
    assert!(f.inventory_used);
    assert!(
        f.secondary_causes
            .contains(&"trust_policy_principal_not_allowed".to_string()),
        "{:?}",
        f.secondary_causes
    );
}

#[test]
fn stale_inventory_is_flagged_and_not_certain() {
    let r = record("e-stale", user("alice"), &role("Deplyo"), json!({}), None);
    let f = classify_with(&r, Some(inventory_at(false, "2026-11-15T00:00:00Z")));
    assert_eq!(f.cause_id, "role_not_found");
    assert_eq!(f.confidence, "likely");
    assert!(
        f.evidence.contains("44.5 days after the event"),
        "{}",
        f.evidence
    );
}

#[test]
fn an_account_the_inventory_does_not_describe_is_not_used() {
    let r = record(
        "e-other",
        user("alice"),
        "arn:aws:iam::210987654321:role/X",
        json!({}),
        None,
    );
    let mut inv = (*inventory(false)).clone();
    inv.accounts.remove(P);
    let f = classify_with(&r, Some(Arc::new(inv)));
    assert_eq!(f.cause_id, "cross_account_denied_ambiguous");
    assert!(!f.inventory_used);
}

#[test]
fn requestparameters_null_keeps_externalid_unknown() {
    let mut r = record(
        "e-null",
        user("alice"),
        &role("VendorAccess"),
        json!({}),
        None,
    );
    r["requestParameters"] = Value::Null;
    let f = classify_with(&r, Some(inventory(false)));
    // The role ARN comes from the message; whether an externalId was sent does not.
    assert_ne!(f.cause_id, "external_id_missing", "{}", f.evidence);
    assert!(f.inventory_used);
}

#[test]
fn url_encoded_trust_documents_load() {
    let inv = inventory(false);
    let acct = &inv.accounts[O];
    let r = &acct.roles[&role("Encoded")];
    assert!(r.trust.is_some());
    let rec = record("e-enc", user("alice"), &role("Encoded"), json!({}), None);
    let f = classify_with(&rec, Some(inv.clone()));
    assert!(
        f.evidence.contains("trust policy names the caller")
            || f.evidence.contains("not decidable"),
        "{}",
        f.evidence
    );
}

#[test]
fn role_lists_csv_and_list_roles() {
    let d = fixtures().join("lists");
    let inv = Inventory::load(
        &[d.join("roles.csv")],
        None,
        parse_time_ms("2026-10-01T00:00:00Z"),
    )
    .expect("csv");
    let a = &inv.accounts["777788889999"];
    assert!(a.roles_complete);
    assert_eq!(a.roles.len(), 2);
    let rec = record(
        "e-csv",
        user("alice"),
        "arn:aws:iam::777788889999:role/Billing",
        json!({}),
        None,
    );
    let f = classify_with(&rec, Some(Arc::new(inv)));
    check(
        &f,
        "role_not_found",
        "certain",
        &["team/Billing", "same name, different path"],
    );
    let inv =
        Inventory::load(&[d.join("list-roles-777788889999.json")], None, None).expect("list-roles");
    let r = &inv.accounts["777788889999"].roles["arn:aws:iam::777788889999:role/Reporting"];
    assert_eq!(r.max_session_duration, Some(3600));
    assert!(r.trust.is_some());
    assert!(
        inv.accounts["777788889999"].snapshot_ms.is_some(),
        "file mtime is the snapshot time"
    );
}

#[test]
fn errors_name_their_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("broken.json");
    std::fs::write(&bad, "{not json").expect("write");
    let e = Inventory::load(std::slice::from_ref(&bad), None, None).expect_err("bad JSON");
    assert!(e.to_string().contains("broken.json"), "{e}");
    let odd = dir.path().join("odd.json");
    std::fs::write(&odd, r#"{"Something":[]}"#).expect("write");
    let e = Inventory::load(&[odd], None, None).expect_err("unknown shape");
    assert!(e.to_string().contains("odd.json"), "{e}");
    let csv = dir.path().join("r.csv");
    std::fs::write(&csv, "111122223333,arn:aws:iam::444455556666:role/X\n").expect("write");
    let e = Inventory::load(&[csv], None, None).expect_err("account mismatch");
    assert!(
        e.to_string().contains("r.csv") && e.to_string().contains("line 1"),
        "{e}"
    );
    let org = dir.path().join("org");
    std::fs::create_dir(&org).expect("mkdir");
    std::fs::write(org.join("p-1.json"), r#"{"Policy":{"PolicySummary":{"Id":"p-1","Type":"SERVICE_CONTROL_POLICY"},"Content":"{oops"}}"#).expect("write");
    let e = Inventory::load(&[], Some(&org), None).expect_err("bad SCP");
    assert!(e.to_string().contains("p-1.json"), "{e}");
}

#[test]
fn ou_targets_without_the_tree_are_unknown() {
    let dir = tempfile::tempdir().expect("tempdir");
    for f in std::fs::read_dir(fixtures().join("org")).expect("org") {
        let p = f.expect("entry").path();
        if p.is_file() {
            std::fs::copy(&p, dir.path().join(p.file_name().expect("name"))).expect("copy");
        }
    }
    let d = fixtures();
    let inv = Inventory::load(
        &[d.join("iam")],
        Some(dir.path()),
        parse_time_ms("2026-10-02T00:00:00Z"),
    )
    .expect("loads");
    let mut r = record(
        "e-scp-notree",
        owner_user(),
        &role("Restricted-Admin"),
        json!({}),
        None,
    );
    r["recipientAccountId"] = json!(O);
    let f = classify_with(&r, Some(Arc::new(inv)));
    assert_ne!(
        f.cause_id, "scp_deny",
        "an OU target without parents/ must not apply: {}",
        f.evidence
    );
    assert!(f.evidence.contains("OU"), "{}", f.evidence);
}

#[test]
fn scps_never_apply_to_the_management_account() {
    let inv = inventory(true);
    let org = inv.org.as_ref().expect("org");
    assert_eq!(org.management_account.as_deref(), Some("777788889999"));
    let set = org.applicable(
        "777788889999",
        trailtriage::policy::org::OrgPolicyKind::Scp,
        false,
    );
    assert!(set.exempt.is_some() && set.applies.is_empty());
}

#[test]
fn explain_walks_the_checklist() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("log.json");
    let r = record(
        "e-explain",
        user("alice"),
        &role("VendorAccess"),
        json!({}),
        None,
    );
    std::fs::write(
        &log,
        serde_json::to_vec(&json!({"Records":[r]})).expect("json"),
    )
    .expect("write");
    let inv = inventory(false);
    let x = trailtriage::explain::explain(
        &[dir.path().to_path_buf()],
        "e-explain",
        Some(&inv),
        1 << 30,
    )
    .expect("found");
    let text = trailtriage::explain::render_text(&x);
    assert!(
        text.contains("[fail]    trust condition: ExternalId"),
        "{text}"
    );
    assert!(
        text.contains("[pass]    trust policy names the caller"),
        "{text}"
    );
    assert!(text.contains("[pass]    role exists"), "{text}");
    assert!(text.contains("cause        external_id_missing"), "{text}");
    assert!(text.contains("remediation"), "{text}");
    assert!(!text.contains(SECRET), "{text}");
    // Without inventory every policy item is unknown, never pass.
    let x = trailtriage::explain::explain(std::slice::from_ref(&log), "e-explain", None, 1 << 30)
        .expect("found");
    let text = trailtriage::explain::render_text(&x);
    assert!(text.contains("[unknown] role exists"), "{text}");
    assert!(text.contains("cross_account_denied_ambiguous"), "{text}");
    let e = trailtriage::explain::explain(&[log], "nope", None, 1 << 30).expect_err("absent");
    assert!(e.to_string().contains("nope"));
}

#[test]
fn report_says_when_only_the_role_owner_trail_is_read() {
    let saml = json!({"eventVersion":"1.08","userIdentity":{"type":"SAMLUser","principalId":"x","userName":"alice@example.com","identityProvider":"x"},
        "eventTime":EVENT_TIME,"eventSource":"sts.amazonaws.com","eventName":"AssumeRoleWithSAML","awsRegion":"us-east-1",
        "sourceIPAddress":"198.51.100.23","errorCode":"AccessDenied","errorMessage":"Not authorized to perform sts:AssumeRoleWithSAML",
        "requestParameters":{"roleArn":role("Deploy"),"principalArn":format!("arn:aws:iam::{O}:saml-provider/Okta")},
        "eventID":"e-saml","recipientAccountId":O});
    let f = classify_with(&saml, None);
    let s = trailtriage::sink::report::Summary::build(&[f], &trailtriage::Stats::default());
    assert!(
        s.notes
            .iter()
            .any(|n| n.contains("role owner's trail only")),
        "{:?}",
        s.notes
    );
    let caller_side = classify_with(
        &record("e-caller", user("alice"), &role("Deploy"), json!({}), None),
        None,
    );
    let s =
        trailtriage::sink::report::Summary::build(&[caller_side], &trailtriage::Stats::default());
    assert!(
        !s.notes
            .iter()
            .any(|n| n.contains("role owner's trail only")),
        "{:?}",
        s.notes
    );
}

// ------------------------------------------------------------- properties

fn arb_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("*".to_string()),
        Just("sts:AssumeRole".to_string()),
        Just("sts:*".to_string()),
        Just("s3:GetObject".to_string()),
        "[a-z]{1,6}".prop_map(|s| s),
    ]
}

fn arb_condition() -> impl Strategy<Value = Value> {
    let ops = prop_oneof![
        Just("StringEquals"),
        Just("StringNotEquals"),
        Just("StringLike"),
        Just("Bool"),
        Just("IpAddress"),
        Just("NotIpAddress"),
        Just("StringEqualsIfExists"),
        Just("Null"),
        Just("ForAnyValue:StringEquals"),
        Just("DateGreaterThan"),
    ];
    let keys = prop_oneof![
        Just("sts:ExternalId"),
        Just("aws:MultiFactorAuthPresent"),
        Just("aws:SourceIp"),
        Just("sts:RoleSessionName"),
        Just("aws:PrincipalTag/team"),
        Just("aws:CurrentTime"),
        Just("aws:PrincipalOrgID"),
    ];
    let vals = prop_oneof![
        Just("true"),
        Just("false"),
        Just("203.0.113.0/24"),
        Just("alice"),
        Just("2026-01-01T00:00:00Z"),
        Just("o-x"),
    ];
    (ops, keys, vals).prop_map(|(o, k, v)| json!({ o: { k: v } }))
}

fn arb_statement() -> impl Strategy<Value = Value> {
    (
        any::<bool>(),
        prop_oneof![
            Just(json!("*")),
            Just(json!({"AWS": "444455556666"})),
            Just(json!({"AWS": "arn:aws:iam::111122223333:root"})),
            Just(json!({"AWS": "arn:aws:iam::444455556666:user/alice"})),
            Just(json!({"Service": "ec2.amazonaws.com"})),
        ],
        arb_value(),
        proptest::option::of(arb_condition()),
    )
        .prop_map(|(allow, principal, action, cond)| {
            let mut s = json!({"Effect": if allow {"Allow"} else {"Deny"}, "Principal": principal, "Action": action});
            if let Some(c) = cond {
                s["Condition"] = c;
            }
            s
        })
}

fn arb_request() -> impl Strategy<Value = RequestContext> {
    (
        prop_oneof![Just(CtxValue::Absent), Just(CtxValue::PresentUnknown),],
        prop_oneof![Just("true"), Just("false")],
        prop_oneof![Just("203.0.113.9"), Just("198.51.100.1")],
        any::<bool>(),
    )
        .prop_map(|(ext, mfa, ip, tag_known)| {
            let who = RequestPrincipal {
                kind: PrincipalKind::Aws,
                arn: Some("arn:aws:iam::444455556666:user/alice".into()),
                account: Some("444455556666".into()),
                issuer_role_arn: None,
                principal_id: Some("AIDAALICE".into()),
            };
            let mut r =
                RequestContext::new("sts:AssumeRole", "arn:aws:iam::111122223333:role/R", who);
            r.set("sts:ExternalId", ext);
            r.set_str("aws:MultiFactorAuthPresent", mfa);
            r.set_str("aws:SourceIp", ip);
            r.set_str("sts:RoleSessionName", "alice");
            r.set_str("aws:CurrentTime", EVENT_TIME);
            if tag_known {
                r.set_str("aws:PrincipalTag/team", "payments");
            }
            r
        })
}

fn doc_of(stmts: &[Value]) -> PolicyDocument {
    PolicyDocument::from_value(
        &json!({"Version":"2012-10-17","Statement": stmts}),
        "proptest",
    )
    .expect("generated documents parse")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// An unconditional Deny that matches the request wins over anything.
    #[test]
    fn deny_always_wins(stmts in proptest::collection::vec(arb_statement(), 0..6), req in arb_request(), at in 0usize..6) {
        let mut s = stmts.clone();
        let at = at.min(s.len());
        s.insert(at, json!({"Effect":"Deny","Principal":"*","Action":"sts:*"}));
        prop_assert_eq!(evaluate(&doc_of(&s), &req), Decision::ExplicitDeny);
    }

    /// A statement about another action changes nothing, wherever it goes.
    #[test]
    fn unrelated_statement_changes_nothing(
        stmts in proptest::collection::vec(arb_statement(), 0..6),
        extra in arb_statement(),
        req in arb_request(),
        at in 0usize..6,
    ) {
        let before = evaluate(&doc_of(&stmts), &req);
        let mut unrelated = extra;
        unrelated["Action"] = json!("s3:PutObject");
        let mut s = stmts.clone();
        let at = at.min(s.len());
        s.insert(at, unrelated);
        prop_assert_eq!(evaluate(&doc_of(&s), &req), before);
    }

    /// Unknown never becomes Allow: learning a key's value can turn Unknown
    /// into anything, but an Allow with the key unknown stays an Allow.
    #[test]
    fn allow_with_unknowns_is_stable(stmts in proptest::collection::vec(arb_statement(), 0..6), req in arb_request()) {
        let d = doc_of(&stmts);
        if evaluate(&d, &req) == Decision::Allow {
            // `PresentUnknown` says a value was sent: only values consistent
            // with that may replace it (`Absent` would contradict the log,
            // and `Null: false` rightly flips on it).
            for ext in [CtxValue::Known(vec!["v".into()]), CtxValue::Known(vec!["other".into()])] {
                let mut r = req.clone();
                if r.get("sts:ExternalId") == Some(&CtxValue::PresentUnknown) {
                    r.set("sts:ExternalId", ext);
                    prop_assert_eq!(evaluate(&d, &r), Decision::Allow);
                }
            }
        }
    }
}

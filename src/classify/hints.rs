//! Step 6: request-shape hints (possible), only ever secondary causes, and
//! only for `eventName=AssumeRole` AccessDenied records.

use super::Verdict;
use crate::event::Event;
use crate::norm::Norm;

pub(super) fn add_hints(e: &Event<'_>, n: &Norm<'_>, v: &mut Verdict) {
    if e.event_name != Some("AssumeRole") {
        return;
    }
    let mut notes = Vec::new();
    if n.cross_account == Some(true) {
        if e.external_id_present {
            v.add_secondary("external_id_mismatch");
            notes.push("cross-account request with an externalId (value not shown)");
        } else {
            v.add_secondary("external_id_missing");
            notes.push("cross-account request without externalId");
        }
    }
    let long_term_key = e.caller.kind == Some("IAMUser")
        && e.caller
            .access_key_id
            .is_some_and(|k| k.starts_with("AKIA"));
    if !e.mfa_serial_present && (e.caller.mfa_authenticated == Some(false) || long_term_key) {
        v.add_secondary("mfa_required_not_provided");
        notes.push(if long_term_key {
            "no serialNumber, caller uses a long-term AKIA key"
        } else {
            "no serialNumber, caller session not MFA-authenticated"
        });
    }
    if e.is_chained() {
        v.add_secondary("role_chaining_wrong_principal");
        notes.push("chained call from an assumed-role session");
    }
    if !notes.is_empty() {
        v.evidence.push_str("; request-shape hints (possible): ");
        v.evidence.push_str(&notes.join(", "));
    }
}

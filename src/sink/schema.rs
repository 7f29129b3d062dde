//! THE output schema (causes.md §7). Parquet and JSON Lines both carry exactly
//! these columns, in this order. Changing it bumps `SCHEMA_VERSION` and
//! updates `queries/` and the docs in the same commit.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, TimeUnit};

/// Version of the output schema, written into Parquet metadata.
pub const SCHEMA_VERSION: &str = "1";

fn dict(k: DataType) -> DataType {
    DataType::Dictionary(Box::new(k), Box::new(DataType::Utf8))
}

fn list_utf8() -> DataType {
    DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))
}

/// The Arrow schema of one finding row.
pub fn schema() -> Schema {
    use DataType::*;
    let d8 = || dict(Int8);
    let d16 = || dict(Int16);
    let f = Field::new;
    Schema::new(vec![
        f(
            "event_time",
            Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            true,
        ),
        f("event_id", Utf8, false),
        f("request_id", Utf8, true),
        f("shared_event_id", Utf8, true),
        f("event_version", Utf8, true),
        f("event_source", d16(), false),
        f("event_name", d16(), false),
        f("event_type", d8(), true),
        f("aws_region", d16(), true),
        f("endpoint_type", d8(), true),
        f("serving_region", Utf8, true),
        f("recipient_account_id", Utf8, true),
        f("caller_account_id", Utf8, true),
        f("caller_type", d8(), false),
        f("caller_arn", Utf8, true),
        f("caller_session_issuer_arn", Utf8, true),
        f("principal_id", Utf8, true),
        f("access_key_id", Utf8, true),
        f("source_ip", Utf8, true),
        f("user_agent", Utf8, true),
        f("vpc_endpoint_id", Utf8, true),
        f("target_role_arn", Utf8, true),
        f("role_arn_source", d8(), false),
        f("role_account_id", Utf8, true),
        f("role_partition", d8(), true),
        f("cross_account", Boolean, true),
        f("is_chained", Boolean, false),
        f("role_session_name", Utf8, true),
        f("source_identity", Utf8, true),
        f("inherited_source_identity", Utf8, true),
        f("external_id_present", Boolean, false),
        f("mfa_serial_present", Boolean, false),
        f("caller_mfa_authenticated", Boolean, true),
        f("duration_seconds", Int32, true),
        f("session_tag_count", Int16, true),
        f("session_policy_present", Boolean, false),
        f("error_code", Utf8, true),
        f("error_code_normalized", d16(), true),
        f("error_message", Utf8, true),
        f("message_truncated", Boolean, false),
        f("denied_policy_type", d8(), true),
        f("cause_id", d16(), false),
        f("confidence", d8(), false),
        f("secondary_causes", list_utf8(), false),
        f("severity", d8(), false),
        f("evidence", Utf8, false),
        f("remediation", Utf8, false),
        f("needs_input", list_utf8(), false),
        f("inventory_used", Boolean, false),
        f("trail_perspective", d8(), false),
        f("source_file", Utf8, false),
        f("source_line", Int64, true),
    ])
}

/// Column names in order.
pub fn column_names() -> Vec<String> {
    schema().fields().iter().map(|f| f.name().clone()).collect()
}

//! Parquet output (zstd, dictionary-encoded low-cardinality columns, UTC
//! timestamps, tool and schema version in the key-value metadata), written
//! atomically; and reading it back (round trips, `report` over Parquet).

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, BooleanBuilder, DictionaryArray, Int16Array, Int16Builder,
    Int32Array, Int32Builder, Int64Array, Int64Builder, ListArray, ListBuilder, PrimitiveBuilder,
    StringArray, StringBuilder, StringDictionaryBuilder, TimestampMillisecondArray,
    TimestampMillisecondBuilder,
};
use arrow::datatypes::{ArrowPrimitiveType, Int8Type, Int16Type};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use super::schema::{SCHEMA_VERSION, schema};
use crate::error::Error;
use crate::finding::Finding;

/// Rows per row group: large enough for query engines, small enough to stream.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;

fn perr(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Parquet {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// How many values and how many bytes of text `it` yields: builders sized
/// once do not grow by doubling and copying (about 7 MB of text for the
/// 4,066 corpus findings).
fn text_size<'a>(it: impl Iterator<Item = Option<&'a str>>) -> (usize, usize) {
    it.fold((0, 0), |(n, b), v| (n + 1, b + v.map_or(0, str::len)))
}

fn utf8<'a>(it: impl Iterator<Item = Option<&'a str>> + Clone) -> ArrayRef {
    let (n, bytes) = text_size(it.clone());
    let mut b = StringBuilder::with_capacity(n, bytes);
    for v in it {
        b.append_option(v);
    }
    Arc::new(b.finish())
}

fn dict<'a, K: arrow::datatypes::ArrowDictionaryKeyType>(
    it: impl Iterator<Item = Option<&'a str>> + Clone,
) -> ArrayRef {
    // The distinct values are fewer; room for all of them costs address
    // space, not memory (pages never written are never touched).
    let (n, bytes) = text_size(it.clone());
    let mut b = StringDictionaryBuilder::<K>::with_capacity(n, n.min(1024), bytes);
    for v in it {
        match v {
            // More distinct values than the key type holds cannot happen for
            // these columns; a hostile log could try, so fall back to null
            // rather than panic.
            Some(s) => {
                if b.append(s).is_err() {
                    b.append_null();
                }
            }
            None => b.append_null(),
        }
    }
    Arc::new(b.finish())
}

fn d8<'a>(it: impl Iterator<Item = Option<&'a str>> + Clone) -> ArrayRef {
    dict::<Int8Type>(it)
}

fn d16<'a>(it: impl Iterator<Item = Option<&'a str>> + Clone) -> ArrayRef {
    dict::<Int16Type>(it)
}

fn boolean(it: impl Iterator<Item = Option<bool>>) -> ArrayRef {
    let mut b = BooleanBuilder::new();
    for v in it {
        b.append_option(v);
    }
    Arc::new(b.finish())
}

fn list<'a>(it: impl Iterator<Item = &'a [String]> + Clone) -> ArrayRef {
    let n = it.clone().count();
    let (items, bytes) = text_size(it.clone().flatten().map(|v| Some(v.as_str())));
    let mut b = ListBuilder::with_capacity(StringBuilder::with_capacity(items, bytes), n);
    for v in it {
        for s in v {
            b.values().append_value(s);
        }
        b.append(true);
    }
    Arc::new(b.finish())
}

/// A column of numbers (or times) from findings.
fn numbers<T: ArrowPrimitiveType>(
    mut b: PrimitiveBuilder<T>,
    rows: &[Finding],
    f: fn(&Finding) -> Option<T::Native>,
) -> ArrayRef {
    rows.iter().for_each(|r| b.append_option(f(r)));
    Arc::new(b.finish())
}

/// A column of the output: builds its Arrow array from findings.
type ColumnFn = fn(&[Finding]) -> ArrayRef;

fn s<'a>(
    rows: &'a [Finding],
    f: fn(&'a Finding) -> Option<&'a str>,
) -> impl Iterator<Item = Option<&'a str>> + Clone + 'a {
    rows.iter().map(f)
}

/// One builder per column of [`schema`], in schema order.
const COLUMNS: &[ColumnFn] = &[
    |rows| {
        numbers(
            TimestampMillisecondBuilder::new().with_timezone("UTC"),
            rows,
            |r| r.event_time,
        )
    },
    |rows| utf8(s(rows, |r| Some(&r.event_id))),
    |rows| utf8(s(rows, |r| r.request_id.as_deref())),
    |rows| utf8(s(rows, |r| r.shared_event_id.as_deref())),
    |rows| utf8(s(rows, |r| r.event_version.as_deref())),
    |rows| d16(s(rows, |r| Some(&r.event_source))),
    |rows| d16(s(rows, |r| Some(&r.event_name))),
    |rows| d8(s(rows, |r| r.event_type.as_deref())),
    |rows| d16(s(rows, |r| r.aws_region.as_deref())),
    |rows| d8(s(rows, |r| r.endpoint_type.as_deref())),
    |rows| utf8(s(rows, |r| r.serving_region.as_deref())),
    |rows| utf8(s(rows, |r| r.recipient_account_id.as_deref())),
    |rows| utf8(s(rows, |r| r.caller_account_id.as_deref())),
    |rows| d8(s(rows, |r| Some(&r.caller_type))),
    |rows| utf8(s(rows, |r| r.caller_arn.as_deref())),
    |rows| utf8(s(rows, |r| r.caller_session_issuer_arn.as_deref())),
    |rows| utf8(s(rows, |r| r.principal_id.as_deref())),
    |rows| utf8(s(rows, |r| r.access_key_id.as_deref())),
    |rows| utf8(s(rows, |r| r.source_ip.as_deref())),
    |rows| utf8(s(rows, |r| r.user_agent.as_deref())),
    |rows| utf8(s(rows, |r| r.vpc_endpoint_id.as_deref())),
    |rows| utf8(s(rows, |r| r.target_role_arn.as_deref())),
    |rows| d8(s(rows, |r| Some(&r.role_arn_source))),
    |rows| utf8(s(rows, |r| r.role_account_id.as_deref())),
    |rows| d8(s(rows, |r| r.role_partition.as_deref())),
    |rows| boolean(rows.iter().map(|r| r.cross_account)),
    |rows| boolean(rows.iter().map(|r| Some(r.is_chained))),
    |rows| utf8(s(rows, |r| r.role_session_name.as_deref())),
    |rows| utf8(s(rows, |r| r.source_identity.as_deref())),
    |rows| utf8(s(rows, |r| r.inherited_source_identity.as_deref())),
    |rows| boolean(rows.iter().map(|r| Some(r.external_id_present))),
    |rows| boolean(rows.iter().map(|r| Some(r.mfa_serial_present))),
    |rows| boolean(rows.iter().map(|r| r.caller_mfa_authenticated)),
    |rows| numbers(Int32Builder::new(), rows, |r| r.duration_seconds),
    |rows| numbers(Int16Builder::new(), rows, |r| r.session_tag_count),
    |rows| boolean(rows.iter().map(|r| Some(r.session_policy_present))),
    |rows| utf8(s(rows, |r| r.error_code.as_deref())),
    |rows| d16(s(rows, |r| r.error_code_normalized.as_deref())),
    |rows| utf8(s(rows, |r| r.error_message.as_deref())),
    |rows| boolean(rows.iter().map(|r| Some(r.message_truncated))),
    |rows| d8(s(rows, |r| r.denied_policy_type.as_deref())),
    |rows| d16(s(rows, |r| Some(&r.cause_id))),
    |rows| d8(s(rows, |r| Some(&r.confidence))),
    |rows| list(rows.iter().map(|r| r.secondary_causes.as_slice())),
    |rows| d8(s(rows, |r| Some(&r.severity))),
    |rows| utf8(s(rows, |r| Some(&r.evidence))),
    |rows| utf8(s(rows, |r| Some(&r.remediation))),
    |rows| list(rows.iter().map(|r| r.needs_input.as_slice())),
    |rows| boolean(rows.iter().map(|r| Some(r.inventory_used))),
    |rows| d8(s(rows, |r| Some(&r.trail_perspective))),
    |rows| utf8(s(rows, |r| Some(&r.source_file))),
    |rows| numbers(Int64Builder::new(), rows, |r| r.source_line),
];

/// Build one Arrow record batch from findings.
pub fn to_record_batch(rows: &[Finding]) -> Result<RecordBatch, arrow::error::ArrowError> {
    let cols: Vec<ArrayRef> = COLUMNS.iter().map(|c| c(rows)).collect();
    RecordBatch::try_new(Arc::new(schema()), cols)
}

/// Writer properties shared by single-file and partitioned output.
pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).unwrap_or_default()))
        .set_dictionary_enabled(true)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_created_by(format!("trailtriage {}", env!("CARGO_PKG_VERSION")))
        .set_key_value_metadata(Some(vec![
            KeyValue::new(
                "trailtriage.version".into(),
                env!("CARGO_PKG_VERSION").to_string(),
            ),
            KeyValue::new(
                "trailtriage.schema_version".into(),
                SCHEMA_VERSION.to_string(),
            ),
        ]))
        .build()
}

/// Write findings to `w` as Parquet.
///
/// Each row group's columns are built and encoded (dictionary, zstd) in
/// parallel on the current rayon pool, then appended in schema order: the
/// bytes are the same as a one-thread write.
pub fn write_to<W: std::io::Write + Send>(w: W, rows: &[Finding]) -> Result<(), String> {
    use parquet::arrow::arrow_writer::{ArrowColumnChunk, compute_leaves};
    use rayon::prelude::*;
    let schema = Arc::new(schema());
    let writer = ArrowWriter::try_new(w, Arc::clone(&schema), Some(writer_properties()))
        .map_err(|e| e.to_string())?;
    let (mut file, factory) = writer.into_serialized_writer().map_err(|e| e.to_string())?;
    for (rg, chunk) in rows.chunks(ROW_GROUP_ROWS).enumerate() {
        let writers = factory
            .create_column_writers(rg)
            .map_err(|e| e.to_string())?;
        if writers.len() != COLUMNS.len() {
            return Err(format!(
                "{} column writers for {} columns",
                writers.len(),
                COLUMNS.len()
            ));
        }
        let encoded: Vec<Result<ArrowColumnChunk, String>> = writers
            .into_par_iter()
            .zip(COLUMNS.par_iter().zip(schema.fields().par_iter()))
            .map(|(mut writer, (build, field))| {
                let array = build(chunk);
                // Every column is flat (a list of text is one leaf too).
                for leaf in compute_leaves(field, &array).map_err(|e| e.to_string())? {
                    writer.write(&leaf).map_err(|e| e.to_string())?;
                }
                writer.close().map_err(|e| e.to_string())
            })
            .collect();
        let mut group = file.next_row_group().map_err(|e| e.to_string())?;
        for c in encoded {
            c?.append_to_row_group(&mut group)
                .map_err(|e| e.to_string())?;
        }
        group.close().map_err(|e| e.to_string())?;
    }
    file.close().map_err(|e| e.to_string())?;
    Ok(())
}

/// Write findings to a Parquet file atomically (temporary name, then rename).
pub fn write_file(path: &Path, rows: &[Finding]) -> Result<(), Error> {
    let mut inner: Option<String> = None;
    let res = super::atomic::write_atomic(path, |w| {
        write_to(w, rows).map_err(|e| {
            inner = Some(e.clone());
            std::io::Error::other(e)
        })
    });
    match (res, inner) {
        (Err(_), Some(e)) => Err(perr(path, e)),
        (r, _) => r,
    }
}

fn col<'a, T: 'static>(b: &'a RecordBatch, name: &str) -> Result<&'a T, String> {
    b.column_by_name(name)
        .ok_or_else(|| format!("column {name} missing"))?
        .as_any()
        .downcast_ref::<T>()
        .ok_or_else(|| format!("column {name} has an unexpected type"))
}

fn dict_str(b: &RecordBatch, name: &str) -> Result<Vec<Option<String>>, String> {
    let a = b
        .column_by_name(name)
        .ok_or_else(|| format!("column {name} missing"))?;
    let cast =
        arrow::compute::cast(a, &arrow::datatypes::DataType::Utf8).map_err(|e| e.to_string())?;
    let s = cast
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| format!("column {name} is not text"))?;
    Ok((0..s.len())
        .map(|i| (!s.is_null(i)).then(|| s.value(i).to_string()))
        .collect())
}

fn strs(b: &RecordBatch, name: &str) -> Result<Vec<Option<String>>, String> {
    dict_str(b, name)
}

fn bools(b: &RecordBatch, name: &str) -> Result<Vec<Option<bool>>, String> {
    let a = col::<BooleanArray>(b, name)?;
    Ok((0..a.len())
        .map(|i| (!a.is_null(i)).then(|| a.value(i)))
        .collect())
}

fn lists(b: &RecordBatch, name: &str) -> Result<Vec<Vec<String>>, String> {
    let a = col::<ListArray>(b, name)?;
    let mut out = Vec::with_capacity(a.len());
    for i in 0..a.len() {
        let v = a.value(i);
        let s = v
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or_else(|| format!("column {name} items are not text"))?;
        out.push((0..s.len()).map(|j| s.value(j).to_string()).collect());
    }
    Ok(out)
}

/// Convert a record batch of the trailtriage schema back to findings.
pub fn from_record_batch(b: &RecordBatch) -> Result<Vec<Finding>, String> {
    let _unused: Option<&DictionaryArray<Int8Type>> = None;
    let n = b.num_rows();
    let t = col::<TimestampMillisecondArray>(b, "event_time")?;
    let dur = col::<Int32Array>(b, "duration_seconds")?;
    let tags = col::<Int16Array>(b, "session_tag_count")?;
    let line = col::<Int64Array>(b, "source_line")?;
    macro_rules! s {
        ($($name:ident),*) => { $( let $name = strs(b, stringify!($name))?; )* };
    }
    s!(
        event_id,
        request_id,
        shared_event_id,
        event_version,
        event_source,
        event_name,
        event_type,
        aws_region,
        endpoint_type,
        serving_region,
        recipient_account_id,
        caller_account_id,
        caller_type,
        caller_arn,
        caller_session_issuer_arn,
        principal_id,
        access_key_id,
        source_ip,
        user_agent,
        vpc_endpoint_id,
        target_role_arn,
        role_arn_source,
        role_account_id,
        role_partition,
        role_session_name,
        source_identity,
        inherited_source_identity,
        error_code,
        error_code_normalized,
        error_message,
        denied_policy_type,
        cause_id,
        confidence,
        severity,
        evidence,
        remediation,
        trail_perspective,
        source_file
    );
    macro_rules! bl {
        ($($name:ident),*) => { $( let $name = bools(b, stringify!($name))?; )* };
    }
    bl!(
        cross_account,
        is_chained,
        external_id_present,
        mfa_serial_present,
        caller_mfa_authenticated,
        session_policy_present,
        message_truncated,
        inventory_used
    );
    let secondary_causes = lists(b, "secondary_causes")?;
    let needs_input = lists(b, "needs_input")?;
    let req = |v: &Option<String>| v.clone().unwrap_or_default();
    let flag = |v: Option<bool>| v.unwrap_or(false);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        out.push(Finding {
            event_time: (!t.is_null(i)).then(|| t.value(i)),
            event_id: req(&event_id[i]),
            request_id: request_id[i].clone(),
            shared_event_id: shared_event_id[i].clone(),
            event_version: event_version[i].clone(),
            event_source: req(&event_source[i]),
            event_name: req(&event_name[i]),
            event_type: event_type[i].clone(),
            aws_region: aws_region[i].clone(),
            endpoint_type: endpoint_type[i].clone(),
            serving_region: serving_region[i].clone(),
            recipient_account_id: recipient_account_id[i].clone(),
            caller_account_id: caller_account_id[i].clone(),
            caller_type: req(&caller_type[i]),
            caller_arn: caller_arn[i].clone(),
            caller_session_issuer_arn: caller_session_issuer_arn[i].clone(),
            principal_id: principal_id[i].clone(),
            access_key_id: access_key_id[i].clone(),
            source_ip: source_ip[i].clone(),
            user_agent: user_agent[i].clone(),
            vpc_endpoint_id: vpc_endpoint_id[i].clone(),
            target_role_arn: target_role_arn[i].clone(),
            role_arn_source: req(&role_arn_source[i]),
            role_account_id: role_account_id[i].clone(),
            role_partition: role_partition[i].clone(),
            cross_account: cross_account[i],
            is_chained: flag(is_chained[i]),
            role_session_name: role_session_name[i].clone(),
            source_identity: source_identity[i].clone(),
            inherited_source_identity: inherited_source_identity[i].clone(),
            external_id_present: flag(external_id_present[i]),
            mfa_serial_present: flag(mfa_serial_present[i]),
            caller_mfa_authenticated: caller_mfa_authenticated[i],
            duration_seconds: (!dur.is_null(i)).then(|| dur.value(i)),
            session_tag_count: (!tags.is_null(i)).then(|| tags.value(i)),
            session_policy_present: flag(session_policy_present[i]),
            error_code: error_code[i].clone(),
            error_code_normalized: error_code_normalized[i].clone(),
            error_message: error_message[i].clone(),
            message_truncated: flag(message_truncated[i]),
            denied_policy_type: denied_policy_type[i].clone(),
            cause_id: req(&cause_id[i]),
            confidence: req(&confidence[i]),
            secondary_causes: secondary_causes[i].clone(),
            severity: req(&severity[i]),
            evidence: req(&evidence[i]),
            remediation: req(&remediation[i]),
            needs_input: needs_input[i].clone(),
            inventory_used: flag(inventory_used[i]),
            trail_perspective: req(&trail_perspective[i]),
            source_file: req(&source_file[i]),
            source_line: (!line.is_null(i)).then(|| line.value(i)),
        });
    }
    Ok(out)
}

/// Read a Parquet file written by trailtriage back into findings.
pub fn read_file(path: &Path) -> Result<Vec<Finding>, Error> {
    let file = File::open(path).map_err(|e| perr(path, e))?;
    read_from(path, file)
}

/// Read Parquet written by trailtriage from any chunk reader (a file, bytes
/// in memory); `path` names it in errors.
pub fn read_from<R: parquet::file::reader::ChunkReader + 'static>(
    path: &Path,
    data: R,
) -> Result<Vec<Finding>, Error> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(data)
        .map_err(|e| perr(path, e))?
        .build()
        .map_err(|e| perr(path, e))?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| perr(path, e))?;
        out.extend(from_record_batch(&batch).map_err(|e| perr(path, e))?);
    }
    Ok(out)
}

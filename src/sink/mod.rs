//! Output sinks. The schema has one home (`schema`); every format writes the
//! same rows.

pub mod atomic;
pub mod dataset;
pub mod jsonl;
pub mod parquet;
pub mod report;
#[cfg(feature = "aws")]
pub mod s3;
pub mod schema;

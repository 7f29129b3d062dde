//! Error types of the library. Every error names the object it concerns.

use std::path::PathBuf;

/// Why one input object (a file, an S3 object, stdin) could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("failed to read {name}: {source}")]
    Io {
        name: String,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to gunzip {name}: {reason}")]
    Gzip { name: String, reason: String },
    #[error(
        "refusing to inflate {name}: decompressed size exceeds the limit of {limit} bytes (possible decompression bomb; raise --max-decompressed-size if the file is genuine)"
    )]
    TooLarge { name: String, limit: u64 },
    #[error("{name} is not a CloudTrail log: {reason}")]
    NotCloudTrail { name: String, reason: String },
    #[error("malformed JSON in {name} at byte {offset}: {reason}")]
    Malformed {
        name: String,
        offset: usize,
        reason: String,
    },
}

impl InputError {
    /// The reason alone, without the object's name (for reports that list the
    /// name in a column of its own).
    pub fn reason(&self) -> String {
        match self {
            InputError::Io { source, .. } => format!("cannot read: {source}"),
            InputError::Gzip { reason, .. } => format!("failed to gunzip: {reason}"),
            InputError::TooLarge { limit, .. } => format!(
                "decompressed size exceeds the limit of {limit} bytes (possible decompression bomb; raise --max-decompressed-size if the file is genuine)"
            ),
            InputError::NotCloudTrail { reason, .. } => format!("not a CloudTrail log: {reason}"),
            InputError::Malformed { offset, reason, .. } => {
                format!("malformed JSON at byte {offset}: {reason}")
            }
        }
    }
}

/// Fatal errors: the run cannot go on (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write Parquet to {path}: {reason}")]
    Parquet { path: PathBuf, reason: String },
    #[error("{0}")]
    Source(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

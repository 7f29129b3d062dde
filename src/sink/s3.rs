//! Writing to S3: the state document of `--state s3://bucket/key` and the
//! files of `--parquet-dir s3://bucket/prefix`.
//!
//! Blocking calls over the async SDK (a small runtime of its own), so the
//! state protocol and the dataset writer stay sequential code.
//!
//! - A whole document is one PutObject: S3 replaces an object atomically, so
//!   readers see the old or the new document, never a mix. [`PutIf`] makes
//!   the write conditional (`If-None-Match: *` for a new object, `If-Match:
//!   ETAG` for one read earlier) so a concurrent writer is detected instead of
//!   overwritten: S3 answers 412 PreconditionFailed ([`StoreError::Conflict`]).
//! - A file produced by a writer goes up through [`S3Store::upload`]: kept in
//!   memory while it is at most one part (default
//!   [`DEFAULT_PART_SIZE`]), then one PutObject; larger, a multipart upload
//!   (CreateMultipartUpload, UploadPart per part as the writer produces it,
//!   CompleteMultipartUpload). Either way the object appears under its key
//!   only once complete. On any error the multipart upload is aborted
//!   (AbortMultipartUpload); a process killed mid-upload leaves an incomplete
//!   upload that is invisible under the key and that a bucket lifecycle rule
//!   (`AbortIncompleteMultipartUpload`) removes.
//!
//! The part size can be changed with the environment variable
//! `TRAILTRIAGE_S3_PART_SIZE` (bytes; a test knob: release builds never go
//! below S3's 5 MiB minimum part size).

use std::io::Write;
use std::sync::Mutex;

use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use crate::source::keys::S3Url;
use crate::source::{AwsOptions, describe_sdk_error};

/// Environment variable overriding the part size (and single-upload limit).
pub const PART_SIZE_ENV: &str = "TRAILTRIAGE_S3_PART_SIZE";
/// Files up to this size are one PutObject; larger ones go up in parts of it.
pub const DEFAULT_PART_SIZE: usize = 16 << 20;
/// S3's smallest part (except the last).
const MIN_PART_SIZE: usize = 5 << 20;

/// Why a write to S3 failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot start the async runtime for S3 writes: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("{name}: {op} failed: {reason}")]
    Request {
        name: String,
        op: &'static str,
        reason: String,
    },
    #[error(
        "{name}: the object changed since this run read it ({reason}): another process is writing it; one process per state at a time"
    )]
    Conflict { name: String, reason: String },
    #[error("{name}: {reason}")]
    Writer { name: String, reason: String },
}

impl StoreError {
    /// The message without the object's name (for errors that name it).
    pub fn reason(&self) -> String {
        match self {
            StoreError::Request { op, reason, .. } => format!("{op} failed: {reason}"),
            StoreError::Conflict { reason, .. } => format!(
                "the object changed since this run read it ({reason}): another process is writing it"
            ),
            StoreError::Writer { reason, .. } => reason.clone(),
            StoreError::Runtime(e) => e.to_string(),
        }
    }
}

/// The condition of a PutObject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutIf {
    /// Unconditional.
    Always,
    /// Only if no object exists under the key (`If-None-Match: *`).
    Absent,
    /// Only if the object still has this ETag (`If-Match`).
    Matches(String),
}

/// What the store did, for notes and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreCounts {
    pub gets: u64,
    pub puts: u64,
    pub multipart_uploads: u64,
    pub parts: u64,
    pub completed: u64,
    pub aborted: u64,
    pub deletes: u64,
    pub lists: u64,
}

/// An object's bytes and its ETag.
pub type Fetched = (Vec<u8>, Option<String>);

/// A blocking S3 client for writes (and the few reads they need).
pub struct S3Store {
    rt: tokio::runtime::Runtime,
    client: Client,
    part_size: usize,
    counts: Mutex<StoreCounts>,
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Store")
            .field("part_size", &self.part_size)
            .finish_non_exhaustive()
    }
}

fn part_size_from_env() -> usize {
    let v = std::env::var(PART_SIZE_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok());
    match v {
        Some(n) if cfg!(debug_assertions) => n.max(1),
        Some(n) => n.max(MIN_PART_SIZE),
        None => DEFAULT_PART_SIZE,
    }
}

fn is_precondition_failure(code: Option<&str>) -> bool {
    matches!(
        code,
        Some("PreconditionFailed" | "ConditionalRequestConflict")
    )
}

impl S3Store {
    /// A store with these connection settings (the same as the S3 source's).
    pub fn new(aws: &AwsOptions) -> Result<S3Store, StoreError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(StoreError::Runtime)?;
        let client = rt.block_on(crate::source::s3_client(aws));
        Ok(S3Store {
            rt,
            client,
            part_size: part_size_from_env(),
            counts: Mutex::new(StoreCounts::default()),
        })
    }

    /// Bytes above which [`S3Store::upload`] switches to a multipart upload.
    pub fn part_size(&self) -> usize {
        self.part_size
    }

    /// What the store did so far.
    pub fn counts(&self) -> StoreCounts {
        self.counts.lock().map(|c| c.clone()).unwrap_or_default()
    }

    fn count(&self, f: impl FnOnce(&mut StoreCounts)) {
        if let Ok(mut c) = self.counts.lock() {
            f(&mut c);
        }
    }

    /// The object and its ETag; `None` when there is no such key.
    pub fn get(&self, bucket: &str, key: &str) -> Result<Option<Fetched>, StoreError> {
        let name = format!("s3://{bucket}/{key}");
        self.count(|c| c.gets += 1);
        self.rt.block_on(async {
            let out = match self
                .client
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
            {
                Ok(o) => o,
                Err(e) => {
                    if e.as_service_error().is_some_and(|s| s.is_no_such_key()) {
                        return Ok(None);
                    }
                    let (_, reason) = describe_sdk_error(&e);
                    return Err(StoreError::Request {
                        name,
                        op: "GetObject",
                        reason,
                    });
                }
            };
            let etag = out.e_tag().map(str::to_string);
            let body = out.body.collect().await.map_err(|e| StoreError::Request {
                name: name.clone(),
                op: "GetObject",
                reason: format!("reading the body: {e}"),
            })?;
            Ok(Some((body.into_bytes().to_vec(), etag)))
        })
    }

    /// Download a Parquet file written by trailtriage and read its rows;
    /// returns them and the object's size.
    pub fn read_parquet(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<(Vec<crate::finding::Finding>, u64), String> {
        let name = format!("s3://{bucket}/{key}");
        self.count(|c| c.gets += 1);
        let data = self.rt.block_on(async {
            let out = self
                .client
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| format!("cannot download: {}", describe_sdk_error(&e).1))?;
            out.body
                .collect()
                .await
                .map(|b| b.into_bytes())
                .map_err(|e| format!("cannot download: {e}"))
        })?;
        let size = data.len() as u64;
        let rows = crate::sink::parquet::read_from(std::path::Path::new(&name), data).map_err(
            |e| match e {
                crate::error::Error::Parquet { reason, .. } => {
                    format!("not a trailtriage Parquet file: {reason}")
                }
                other => other.to_string(),
            },
        )?;
        Ok((rows, size))
    }

    /// Put a whole object, atomically; returns its new ETag.
    pub fn put(
        &self,
        bucket: &str,
        key: &str,
        bytes: Vec<u8>,
        cond: &PutIf,
    ) -> Result<Option<String>, StoreError> {
        let name = format!("s3://{bucket}/{key}");
        self.count(|c| c.puts += 1);
        self.rt.block_on(async {
            let mut req = self
                .client
                .put_object()
                .bucket(bucket)
                .key(key)
                .body(ByteStream::from(bytes));
            match cond {
                PutIf::Always => {}
                PutIf::Absent => req = req.if_none_match("*"),
                PutIf::Matches(etag) => req = req.if_match(etag),
            }
            match req.send().await {
                Ok(o) => Ok(o.e_tag().map(str::to_string)),
                Err(e) => {
                    let (code, reason) = describe_sdk_error(&e);
                    if is_precondition_failure(code.as_deref()) {
                        Err(StoreError::Conflict { name, reason })
                    } else {
                        Err(StoreError::Request {
                            name,
                            op: "PutObject",
                            reason,
                        })
                    }
                }
            }
        })
    }

    /// Delete an object (no error when it does not exist).
    pub fn delete(&self, bucket: &str, key: &str) -> Result<(), StoreError> {
        self.count(|c| c.deletes += 1);
        self.rt.block_on(async {
            self.client
                .delete_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| StoreError::Request {
                    name: format!("s3://{bucket}/{key}"),
                    op: "DeleteObject",
                    reason: describe_sdk_error(&e).1,
                })
        })
    }

    /// Every key under a prefix, with its size.
    pub fn list(&self, url: &S3Url) -> Result<Vec<(String, u64)>, StoreError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            self.count(|c| c.lists += 1);
            let page = self.rt.block_on(async {
                self.client
                    .list_objects_v2()
                    .bucket(&url.bucket)
                    .prefix(&url.prefix)
                    .set_continuation_token(token.take())
                    .send()
                    .await
                    .map_err(|e| StoreError::Request {
                        name: url.to_string(),
                        op: "ListObjectsV2",
                        reason: describe_sdk_error(&e).1,
                    })
            })?;
            for o in page.contents() {
                if let Some(k) = o.key() {
                    let size = o.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0);
                    out.push((k.to_string(), size));
                }
            }
            match page.next_continuation_token() {
                Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_string()),
                _ => break,
            }
        }
        Ok(out)
    }

    /// Upload what `write` produces under `key`; the object appears only
    /// once complete (see the module documentation). Returns how it went up.
    pub fn upload(
        &self,
        bucket: &str,
        key: &str,
        write: impl FnOnce(&mut Upload<'_>) -> Result<(), String>,
    ) -> Result<UploadKind, StoreError> {
        let mut up = Upload {
            store: self,
            bucket,
            key,
            buf: Vec::new(),
            multipart: None,
            error: None,
        };
        let res = match write(&mut up) {
            Ok(()) => up.finish(),
            Err(reason) => Err(up.error.take().unwrap_or_else(|| StoreError::Writer {
                name: up.name(),
                reason,
            })),
        };
        if res.is_err() {
            up.abort();
        }
        res
    }
}

/// How a file went up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadKind {
    /// One PutObject of this many bytes.
    Single(u64),
    /// A multipart upload of this many parts and bytes.
    Multipart { parts: u64, bytes: u64 },
}

/// The writer of [`S3Store::upload`].
pub struct Upload<'a> {
    store: &'a S3Store,
    bucket: &'a str,
    key: &'a str,
    buf: Vec<u8>,
    multipart: Option<(String, Vec<CompletedPart>, u64)>,
    error: Option<StoreError>,
}

impl Upload<'_> {
    fn name(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    fn request_error<E, R>(
        &self,
        op: &'static str,
        e: &aws_sdk_s3::error::SdkError<E, R>,
    ) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + 'static,
    {
        StoreError::Request {
            name: self.name(),
            op,
            reason: describe_sdk_error(e).1,
        }
    }

    /// Send the first `n` buffered bytes as the next part (starting the
    /// multipart upload if needed).
    fn send_part(&mut self, n: usize) -> Result<(), StoreError> {
        let s = self.store;
        if self.multipart.is_none() {
            let out = s.rt.block_on(
                s.client
                    .create_multipart_upload()
                    .bucket(self.bucket)
                    .key(self.key)
                    .send(),
            );
            let out = out.map_err(|e| self.request_error("CreateMultipartUpload", &e))?;
            let id = out.upload_id().unwrap_or_default().to_string();
            if id.is_empty() {
                return Err(StoreError::Request {
                    name: self.name(),
                    op: "CreateMultipartUpload",
                    reason: "no upload id in the answer".into(),
                });
            }
            s.count(|c| c.multipart_uploads += 1);
            self.multipart = Some((id, Vec::new(), 0));
        }
        let chunk: Vec<u8> = self.buf.drain(..n).collect();
        let len = chunk.len() as u64;
        let (id, parts) = self
            .multipart
            .as_ref()
            .map_or(("", 0), |m| (m.0.as_str(), m.1.len()));
        let number = i32::try_from(parts + 1).unwrap_or(i32::MAX);
        if crate::state::fail_point("upload_part") {
            return Err(StoreError::Request {
                name: self.name(),
                op: "UploadPart",
                reason: "failure injected by TRAILTRIAGE_TEST_FAIL_AT".into(),
            });
        }
        let out = s.rt.block_on(
            s.client
                .upload_part()
                .bucket(self.bucket)
                .key(self.key)
                .upload_id(id)
                .part_number(number)
                .body(ByteStream::from(chunk))
                .send(),
        );
        let out = out.map_err(|e| self.request_error("UploadPart", &e))?;
        let part = CompletedPart::builder()
            .set_e_tag(out.e_tag().map(str::to_string))
            .part_number(number)
            .build();
        s.count(|c| c.parts += 1);
        if let Some(m) = self.multipart.as_mut() {
            m.1.push(part);
            m.2 += len;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<UploadKind, StoreError> {
        let s = self.store;
        if self.multipart.is_none() {
            let bytes = std::mem::take(&mut self.buf);
            let n = bytes.len() as u64;
            crate::state::crash_point("before_parquet_rename");
            s.put(self.bucket, self.key, bytes, &PutIf::Always)?;
            return Ok(UploadKind::Single(n));
        }
        if !self.buf.is_empty() {
            self.send_part(self.buf.len())?;
        }
        let Some((id, parts, bytes)) = self.multipart.clone() else {
            return Err(StoreError::Writer {
                name: self.name(),
                reason: "multipart upload lost".into(),
            });
        };
        let count = parts.len() as u64;
        crate::state::crash_point("before_parquet_rename");
        let out = s.rt.block_on(
            s.client
                .complete_multipart_upload()
                .bucket(self.bucket)
                .key(self.key)
                .upload_id(&id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(parts))
                        .build(),
                )
                .send(),
        );
        out.map_err(|e| self.request_error("CompleteMultipartUpload", &e))?;
        s.count(|c| c.completed += 1);
        self.multipart = None;
        Ok(UploadKind::Multipart {
            parts: count,
            bytes,
        })
    }

    /// Abort an unfinished multipart upload (best effort: the error that
    /// got us here is the one to report).
    fn abort(&mut self) {
        let Some((id, _, _)) = self.multipart.take() else {
            return;
        };
        let s = self.store;
        let res = s.rt.block_on(
            s.client
                .abort_multipart_upload()
                .bucket(self.bucket)
                .key(self.key)
                .upload_id(&id)
                .send(),
        );
        match res {
            Ok(_) => s.count(|c| c.aborted += 1),
            Err(e) => tracing::warn!(
                "{}: AbortMultipartUpload {id} failed: {}",
                self.name(),
                describe_sdk_error(&e).1
            ),
        }
    }
}

impl Write for Upload<'_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.error.is_some() {
            return Err(std::io::Error::other("an earlier part failed"));
        }
        self.buf.extend_from_slice(data);
        let part = self.store.part_size;
        while self.buf.len() > part {
            if let Err(e) = self.send_part(part) {
                let msg = e.to_string();
                self.error = Some(e);
                return Err(std::io::Error::other(msg));
            }
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

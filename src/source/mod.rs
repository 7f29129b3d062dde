//! Remote sources: S3 buckets a trail delivers to, and the CloudTrail
//! LookupEvents API.
//!
//! Async (tokio) lives only in here. A source runs its own runtime on one
//! thread and hands raw object bytes over a bounded channel to worker threads
//! that run the same [`Worker::process_bytes`] path as local files; their
//! results go over a second bounded channel to the caller's thread, which
//! feeds the [`Collector`]. Memory stays bounded: at most `queue` bodies wait
//! in the channel, plus the ones being downloaded and the ones being parsed.

pub mod keys;
#[cfg(feature = "aws")]
pub mod lookup;
pub mod pick;
#[cfg(feature = "aws")]
pub mod s3;

#[cfg(feature = "aws")]
use std::sync::Arc;
#[cfg(feature = "aws")]
use std::sync::Mutex;
#[cfg(feature = "aws")]
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[cfg(feature = "aws")]
use aws_sdk_s3::config::interceptors::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
#[cfg(feature = "aws")]
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
#[cfg(feature = "aws")]
use aws_sdk_s3::error::{BoxError, DisplayErrorContext, ProvideErrorMetadata, SdkError};

#[cfg(feature = "aws")]
use crate::pipeline::{Collector, FileResult, Observer, ScanOptions, Worker};
#[cfg(feature = "aws")]
use crate::select::Prefilter;

/// Fatal errors of a remote source (exit code 2). Per-object problems are
/// not errors: they come back as failed [`FileResult`]s.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{url}: not an S3 URL: {reason}")]
    BadUrl { url: String, reason: String },
    #[error(
        "{target}: access denied listing ({code}): check credentials, and that they allow s3:ListBucket{detail}"
    )]
    ListDenied {
        target: String,
        code: String,
        detail: String,
    },
    #[error("{target}: listing failed: {reason}")]
    List { target: String, reason: String },
    #[error(
        "lookup://{region}: access denied calling LookupEvents ({code}): check credentials, and that they allow cloudtrail:LookupEvents{detail}"
    )]
    LookupDenied {
        region: String,
        code: String,
        detail: String,
    },
    #[error("lookup://{region}: LookupEvents failed: {reason}")]
    Lookup { region: String, reason: String },
    #[error(
        "{target}: no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, pass --profile, or run where SSO, web identity or instance credentials exist"
    )]
    NoCredentials { target: String },
    #[error("no AWS region: pass --region or set AWS_REGION (or a region in the profile)")]
    NoRegion,
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

/// Connection settings shared by the S3 and LookupEvents sources. Unset
/// fields fall back to aws-config's default chain (environment, profile,
/// SSO, web identity, IMDS), which also reads `AWS_ENDPOINT_URL`.
#[cfg(feature = "aws")]
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    pub profile: Option<String>,
    pub region: Option<String>,
    /// An S3-compatible or test endpoint; S3 then uses path-style addressing.
    pub endpoint_url: Option<String>,
    /// Total attempts per request for the SDK's standard retry strategy
    /// (default 3; 1 disables retries).
    pub max_attempts: Option<u32>,
    /// First backoff before a retry. The SDK's standard strategy waits a
    /// random time up to this, doubling each retry, capped at 20 s (default
    /// 1 s); S3 re-reads of a broken body wait this times the attempt number
    /// (default 100 ms). Tests set it small.
    pub retry_backoff: Option<Duration>,
    /// Fixed credentials instead of the default chain (embedding, tests).
    pub static_credentials: Option<StaticCredentials>,
    /// How long to wait for a connection and for each response.
    pub timeouts: Timeouts,
}

/// Default [`Timeouts::connect`]: the SDK's own default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);
/// Default [`Timeouts::response`].
pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);

/// Timeouts of every request to S3 and LookupEvents, per attempt. A request
/// that times out is a transient failure: it is retried like a 503, and
/// reported as "timed out" once its attempts are spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Opening the connection (TCP and TLS).
    pub connect: Duration,
    /// From sending a request to receiving its response headers (the SDK's
    /// read timeout). A body that stalls after the headers is the SDK's
    /// stalled-stream protection's business (docs/S3.md).
    pub response: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: DEFAULT_CONNECT_TIMEOUT,
            response: DEFAULT_RESPONSE_TIMEOUT,
        }
    }
}

/// An access key pair, optionally with a session token.
#[cfg(feature = "aws")]
#[derive(Clone)]
pub struct StaticCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

#[cfg(feature = "aws")]
impl std::fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// Load the shared SDK configuration.
#[cfg(feature = "aws")]
pub async fn load_config(o: &AwsOptions) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(p) = &o.profile {
        loader = loader.profile_name(p);
    }
    if let Some(r) = &o.region {
        loader = loader.region(aws_config::Region::new(r.clone()));
    }
    if let Some(e) = &o.endpoint_url {
        loader = loader.endpoint_url(e);
    }
    if let Some(c) = &o.static_credentials {
        loader = loader.credentials_provider(aws_sdk_s3::config::Credentials::new(
            c.access_key_id.clone(),
            c.secret_access_key.clone(),
            c.session_token.clone(),
            None,
            "trailtriage-static",
        ));
    }
    // Replaces the SDK's default timeouts (a 3.1 s connect timeout, and no
    // limit at all on waiting for a response).
    loader = loader.timeout_config(
        aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(o.timeouts.connect)
            .read_timeout(o.timeouts.response)
            .build(),
    );
    let conf = loader.load().await;
    if o.max_attempts.is_none() && o.retry_backoff.is_none() {
        return conf;
    }
    // Start from what the environment or profile chose (AWS_MAX_ATTEMPTS,
    // AWS_RETRY_MODE) and change only what was asked for.
    let mut rc = conf
        .retry_config()
        .cloned()
        .unwrap_or_else(aws_config::retry::RetryConfig::standard);
    if let Some(n) = o.max_attempts {
        rc = rc.with_max_attempts(n.max(1));
    }
    if let Some(d) = o.retry_backoff {
        rc = rc.with_initial_backoff(d);
    }
    conf.to_builder().retry_config(rc).build()
}

/// An S3 client for these settings: path-style addressing with a custom
/// endpoint, `us-east-1` when no region is configured (S3 needs one to sign).
#[cfg(feature = "aws")]
pub async fn s3_client(o: &AwsOptions) -> aws_sdk_s3::Client {
    let conf = load_config(o).await;
    let mut b = aws_sdk_s3::config::Builder::from(&conf);
    if o.endpoint_url.is_some() || conf.endpoint_url().is_some() {
        b = b.force_path_style(true);
    }
    if conf.region().is_none() {
        b = b.region(aws_sdk_s3::config::Region::from_static("us-east-1"));
    }
    aws_sdk_s3::Client::from_conf(b.build())
}

/// Counts the SDK's retries: an interceptor sees every execution once and
/// every attempt (first try and retries) once.
#[cfg(feature = "aws")]
#[derive(Debug, Default, Clone)]
pub struct RetryCounter {
    executions: Arc<AtomicU64>,
    attempts: Arc<AtomicU64>,
}

#[cfg(feature = "aws")]
impl RetryCounter {
    /// Requests sent: first tries and retries.
    pub fn attempts(&self) -> u64 {
        self.attempts.load(Ordering::Relaxed)
    }

    pub fn retries(&self) -> u64 {
        self.attempts
            .load(Ordering::Relaxed)
            .saturating_sub(self.executions.load(Ordering::Relaxed))
    }
}

#[cfg(feature = "aws")]
impl Intercept for RetryCounter {
    fn name(&self) -> &'static str {
        "trailtriage::RetryCounter"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.executions.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.attempts.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// Error codes that mean "these credentials may not do this".
pub fn is_auth_code(code: &str) -> bool {
    matches!(
        code,
        "AccessDenied"
            | "AccessDeniedException"
            | "AllAccessDisabled"
            | "AuthFailure"
            | "ExpiredToken"
            | "ExpiredTokenException"
            | "IncompleteSignature"
            | "InvalidAccessKeyId"
            | "InvalidClientTokenId"
            | "InvalidToken"
            | "NotSignedUp"
            | "SignatureDoesNotMatch"
            | "TokenRefreshRequired"
            | "UnrecognizedClientException"
    )
}

/// The error code (if the service sent one) and a one-line description of
/// an SDK error, with its causes. A timeout's description starts with
/// "timed out".
#[cfg(feature = "aws")]
pub fn describe_sdk_error<E, R>(e: &SdkError<E, R>) -> (Option<String>, String)
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    let code = e.code().map(str::to_string);
    let text = match (&code, e.message()) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.clone(),
        _ if is_timeout(e) => {
            // "dispatch failure: timeout: HTTP read timeout occurred after 1s: timed out"
            let chain = error_chain(e);
            let parts: Vec<&str> = chain
                .split(": ")
                .filter(|p| !matches!(*p, "dispatch failure" | "timeout" | "timed out"))
                .collect();
            format!("timed out: {}", parts.join(": "))
        }
        _ => error_chain(e),
    };
    (code, text)
}

/// Whether an SDK error is a timeout (connect, response, or the SDK's
/// operation timeouts).
#[cfg(feature = "aws")]
pub fn is_timeout<E, R>(e: &SdkError<E, R>) -> bool {
    match e {
        SdkError::TimeoutError(_) => true,
        SdkError::DispatchFailure(d) => d.is_timeout(),
        _ => false,
    }
}

/// An error and its causes on one line, `a: b: c`, each cause's first line
/// only and without repeats (SDK errors nest the same text several times).
#[cfg(feature = "aws")]
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        let t = err.to_string();
        let t = t.lines().next().unwrap_or("").trim().to_string();
        if !t.is_empty() && !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        cur = err.source();
    }
    if parts.is_empty() {
        DisplayErrorContext(e).to_string()
    } else {
        parts.join(": ")
    }
}

/// Whether an SDK error means no credentials could be found at all.
#[cfg(feature = "aws")]
pub fn is_missing_credentials<E, R>(e: &SdkError<E, R>) -> bool
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    matches!(
        e,
        SdkError::DispatchFailure(_) | SdkError::ConstructionFailure(_)
    ) && error_chain(e).contains("no credentials found")
}

/// What a source hands to the workers.
#[cfg(feature = "aws")]
pub enum Item {
    /// Raw object bytes (gzip or plain JSON) to decode, scan and classify.
    Bytes { name: String, data: Vec<u8> },
    /// An object already settled (skipped by key, failed to download).
    Done(FileResult),
}

/// Run `producer` on its own thread with a bounded channel of `queue` items
/// to worker threads that process each item; results reach `observer` and
/// `collector` on the calling thread. Returns what the producer returns.
#[cfg(feature = "aws")]
pub fn drive<T, P>(
    opts: &ScanOptions,
    pf: &Prefilter,
    observer: &dyn Observer,
    collector: &mut Collector,
    queue: usize,
    producer: P,
) -> T
where
    T: Send,
    P: FnOnce(tokio::sync::mpsc::Sender<Item>) -> T + Send,
{
    let threads = if opts.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        opts.threads
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Item>(queue.max(1));
    let rx = Mutex::new(rx);
    let (res_tx, res_rx) = crossbeam_channel::bounded::<FileResult>(256);
    std::thread::scope(|s| {
        let handle = s.spawn(move || producer(tx));
        for _ in 0..threads {
            let res_tx = res_tx.clone();
            let rx = &rx;
            s.spawn(move || {
                let mut w = Worker::new();
                loop {
                    // One worker at a time waits on the channel; the others wait on the lock.
                    let item = match rx.lock() {
                        Ok(mut g) => g.blocking_recv(),
                        Err(_) => None,
                    };
                    let Some(item) = item else { break };
                    let r = match item {
                        Item::Bytes { name, data } => w.process_bytes(&name, &data, opts, pf),
                        Item::Done(r) => r,
                    };
                    if res_tx.send(r).is_err() {
                        break;
                    }
                }
            });
        }
        drop(res_tx);
        for r in res_rx {
            observer.object_done(&r);
            collector.add(r);
        }
        match handle.join() {
            Ok(t) => t,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

#[cfg(feature = "aws")]
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drive_processes_every_item_and_returns_the_producer_value() {
        let opts = ScanOptions {
            threads: 2,
            ..ScanOptions::default()
        };
        let pf = Prefilter::new(opts.select);
        let mut c = Collector::new();
        let rec = br#"{"Records":[{"eventID":"e1","eventName":"GetCallerIdentity","eventSource":"sts.amazonaws.com"}]}"#;
        let n = drive(&opts, &pf, &crate::pipeline::Silent, &mut c, 2, |tx| {
            for i in 0..20 {
                let item = Item::Bytes {
                    name: format!("mem://{i}"),
                    data: rec.to_vec(),
                };
                if tx.blocking_send(item).is_err() {
                    return 0;
                }
            }
            let _ = tx.blocking_send(Item::Done(FileResult::skipped("mem://x".into(), "why")));
            21
        });
        assert_eq!(n, 21);
        let (_, stats) = c.finish();
        assert_eq!(stats.files_seen, 21);
        assert_eq!(stats.files_read, 20);
        assert_eq!(stats.files_skipped, 1);
        assert_eq!(stats.records.read, 20);
        assert!(stats.invariants_hold());
    }

    #[test]
    fn auth_codes() {
        assert!(is_auth_code("SignatureDoesNotMatch"));
        assert!(is_auth_code("NotSignedUp"));
        assert!(!is_auth_code("NoSuchBucket"));
    }
}

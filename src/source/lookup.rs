//! The CloudTrail LookupEvents API: the last 90 days of management events,
//! for responders without access to the trail's bucket.
//!
//! LookupEvents takes one lookup attribute per call, so each region runs one
//! query per AssumeRole* event name (or, with `--all-denied`, one query for
//! the event source `sts.amazonaws.com`, which covers them and every other
//! STS call), pages with `NextToken`, and keeps to the documented 2 requests
//! per second per account and region with a token bucket. Throttled and
//! transient failures back off and retry (the SDK's own retries are off so
//! every retry goes through the token bucket and is counted). Regions run
//! side by side. Each `CloudTrailEvent` string is one record and goes through
//! the same path as a log file, named `lookup://REGION/EVENT_ID`.
//!
//! Needs only `cloudtrail:LookupEvents`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_cloudtrail::Client;
use aws_sdk_cloudtrail::error::ProvideErrorMetadata;
use aws_sdk_cloudtrail::primitives::DateTime;
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use serde::Serialize;
use tokio::sync::mpsc;

use super::{AwsOptions, Item, SourceError, describe_sdk_error, drive, is_auth_code};
use crate::pipeline::{Collector, FileResult, Observer, ScanOptions};
use crate::select::Prefilter;

/// The event names a LookupEvents scan asks for.
pub const ASSUME_ROLE_EVENTS: [&str; 4] = [
    "AssumeRole",
    "AssumeRoleWithSAML",
    "AssumeRoleWithWebIdentity",
    "AssumeRoot",
];

/// How far back LookupEvents reaches.
pub const LOOKBACK_MS: i64 = 90 * 86_400_000;

/// Retries of a failure that is transient but not a throttle.
const TRANSIENT_RETRIES: u32 = 2;

/// Largest page LookupEvents returns.
const PAGE_SIZE: i32 = 50;

/// Settings of the LookupEvents source.
#[derive(Debug, Clone)]
pub struct LookupOptions {
    /// Profile and endpoint; `aws.region` is the fallback when `regions` is empty.
    pub aws: AwsOptions,
    /// Regions to query side by side (empty: the configured region).
    pub regions: Vec<String>,
    /// Requests per second per region (the API allows 2).
    pub requests_per_second: f64,
    /// Retries of one request that was throttled or failed transiently.
    pub max_retries: u32,
    /// First backoff after a throttle; doubles on each retry (capped at 20 s).
    pub initial_backoff: Duration,
}

impl Default for LookupOptions {
    fn default() -> Self {
        LookupOptions {
            aws: AwsOptions::default(),
            regions: Vec::new(),
            requests_per_second: 2.0,
            max_retries: 8,
            initial_backoff: Duration::from_millis(1000),
        }
    }
}

/// What the LookupEvents source did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LookupReport {
    pub regions: Vec<String>,
    /// LookupEvents calls, retries included.
    pub requests: u64,
    /// Pages received.
    pub pages: u64,
    /// Events received.
    pub events: u64,
    /// Calls answered with ThrottlingException.
    pub throttled: u64,
    /// Calls repeated after a throttle or a transient failure.
    pub retries: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    pages: AtomicU64,
    events: AtomicU64,
    throttled: AtomicU64,
    retries: AtomicU64,
}

/// The (attribute, value) queries a scan runs in each region.
pub fn queries(all_denied: bool) -> Vec<(LookupAttributeKey, &'static str)> {
    if all_denied {
        vec![(LookupAttributeKey::EventSource, "sts.amazonaws.com")]
    } else {
        ASSUME_ROLE_EVENTS
            .iter()
            .map(|n| (LookupAttributeKey::EventName, *n))
            .collect()
    }
}

/// A token bucket: at most `rate` calls per second, no burst beyond one.
pub struct TokenBucket {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(rate: f64) -> TokenBucket {
        TokenBucket {
            rate: if rate > 0.0 { rate } else { 2.0 },
            tokens: 1.0,
            last: Instant::now(),
        }
    }

    /// Wait for a token.
    pub async fn acquire(&mut self) {
        loop {
            let now = Instant::now();
            let elapsed = now.duration_since(self.last).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.rate).min(1.0);
            self.last = now;
            if self.tokens >= 1.0 {
                self.tokens -= 1.0;
                return;
            }
            let wait = (1.0 - self.tokens) / self.rate;
            tokio::time::sleep(Duration::from_secs_f64(wait)).await;
        }
    }
}

/// Run the LookupEvents source into `collector`. The time window is
/// `opts.filters.since_ms..until_ms` (default: the last 90 days).
pub fn run_lookup(
    lo: &LookupOptions,
    opts: &ScanOptions,
    pf: &Prefilter,
    observer: &dyn Observer,
    collector: &mut Collector,
) -> Result<LookupReport, SourceError> {
    let counters = Arc::new(Counters::default());
    let now = chrono::Utc::now().timestamp_millis();
    let end_ms = opts.filters.until_ms.unwrap_or(now).min(now);
    let start_ms = opts.filters.since_ms.unwrap_or(now - LOOKBACK_MS);
    let qs = queries(opts.select.all_denied);
    let c2 = counters.clone();
    let result = drive(opts, pf, observer, collector, 256, move |tx| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(SourceError::Runtime)?;
        rt.block_on(async move {
            let mut aws = lo.aws.clone();
            // Every retry goes through our token bucket instead.
            aws.max_attempts = Some(1);
            let conf = super::load_config(&aws).await;
            let regions: Vec<String> = if lo.regions.is_empty() {
                match conf.region() {
                    Some(r) => vec![r.to_string()],
                    None => return Err(SourceError::NoRegion),
                }
            } else {
                lo.regions.clone()
            };
            let runs = regions.iter().map(|region| {
                let conf = aws_sdk_cloudtrail::config::Builder::from(&conf)
                    .region(aws_sdk_cloudtrail::config::Region::new(region.clone()))
                    .build();
                let r = Region {
                    name: region.clone(),
                    client: Client::from_conf(conf),
                    tx: tx.clone(),
                    counters: c2.clone(),
                    lo,
                    start_ms,
                    end_ms,
                };
                let qs = qs.clone();
                async move { r.run(&qs).await }
            });
            let results = futures_util::future::join_all(runs).await;
            results.into_iter().collect::<Result<Vec<()>, _>>()?;
            Ok(regions)
        })
    });
    let regions = result?;
    let report = LookupReport {
        regions,
        requests: counters.requests.load(Ordering::Relaxed),
        pages: counters.pages.load(Ordering::Relaxed),
        events: counters.events.load(Ordering::Relaxed),
        throttled: counters.throttled.load(Ordering::Relaxed),
        retries: counters.retries.load(Ordering::Relaxed),
    };
    collector.stats.retries += report.retries;
    collector.stats.remote = true;
    Ok(report)
}

struct Region<'a> {
    name: String,
    client: Client,
    tx: mpsc::Sender<Item>,
    counters: Arc<Counters>,
    lo: &'a LookupOptions,
    start_ms: i64,
    end_ms: i64,
}

fn is_throttle(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "ThrottlingException"
                | "Throttling"
                | "TooManyRequestsException"
                | "RequestLimitExceeded"
        )
    )
}

impl Region<'_> {
    async fn run(&self, qs: &[(LookupAttributeKey, &'static str)]) -> Result<(), SourceError> {
        let mut bucket = TokenBucket::new(self.lo.requests_per_second);
        for (key, value) in qs {
            let attr = LookupAttribute::builder()
                .attribute_key(key.clone())
                .attribute_value(*value)
                .build()
                .map_err(|e| SourceError::Lookup {
                    region: self.name.clone(),
                    reason: e.to_string(),
                })?;
            let mut token: Option<String> = None;
            loop {
                let page = self.call(&mut bucket, &attr, token.clone()).await?;
                self.counters.pages.fetch_add(1, Ordering::Relaxed);
                for ev in page.events() {
                    self.counters.events.fetch_add(1, Ordering::Relaxed);
                    let id = ev.event_id().unwrap_or("unknown-event-id");
                    let name = format!("lookup://{}/{}", self.name, id);
                    let item = match ev.cloud_trail_event() {
                        Some(rec) => Item::Bytes {
                            name,
                            data: rec.as_bytes().to_vec(),
                        },
                        None => Item::Done(FileResult::failed(
                            name,
                            "LookupEvents returned the event without its CloudTrailEvent".into(),
                        )),
                    };
                    if self.tx.send(item).await.is_err() {
                        return Ok(());
                    }
                }
                match page.next_token() {
                    Some(t) if !t.is_empty() => token = Some(t.to_string()),
                    _ => break,
                }
            }
        }
        Ok(())
    }

    async fn call(
        &self,
        bucket: &mut TokenBucket,
        attr: &LookupAttribute,
        token: Option<String>,
    ) -> Result<aws_sdk_cloudtrail::operation::lookup_events::LookupEventsOutput, SourceError> {
        let mut retry = 0u32;
        loop {
            bucket.acquire().await;
            self.counters.requests.fetch_add(1, Ordering::Relaxed);
            let res = self
                .client
                .lookup_events()
                .lookup_attributes(attr.clone())
                .start_time(DateTime::from_millis(self.start_ms))
                .end_time(DateTime::from_millis(self.end_ms))
                .max_results(PAGE_SIZE)
                .set_next_token(token.clone())
                .send()
                .await;
            let e = match res {
                Ok(out) => return Ok(out),
                Err(e) => e,
            };
            if super::is_missing_credentials(&e) {
                return Err(SourceError::NoCredentials {
                    target: format!("lookup://{}", self.name),
                });
            }
            let code = e.code().map(str::to_string);
            let throttled = is_throttle(code.as_deref());
            if throttled {
                self.counters.throttled.fetch_add(1, Ordering::Relaxed);
            }
            let status = e.raw_response().map(|r| r.status().as_u16());
            let transient = throttled
                || status.is_some_and(|s| s >= 500)
                || matches!(
                    e,
                    aws_sdk_cloudtrail::error::SdkError::TimeoutError(_)
                        | aws_sdk_cloudtrail::error::SdkError::DispatchFailure(_)
                        | aws_sdk_cloudtrail::error::SdkError::ResponseError(_)
                );
            let (_, text) = describe_sdk_error(&e);
            if let Some(c) = &code
                && is_auth_code(c)
            {
                return Err(SourceError::LookupDenied {
                    region: self.name.clone(),
                    code: c.clone(),
                    detail: e.message().map(|m| format!(" ({m})")).unwrap_or_default(),
                });
            }
            // Throttles get the full budget; other transient failures (a dead
            // endpoint, 5xx) a short one, so a wrong endpoint fails fast.
            let budget = if throttled {
                self.lo.max_retries
            } else {
                self.lo.max_retries.min(TRANSIENT_RETRIES)
            };
            if !transient || retry >= budget {
                let reason = if transient {
                    format!("{text} (gave up after {retry} retries)")
                } else {
                    text
                };
                return Err(SourceError::Lookup {
                    region: self.name.clone(),
                    reason,
                });
            }
            retry += 1;
            self.counters.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(backoff(self.lo.initial_backoff, retry)).await;
        }
    }
}

/// Exponential backoff with jitter: between half and all of
/// `initial * 2^(retry-1)`, capped at 20 s.
fn backoff(initial: Duration, retry: u32) -> Duration {
    let base = initial
        .saturating_mul(1u32 << retry.saturating_sub(1).min(16))
        .min(Duration::from_secs(20));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let frac = 0.5 + f64::from(nanos % 1000) / 2000.0;
    base.mul_f64(frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_sets() {
        let q = queries(false);
        assert_eq!(q.len(), 4);
        assert!(q.iter().all(|(k, _)| *k == LookupAttributeKey::EventName));
        assert_eq!(q[3].1, "AssumeRoot");
        let q = queries(true);
        assert_eq!(
            q,
            vec![(LookupAttributeKey::EventSource, "sts.amazonaws.com")]
        );
    }

    #[test]
    fn backoff_grows_and_caps() {
        let i = Duration::from_millis(100);
        let b1 = backoff(i, 1);
        assert!(b1 >= Duration::from_millis(50) && b1 <= Duration::from_millis(100));
        let b4 = backoff(i, 4);
        assert!(b4 >= Duration::from_millis(400) && b4 <= Duration::from_millis(800));
        assert!(backoff(i, 30) <= Duration::from_secs(20));
    }

    #[tokio::test]
    async fn token_bucket_spaces_calls() {
        let mut b = TokenBucket::new(20.0);
        let t = Instant::now();
        for _ in 0..5 {
            b.acquire().await;
        }
        // The first is free; four more at 20/s take at least 200 ms.
        assert!(
            t.elapsed() >= Duration::from_millis(190),
            "{:?}",
            t.elapsed()
        );
    }
}

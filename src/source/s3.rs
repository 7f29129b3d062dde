//! `s3://bucket/prefix`: list the keys a trail delivered, download them with
//! bounded concurrency, and feed the bytes to the workers.
//!
//! With a time window (`--since`/`--until`), `--account` or `--log-region`,
//! the listing follows the CloudTrail layout (see [`super::keys`]): delimiter
//! listings discover trail prefixes, organization ids, accounts and regions,
//! and only the `YYYY/MM/DD/` day prefixes in the window (widened by a day
//! each side) are listed. Without one, the prefix is listed whole.
//!
//! Reading needs only `s3:ListBucket` and `s3:GetObject`.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
use chrono::NaiveDate;
use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde::Serialize;
use tokio::sync::{Semaphore, mpsc};

use super::keys::{self, Level, S3Url};
use super::pick::KeyPick;
use super::{AwsOptions, Item, RetryCounter, SourceError, describe_sdk_error, drive, is_auth_code};
use crate::filter::Filters;
use crate::pipeline::{
    Collector, FileResult, Observer, ScanOptions, skip_reason_by_name, wanted_extension,
};
use crate::select::Prefilter;

/// Default number of concurrent downloads (the `--s3-concurrency` default).
/// Each GET waits for its first byte (tens of milliseconds on real S3), so
/// objects/s is about concurrency / latency: 64 covers 30 ms at about the
/// rate two cores scan (BENCHMARKS.md, docs/S3.md).
pub const DEFAULT_CONCURRENCY: usize = 64;
/// Concurrent listing requests (delimiter discovery and day prefixes).
const LIST_CONCURRENCY: usize = 8;
/// How deep below the given prefix to look for `AWSLogs/` (a trail prefix
/// of up to this many path segments).
const MAX_TRAIL_PREFIX_DEPTH: usize = 2;
/// Attempts at reading a body that broke off (the SDK does not retry those).
const BODY_ATTEMPTS: u32 = 3;
/// Wait before re-reading a broken body, times the attempt number (unless
/// [`AwsOptions::retry_backoff`] says otherwise).
const BODY_BACKOFF: Duration = Duration::from_millis(100);

/// Settings of the S3 source.
#[derive(Debug, Clone)]
pub struct S3Options {
    pub aws: AwsOptions,
    /// Concurrent downloads (at least 1).
    pub concurrency: usize,
}

impl Default for S3Options {
    fn default() -> Self {
        S3Options {
            aws: AwsOptions::default(),
            concurrency: DEFAULT_CONCURRENCY,
        }
    }
}

/// What the S3 source did: how many keys it listed and fetched.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct S3Report {
    /// ListObjectsV2 calls (each page counts).
    pub list_requests: u64,
    /// Object keys returned by listings.
    pub keys_listed: u64,
    /// GetObject calls that delivered a whole body.
    pub objects_fetched: u64,
    /// Objects that could not be downloaded (reported as failed).
    pub objects_failed: u64,
    /// Digest, Insight and Config keys skipped without downloading.
    pub skipped_by_key: u64,
    /// Keys that are not log files by name (folder markers, other extensions).
    pub ignored: u64,
    /// Bytes downloaded (as stored, usually gzip).
    pub bytes_fetched: u64,
    /// Retried requests: the SDK's retries plus re-reads of broken bodies.
    pub retries: u64,
    /// Whether the listing followed the CloudTrail layout (else: whole prefix).
    pub pruned: bool,
}

#[derive(Default)]
struct Counters {
    list_requests: AtomicU64,
    keys_listed: AtomicU64,
    objects_fetched: AtomicU64,
    objects_failed: AtomicU64,
    skipped_by_key: AtomicU64,
    ignored: AtomicU64,
    bytes_fetched: AtomicU64,
    body_retries: AtomicU64,
    pruned: AtomicBool,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// What limits the listing.
#[derive(Debug, Clone)]
struct Window {
    accounts: Vec<String>,
    regions: Vec<String>,
    /// Delivery dates to list, inclusive; `first` is `None` for "from the start".
    dates: Option<(Option<NaiveDate>, NaiveDate)>,
}

impl Window {
    fn new(f: &Filters, now_ms: i64) -> Window {
        let dates = match (f.since_ms, f.until_ms) {
            (None, None) => None,
            (Some(_), _) => {
                keys::date_range(f.since_ms, f.until_ms, now_ms).map(|(a, b)| (Some(a), b))
            }
            (None, Some(u)) => keys::last_date(u).map(|b| (None, b)),
        };
        Window {
            accounts: f.accounts.clone(),
            regions: f.log_regions.clone(),
            dates,
        }
    }

    fn prunes(&self) -> bool {
        self.dates.is_some() || !self.accounts.is_empty() || !self.regions.is_empty()
    }

    fn account_ok(&self, a: &str) -> bool {
        self.accounts.is_empty() || self.accounts.iter().any(|x| x == a)
    }

    fn region_ok(&self, r: &str) -> bool {
        self.regions.is_empty() || self.regions.iter().any(|x| x == r)
    }
}

/// One listing to run in full.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Leaf {
    /// Every key under this prefix.
    All(String),
    /// Keys under a region prefix with delivery dates up to `last`, starting
    /// at `first` (a long window: one listing instead of one per day).
    Range {
        region_prefix: String,
        first: Option<NaiveDate>,
        last: NaiveDate,
    },
    /// Keys under a region prefix after `start_after` (a `--state` floor).
    After { prefix: String, start_after: String },
}

struct Ctx {
    client: Client,
    url: S3Url,
    tx: mpsc::Sender<Item>,
    sem: Arc<Semaphore>,
    counters: Arc<Counters>,
    max_size: u64,
    body_backoff: Duration,
    /// Which objects to fetch (`--shard`, `--state`); `None`: every one.
    pick: Option<Arc<KeyPick>>,
}

/// Scan the given S3 URLs into `collector`. Per-object problems become failed
/// results; listing problems (and bad credentials) are fatal.
pub fn run_s3(
    urls: &[S3Url],
    s3: &S3Options,
    opts: &ScanOptions,
    pf: &Prefilter,
    observer: &dyn Observer,
    collector: &mut Collector,
) -> Result<S3Report, SourceError> {
    run_s3_picked(urls, s3, None, opts, pf, observer, collector)
}

/// [`run_s3`], fetching only the objects `pick` wants (decided by key,
/// before downloading; the others are neither fetched nor counted as seen).
pub fn run_s3_picked(
    urls: &[S3Url],
    s3: &S3Options,
    pick: Option<Arc<KeyPick>>,
    opts: &ScanOptions,
    pf: &Prefilter,
    observer: &dyn Observer,
    collector: &mut Collector,
) -> Result<S3Report, SourceError> {
    let concurrency = s3.concurrency.max(1);
    let counters = Arc::new(Counters::default());
    let retry_counter = RetryCounter::default();
    let now_ms = chrono::Utc::now().timestamp_millis();
    let window = Window::new(&opts.filters, now_ms);
    let max_size = opts.max_decompressed;
    let c2 = counters.clone();
    let rc2 = retry_counter.clone();
    let result = drive(opts, pf, observer, collector, concurrency, move |tx| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(SourceError::Runtime)?;
        rt.block_on(async move {
            let conf = super::load_config(&s3.aws).await;
            let mut b = aws_sdk_s3::config::Builder::from(&conf).interceptor(rc2);
            if s3.aws.endpoint_url.is_some() || conf.endpoint_url().is_some() {
                b = b.force_path_style(true);
            }
            if conf.region().is_none() {
                // S3 needs a region to sign; a bucket elsewhere answers with a hint.
                b = b.region(aws_sdk_s3::config::Region::from_static("us-east-1"));
            }
            let client = Client::from_conf(b.build());
            let sem = Arc::new(Semaphore::new(concurrency));
            for url in urls {
                let ctx = Arc::new(Ctx {
                    client: client.clone(),
                    url: url.clone(),
                    tx: tx.clone(),
                    sem: sem.clone(),
                    counters: c2.clone(),
                    max_size,
                    body_backoff: s3.aws.retry_backoff.unwrap_or(BODY_BACKOFF),
                    pick: pick.clone(),
                });
                scan_url(ctx, &window).await?;
            }
            // Wait for the downloads still running.
            let n = u32::try_from(concurrency).unwrap_or(u32::MAX);
            let _all = sem.acquire_many(n).await;
            Ok::<(), SourceError>(())
        })
    });
    let body_retries = counters.body_retries.load(Ordering::Relaxed);
    let report = S3Report {
        list_requests: counters.list_requests.load(Ordering::Relaxed),
        keys_listed: counters.keys_listed.load(Ordering::Relaxed),
        objects_fetched: counters.objects_fetched.load(Ordering::Relaxed),
        objects_failed: counters.objects_failed.load(Ordering::Relaxed),
        skipped_by_key: counters.skipped_by_key.load(Ordering::Relaxed),
        ignored: counters.ignored.load(Ordering::Relaxed),
        bytes_fetched: counters.bytes_fetched.load(Ordering::Relaxed),
        retries: retry_counter.retries() + body_retries,
        pruned: counters.pruned.load(Ordering::Relaxed),
    };
    collector.stats.retries += report.retries;
    collector.stats.remote = true;
    result.map(|()| report)
}

async fn scan_url(ctx: Arc<Ctx>, window: &Window) -> Result<(), SourceError> {
    let floors = ctx.pick.as_ref().is_some_and(|p| p.has_floors());
    let leaves = if window.prunes() || floors {
        let start = keys::level_of(&ctx.url.prefix);
        match discover(&ctx, window, start).await? {
            Some(leaves) => {
                ctx.counters.pruned.store(true, Ordering::Relaxed);
                leaves
            }
            None => vec![Leaf::All(ctx.url.prefix.clone())],
        }
    } else {
        vec![Leaf::All(ctx.url.prefix.clone())]
    };
    stream::iter(leaves.into_iter().map(Ok))
        .try_for_each_concurrent(LIST_CONCURRENCY, |leaf| list_leaf(ctx.clone(), leaf))
        .await
}

/// Walk the layout with delimiter listings, one level at a time. `None` when
/// the prefix is above the layout and no `AWSLogs/` was found below it.
async fn discover(ctx: &Ctx, w: &Window, start: Level) -> Result<Option<Vec<Leaf>>, SourceError> {
    let mut found_layout = !matches!(start, Level::Above(_));
    let mut leaves = Vec::new();
    let mut frontier = vec![(start, 0usize)];
    while !frontier.is_empty() {
        let expanded: Vec<Expansion> =
            stream::iter(frontier.drain(..).map(|(l, d)| expand(ctx, w, l, d)))
                .buffer_unordered(LIST_CONCURRENCY)
                .try_collect()
                .await?;
        for e in expanded {
            found_layout |= e.found_layout;
            frontier.extend(e.next);
            leaves.extend(e.leaves);
        }
    }
    if !found_layout {
        return Ok(None);
    }
    leaves.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    Ok(Some(leaves))
}

#[derive(Default)]
struct Expansion {
    next: Vec<(Level, usize)>,
    leaves: Vec<Leaf>,
    found_layout: bool,
}

async fn expand(
    ctx: &Ctx,
    w: &Window,
    level: Level,
    depth: usize,
) -> Result<Expansion, SourceError> {
    let mut e = Expansion::default();
    match level {
        Level::Above(p) => {
            for cp in list_children(ctx, &p).await? {
                match keys::child_name(&p, &cp) {
                    Some("AWSLogs") => {
                        e.found_layout = true;
                        e.next.push((Level::AwsLogs(cp), 0));
                    }
                    Some(_) if depth < MAX_TRAIL_PREFIX_DEPTH => {
                        e.next.push((Level::Above(cp), depth + 1))
                    }
                    _ => {}
                }
            }
        }
        Level::AwsLogs(p) | Level::Org(p) => {
            let is_org = !p.ends_with("AWSLogs/");
            for cp in list_children(ctx, &p).await? {
                match keys::child_name(&p, &cp) {
                    Some(c) if !is_org && keys::is_org_id(c) => e.next.push((Level::Org(cp), 0)),
                    Some(c) if keys::is_account_id(c) && w.account_ok(c) => {
                        e.next
                            .push((Level::CloudTrail(format!("{cp}CloudTrail/")), 0));
                    }
                    _ => {}
                }
            }
        }
        Level::Account(p) => {
            let acct = p.trim_end_matches('/').rsplit('/').next().unwrap_or("");
            if w.account_ok(acct) {
                e.next
                    .push((Level::CloudTrail(format!("{p}CloudTrail/")), 0));
            }
        }
        Level::CloudTrail(p) => {
            for cp in list_children(ctx, &p).await? {
                match keys::child_name(&p, &cp) {
                    Some(r) if keys::is_region(r) && w.region_ok(r) => {
                        e.next.push((Level::Region(cp), 0))
                    }
                    _ => {}
                }
            }
        }
        Level::Region(p) => match ctx.pick.as_ref().and_then(|k| k.floor(&ctx.url, &p)) {
            Some(start_after) if w.dates.is_none() => e.leaves.push(Leaf::After {
                start_after,
                prefix: p,
            }),
            _ => e.leaves.extend(region_leaves(&p, w)),
        },
        Level::Full(p) => e.leaves.push(Leaf::All(p)),
    }
    Ok(e)
}

fn region_leaves(p: &str, w: &Window) -> Vec<Leaf> {
    match w.dates {
        None => vec![Leaf::All(p.to_string())],
        Some((Some(first), last)) => {
            let days = keys::day_prefixes(first, last);
            if days.len() <= keys::MAX_DAY_PREFIXES {
                days.into_iter()
                    .map(|d| Leaf::All(format!("{p}{d}")))
                    .collect()
            } else {
                vec![Leaf::Range {
                    region_prefix: p.to_string(),
                    first: Some(first),
                    last,
                }]
            }
        }
        Some((None, last)) => vec![Leaf::Range {
            region_prefix: p.to_string(),
            first: None,
            last,
        }],
    }
}

/// The common prefixes (sub-"directories") under `prefix`, all pages.
async fn list_children(ctx: &Ctx, prefix: &str) -> Result<Vec<String>, SourceError> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = list_page(ctx, prefix, true, None, token.take()).await?;
        // Objects beside the sub-prefixes are listed but not layout logs.
        let n = page.contents().len() as u64;
        ctx.counters.keys_listed.fetch_add(n, Ordering::Relaxed);
        out.extend(
            page.common_prefixes()
                .iter()
                .filter_map(|c| c.prefix().map(str::to_string)),
        );
        match page.next_continuation_token() {
            Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(out)
}

async fn list_page(
    ctx: &Ctx,
    prefix: &str,
    delimiter: bool,
    start_after: Option<&str>,
    token: Option<String>,
) -> Result<ListObjectsV2Output, SourceError> {
    bump(&ctx.counters.list_requests);
    let mut req = ctx
        .client
        .list_objects_v2()
        .bucket(&ctx.url.bucket)
        .prefix(prefix);
    if delimiter {
        req = req.delimiter("/");
    }
    if let Some(s) = start_after {
        req = req.start_after(s);
    }
    if let Some(t) = token {
        req = req.continuation_token(t);
    }
    req.send().await.map_err(|e| {
        let target = if prefix.is_empty() {
            format!("s3://{}", ctx.url.bucket)
        } else {
            format!("s3://{}/{}", ctx.url.bucket, prefix)
        };
        let bucket_region = e
            .raw_response()
            .and_then(|r| r.headers().get("x-amz-bucket-region"))
            .map(str::to_string);
        if super::is_missing_credentials(&e) {
            return SourceError::NoCredentials { target };
        }
        let (code, mut text) = describe_sdk_error(&e);
        if let Some(r) = bucket_region {
            text.push_str(&format!(" (the bucket is in {r}: pass --region {r})"));
        }
        match code {
            Some(code) if is_auth_code(&code) => SourceError::ListDenied {
                target,
                detail: match e.message() {
                    Some(m) => format!(" ({m})"),
                    None => String::new(),
                },
                code,
            },
            _ => SourceError::List {
                target,
                reason: text,
            },
        }
    })
}

/// List one leaf and dispatch each key.
async fn list_leaf(ctx: Arc<Ctx>, leaf: Leaf) -> Result<(), SourceError> {
    let (prefix, start_after, last) = match &leaf {
        Leaf::All(p) => (p.clone(), None, None),
        Leaf::Range {
            region_prefix,
            first,
            last,
        } => {
            // Keys of `first` sort right after "PREFIX/YYYY/MM/DD".
            let sa = first.map(|f| {
                let d = keys::day_suffix(f);
                format!("{region_prefix}{}", d.trim_end_matches('/'))
            });
            (region_prefix.clone(), sa, Some(*last))
        }
        Leaf::After {
            prefix,
            start_after,
        } => (prefix.clone(), Some(start_after.clone()), None),
    };
    let mut token = None;
    loop {
        let page = list_page(&ctx, &prefix, false, start_after.as_deref(), token.take()).await?;
        for obj in page.contents() {
            let Some(key) = obj.key() else { continue };
            bump(&ctx.counters.keys_listed);
            if let Some(last) = last
                && keys::date_under_region(&prefix, key).is_some_and(|d| d > last)
            {
                // Keys sort by date from here on: the rest of the region is out of range.
                return Ok(());
            }
            dispatch(&ctx, key, obj.size()).await;
        }
        match page.next_continuation_token() {
            Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_string()),
            _ => return Ok(()),
        }
    }
}

async fn dispatch(ctx: &Arc<Ctx>, key: &str, size: Option<i64>) {
    if let Some(pick) = &ctx.pick
        && !key.ends_with('/')
        && (key == ctx.url.prefix || wanted_extension(Path::new(key)))
        && !pick.wants(&ctx.url, key)
    {
        return;
    }
    let name = ctx.url.object_name(key);
    if let Some(why) = skip_reason_by_name(&name) {
        bump(&ctx.counters.skipped_by_key);
        let _ = ctx
            .tx
            .send(Item::Done(FileResult::skipped(name, why)))
            .await;
        return;
    }
    // A key named exactly is read whatever its name, like a file named on the command line.
    if key.ends_with('/') || (key != ctx.url.prefix && !wanted_extension(Path::new(key))) {
        bump(&ctx.counters.ignored);
        return;
    }
    let Ok(permit) = ctx.sem.clone().acquire_owned().await else {
        return;
    };
    let ctx = ctx.clone();
    let key = key.to_string();
    tokio::spawn(async move {
        let item = fetch(&ctx, &key, name, size).await;
        // Holding the permit until the body is queued bounds memory.
        let _ = ctx.tx.send(item).await;
        drop(permit);
    });
}

async fn fetch(ctx: &Ctx, key: &str, name: String, size: Option<i64>) -> Item {
    let limit = ctx.max_size;
    let too_large = |n: u64| format!("larger than the limit of {limit} bytes ({n} bytes stored)");
    if let Some(n) = size.and_then(|s| u64::try_from(s).ok())
        && n > limit
    {
        bump(&ctx.counters.objects_failed);
        return Item::Done(FileResult::failed(name, too_large(n)));
    }
    // Requests sent for this object: the SDK's attempts of every read.
    let sent = RetryCounter::default();
    let after = |sent: &RetryCounter| match sent.attempts() {
        0 | 1 => String::new(),
        n => format!(" (after {n} attempts)"),
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        let out = match ctx
            .client
            .get_object()
            .bucket(&ctx.url.bucket)
            .key(key)
            .customize()
            .interceptor(sent.clone())
            .send()
            .await
        {
            Ok(o) => o,
            Err(e) => {
                bump(&ctx.counters.objects_failed);
                let (_, text) = describe_sdk_error(&e);
                return Item::Done(FileResult::failed(
                    name,
                    format!("cannot download: {text}{}", after(&sent)),
                ));
            }
        };
        let expected = out.content_length().and_then(|n| u64::try_from(n).ok());
        if let Some(n) = expected
            && n > limit
        {
            bump(&ctx.counters.objects_failed);
            return Item::Done(FileResult::failed(name, too_large(n)));
        }
        let cap = expected.unwrap_or(0).min(64 << 20);
        let mut buf = Vec::with_capacity(usize::try_from(cap).unwrap_or(0));
        let mut body = out.body;
        let broke = loop {
            match body.try_next().await {
                Ok(Some(chunk)) => {
                    if (buf.len() + chunk.len()) as u64 > limit {
                        bump(&ctx.counters.objects_failed);
                        return Item::Done(FileResult::failed(
                            name,
                            too_large((buf.len() + chunk.len()) as u64),
                        ));
                    }
                    buf.extend_from_slice(&chunk);
                }
                Ok(None) => break None,
                Err(e) => break Some(super::error_chain(&e)),
            }
        };
        let got = buf.len() as u64;
        let problem = match (broke, expected) {
            (Some(e), Some(n)) => Some(format!("truncated body: {got} of {n} bytes, then {e}")),
            (Some(e), None) => Some(format!("truncated body after {got} bytes: {e}")),
            (None, Some(n)) if n != got => Some(format!("truncated body: {got} of {n} bytes")),
            (None, _) => None,
        };
        match problem {
            None => {
                bump(&ctx.counters.objects_fetched);
                ctx.counters.bytes_fetched.fetch_add(got, Ordering::Relaxed);
                return Item::Bytes { name, data: buf };
            }
            Some(_) if attempt < BODY_ATTEMPTS => {
                bump(&ctx.counters.body_retries);
                tokio::time::sleep(ctx.body_backoff * attempt).await;
            }
            Some(p) => {
                bump(&ctx.counters.objects_failed);
                return Item::Done(FileResult::failed(
                    name,
                    format!("cannot download: {p}{}", after(&sent)),
                ));
            }
        }
    }
}

/// Parse every input that starts with `s3://`.
pub fn parse_urls(inputs: &[String]) -> Result<Vec<S3Url>, SourceError> {
    inputs
        .iter()
        .filter(|i| i.starts_with("s3://"))
        .map(|i| S3Url::parse(i))
        .collect()
}

/// The day window as it will be listed, for `--since`/`--until` (exposed for docs and tests).
pub fn listed_dates(f: &Filters, now_ms: i64) -> Option<(Option<NaiveDate>, NaiveDate)> {
    Window::new(f, now_ms).dates
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Days;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn region_leaves_by_window() {
        let p = "AWSLogs/111122223333/CloudTrail/us-east-1/";
        let mut w = Window {
            accounts: vec![],
            regions: vec![],
            dates: None,
        };
        assert_eq!(region_leaves(p, &w), vec![Leaf::All(p.to_string())]);
        w.dates = Some((Some(date("2026-10-04")), date("2026-10-06")));
        assert_eq!(
            region_leaves(p, &w),
            vec![
                Leaf::All(format!("{p}2026/10/04/")),
                Leaf::All(format!("{p}2026/10/05/")),
                Leaf::All(format!("{p}2026/10/06/")),
            ]
        );
        let first = date("2026-01-01");
        let last = first.checked_add_days(Days::new(200)).unwrap_or(first);
        w.dates = Some((Some(first), last));
        assert_eq!(
            region_leaves(p, &w),
            vec![Leaf::Range {
                region_prefix: p.to_string(),
                first: Some(first),
                last
            }]
        );
    }
}

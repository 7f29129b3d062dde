//! `scan` over several sources at once: local paths, `s3://` URLs and
//! `--lookup`, merged into one collector so accounting and dedupe stay global.

use std::time::Duration;

use anyhow::{Result, bail};

use super::args::{RemoteArgs, ScanArgs};
use trailtriage::finding::Finding;
use trailtriage::pipeline::{
    Collector, Input, Observer, ScanOptions, Stats, run_local, run_local_into,
};
use trailtriage::select::Prefilter;
use trailtriage::source::lookup::{LookupOptions, run_lookup};
use trailtriage::source::s3::{S3Options, S3Report, parse_urls, run_s3};
use trailtriage::source::{
    AwsOptions, DEFAULT_CONNECT_TIMEOUT, DEFAULT_RESPONSE_TIMEOUT, Timeouts,
};

fn is_s3(i: &Input) -> bool {
    matches!(i, Input::Path(p) if p.to_str().is_some_and(|s| s.starts_with("s3://")))
}

/// Hidden knob for tests and slow links: the first retry backoff in
/// milliseconds (docs/S3.md, "Failures and retries").
const RETRY_BACKOFF_ENV: &str = "TRAILTRIAGE_RETRY_BACKOFF_MS";

pub(super) fn aws_options(r: &RemoteArgs) -> Result<AwsOptions> {
    let retry_backoff = match std::env::var(RETRY_BACKOFF_ENV) {
        Ok(v) => match v.trim().parse::<u64>() {
            Ok(ms) => Some(Duration::from_millis(ms)),
            Err(_) => bail!("{RETRY_BACKOFF_ENV}={v:?}: not a number of milliseconds"),
        },
        Err(_) => None,
    };
    Ok(AwsOptions {
        profile: r.profile.clone(),
        region: r.region.first().cloned(),
        endpoint_url: r.endpoint_url.clone(),
        max_attempts: None,
        retry_backoff,
        static_credentials: None,
        timeouts: Timeouts {
            connect: r.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT),
            response: r.response_timeout.unwrap_or(DEFAULT_RESPONSE_TIMEOUT),
        },
    })
}

/// Run every source named by `a` and return the findings and accounting.
pub(super) fn scan_all(
    a: &ScanArgs,
    inputs: &[Input],
    opts: &ScanOptions,
    observer: &dyn Observer,
) -> Result<(Vec<Finding>, Stats)> {
    let r = &a.remote;
    let urls = parse_urls(&a.inputs)?;
    let local: Vec<Input> = inputs.iter().filter(|i| !is_s3(i)).cloned().collect();
    if urls.is_empty() && !r.lookup {
        return Ok(run_local(&local, opts, observer));
    }
    if r.s3_concurrency == 0 {
        bail!("--s3-concurrency must be at least 1");
    }
    if !urls.is_empty() && r.region.len() > 1 {
        bail!(
            "--region is given {} times: S3 takes one region (several are for --lookup only)",
            r.region.len()
        );
    }
    let mut collector = Collector::new();
    if !local.is_empty() {
        run_local_into(&local, opts, observer, &mut collector);
    }
    let pf = Prefilter::new(opts.select);
    let mut notes = Vec::new();
    if !urls.is_empty() {
        let s3 = S3Options {
            aws: aws_options(r)?,
            concurrency: r.s3_concurrency,
        };
        let rep = run_s3(&urls, &s3, opts, &pf, observer, &mut collector)?;
        tracing::info!(?rep, "S3 source done");
        notes.push(s3_note(&rep));
    }
    if r.lookup {
        let lo = LookupOptions {
            aws: aws_options(r)?,
            regions: r.region.clone(),
            ..LookupOptions::default()
        };
        let rep = run_lookup(&lo, opts, &pf, observer, &mut collector)?;
        tracing::info!(?rep, "LookupEvents source done");
        notes.push(format!(
            "LookupEvents ({}): {} events in {} pages, {} requests, {} throttled, {} retries",
            rep.regions.join(", "),
            rep.events,
            rep.pages,
            rep.requests,
            rep.throttled,
            rep.retries
        ));
    }
    let (findings, mut stats) = collector.finish();
    stats.notes.extend(notes);
    Ok((findings, stats))
}

/// The report's line about what the S3 source did.
pub(super) fn s3_note(rep: &S3Report) -> String {
    format!(
        "S3: {} keys listed in {} requests ({}), {} objects fetched ({} bytes), {} skipped by key, {} failed, {} retries",
        rep.keys_listed,
        rep.list_requests,
        if rep.pruned {
            "only the CloudTrail prefixes in the account, region and date window"
        } else {
            "the whole prefix"
        },
        rep.objects_fetched,
        rep.bytes_fetched,
        rep.skipped_by_key,
        rep.objects_failed,
        rep.retries
    )
}

//! The CloudTrail key layout in S3, and the date pruning built on it.
//!
//! CloudTrail delivers to
//! `[TRAIL_PREFIX/]AWSLogs/[o-ORGID/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/FILE`
//! (`CloudTrail-Digest/` and `CloudTrail-Insight/` sit beside `CloudTrail/`).
//! The date in the key is the UTC delivery date; records inside a file can be
//! older than it (and, with clock skew, a little younger), so every window is
//! widened by one day on each side.

use chrono::{DateTime, Datelike, Days, NaiveDate, Utc};

use super::SourceError;

/// `s3://bucket/prefix`, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    pub bucket: String,
    pub prefix: String,
}

impl S3Url {
    /// Parse `s3://bucket[/prefix]`.
    pub fn parse(url: &str) -> Result<S3Url, SourceError> {
        let bad = |why: &str| SourceError::BadUrl {
            url: url.to_string(),
            reason: why.to_string(),
        };
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| bad("does not start with s3://"))?;
        let (bucket, prefix) = match rest.split_once('/') {
            Some((b, p)) => (b, p),
            None => (rest, ""),
        };
        if bucket.is_empty() {
            return Err(bad("no bucket name"));
        }
        if !bucket
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
        {
            return Err(bad("the bucket name has characters S3 does not allow"));
        }
        Ok(S3Url {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }

    /// `s3://bucket/key` for an object of this bucket.
    pub fn object_name(&self, key: &str) -> String {
        format!("s3://{}/{}", self.bucket, key)
    }
}

impl std::fmt::Display for S3Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.prefix.is_empty() {
            write!(f, "s3://{}", self.bucket)
        } else {
            write!(f, "s3://{}/{}", self.bucket, self.prefix)
        }
    }
}

/// A 12-digit AWS account id.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// An AWS Organizations id: `o-` and 10 to 32 lowercase letters or digits.
pub fn is_org_id(s: &str) -> bool {
    s.strip_prefix("o-").is_some_and(|r| {
        (10..=32).contains(&r.len())
            && r.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

/// A region name such as `us-east-1`, `eu-central-2`, `us-gov-west-1`.
pub fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

/// Which kind of CloudTrail delivery a key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    CloudTrail,
    Digest,
    Insight,
    /// Something else under the account (e.g. AWS Config).
    Other,
}

/// A key parsed against the CloudTrail layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailKey<'a> {
    /// Everything before `AWSLogs/` (empty, or ending with `/`).
    pub trail_prefix: &'a str,
    pub org_id: Option<&'a str>,
    pub account: &'a str,
    pub kind: KeyKind,
    pub region: Option<&'a str>,
    /// Delivery date from the key.
    pub date: Option<NaiveDate>,
    pub file: &'a str,
}

/// Parse a full object key against the CloudTrail layout; `None` when the key
/// does not follow it.
pub fn parse_key(key: &str) -> Option<TrailKey<'_>> {
    let at = find_awslogs(key)?;
    let trail_prefix = &key[..at];
    let rest = &key[at + "AWSLogs/".len()..];
    let mut segs: Vec<&str> = rest.split('/').collect();
    let file = segs.pop()?;
    let mut it = segs.into_iter().peekable();
    let org_id = match it.peek() {
        Some(s) if is_org_id(s) => it.next(),
        _ => None,
    };
    let account = it.next().filter(|a| is_account_id(a))?;
    let kind = match it.next()? {
        "CloudTrail" => KeyKind::CloudTrail,
        "CloudTrail-Digest" => KeyKind::Digest,
        "CloudTrail-Insight" => KeyKind::Insight,
        _ => KeyKind::Other,
    };
    let region = it.next().filter(|r| is_region(r));
    let date = match (it.next(), it.next(), it.next()) {
        (Some(y), Some(m), Some(d)) if y.len() == 4 && m.len() == 2 && d.len() == 2 => {
            match (y.parse(), m.parse(), d.parse()) {
                (Ok(y), Ok(m), Ok(d)) => NaiveDate::from_ymd_opt(y, m, d),
                _ => None,
            }
        }
        _ => None,
    };
    Some(TrailKey {
        trail_prefix,
        org_id,
        account,
        kind,
        region,
        date,
        file,
    })
}

/// Byte offset of the last `AWSLogs/` path segment in `s`.
fn find_awslogs(s: &str) -> Option<usize> {
    let mut found = None;
    let mut start = 0;
    while let Some(i) = s[start..].find("AWSLogs/") {
        let at = start + i;
        if at == 0 || s.as_bytes()[at - 1] == b'/' {
            found = Some(at);
        }
        start = at + 1;
    }
    found
}

/// Where a listing prefix sits in the CloudTrail layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Level {
    /// Before `AWSLogs/` (a bucket root or a trail prefix): look for `AWSLogs/` below.
    Above(String),
    /// `.../AWSLogs/`: children are accounts and organization ids.
    AwsLogs(String),
    /// `.../AWSLogs/o-xxxx/`: children are accounts.
    Org(String),
    /// `.../ACCOUNT/`.
    Account(String),
    /// `.../ACCOUNT/CloudTrail/`: children are regions.
    CloudTrail(String),
    /// `.../CloudTrail/REGION/`: children are dates.
    Region(String),
    /// Anything narrower or unrecognised: list it whole.
    Full(String),
}

/// Place a user's prefix in the layout. A prefix that names a whole layout
/// component without the trailing slash (`AWSLogs`, an account id) is taken
/// as that component.
pub fn level_of(prefix: &str) -> Level {
    let p = if prefix.is_empty() || prefix.ends_with('/') {
        prefix.to_string()
    } else {
        let last = prefix.rsplit('/').next().unwrap_or(prefix);
        let whole = last == "AWSLogs"
            || last == "CloudTrail"
            || is_account_id(last)
            || is_org_id(last)
            || is_region(last);
        if whole && (last == "AWSLogs" || find_awslogs(prefix).is_some()) {
            format!("{prefix}/")
        } else {
            return if find_awslogs(prefix).is_some() {
                Level::Full(prefix.to_string())
            } else {
                Level::Above(prefix.to_string())
            };
        }
    };
    let Some(at) = find_awslogs(&p) else {
        return Level::Above(p);
    };
    let segs: Vec<&str> = p[at + "AWSLogs/".len()..]
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let (org, rest) = match segs.split_first() {
        Some((first, rest)) if is_org_id(first) => (true, rest),
        _ => (false, &segs[..]),
    };
    match rest {
        [] if org => Level::Org(p),
        [] => Level::AwsLogs(p),
        [a] if is_account_id(a) => Level::Account(p),
        [a, "CloudTrail"] if is_account_id(a) => Level::CloudTrail(p),
        [a, "CloudTrail", r] if is_account_id(a) && is_region(r) => Level::Region(p),
        _ => Level::Full(p),
    }
}

/// The child name of a common prefix returned by a delimiter listing:
/// `a/b/c/` under `a/b/` is `c`.
pub fn child_name<'a>(parent: &str, common_prefix: &'a str) -> Option<&'a str> {
    common_prefix
        .strip_prefix(parent)
        .and_then(|c| c.strip_suffix('/'))
        .filter(|c| !c.is_empty() && !c.contains('/'))
}

/// One day in milliseconds.
const DAY_MS: i64 = 86_400_000;

/// Windows longer than this many days are listed as one range per region
/// (start-after plus an early stop) rather than one listing per day.
pub const MAX_DAY_PREFIXES: usize = 92;

/// The UTC delivery dates worth listing for events in `[since, until)`,
/// widened by one day on each side. `until` defaults to `now` (nothing is
/// delivered in the future). `None` when there is no lower bound.
pub fn date_range(
    since_ms: Option<i64>,
    until_ms: Option<i64>,
    now_ms: i64,
) -> Option<(NaiveDate, NaiveDate)> {
    let since = since_ms?;
    let until = until_ms
        .unwrap_or(now_ms)
        .min(now_ms.saturating_add(DAY_MS));
    let first = date_of(since)?.checked_sub_days(Days::new(1))?;
    // `until` is exclusive: the last event time is until - 1 ms.
    let last = date_of(until.saturating_sub(1).max(since))?.checked_add_days(Days::new(1))?;
    Some((first, last))
}

/// The last delivery date worth listing when only `--until` is given.
pub fn last_date(until_ms: i64) -> Option<NaiveDate> {
    date_of(until_ms.saturating_sub(1))?.checked_add_days(Days::new(1))
}

fn date_of(ms: i64) -> Option<NaiveDate> {
    DateTime::<Utc>::from_timestamp_millis(ms).map(|d| d.date_naive())
}

/// `YYYY/MM/DD/` for every date from `first` to `last` inclusive.
pub fn day_prefixes(first: NaiveDate, last: NaiveDate) -> Vec<String> {
    let mut out = Vec::new();
    let mut d = first;
    while d <= last {
        out.push(day_suffix(d));
        match d.succ_opt() {
            Some(n) => d = n,
            None => break,
        }
    }
    out
}

/// `YYYY/MM/DD/` of one date.
pub fn day_suffix(d: NaiveDate) -> String {
    format!("{:04}/{:02}/{:02}/", d.year(), d.month(), d.day())
}

/// The date of a key relative to its region prefix (`YYYY/MM/DD/...`).
pub fn date_under_region(region_prefix: &str, key: &str) -> Option<NaiveDate> {
    let rest = key.strip_prefix(region_prefix)?;
    let mut it = rest.split('/');
    let (y, m, d) = (it.next()?, it.next()?, it.next()?);
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s)
            .map(|d| d.timestamp_millis())
            .unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn urls() {
        let cases = [
            ("s3://b", Some(("b", ""))),
            ("s3://b/", Some(("b", ""))),
            ("s3://my.bucket/AWSLogs/", Some(("my.bucket", "AWSLogs/"))),
            ("s3://b/x/y", Some(("b", "x/y"))),
            ("s3:///x", None),
            ("http://b/x", None),
            ("s3://b c/x", None),
        ];
        for (url, want) in cases {
            let got = S3Url::parse(url).ok();
            let got = got.as_ref().map(|u| (u.bucket.as_str(), u.prefix.as_str()));
            assert_eq!(got, want, "{url}");
        }
        let e = S3Url::parse("s3:///x").err().map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("s3:///x: not an S3 URL: no bucket name"));
    }

    #[test]
    fn ids() {
        assert!(is_account_id("111122223333"));
        assert!(!is_account_id("11112222333"));
        assert!(!is_account_id("11112222333x"));
        assert!(is_org_id("o-a1b2c3d4e5"));
        assert!(!is_org_id("o-short"));
        assert!(!is_org_id("o-A1B2C3D4E5"));
        for r in [
            "us-east-1",
            "eu-central-2",
            "us-gov-west-1",
            "ap-southeast-5",
        ] {
            assert!(is_region(r), "{r}");
        }
        for r in ["CloudTrail", "us-east", "2026", "US-EAST-1"] {
            assert!(!is_region(r), "{r}");
        }
    }

    #[test]
    fn keys() {
        let k = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/05/111122223333_CloudTrail_us-east-1_20261005T1645Z_x.json.gz";
        let t = parse_key(k).unwrap_or_else(|| panic!("{k}"));
        assert_eq!(t.trail_prefix, "");
        assert_eq!(t.org_id, None);
        assert_eq!(t.account, "111122223333");
        assert_eq!(t.kind, KeyKind::CloudTrail);
        assert_eq!(t.region, Some("us-east-1"));
        assert_eq!(t.date, Some(date("2026-10-05")));

        let k = "trails/prod/AWSLogs/o-abcdef1234/444455556666/CloudTrail/eu-west-1/2026/01/31/f.json.gz";
        let t = parse_key(k).unwrap_or_else(|| panic!("{k}"));
        assert_eq!(t.trail_prefix, "trails/prod/");
        assert_eq!(t.org_id, Some("o-abcdef1234"));
        assert_eq!(t.account, "444455556666");
        assert_eq!(t.region, Some("eu-west-1"));
        assert_eq!(t.date, Some(date("2026-01-31")));
        assert_eq!(t.file, "f.json.gz");

        let k = "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/10/07/d.json.gz";
        assert_eq!(parse_key(k).map(|t| t.kind), Some(KeyKind::Digest));
        let k = "AWSLogs/111122223333/CloudTrail-Insight/us-east-1/2026/10/07/i.json.gz";
        assert_eq!(parse_key(k).map(|t| t.kind), Some(KeyKind::Insight));
        let k = "AWSLogs/111122223333/Config/us-east-1/2026/10/07/ConfigSnapshot/c.json.gz";
        assert_eq!(parse_key(k).map(|t| t.kind), Some(KeyKind::Other));
        // Not the layout.
        assert_eq!(parse_key("exports/2026/siem.ndjson"), None);
        assert_eq!(parse_key("MyAWSLogs/111122223333/CloudTrail/x"), None);
        assert_eq!(parse_key("AWSLogs/notanaccount/CloudTrail/x"), None);
        // Invalid date.
        let k = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/02/30/f.json.gz";
        assert_eq!(parse_key(k).and_then(|t| t.date), None);
    }

    #[test]
    fn levels() {
        let cases = [
            ("", Level::Above(String::new())),
            ("trails/", Level::Above("trails/".into())),
            ("trails", Level::Above("trails".into())),
            ("AWSLogs", Level::AwsLogs("AWSLogs/".into())),
            ("AWSLogs/", Level::AwsLogs("AWSLogs/".into())),
            ("t/AWSLogs/", Level::AwsLogs("t/AWSLogs/".into())),
            (
                "AWSLogs/o-abcdef1234/",
                Level::Org("AWSLogs/o-abcdef1234/".into()),
            ),
            (
                "AWSLogs/o-abcdef1234",
                Level::Org("AWSLogs/o-abcdef1234/".into()),
            ),
            (
                "AWSLogs/111122223333/",
                Level::Account("AWSLogs/111122223333/".into()),
            ),
            (
                "AWSLogs/o-abcdef1234/111122223333",
                Level::Account("AWSLogs/o-abcdef1234/111122223333/".into()),
            ),
            (
                "AWSLogs/111122223333/CloudTrail/",
                Level::CloudTrail("AWSLogs/111122223333/CloudTrail/".into()),
            ),
            (
                "AWSLogs/111122223333/CloudTrail/us-east-1",
                Level::Region("AWSLogs/111122223333/CloudTrail/us-east-1/".into()),
            ),
            (
                "AWSLogs/111122223333/CloudTrail/us-east-1/2026/",
                Level::Full("AWSLogs/111122223333/CloudTrail/us-east-1/2026/".into()),
            ),
            ("AWSLogs/1111", Level::Full("AWSLogs/1111".into())),
            (
                "AWSLogs/111122223333/CloudTrail-Digest/",
                Level::Full("AWSLogs/111122223333/CloudTrail-Digest/".into()),
            ),
        ];
        for (p, want) in cases {
            assert_eq!(level_of(p), want, "{p:?}");
        }
    }

    #[test]
    fn children() {
        assert_eq!(
            child_name("AWSLogs/", "AWSLogs/111122223333/"),
            Some("111122223333")
        );
        assert_eq!(child_name("AWSLogs/", "AWSLogs/"), None);
        assert_eq!(child_name("AWSLogs/", "Other/x/"), None);
    }

    #[test]
    fn date_ranges_have_a_day_of_margin() {
        let now = ms("2026-10-20T00:00:00Z");
        // [Oct 5 12:00, Oct 6 00:00) -> Oct 4 ..= Oct 6.
        let r = date_range(
            Some(ms("2026-10-05T12:00:00Z")),
            Some(ms("2026-10-06T00:00:00Z")),
            now,
        );
        assert_eq!(r, Some((date("2026-10-04"), date("2026-10-06"))));
        // until inside a day -> that day + 1.
        let r = date_range(
            Some(ms("2026-10-05T00:00:00Z")),
            Some(ms("2026-10-06T00:00:01Z")),
            now,
        );
        assert_eq!(r, Some((date("2026-10-04"), date("2026-10-07"))));
        // No until: up to now + 1 day.
        let r = date_range(Some(ms("2026-10-18T00:00:00Z")), None, now);
        assert_eq!(r, Some((date("2026-10-17"), date("2026-10-20"))));
        // An until far in the future is capped at now + 1 day.
        let r = date_range(
            Some(ms("2026-10-18T00:00:00Z")),
            Some(ms("2030-01-01T00:00:00Z")),
            now,
        );
        assert_eq!(r, Some((date("2026-10-17"), date("2026-10-21"))));
        // Month and year boundaries.
        let r = date_range(
            Some(ms("2026-01-01T00:00:00Z")),
            Some(ms("2026-01-01T01:00:00Z")),
            now,
        );
        assert_eq!(r, Some((date("2025-12-31"), date("2026-01-02"))));
        assert_eq!(date_range(None, Some(now), now), None);
        assert_eq!(
            last_date(ms("2026-10-06T00:00:00Z")),
            Some(date("2026-10-06"))
        );
    }

    #[test]
    fn day_prefix_lists() {
        let d = day_prefixes(date("2026-02-27"), date("2026-03-01"));
        assert_eq!(d, vec!["2026/02/27/", "2026/02/28/", "2026/03/01/"]);
        assert!(day_prefixes(date("2026-03-02"), date("2026-03-01")).is_empty());
        let r = "AWSLogs/111122223333/CloudTrail/us-east-1/";
        assert_eq!(
            date_under_region(r, &format!("{r}2026/10/05/f.json.gz")),
            Some(date("2026-10-05"))
        );
        assert_eq!(date_under_region(r, &format!("{r}junk.json")), None);
    }
}

//! Filters users apply to findings: time window, accounts, log regions,
//! caller and role globs, causes.

use globset::{Glob, GlobMatcher};

use crate::error::Error;
use crate::finding::Finding;

/// A validated set of filters. Empty filters accept everything.
#[derive(Debug, Default, Clone)]
pub struct Filters {
    /// Inclusive lower bound, epoch ms.
    pub since_ms: Option<i64>,
    /// Exclusive upper bound, epoch ms.
    pub until_ms: Option<i64>,
    /// Caller, role or recipient account must be one of these.
    pub accounts: Vec<String>,
    /// `awsRegion` must be one of these.
    pub log_regions: Vec<String>,
    pub caller: Vec<GlobMatcher>,
    pub role: Vec<GlobMatcher>,
    pub causes: Vec<String>,
}

/// Compile ARN globs (`*` and `?`; `/` is an ordinary character).
pub fn compile_globs(pats: &[String]) -> Result<Vec<GlobMatcher>, Error> {
    pats.iter()
        .map(|p| {
            globset::GlobBuilder::new(p)
                .literal_separator(false)
                .build()
                .map(|g: Glob| g.compile_matcher())
                .map_err(|e| Error::Config(format!("bad glob {p:?}: {e}")))
        })
        .collect()
}

impl Filters {
    pub fn is_empty(&self) -> bool {
        self.since_ms.is_none()
            && self.until_ms.is_none()
            && self.accounts.is_empty()
            && self.log_regions.is_empty()
            && self.caller.is_empty()
            && self.role.is_empty()
            && self.causes.is_empty()
    }

    /// Does this finding pass every filter?
    pub fn accept(&self, f: &Finding) -> bool {
        self.accept_but_cause(f) && self.accept_cause(f)
    }

    fn accept_but_cause(&self, f: &Finding) -> bool {
        if self.since_ms.is_some() || self.until_ms.is_some() {
            let Some(t) = f.event_time else { return false };
            if self.since_ms.is_some_and(|s| t < s) || self.until_ms.is_some_and(|u| t >= u) {
                return false;
            }
        }
        if !self.accounts.is_empty() {
            let hit = [
                &f.caller_account_id,
                &f.role_account_id,
                &f.recipient_account_id,
            ]
            .iter()
            .any(|a| {
                a.as_deref()
                    .is_some_and(|a| self.accounts.iter().any(|x| x == a))
            });
            if !hit {
                return false;
            }
        }
        if !self.log_regions.is_empty()
            && !f
                .aws_region
                .as_deref()
                .is_some_and(|r| self.log_regions.iter().any(|x| x == r))
        {
            return false;
        }
        if !self.caller.is_empty()
            && !f
                .caller_arn
                .as_deref()
                .is_some_and(|a| self.caller.iter().any(|g| g.is_match(a)))
        {
            return false;
        }
        if !self.role.is_empty()
            && !f
                .target_role_arn
                .as_deref()
                .is_some_and(|a| self.role.iter().any(|g| g.is_match(a)))
        {
            return false;
        }
        true
    }

    /// Every filter but the cause filter (for findings whose cause log
    /// context may still change after the scan).
    pub fn accept_except_cause(&self, f: &Finding) -> bool {
        self.accept_but_cause(f)
    }

    /// The cause filter alone.
    pub fn accept_cause(&self, f: &Finding) -> bool {
        self.causes.is_empty() || self.causes.contains(&f.cause_id)
    }
}

/// Parse a time bound: RFC 3339, a date (`2026-10-01`, midnight UTC), or a
/// duration before `now_ms` (`36h`, `7d`, `90m`, `2w`).
pub fn parse_time_bound(s: &str, now_ms: i64) -> Result<i64, Error> {
    let s = s.trim();
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(d.timestamp_millis());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(t.and_utc().timestamp_millis());
    }
    if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S") {
        return Ok(t.and_utc().timestamp_millis());
    }
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = num.parse().map_err(|_| {
        Error::Config(format!(
            "cannot read time {s:?}: use RFC 3339, YYYY-MM-DD, or a duration like 36h / 7d"
        ))
    })?;
    let unit_ms = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => {
            return Err(Error::Config(format!(
                "cannot read time {s:?}: unknown unit {unit:?} (s, m, h, d, w)"
            )));
        }
    };
    Ok(now_ms - n.saturating_mul(unit_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_bounds() {
        let now = 1_000_000_000_000;
        assert_eq!(parse_time_bound("36h", now).unwrap(), now - 36 * 3_600_000);
        assert_eq!(parse_time_bound("7d", now).unwrap(), now - 7 * 86_400_000);
        assert_eq!(
            parse_time_bound("2026-10-01", now).unwrap(),
            1_790_812_800_000
        );
        assert_eq!(
            parse_time_bound("2026-10-01T00:00:00Z", now).unwrap(),
            1_790_812_800_000
        );
        assert!(parse_time_bound("yesterday", now).is_err());
        assert!(parse_time_bound("7y", now).is_err());
    }

    #[test]
    fn globs_span_slashes() {
        let g = compile_globs(&["*Deploy*".to_string()]).unwrap();
        assert!(g[0].is_match("arn:aws:iam::111122223333:role/ci/DeployRole"));
    }
}

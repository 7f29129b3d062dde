//! The cheap pre-filter that decides, from raw bytes, whether a record could
//! possibly be selected. It must never reject a record that the full parse
//! would select (design rule 11): a record can only be selected if it is a
//! failure (an `errorCode` key, or a `SwitchRole` response), or, with
//! `--include-context`, an `AWSAccount` caller. Log context adds the records
//! `policy::context::extract` keeps: a role-management event (`roleName` and
//! one of its event names) and, with `--log-context=full`, an issued session
//! (`assumedRoleUser`). JSON can spell those keys and values with `\u`
//! escapes, so any record holding `\u` goes to the full parse.
//!
//! Two ways to ask, with the same answer:
//!
//! * [`Prefilter::could_match`] searches one record;
//! * [`Prefilter::find_hits`] searches a whole decoded file once (one
//!   multi-literal pass instead of one pass per needle and record), and
//!   [`Hits::any_within`] then answers for each record by its byte span.
//!   With role-management context on it is a superset (it cannot ask for
//!   two needles in one record). Otherwise it is exact, not an
//!   approximation: every record span the scanner hands
//!   out as raw bytes starts with `{` and ends with `}`, and no needle holds a
//!   brace, so each occurrence of a needle lies either wholly inside a record
//!   or wholly outside it; and when the search reports the leftmost of two
//!   overlapping occurrences only, both lie in the same record.

use memchr::memmem::Finder;
use regex::bytes::Regex;

use crate::classify::SelectOptions;
use crate::scan::Rec;

/// Pre-built searchers, shared by all workers.
pub struct Prefilter {
    error_code: Finder<'static>,
    switch_role: Finder<'static>,
    aws_account: Finder<'static>,
    unicode_escape: Finder<'static>,
    role_name: Finder<'static>,
    role_changes: [Finder<'static>; 3],
    assumed_role_user: Finder<'static>,
    include_context: bool,
    roles: bool,
    sessions: bool,
    /// All needles of this configuration at once (Teddy / Aho-Corasick).
    any: Option<Regex>,
}

/// Start offsets of needle occurrences in one decoded file, in order.
#[derive(Debug, Default, Clone)]
pub struct Hits {
    starts: Vec<usize>,
}

impl Hits {
    /// Is some occurrence inside `start..end`?
    #[inline]
    pub fn any_within(&self, start: usize, end: usize) -> bool {
        let k = self.starts.partition_point(|&p| p < start);
        self.starts.get(k).is_some_and(|&p| p < end)
    }

    pub fn len(&self) -> usize {
        self.starts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }
}

impl Prefilter {
    pub fn new(opts: SelectOptions) -> Prefilter {
        let mut needles = vec!["errorCode", "SwitchRole", r"\\u"];
        if opts.include_context {
            needles.push("AWSAccount");
        }
        // Log context: every role-management event the join uses carries
        // `requestParameters.roleName`, every issued session
        // `responseElements.assumedRoleUser` (`policy::context::extract`
        // requires them), so these needles never drop one.
        if opts.log_context.roles() {
            // The file-wide pass cannot say "both in one record": it
            // matches the event names alone, a superset of `could_match`.
            needles.extend(["CreateRole", "DeleteRole", "UpdateAssumeRolePolicy"]);
        }
        if opts.log_context.sessions() {
            needles.push("assumedRoleUser");
        }
        // A fixed alternation of literals always compiles; if it ever did not,
        // the per-record search still gives the same answers.
        let any = regex::bytes::RegexBuilder::new(&needles.join("|"))
            .unicode(false)
            .build()
            .ok();
        Prefilter {
            error_code: Finder::new(b"errorCode"),
            switch_role: Finder::new(b"SwitchRole"),
            aws_account: Finder::new(b"AWSAccount"),
            unicode_escape: Finder::new(b"\\u"),
            role_name: Finder::new(b"roleName"),
            role_changes: [
                Finder::new(b"CreateRole"),
                Finder::new(b"DeleteRole"),
                Finder::new(b"UpdateAssumeRolePolicy"),
            ],
            assumed_role_user: Finder::new(b"assumedRoleUser"),
            include_context: opts.include_context,
            roles: opts.log_context.roles(),
            sessions: opts.log_context.sessions(),
            any,
        }
    }

    /// Is the structural scanner's needle-pair proof ([`crate::scan::Rec::Clean`]:
    /// neither `errorCode` nor `SwitchRole` in a record without backslashes)
    /// enough to reject a record? Only when those are the only needles.
    #[inline]
    pub fn pair_masks_decide(&self) -> bool {
        !self.include_context && !self.roles && !self.sessions
    }

    /// The decision for one record as the structural scanner hands it out
    /// (what the pipeline does before parsing): may it be selected? `None`
    /// for a record the scanner found malformed.
    #[inline]
    pub fn could_match_rec(&self, rec: &Rec<'_>) -> Option<bool> {
        Some(match rec {
            Rec::Clean(_) if self.pair_masks_decide() => false,
            Rec::Clean(b) | Rec::Plain(b) => self.could_match_unescaped(b),
            Rec::Raw(b) => self.could_match(b),
            Rec::Owned(v) => self.could_match(v),
            Rec::Bad(_) => return None,
        })
    }

    /// May this record be selected? `false` is a proof that it cannot.
    #[inline]
    pub fn could_match(&self, rec: &[u8]) -> bool {
        self.needles(rec) || self.unicode_escape.find(rec).is_some()
    }

    /// Every needle but the escape one. One place, so that
    /// [`Prefilter::could_match`] and [`Prefilter::could_match_unescaped`]
    /// cannot drift apart.
    #[inline]
    fn needles(&self, rec: &[u8]) -> bool {
        self.error_code.find(rec).is_some()
            || self.switch_role.find(rec).is_some()
            || (self.include_context && self.aws_account.find(rec).is_some())
            || (self.roles && self.role_change(rec))
            || (self.sessions && self.assumed_role_user.find(rec).is_some())
    }

    /// A role-management event the log-context join uses: it carries
    /// `requestParameters.roleName` and its event name (either may only be
    /// spelled with `\u` escapes, which go to the full parse anyway). The
    /// key is searched first: it is in few records (GetRole, List*RolePolicies
    /// and the like), so the names are searched in those only.
    #[inline]
    fn role_change(&self, rec: &[u8]) -> bool {
        self.role_name.find(rec).is_some()
            && self.role_changes.iter().any(|f| f.find(rec).is_some())
    }

    /// [`Prefilter::could_match`] for a record known to hold no backslash:
    /// no needle can be spelled with escapes there, so the escape search is
    /// skipped.
    #[inline]
    pub fn could_match_unescaped(&self, rec: &[u8]) -> bool {
        debug_assert!(memchr::memchr(b'\\', rec).is_none());
        self.needles(rec)
    }

    /// Search a whole decoded file once, into `hits` (reused). Returns
    /// `false` if the combined searcher is unavailable (then ask
    /// [`Prefilter::could_match`] per record).
    pub fn find_hits(&self, file: &[u8], hits: &mut Hits) -> bool {
        hits.starts.clear();
        let Some(re) = &self.any else {
            return false;
        };
        hits.starts.extend(re.find_iter(file).map(|m| m.start()));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_hits_agree_with_per_record_search() {
        let file = br#"{"Records":[{"a":"errorCode"},{"b":1},{"c":"x\u0041"},{"SwitchRole":"Failure"},{"d":"errorCod"},{"e":"AWSAccount"}]}"#;
        for include_context in [false, true] {
            let pf = Prefilter::new(SelectOptions {
                include_context,
                log_context: crate::policy::context::LogContext::Off,
                ..SelectOptions::default()
            });
            let mut hits = Hits::default();
            assert!(pf.find_hits(file, &mut hits));
            let mut seen = Vec::new();
            crate::scan::scan(file, &mut |r| {
                if let crate::scan::Rec::Raw(b)
                | crate::scan::Rec::Plain(b)
                | crate::scan::Rec::Clean(b) = r
                {
                    let off = b.as_ptr() as usize - file.as_ptr() as usize;
                    assert_eq!(pf.could_match(b), hits.any_within(off, off + b.len()));
                    seen.push(pf.could_match(b));
                }
            })
            .unwrap();
            assert_eq!(seen, [true, false, true, true, false, include_context]);
        }
    }

    #[test]
    fn log_context_needles() {
        use crate::policy::context::LogContext;
        let get = br#"{"eventName":"GetRole","requestParameters":{"roleName":"R"}}"#;
        let del = br#"{"eventName":"DeleteRole","requestParameters":{"roleName":"R"}}"#;
        let ok = br#"{"eventName":"AssumeRole","responseElements":{"assumedRoleUser":{}}}"#;
        for (mode, want) in [
            (LogContext::Off, [false, false, false]),
            (LogContext::Roles, [false, true, false]),
            (LogContext::Full, [false, true, true]),
        ] {
            let pf = Prefilter::new(SelectOptions {
                log_context: mode,
                ..SelectOptions::default()
            });
            let got = [&get[..], &del[..], &ok[..]].map(|r| pf.could_match(r));
            assert_eq!(got, want, "{mode:?}");
        }
    }

    /// The scanner's needle-pair proof covers `errorCode` and `SwitchRole`
    /// only: it may decide alone exactly when no other needle is asked for,
    /// and then every record it would reject is rejected by the search too.
    #[test]
    fn pair_masks_decide_only_with_the_default_needles() {
        use crate::policy::context::LogContext;
        let cases = [
            (false, LogContext::Off, true),
            (true, LogContext::Off, false),
            (false, LogContext::Roles, false),
            (false, LogContext::Full, false),
        ];
        for (include_context, log_context, want) in cases {
            let pf = Prefilter::new(SelectOptions {
                include_context,
                log_context,
                ..SelectOptions::default()
            });
            assert_eq!(
                pf.pair_masks_decide(),
                want,
                "{include_context} {log_context:?}"
            );
        }
        // With the default needles, every `Clean` record of a realistic file
        // is one the search rejects as well.
        let pf = Prefilter::new(SelectOptions::default());
        let pad = "x".repeat(300);
        let file = format!(
            r#"{{"Records":[{{"a":"{pad}"}},{{"o":"{pad}","errorCode":"AccessDenied","p":"{pad}"}},{{"b":"{pad}"}},{{"o":"{pad}","responseElements":{{"SwitchRole":"Failure"}},"q":"{pad}"}},{{"c":"{pad}"}}]}}"#
        );
        let mut kinds = String::new();
        crate::scan::scan(file.as_bytes(), &mut |r| match r {
            crate::scan::Rec::Clean(b) => {
                assert!(!pf.could_match(b));
                kinds.push('C');
            }
            crate::scan::Rec::Plain(b) | crate::scan::Rec::Raw(b) => {
                kinds.push(if pf.could_match(b) { 'M' } else { 'P' })
            }
            _ => kinds.push('?'),
        })
        .unwrap();
        assert_eq!(kinds.len(), 5, "{kinds}");
        assert_eq!((&kinds[1..2], &kinds[3..4]), ("M", "M"), "{kinds}");
        if crate::scan::BLOCK_SCANNER == "avx2" {
            // Records 300 bytes away from any needle are proven clean.
            assert_eq!(kinds, "CMCMC");
        }
    }
}

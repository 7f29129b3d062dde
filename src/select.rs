//! The cheap pre-filter that decides, from raw bytes, whether a record could
//! possibly be selected. It must never reject a record that the full parse
//! would select (design rule 11): a record can only be selected if it is a
//! failure (an `errorCode` key, or a `SwitchRole` response), or, with
//! `--include-context`, an `AWSAccount` caller. JSON can spell those keys and
//! values with `\u` escapes, so any record holding `\u` goes to the full parse.

use memchr::memmem::Finder;

use crate::classify::SelectOptions;

/// Pre-built searchers, shared by all workers.
pub struct Prefilter {
    error_code: Finder<'static>,
    switch_role: Finder<'static>,
    aws_account: Finder<'static>,
    unicode_escape: Finder<'static>,
    include_context: bool,
}

impl Prefilter {
    pub fn new(opts: SelectOptions) -> Prefilter {
        Prefilter {
            error_code: Finder::new(b"errorCode"),
            switch_role: Finder::new(b"SwitchRole"),
            aws_account: Finder::new(b"AWSAccount"),
            unicode_escape: Finder::new(b"\\u"),
            include_context: opts.include_context,
        }
    }

    /// May this record be selected? `false` is a proof that it cannot.
    #[inline]
    pub fn could_match(&self, rec: &[u8]) -> bool {
        self.error_code.find(rec).is_some()
            || self.switch_role.find(rec).is_some()
            || (self.include_context && self.aws_account.find(rec).is_some())
            || self.unicode_escape.find(rec).is_some()
    }
}

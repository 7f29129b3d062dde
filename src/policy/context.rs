//! Log context (causes.md §4 step 5, last sentence): events that are not
//! failures but explain one. Not wired into the scan yet; see issue 6.

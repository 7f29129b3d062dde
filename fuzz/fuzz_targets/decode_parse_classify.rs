#![no_main]
//! Arbitrary bytes through the whole per-object path: gzip sniffing and
//! inflate, the structural scanner, the pre-filter, simd-json, selection and
//! classification, in both selection modes. Nothing may panic, and the
//! accounting must hold for every object.

use libfuzzer_sys::fuzz_target;
use trailtriage::classify::SelectOptions;
use trailtriage::pipeline::{ScanOptions, Worker};
use trailtriage::select::Prefilter;

fuzz_target!(|data: &[u8]| {
    for select in [
        SelectOptions::default(),
        SelectOptions { all_denied: true, include_context: true, log_context: trailtriage::policy::context::LogContext::Full },
    ] {
        let opts = ScanOptions { select, max_decompressed: 1 << 20, ..ScanOptions::default() };
        let pf = Prefilter::new(opts.select);
        let r = Worker::new().process_bytes("fuzz.json", data, &opts, &pf);
        let c = r.counts;
        assert_eq!(c.read, c.selected + c.not_selected + c.malformed, "{c:?}");
        assert_eq!(r.findings.len() as u64, c.selected);
    }
});

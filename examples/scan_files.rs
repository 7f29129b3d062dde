//! One thread, the library's per-object path over the files named on the
//! command line: decode, scan, pre-filter, parse and classify candidates.
//! For instruction counts under `valgrind --tool=callgrind`, which are
//! repeatable on a busy machine where wall times are not.
//!
//! ```text
//! cargo build --release --no-default-features --example scan_files
//! valgrind --tool=callgrind target/release/examples/scan_files FILE...
//! ```
//!
//! Prints one line: `files=N records=N selected=N bytes=N`.

use trailtriage::pipeline::{ScanOptions, Worker};
use trailtriage::select::Prefilter;

fn main() {
    let opts = ScanOptions::default();
    let pf = Prefilter::new(opts.select);
    let mut w = Worker::new();
    let (mut files, mut records, mut selected, mut bytes) = (0u64, 0u64, 0u64, 0u64);
    for p in std::env::args().skip(1) {
        let r = w.process_path(std::path::Path::new(&p), &opts, &pf);
        files += 1;
        records += r.counts.read;
        selected += r.counts.selected;
        bytes += r.decompressed_bytes;
    }
    println!(
        "files={files} records={records} selected={selected} bytes={bytes} scanner={}",
        trailtriage::scan::BLOCK_SCANNER
    );
}

//! The structural scanner and the pre-filter's per-record decision alone,
//! from cache: inflates the files named on the command line once, then
//! scans each decoded file `PASSES` times in a row (default 10) on one
//! thread and prints the best of 7 rounds. What BENCHMARKS.md calls "the
//! harness"; build it both ways to compare the block scanners:
//!
//! ```text
//! cargo build --release --no-default-features --example scan_passes
//! RUSTFLAGS="" cargo build --release --no-default-features --example scan_passes \
//!     --target-dir target/portable
//! ```
//!
//! Prints `scanner=… records=… candidates=… clean=… ms=… GB/s=…`.

use std::time::Instant;

use trailtriage::decode::Decoder;
use trailtriage::pipeline::ScanOptions;
use trailtriage::scan::{BLOCK_SCANNER, Rec, scan};
use trailtriage::select::Prefilter;

fn main() {
    let passes: usize = std::env::var("PASSES")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(10);
    let opts = ScanOptions::default();
    let pf = Prefilter::new(opts.select);
    let mut decoder = Decoder::new();
    let mut files = Vec::new();
    for p in std::env::args().skip(1) {
        let raw = match std::fs::read(&p) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{p}: {e}");
                continue;
            }
        };
        match decoder.decode(&p, &raw, opts.max_decompressed) {
            Ok(d) => files.push(d.bytes.to_vec()),
            Err(e) => eprintln!("{p}: {}", e.reason()),
        }
    }
    let bytes: usize = files.iter().map(Vec::len).sum();
    let mut best = f64::MAX;
    let (mut records, mut candidates, mut clean) = (0u64, 0u64, 0u64);
    for _ in 0..7 {
        (records, candidates, clean) = (0, 0, 0);
        let t = Instant::now();
        for f in &files {
            for _ in 0..passes {
                let _ = scan(f, &mut |r| {
                    records += 1;
                    clean += u64::from(matches!(r, Rec::Clean(_)) && pf.pair_masks_decide());
                    candidates += u64::from(pf.could_match_rec(&r) == Some(true));
                });
            }
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    let n = passes as f64;
    println!(
        "scanner={BLOCK_SCANNER} records={} candidates={} clean={} ms={:.1} GB/s={:.2}",
        records / passes as u64,
        candidates / passes as u64,
        clean / passes as u64,
        best * 1e3,
        bytes as f64 * n / best / 1e9
    );
}

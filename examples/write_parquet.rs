//! The Parquet writer alone: reads the findings of a Parquet file this tool
//! wrote, then encodes them to memory `ROUNDS` times (default 7) with
//! `--threads`-like parallelism from `THREADS` (default: all cores) and
//! prints the best round. What BENCHMARKS.md quotes for the end of a run.
//!
//! ```text
//! cargo run --release --example write_parquet -- out.parquet
//! ```
//!
//! Prints `rows=… threads=… bytes=… ms=…`.

use std::time::Instant;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: write_parquet FILE.parquet");
        std::process::exit(2);
    };
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(7);
    let threads: usize = std::env::var("THREADS")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let rows = match trailtriage::sink::parquet::read_file(std::path::Path::new(&path)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("write_parquet: {e}");
            std::process::exit(1);
        }
    };
    let pool = match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("write_parquet: {e}");
            std::process::exit(1);
        }
    };
    let mut best = f64::INFINITY;
    let mut bytes = 0;
    for _ in 0..rounds {
        let mut out = Vec::new();
        let t = Instant::now();
        if let Err(e) = pool.install(|| trailtriage::sink::parquet::write_to(&mut out, &rows)) {
            eprintln!("write_parquet: {e}");
            std::process::exit(1);
        }
        best = best.min(t.elapsed().as_secs_f64());
        bytes = out.len();
    }
    println!(
        "rows={} threads={} bytes={bytes} ms={:.1}",
        rows.len(),
        pool.current_num_threads(),
        best * 1e3
    );
}

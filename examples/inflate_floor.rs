//! The inflate floor (issue 3): inflate every gzip file under a directory on
//! N threads with libdeflate (whole buffer, sized by the gzip ISIZE) and
//! discard the bytes. Nothing else: every byte of the input must be inflated,
//! so no scanner of gzip logs can be faster than this on the same threads.
//!
//! ```text
//! cargo run --release --example inflate_floor -- DIR [THREADS]
//! ```
//!
//! Prints one line: `files=N gz_bytes=N bytes=N threads=N wall_s=F mb_s=F`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "gz") {
            out.push(p);
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: inflate_floor DIR [THREADS]");
        std::process::exit(2);
    };
    let threads: usize = args
        .next()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let start = Instant::now();
    let mut files = Vec::new();
    walk(Path::new(&dir), &mut files);
    files.sort();
    let next = AtomicUsize::new(0);
    let bytes = AtomicU64::new(0);
    let gz_bytes = AtomicU64::new(0);
    let bad = AtomicU64::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut d = libdeflater::Decompressor::new();
                let mut input = Vec::new();
                let mut out: Vec<u8> = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(p) = files.get(i) else { break };
                    input.clear();
                    if std::io::Read::read_to_end(
                        &mut match std::fs::File::open(p) {
                            Ok(f) => f,
                            Err(_) => {
                                bad.fetch_add(1, Ordering::Relaxed);
                                continue;
                            }
                        },
                        &mut input,
                    )
                    .is_err()
                        || input.len() < 18
                    {
                        bad.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    let t = &input[input.len() - 4..];
                    let isize = u32::from_le_bytes([t[0], t[1], t[2], t[3]]) as usize;
                    if out.len() < isize {
                        out.resize(isize, 0);
                    }
                    match d.gzip_decompress(&input, &mut out[..isize]) {
                        Ok(n) => {
                            bytes.fetch_add(n as u64, Ordering::Relaxed);
                            gz_bytes.fetch_add(input.len() as u64, Ordering::Relaxed);
                        }
                        Err(_) => {
                            bad.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
    });
    let wall = start.elapsed().as_secs_f64();
    let b = bytes.load(Ordering::Relaxed);
    println!(
        "files={} gz_bytes={} bytes={} failed={} threads={} wall_s={:.3} mb_s={:.0}",
        files.len(),
        gz_bytes.load(Ordering::Relaxed),
        b,
        bad.load(Ordering::Relaxed),
        threads,
        wall,
        b as f64 / wall / 1e6
    );
}

//! Per-stage benchmarks (issue 3), each with `Throughput::Bytes` of
//! *uncompressed* JSON so that the stages compare with each other and with
//! the inflate floor:
//!
//! * `inflate`: gzip -> JSON (libdeflate fast path, flate2 for reference);
//! * `scan`: the structural record splitter;
//! * `prefilter`: the file-wide multi-literal search and the per-record one;
//! * `parse_classify`: simd-json parse + select + classify of candidate records only;
//! * `pipeline`: `Worker::process_bytes` on whole gzip files (all of the above).
//!
//! The corpus is generated here (deterministic, CloudTrail-shaped, about 1 %
//! failed AssumeRole), so the bench needs nothing outside the repository.
//! Set `TT_BENCH_DIR` to a directory of `.json.gz` files to bench on those
//! instead (e.g. the corpus of `scripts/compare.sh`).

use std::hint::black_box;
use std::io::{Read, Write};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use trailtriage::decode::Decoder;
use trailtriage::pipeline::{ScanOptions, Worker};
use trailtriage::scan::{Rec, scan};
use trailtriage::select::{Hits, Prefilter};

fn record(i: usize, rng: &mut u64) -> String {
    let mut next = || {
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        *rng
    };
    let r = next();
    let acct = 111_122_223_333u64 + (r % 5) * 111_111_111;
    let names = [
        "DescribeInstances",
        "GetObject",
        "ListBuckets",
        "AssumeRole",
        "PutObject",
        "GetCallerIdentity",
        "DescribeVolumes",
        "Decrypt",
    ];
    let name = names[(r >> 8) as usize % names.len()];
    let failed = name == "AssumeRole" && (r >> 20) % 8 == 0;
    let err = if failed {
        format!(
            r#""errorCode":"AccessDenied","errorMessage":"User: arn:aws:iam::{acct}:user/u{i} is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::{acct}:role/Deploy","#
        )
    } else {
        String::new()
    };
    format!(
        r#"{{"eventVersion":"1.08","userIdentity":{{"type":"AssumedRole","principalId":"AROAEXAMPLE:s{i}","arn":"arn:aws:sts::{acct}:assumed-role/App/s{i}","accountId":"{acct}","accessKeyId":"ASIAEXAMPLE{r:08}","sessionContext":{{"sessionIssuer":{{"type":"Role","principalId":"AROAEXAMPLE","arn":"arn:aws:iam::{acct}:role/App","accountId":"{acct}","userName":"App"}},"attributes":{{"creationDate":"2024-03-01T00:00:00Z","mfaAuthenticated":"false"}}}}}},"eventTime":"2024-03-01T{h:02}:{m:02}:00Z","eventSource":"ec2.amazonaws.com","eventName":"{name}","awsRegion":"us-east-1","sourceIPAddress":"10.0.{a}.{b}","userAgent":"aws-cli/2.15.0 Python/3.11.6 Linux/5.10 exe/x86_64.amzn.2 prompt/off command/ec2.describe-instances",{err}"requestParameters":{{"roleArn":"arn:aws:iam::{acct}:role/Deploy","roleSessionName":"s{i}","durationSeconds":3600}},"responseElements":null,"requestID":"{r:016x}","eventID":"{i:08}-{r:016x}","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"{acct}","eventCategory":"Management","tlsDetails":{{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"ec2.us-east-1.amazonaws.com"}}}}"#,
        h = i / 60 % 24,
        m = i % 60,
        a = r % 250,
        b = (r >> 4) % 250,
    )
}

/// (gzip bytes, plain JSON) per file.
fn corpus() -> Vec<(Vec<u8>, Vec<u8>)> {
    if let Ok(dir) = std::env::var("TT_BENCH_DIR") {
        let (files, _) = trailtriage::pipeline::expand_paths(&[dir.into()]);
        return files
            .iter()
            .filter(|p| p.extension().is_some_and(|x| x == "gz"))
            .take(200)
            .filter_map(|p| {
                let gz = std::fs::read(p).ok()?;
                let mut plain = Vec::new();
                flate2::read::MultiGzDecoder::new(&gz[..])
                    .read_to_end(&mut plain)
                    .ok()?;
                Some((gz, plain))
            })
            .collect();
    }
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    (0..20)
        .map(|f| {
            let recs: Vec<String> = (0..600).map(|i| record(f * 600 + i, &mut rng)).collect();
            let plain = format!("{{\"Records\":[{}]}}", recs.join(",")).into_bytes();
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
            e.write_all(&plain).expect("in-memory gzip");
            (e.finish().expect("in-memory gzip"), plain)
        })
        .collect()
}

fn stages(c: &mut Criterion) {
    let files = corpus();
    let plain_total: u64 = files.iter().map(|(_, p)| p.len() as u64).sum();
    let opts = ScanOptions::default();
    let pf = Prefilter::new(opts.select);

    let mut g = c.benchmark_group("inflate");
    g.throughput(Throughput::Bytes(plain_total));
    g.sample_size(20);
    g.bench_function("decoder_libdeflate_fast_path", |b| {
        let mut d = Decoder::new();
        b.iter(|| {
            for (gz, _) in &files {
                black_box(d.decode("bench", gz, u64::MAX).map(|x| x.bytes.len()).ok());
            }
        })
    });
    g.bench_function("flate2_multigz_reference", |b| {
        let mut out = Vec::new();
        b.iter(|| {
            for (gz, _) in &files {
                out.clear();
                black_box(
                    flate2::read::MultiGzDecoder::new(&gz[..])
                        .read_to_end(&mut out)
                        .ok(),
                );
            }
        })
    });
    g.finish();

    let mut g = c.benchmark_group("scan");
    g.throughput(Throughput::Bytes(plain_total));
    g.bench_function("split_records", |b| {
        b.iter(|| {
            let mut n = 0u64;
            for (_, plain) in &files {
                let _ = scan(plain, &mut |_r: Rec<'_>| n += 1);
            }
            black_box(n)
        })
    });
    // The split and the pre-filter's decision per record, as the pipeline
    // makes it: most records are rejected by the scanner's needle-pair proof
    // (`Rec::Clean`) without a search.
    g.bench_function("split_and_decide", |b| {
        b.iter(|| {
            let mut candidates = 0u64;
            for (_, plain) in &files {
                let _ = scan(plain, &mut |r: Rec<'_>| {
                    candidates += u64::from(pf.could_match_rec(&r) == Some(true));
                });
            }
            black_box(candidates)
        })
    });
    g.finish();

    // Record spans for the prefilter benches.
    let spans: Vec<Vec<(usize, usize)>> = files
        .iter()
        .map(|(_, plain)| {
            let mut v = Vec::new();
            let _ = scan(plain, &mut |r| {
                if let Rec::Raw(x) | Rec::Plain(x) | Rec::Clean(x) = r {
                    let off = x.as_ptr() as usize - plain.as_ptr() as usize;
                    v.push((off, off + x.len()));
                }
            });
            v
        })
        .collect();
    let mut g = c.benchmark_group("prefilter");
    g.throughput(Throughput::Bytes(plain_total));
    g.bench_function("file_wide_hits", |b| {
        let mut hits = Hits::default();
        b.iter(|| {
            let mut n = 0usize;
            for ((_, plain), sp) in files.iter().zip(&spans) {
                pf.find_hits(plain, &mut hits);
                n += sp.iter().filter(|(s, e)| hits.any_within(*s, *e)).count();
            }
            black_box(n)
        })
    });
    g.bench_function("per_record_memmem", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for ((_, plain), sp) in files.iter().zip(&spans) {
                n += sp
                    .iter()
                    .filter(|(s, e)| pf.could_match(&plain[*s..*e]))
                    .count();
            }
            black_box(n)
        })
    });
    g.finish();

    // Candidate records only, as NDJSON.
    let mut candidates = Vec::new();
    for ((_, plain), sp) in files.iter().zip(&spans) {
        for (s, e) in sp {
            if pf.could_match(&plain[*s..*e]) {
                candidates.extend_from_slice(&plain[*s..*e]);
                candidates.push(b'\n');
            }
        }
    }
    let mut g = c.benchmark_group("parse_classify");
    g.throughput(Throughput::Bytes(candidates.len() as u64));
    g.bench_function("candidates_only", |b| {
        let mut w = Worker::new();
        b.iter(|| {
            black_box(
                w.process_bytes("bench", &candidates, &opts, &pf)
                    .findings
                    .len(),
            )
        })
    });
    g.finish();

    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Bytes(plain_total));
    g.sample_size(20);
    g.bench_function("process_bytes_gzip_files", |b| {
        let mut w = Worker::new();
        b.iter(|| {
            let mut n = 0usize;
            for (gz, _) in &files {
                n += w.process_bytes("bench", gz, &opts, &pf).findings.len();
            }
            black_box(n)
        })
    });
    g.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);

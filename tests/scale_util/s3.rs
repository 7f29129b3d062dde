//! s3s-fs 0.14.1 on 127.0.0.1 for the scale tests (`--state`, `--shard`,
//! `--parquet-dir` over `s3://`), and the binary with test credentials.

use std::path::Path;
use std::process::Command;

#[path = "../s3s_fs/mod.rs"]
pub mod s3s_fs;
pub use s3s_fs::S3sFs;

/// What the scale tests need of the server beyond starting it.
pub trait ScaleServer {
    fn open_uploads(&self) -> Vec<String>;
    fn bin(&self) -> Command;
    fn scan_json(
        &self,
        args: &[&str],
        report: &Path,
        env: &[(&str, &str)],
    ) -> (std::process::Output, Option<serde_json::Value>);
}

impl ScaleServer for S3sFs {
    /// Multipart uploads still open (s3s-fs keeps `.upload-ID.json` in its
    /// root until the upload is completed or aborted) and their parts.
    fn open_uploads(&self) -> Vec<String> {
        std::fs::read_dir(self.root.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| {
                (n.starts_with(".upload-") && n.ends_with(".json")) || n.starts_with(".upload_id-")
            })
            .collect()
    }

    /// The trailtriage binary with test credentials for this server.
    fn bin(&self) -> Command {
        let mut c = super::bin();
        s3s_fs::offline_aws(&mut c)
            .env_remove(trailtriage::sink::s3::PART_SIZE_ENV)
            .env_remove(trailtriage::state::FAIL_ENV)
            .env("AWS_ENDPOINT_URL", self.endpoint());
        c
    }

    /// `scan ARGS` with a JSON report; returns the output and the report.
    fn scan_json(
        &self,
        args: &[&str],
        report: &Path,
        env: &[(&str, &str)],
    ) -> (std::process::Output, Option<serde_json::Value>) {
        let mut c = self.bin();
        c.arg("scan").args(args).args([
            "--report",
            report.to_str().unwrap(),
            "--report-format",
            "json",
            "-q",
        ]);
        for (k, v) in env {
            c.env(k, v);
        }
        let _ = std::fs::remove_file(report);
        let out = c.output().unwrap();
        let json = std::fs::read(report)
            .ok()
            .map(|b| serde_json::from_slice(&b).unwrap());
        (out, json)
    }
}

/// The number in `NUMBER WORDS` inside the report's `S3: ...` notes, summed
/// over every such note (a recovering run lists twice), e.g. `objects fetched`.
pub fn s3_count(report: &serde_json::Value, words: &str) -> u64 {
    let notes = super::notes(report);
    let mut total = 0;
    let mut found = false;
    for n in notes.iter().filter(|n| n.starts_with("S3: ")) {
        for part in n.split([',', '(', ')']) {
            let part = part.trim();
            if let Some(i) = part.find(words) {
                total += part[..i]
                    .split_whitespace()
                    .last()
                    .unwrap()
                    .parse::<u64>()
                    .unwrap();
                found = true;
            }
        }
    }
    assert!(found, "no `{words}` in the S3 notes: {notes:?}");
    total
}

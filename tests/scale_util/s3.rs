//! s3s-fs 0.14.1 on 127.0.0.1 for the scale tests (`--state`, `--shard`,
//! `--parquet-dir` over `s3://`), and the binary with test credentials.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct S3sFs {
    child: Child,
    pub port: u16,
    pub root: tempfile::TempDir,
}

impl Drop for S3sFs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn s3s_fs_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("S3S_FS") {
        return PathBuf::from(p);
    }
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(Path::new(&home).join(".cargo/bin"));
    }
    dirs.into_iter()
        .map(|d| d.join("s3s-fs"))
        .find(|c| c.is_file())
        .unwrap_or_else(|| {
            panic!("s3s-fs not found (PATH, ~/.cargo/bin, $S3S_FS): run scripts/ci/s3-server.sh")
        })
}

fn listening(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).is_ok() && line.starts_with("HTTP/")
}

impl S3sFs {
    pub fn start() -> S3sFs {
        let bin = s3s_fs_binary();
        let root = tempfile::tempdir().unwrap();
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut child = Command::new(&bin)
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args(["--access-key", "test", "--secret-key", "test"])
                .arg(root.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if listening(port) {
                    return S3sFs { child, port, root };
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("s3s-fs did not start");
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The directory of a bucket (created): objects are plain files in it.
    pub fn bucket_dir(&self, bucket: &str) -> PathBuf {
        let d = self.root.path().join(bucket);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// Multipart uploads still open (s3s-fs keeps `.upload-ID.json` in its
    /// root until the upload is completed or aborted) and their parts.
    pub fn open_uploads(&self) -> Vec<String> {
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
    pub fn bin(&self) -> Command {
        let mut c = super::bin();
        c.env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove(trailtriage::sink::s3::PART_SIZE_ENV)
            .env_remove(trailtriage::state::FAIL_ENV)
            .env("AWS_ENDPOINT_URL", self.endpoint())
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/nonexistent/trailtriage-test")
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/trailtriage-test",
            );
        c
    }

    /// `scan ARGS` with a JSON report; returns the output and the report.
    pub fn scan_json(
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

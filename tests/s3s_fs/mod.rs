//! s3s-fs 0.14.1 on a free 127.0.0.1 port with a temporary root and SigV4
//! credentials `test`/`test`, for the S3 tests. Install it once with
//! `scripts/ci/s3-server.sh`; it is found in `$S3S_FS`, on `PATH` or in
//! `~/.cargo/bin`, and a test fails, never skips, when it is missing.
//! Shared by tests/s3.rs, tests/s3_faults.rs, tests/lookup.rs and
//! tests/scale_util/s3.rs (so also tests/dataset.rs).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use trailtriage::finding::Finding;

/// The AWS environment of every test that runs the binary against a local
/// server: test credentials and region, no instance metadata, and nothing
/// from the user's own profile, config files, session or endpoint.
pub fn offline_aws(c: &mut Command) -> &mut Command {
    c.env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_ENDPOINT_URL")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent/trailtriage-test")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/trailtriage-test",
        )
}

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

pub fn s3s_fs_binary() -> PathBuf {
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
            panic!(
                "s3s-fs not found on PATH, in ~/.cargo/bin or in $S3S_FS: the S3 tests need a real S3 server. \
                 Run scripts/ci/s3-server.sh (installs s3s-fs 0.14.1, 3-4 minutes) and re-run."
            )
        })
}

pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// The HTTP status of an unsigned `GET /` (403 once s3s-fs listens).
pub fn unsigned_get_status(port: u16) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).ok()?;
    line.split_whitespace().nth(1)?.parse().ok()
}

impl S3sFs {
    /// A server over an empty root: a directory made under it is a bucket.
    pub fn start() -> S3sFs {
        let bin = s3s_fs_binary();
        let root = tempfile::tempdir().expect("tempdir");
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new(&bin)
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args(["--access-key", "test", "--secret-key", "test"])
                .arg(root.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // port taken meanwhile: try another
                }
                if unsigned_get_status(port).is_some() {
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

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The directory of `bucket` (created if missing).
    pub fn bucket_dir(&self, bucket: &str) -> PathBuf {
        let d = self.root.path().join(bucket);
        std::fs::create_dir_all(&d).expect("mkdir bucket");
        d
    }
}

/// Copy a directory tree (creating `to`).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let (p, t) = (e.path(), to.join(e.file_name()));
        if p.is_dir() {
            copy_tree(&p, &t);
        } else {
            std::fs::copy(&p, &t).expect("copy");
        }
    }
}

/// Findings as JSON keyed by eventID, with `source_file` relative to `root`.
pub fn normalized(findings: &[Finding], root: &str) -> BTreeMap<String, serde_json::Value> {
    findings
        .iter()
        .map(|f| {
            let mut v = serde_json::to_value(f).expect("finding to json");
            let rel = f
                .source_file
                .strip_prefix(root)
                .unwrap_or_else(|| panic!("{} does not start with {root}", f.source_file))
                .trim_start_matches('/');
            v["source_file"] = serde_json::Value::String(rel.to_string());
            (f.event_id.clone(), v)
        })
        .collect()
}

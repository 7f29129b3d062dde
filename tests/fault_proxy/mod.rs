//! A fault-injecting HTTP/1.1 proxy for the S3 tests: it listens on
//! 127.0.0.1, forwards each request to a real server (s3s-fs) and, following
//! a script keyed by request and attempt number, answers `503 SlowDown`
//! itself, cuts or resets the connection in the middle of the body, never
//! answers, or delays. The real aws-sdk-s3 talks to it through `--endpoint-url`.
//!
//! Client connections stay alive between requests (as the SDK expects);
//! each forwarded request opens its own upstream connection with
//! `Connection: close` and the whole upstream response is read before it is
//! relayed, so a fault always falls at a known byte.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Forward and relay unchanged.
    Pass,
    /// Answer `503 Slow Down` with S3's `SlowDown` XML error; the upstream
    /// server never sees the request.
    SlowDown,
    /// Answer an S3 error of our own (e.g. 403 AccessDenied).
    Error { status: u16, code: &'static str },
    /// Forward, relay the headers and this many body bytes (at most all but
    /// one), then close the connection (FIN).
    CutBody(usize),
    /// Same, then reset the connection (RST, `SO_LINGER` 0).
    ResetBody(usize),
    /// Relay the headers and this many body bytes, pause, then the rest.
    StallBody(usize, Duration),
    /// Read the request and never answer: no status line, no headers; the
    /// connection stays open until the client closes it (or 2 minutes pass).
    NoAnswer,
    /// Wait, then do the inner fault.
    Delay(Duration, Box<Fault>),
}

impl Fault {
    pub fn delayed(self, ms: u64) -> Fault {
        Fault::Delay(Duration::from_millis(ms), Box::new(self))
    }

    /// Whether this fault makes the client try again (a delay alone does not).
    pub fn is_failure(&self) -> bool {
        match self {
            Fault::Pass | Fault::StallBody(..) => false,
            Fault::SlowDown
            | Fault::Error { .. }
            | Fault::CutBody(_)
            | Fault::ResetBody(_)
            | Fault::NoAnswer => true,
            Fault::Delay(_, f) => f.is_failure(),
        }
    }

    fn label(&self) -> String {
        match self {
            Fault::Pass => "pass".into(),
            Fault::SlowDown => "503 SlowDown".into(),
            Fault::Error { status, code } => format!("{status} {code}"),
            Fault::CutBody(n) => format!("cut after {n} body bytes"),
            Fault::ResetBody(n) => format!("reset after {n} body bytes"),
            Fault::StallBody(n, d) => format!("stall {d:?} after {n} body bytes"),
            Fault::NoAnswer => "no answer".into(),
            Fault::Delay(d, f) => format!("delay {d:?}, then {}", f.label()),
        }
    }
}

/// One request as the script sees it.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    /// Path as sent (path style: `/bucket/key`), without the query.
    pub path: String,
    pub query: String,
    /// 1 for the first time this method + path + query is seen, then 2, ...
    pub attempt: u32,
}

impl Req {
    /// The object key of a path-style request to `bucket` (None for the
    /// bucket itself, i.e. a listing).
    pub fn key<'a>(&'a self, bucket: &str) -> Option<&'a str> {
        let rest = self.path.strip_prefix('/')?.strip_prefix(bucket)?;
        let key = rest.strip_prefix('/')?;
        (!key.is_empty()).then_some(key)
    }

    pub fn is_list(&self) -> bool {
        self.method == "GET" && self.query.contains("list-type=2")
    }
}

/// A request the proxy handled, with the fault it applied.
#[derive(Debug, Clone)]
pub struct Hit {
    pub req: Req,
    pub fault: Fault,
}

pub type Script = Arc<dyn Fn(&Req) -> Fault + Send + Sync>;

pub struct FaultProxy {
    pub port: u16,
    hits: Arc<Mutex<Vec<Hit>>>,
    rt: Option<tokio::runtime::Runtime>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl FaultProxy {
    /// Start in front of `upstream` (e.g. s3s-fs on 127.0.0.1).
    pub fn start(upstream: SocketAddr, script: Script) -> FaultProxy {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("proxy runtime");
        let listener = rt
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("bind proxy on 127.0.0.1:0");
        let port = listener.local_addr().expect("proxy addr").port();
        let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
        let attempts: Arc<Mutex<BTreeMap<String, u32>>> = Arc::default();
        let h2 = hits.clone();
        rt.spawn(async move {
            loop {
                let Ok((conn, _)) = listener.accept().await else {
                    continue;
                };
                let _ = conn.set_nodelay(true);
                let (script, hits, attempts) = (script.clone(), h2.clone(), attempts.clone());
                tokio::spawn(async move {
                    let _ = serve(conn, upstream, &script, &hits, &attempts).await;
                });
            }
        });
        FaultProxy {
            port,
            hits,
            rt: Some(rt),
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request handled so far, in arrival order.
    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().expect("hits lock").clone()
    }

    /// How many handled requests made the client try again.
    pub fn failures_injected(&self) -> u64 {
        self.hits().iter().filter(|h| h.fault.is_failure()).count() as u64
    }

    /// Requests per path (all methods and queries).
    pub fn requests_per_path(&self) -> BTreeMap<String, u64> {
        let mut m = BTreeMap::new();
        for h in self.hits() {
            *m.entry(h.req.path.clone()).or_default() += 1;
        }
        m
    }

    /// A readable log of the faults applied, for assertion messages.
    pub fn describe(&self) -> String {
        self.hits()
            .iter()
            .filter(|h| h.fault != Fault::Pass)
            .map(|h| {
                format!(
                    "{} {} #{}: {}",
                    h.req.method,
                    h.req.path,
                    h.req.attempt,
                    h.fault.label()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

type Io<T> = std::io::Result<T>;

fn bad(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string())
}

/// Serve one client connection: requests one after the other (keep-alive).
async fn serve(
    conn: TcpStream,
    upstream: SocketAddr,
    script: &Script,
    hits: &Mutex<Vec<Hit>>,
    attempts: &Mutex<BTreeMap<String, u32>>,
) -> Io<()> {
    let mut client = BufReader::new(conn);
    loop {
        let mut line = String::new();
        if client.read_line(&mut line).await? == 0 {
            return Ok(()); // the client closed an idle connection
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().ok_or_else(|| bad("empty request line"))?;
        let target = parts.next().ok_or_else(|| bad("no request target"))?;
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let mut head = Vec::new();
        let mut body_len = 0usize;
        loop {
            let mut h = String::new();
            if client.read_line(&mut h).await? == 0 {
                return Err(bad("eof in request headers"));
            }
            if h == "\r\n" || h == "\n" {
                break;
            }
            let lower = h.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                body_len = v.trim().parse().map_err(|_| bad("content-length"))?;
            }
            if lower.starts_with("transfer-encoding:") {
                return Err(bad("chunked request bodies are not supported"));
            }
            if !lower.starts_with("connection:") {
                head.push(h);
            }
        }
        let mut body = vec![0; body_len];
        client.read_exact(&mut body).await?;

        let attempt = {
            let mut a = attempts.lock().expect("attempts lock");
            let n = a.entry(format!("{method} {target}")).or_default();
            *n += 1;
            *n
        };
        let req = Req {
            method: method.to_string(),
            path: path.to_string(),
            query: query.to_string(),
            attempt,
        };
        let mut fault = script(&req);
        hits.lock().expect("hits lock").push(Hit {
            req: req.clone(),
            fault: fault.clone(),
        });
        while let Fault::Delay(d, inner) = fault {
            tokio::time::sleep(d).await;
            fault = *inner;
        }
        match fault {
            Fault::SlowDown => {
                let w = client.get_mut();
                s3_error(
                    w,
                    503,
                    "Slow Down",
                    "SlowDown",
                    "Please reduce your request rate.",
                    path,
                )
                .await?;
                continue;
            }
            Fault::Error { status, code } => {
                let w = client.get_mut();
                s3_error(w, status, code, code, "Injected by the test proxy.", path).await?;
                continue;
            }
            Fault::NoAnswer => {
                // The client gives up (its timeout) and closes; anything it
                // sends meanwhile is ignored.
                let mut sink = [0u8; 1024];
                let wait =
                    async { while matches!(client.read(&mut sink).await, Ok(n) if n > 0) {} };
                let _ = tokio::time::timeout(Duration::from_secs(120), wait).await;
                return Ok(());
            }
            _ => {}
        }
        let mut up = TcpStream::connect(upstream).await?;
        let mut req_bytes = line.into_bytes();
        for h in &head {
            req_bytes.extend_from_slice(h.as_bytes());
        }
        req_bytes.extend_from_slice(b"Connection: close\r\n\r\n");
        req_bytes.extend_from_slice(&body);
        up.write_all(&req_bytes).await?;
        let mut resp = Vec::new();
        up.read_to_end(&mut resp).await?;
        let split = resp
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| bad("no end of response headers"))?;
        let (rhead, rbody) = (&resp[..split + 2], &resp[split + 4..]);
        let rhead = String::from_utf8_lossy(rhead);
        let mut out = String::new();
        let mut framed = false;
        for (i, h) in rhead.split("\r\n").filter(|h| !h.is_empty()).enumerate() {
            let lower = h.to_ascii_lowercase();
            if i > 0 && lower.starts_with("connection:") {
                continue;
            }
            framed |=
                lower.starts_with("content-length:") || lower.starts_with("transfer-encoding:");
            out.push_str(h);
            out.push_str("\r\n");
        }
        if !framed {
            out.push_str(&format!("Content-Length: {}\r\n", rbody.len()));
        }
        out.push_str("\r\n");
        let w = client.get_mut();
        w.write_all(out.as_bytes()).await?;
        match fault {
            Fault::CutBody(n) | Fault::ResetBody(n) => {
                let n = n.min(rbody.len().saturating_sub(1));
                w.write_all(&rbody[..n]).await?;
                w.flush().await?;
                if matches!(fault, Fault::ResetBody(_)) {
                    w.set_zero_linger()?;
                } else {
                    w.shutdown().await?;
                }
                return Ok(());
            }
            Fault::StallBody(n, d) => {
                let n = n.min(rbody.len());
                w.write_all(&rbody[..n]).await?;
                w.flush().await?;
                tokio::time::sleep(d).await;
                w.write_all(&rbody[n..]).await?;
            }
            _ => w.write_all(rbody).await?,
        }
        w.flush().await?;
    }
}

/// An S3 error response with its XML body; the connection stays open.
async fn s3_error(
    w: &mut TcpStream,
    status: u16,
    reason: &str,
    code: &str,
    message: &str,
    resource: &str,
) -> Io<()> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><Resource>{resource}</Resource><RequestId>FAULTPROXY0000001</RequestId></Error>"
    );
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nx-amz-request-id: FAULTPROXY0000001\r\n\r\n",
        body.len()
    );
    w.write_all(head.as_bytes()).await?;
    w.write_all(body.as_bytes()).await?;
    w.flush().await
}

//! `--shard K/N`: split the log objects of a run among N independent workers
//! (an AWS Batch array job, a Kubernetes indexed Job, a CI matrix) with no
//! coordination. Each object goes to exactly one shard, chosen by a stable
//! hash of its key: FNV-1a 64 of the UTF-8 bytes, mapped to `0..N` by
//! multiply-shift (`hash * N >> 64`). The mapping never
//! changes between runs, machines, platforms or releases (Rust's
//! `DefaultHasher` is randomized per process and must not be used here).
//!
//! The key is the S3 object key for S3 inputs, and for local files the path
//! relative to the input root named on the command line, with `/`
//! separators, so that `scan ./logs` and `scan /mnt/trail/logs` shard alike.
//!
//! ```
//! use trailtriage::shard::Shard;
//!
//! let s = Shard::parse("1/4").unwrap();
//! let key = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/05/f.json.gz";
//! let owners = (0..4)
//!     .filter(|k| Shard::parse(&format!("{k}/4")).unwrap().owns(key))
//!     .count();
//! assert_eq!(owners, 1);
//! assert_eq!(s.to_string(), "1/4");
//! ```

use std::path::Path;

/// Why a `--shard` value is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("--shard {0:?}: expected K/N with 0 <= K < N (e.g. 0/4)")]
    Syntax(String),
    #[error("--shard {0:?}: N must be at least 1")]
    ZeroCount(String),
    #[error("--shard {value:?}: K must be less than N (shards are numbered 0..{count})")]
    OutOfRange { value: String, count: u64 },
}

/// One shard of N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a, 64 bit.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h = FNV_OFFSET;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

impl Shard {
    /// Every object: the default when `--shard` is not given.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Parse `K/N`.
    pub fn parse(s: &str) -> Result<Shard, ShardError> {
        let (k, n) = s
            .trim()
            .split_once('/')
            .ok_or_else(|| ShardError::Syntax(s.to_string()))?;
        let k: u64 = k
            .trim()
            .parse()
            .map_err(|_| ShardError::Syntax(s.to_string()))?;
        let n: u64 = n
            .trim()
            .parse()
            .map_err(|_| ShardError::Syntax(s.to_string()))?;
        if n == 0 {
            return Err(ShardError::ZeroCount(s.to_string()));
        }
        if k >= n {
            return Err(ShardError::OutOfRange {
                value: s.to_string(),
                count: n,
            });
        }
        Ok(Shard { index: k, count: n })
    }

    /// Whether this is the whole run (`0/1`).
    pub fn is_all(&self) -> bool {
        self.count <= 1
    }

    /// The shard an object key belongs to.
    pub fn of(key: &str, count: u64) -> u64 {
        if count <= 1 {
            0
        } else {
            // Multiply-shift takes the high bits, which FNV-1a mixes well;
            // its low bits depend only on the low bits of each byte, so
            // `% count` would split keys badly for power-of-two counts.
            ((u128::from(fnv1a64(key.as_bytes())) * u128::from(count)) >> 64) as u64
        }
    }

    /// Whether this shard owns the object with this key.
    pub fn owns(&self, key: &str) -> bool {
        Shard::of(key, self.count) == self.index
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The key of a local file: its path relative to the input root named on
/// the command line, with `/` separators. A file named directly (the root
/// itself) is keyed by its file name.
pub fn local_key(root: &Path, path: &Path) -> String {
    let rel = match path.strip_prefix(root) {
        Ok(r) if !r.as_os_str().is_empty() => r,
        _ => match path.file_name() {
            Some(n) => Path::new(n),
            None => path,
        },
    };
    let parts: Vec<String> = rel
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    parts.join("/")
}

/// How many objects a shard took out of how many it saw: the line the
/// report carries, `shard K/N: M of T objects`.
pub fn summary_line(shard: Shard, taken: u64, total: u64) -> String {
    format!(
        "shard {shard}: {taken} of {total} objects (the other shards read the rest; objects of other shards are not counted as seen)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn fnv_reference_vectors() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn parse_cases() {
        let cases: &[(&str, Option<(u64, u64)>)] = &[
            ("0/1", Some((0, 1))),
            ("3/4", Some((3, 4))),
            (" 2 / 8 ", Some((2, 8))),
            ("4/4", None),
            ("0/0", None),
            ("1", None),
            ("-1/4", None),
            ("a/b", None),
            ("", None),
        ];
        for (s, want) in cases {
            let got = Shard::parse(s).ok().map(|x| (x.index, x.count));
            assert_eq!(got, *want, "{s:?}");
        }
        assert_eq!(
            Shard::parse("4/4").err().map(|e| e.to_string()).as_deref(),
            Some("--shard \"4/4\": K must be less than N (shards are numbered 0..4)")
        );
    }

    #[test]
    fn every_key_has_exactly_one_owner_and_shards_are_balanced() {
        let n = 4;
        let mut counts = [0u32; 4];
        for i in 0..4000 {
            let key = format!(
                "AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/05/111122223333_CloudTrail_us-east-1_20261005T{:04}Z_{i}.json.gz",
                i % 2400
            );
            let owners: Vec<u64> = (0..n)
                .filter(|k| {
                    Shard {
                        index: *k,
                        count: n,
                    }
                    .owns(&key)
                })
                .collect();
            assert_eq!(owners.len(), 1, "{key}");
            counts[owners[0] as usize] += 1;
        }
        for c in counts {
            assert!((800..1200).contains(&c), "unbalanced: {counts:?}");
        }
        assert!(Shard::ALL.owns("anything"));
    }

    #[test]
    fn local_keys_are_relative_to_the_root() {
        let root = PathBuf::from("logs");
        let p = root.join("AWSLogs").join("1").join("f.json.gz");
        assert_eq!(local_key(&root, &p), "AWSLogs/1/f.json.gz");
        let abs = PathBuf::from("/mnt/x/logs");
        let p2 = abs.join("AWSLogs").join("1").join("f.json.gz");
        assert_eq!(local_key(&abs, &p2), "AWSLogs/1/f.json.gz");
        // A file named directly.
        let f = PathBuf::from("dir/f.json.gz");
        assert_eq!(local_key(&f, &f), "f.json.gz");
    }
}

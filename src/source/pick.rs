//! Which S3 objects a `--shard` / `--state` run fetches, decided from the key
//! alone, before anything is downloaded.
//!
//! # Keys
//!
//! An object is known by its key *relative to the URL it was listed under*,
//! the same way a local file is known by its path relative to the input root
//! (see [`crate::shard`]): `s3://trail/AWSLogs/` and a local mirror
//! `/mnt/trail/AWSLogs` give the same keys, hence the same shards, and the
//! state keys look alike. A URL prefix names a "directory" when it is empty,
//! ends with `/`, or is followed by `/` in the key; a partial name
//! (`s3://trail/AWSLogs/1111`) keys objects relative to its directory part.
//! An object named exactly by the URL is keyed by its last path segment, like
//! a file named on the command line.
//!
//! # Listing less
//!
//! With a state, every account/region prefix already has a high-water mark:
//! keys delivered before `mark - margin` count as processed. [`KeyPick::floor`]
//! turns that into a `start-after` key for the listing of the region prefix,
//! one more day earlier for safety (the day directory and the time in the
//! name always agree in CloudTrail's layout; the extra day covers a writer
//! that does not follow it exactly), so a scheduled run lists about two days
//! per region instead of the whole history.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::keys::S3Url;
use crate::shard::Shard;
use crate::state::State;

/// The key of an object listed under `url`, relative to the URL (see the
/// module documentation).
pub fn relative_key(url: &S3Url, key: &str) -> String {
    let p = url.prefix.as_str();
    if !p.is_empty() && key == p {
        return key.rsplit('/').next().unwrap_or(key).to_string();
    }
    match key.strip_prefix(p) {
        Some(rest) if p.is_empty() || p.ends_with('/') || rest.starts_with('/') => {
            rest.trim_start_matches('/').to_string()
        }
        _ => {
            let dir = match p.rfind('/') {
                Some(i) => &p[..=i],
                None => "",
            };
            key.strip_prefix(dir).unwrap_or(key).to_string()
        }
    }
}

/// The directory part of a URL's prefix that relative keys hang from: what
/// to put in front of a relative key to get the object key back.
pub fn key_base(url: &S3Url) -> String {
    let p = url.prefix.as_str();
    if p.is_empty() || p.ends_with('/') {
        p.to_string()
    } else {
        // `AWSLogs` (a directory named without its slash) or a partial name:
        // either way the listed keys continue with `/` or within the segment.
        match p.rfind('/') {
            Some(i) => p[..=i].to_string(),
            None => String::new(),
        }
    }
}

/// The choice of objects for one S3 run, and what it saw.
#[derive(Debug)]
pub struct KeyPick {
    shard: Shard,
    /// Skip objects an earlier run processed.
    state: Option<State>,
    /// Take only these relative keys (redoing an interrupted run).
    only: Option<HashSet<String>>,
    /// Full region prefix -> start-after key, per URL (`bucket` + prefix).
    floors: BTreeMap<(String, String), String>,
    picked: Mutex<HashMap<String, String>>,
    considered: AtomicU64,
    taken: AtomicU64,
    other_shards: AtomicU64,
    processed: AtomicU64,
}

impl KeyPick {
    /// Objects of `shard`, all of them or (with a state) those not processed yet.
    pub fn new(shard: Shard, state: Option<&State>) -> KeyPick {
        KeyPick {
            shard,
            state: state.cloned(),
            only: None,
            floors: BTreeMap::new(),
            picked: Mutex::new(HashMap::new()),
            considered: AtomicU64::new(0),
            taken: AtomicU64::new(0),
            other_shards: AtomicU64::new(0),
            processed: AtomicU64::new(0),
        }
    }

    /// Exactly these relative keys (of this shard): an interrupted run, redone.
    pub fn only(shard: Shard, keys: &[String]) -> KeyPick {
        let mut p = KeyPick::new(shard, None);
        p.only = Some(keys.iter().cloned().collect());
        p
    }

    /// Start the listings of the region prefixes the state has marks for
    /// after the keys the marks cover (see the module documentation).
    pub fn with_floors(mut self, urls: &[S3Url], state: &State) -> KeyPick {
        for url in urls {
            let base = key_base(url);
            for (group, rel_floor) in state.list_floors() {
                let full_prefix = format!("{base}{group}");
                // Only prefixes at or below the URL are listed for it.
                if full_prefix.starts_with(&url.prefix) {
                    self.floors.insert(
                        (url.bucket.clone(), full_prefix),
                        format!("{base}{rel_floor}"),
                    );
                }
            }
        }
        self
    }

    /// The key to start listing this region prefix after, if any.
    pub fn floor(&self, bucket: &str, region_prefix: &str) -> Option<&str> {
        self.floors
            .get(&(bucket.to_string(), region_prefix.to_string()))
            .map(String::as_str)
    }

    /// Whether some listing starts after a floor (then the layout is walked).
    pub fn has_floors(&self) -> bool {
        !self.floors.is_empty()
    }

    /// Whether to fetch this object (a log file by name; folder markers and
    /// other extensions never reach here). Remembers the object's key.
    pub fn wants(&self, url: &S3Url, key: &str) -> bool {
        self.considered.fetch_add(1, Ordering::Relaxed);
        let rel = relative_key(url, key);
        if !self.shard.owns(&rel) {
            self.other_shards.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        if let Some(only) = &self.only
            && !only.contains(&rel)
        {
            self.processed.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        if let Some(st) = &self.state
            && st.is_processed(&rel)
        {
            self.processed.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        self.taken.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut g) = self.picked.lock() {
            g.insert(url.object_name(key), rel);
        }
        true
    }

    /// The relative key of an object taken, by its name `s3://bucket/key`.
    pub fn key_of(&self, name: &str) -> Option<String> {
        self.picked.lock().ok()?.get(name).cloned()
    }

    /// Log objects listed and considered (after the listing's own pruning).
    pub fn considered(&self) -> u64 {
        self.considered.load(Ordering::Relaxed)
    }

    /// Objects this run fetches (or settles by name, like Digest files).
    pub fn taken(&self) -> u64 {
        self.taken.load(Ordering::Relaxed)
    }

    /// Objects of this shard left alone because an earlier run processed them.
    pub fn already_processed(&self) -> u64 {
        self.processed.load(Ordering::Relaxed)
    }

    /// Objects left to the other shards.
    pub fn other_shards(&self) -> u64 {
        self.other_shards.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> S3Url {
        S3Url::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn relative_keys_match_local_relative_paths() {
        let k = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/05/f.json.gz";
        assert_eq!(relative_key(&url("s3://b"), k), k);
        assert_eq!(relative_key(&url("s3://b/"), k), k);
        let under = "111122223333/CloudTrail/us-east-1/2026/10/05/f.json.gz";
        assert_eq!(relative_key(&url("s3://b/AWSLogs/"), k), under);
        assert_eq!(relative_key(&url("s3://b/AWSLogs"), k), under);
        // A partial name keys relative to its directory.
        assert_eq!(
            relative_key(&url("s3://b/AWSLogs/1111"), k),
            "111122223333/CloudTrail/us-east-1/2026/10/05/f.json.gz"
        );
        // An object named exactly: its file name, like a file named directly.
        assert_eq!(relative_key(&url(&format!("s3://b/{k}")), k), "f.json.gz");
        assert_eq!(key_base(&url("s3://b/AWSLogs")), "");
        assert_eq!(key_base(&url("s3://b/t/AWSLogs/")), "t/AWSLogs/");
    }

    #[test]
    fn picks_by_shard_state_and_list() {
        let u = url("s3://b/");
        let a = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/05/111122223333_CloudTrail_us-east-1_20261005T1000Z_a.json.gz";
        let b = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/05/111122223333_CloudTrail_us-east-1_20261005T1300Z_b.json.gz";
        let mut st = State::default();
        st.record([a]);
        let p = KeyPick::new(Shard::ALL, Some(&st)).with_floors(std::slice::from_ref(&u), &st);
        assert!(!p.wants(&u, a));
        assert!(p.wants(&u, b));
        assert_eq!(p.key_of(&format!("s3://b/{b}")).as_deref(), Some(b));
        assert_eq!(
            (p.considered(), p.taken(), p.already_processed()),
            (2, 1, 1)
        );
        // mark 10:00, margin 2 h: 08:00 of 10/05, one day earlier: 10/04.
        assert_eq!(
            p.floor("b", "AWSLogs/111122223333/CloudTrail/us-east-1/"),
            Some("AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/04")
        );
        let only = KeyPick::only(Shard::ALL, &[a.to_string()]);
        assert!(only.wants(&u, a) && !only.wants(&u, b));
    }
}

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

/// The choice of objects for one S3 run, and what it saw.
#[derive(Debug)]
pub struct KeyPick {
    shard: Shard,
    /// Skip objects an earlier run processed.
    state: Option<State>,
    /// Take only these relative keys (redoing an interrupted run).
    only: Option<HashSet<String>>,
    /// State group (relative account/region prefix) -> relative floor key.
    floors: BTreeMap<String, String>,
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
    pub fn with_floors(mut self, state: &State) -> KeyPick {
        self.floors = state.list_floors().into_iter().collect();
        self
    }

    /// The key to start listing this region prefix (a full key prefix
    /// `.../ACCOUNT/CloudTrail/REGION/` listed under `url`) after, if any.
    pub fn floor(&self, url: &S3Url, region_prefix: &str) -> Option<String> {
        let rel = if region_prefix == url.prefix {
            String::new()
        } else {
            relative_key(url, region_prefix)
        };
        let rel = if rel.is_empty() {
            // The URL is the region prefix itself: its keys are
            // `YYYY/MM/DD/FILE`, grouped by the account and region in the
            // file names.
            let segs: Vec<&str> = region_prefix
                .trim_end_matches('/')
                .rsplit('/')
                .take(3)
                .collect();
            match segs.as_slice() {
                [region, ct, acct] => format!("{acct}/{ct}/{region}/"),
                _ => return None,
            }
        } else {
            rel
        };
        let rel_floor = self.floors.get(&rel)?;
        let day = rel_floor.strip_prefix(&rel)?;
        Some(format!("{region_prefix}{day}"))
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
    }

    #[test]
    fn picks_by_shard_state_and_list() {
        let u = url("s3://b/");
        let a = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/05/111122223333_CloudTrail_us-east-1_20261005T1000Z_a.json.gz";
        let b = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/05/111122223333_CloudTrail_us-east-1_20261005T1300Z_b.json.gz";
        let mut st = State::default();
        st.record([a]);
        let p = KeyPick::new(Shard::ALL, Some(&st)).with_floors(&st);
        assert!(!p.wants(&u, a));
        assert!(p.wants(&u, b));
        assert_eq!(p.key_of(&format!("s3://b/{b}")).as_deref(), Some(b));
        assert_eq!(
            (p.considered(), p.taken(), p.already_processed()),
            (2, 1, 1)
        );
        // mark 10:00, margin 2 h: 08:00 of 10/05, one day earlier: 10/04.
        let rp = "AWSLogs/111122223333/CloudTrail/us-east-1/";
        let want = format!("{rp}2026/10/04");
        assert_eq!(p.floor(&u, rp), Some(want.clone()));
        // The same region under a URL that names a directory without its
        // slash, or the region prefix itself (the state's keys are relative).
        let mut st2 = State::default();
        st2.record(["111122223333/CloudTrail/us-east-1/2026/10/05/111122223333_CloudTrail_us-east-1_20261005T1000Z_a.json.gz"]);
        let p2 = KeyPick::new(Shard::ALL, Some(&st2)).with_floors(&st2);
        assert_eq!(p2.floor(&url("s3://b/AWSLogs"), rp), Some(want.clone()));
        let mut st3 = State::default();
        st3.record(["2026/10/05/111122223333_CloudTrail_us-east-1_20261005T1000Z_a.json.gz"]);
        let p3 = KeyPick::new(Shard::ALL, Some(&st3)).with_floors(&st3);
        assert_eq!(
            p3.floor(&url(&format!("s3://b/{rp}")), rp),
            Some(want.clone())
        );
        let no_slash = format!("s3://b/{}", rp.trim_end_matches('/'));
        assert_eq!(p3.floor(&url(&no_slash), rp), Some(want));
        assert_eq!(p3.floor(&url("s3://b/"), rp), None);
        let only = KeyPick::only(Shard::ALL, &[a.to_string()]);
        assert!(only.wants(&u, a) && !only.wants(&u, b));
    }
}

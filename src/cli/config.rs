//! The config file: options a team repeats, so that a bare `trailtriage scan`
//! does the usual thing. Read from `--config FILE`, else from
//! `trailtriage.toml` in the working directory when there is one. Flags given
//! on the command line win over the file.
//!
//! Keys are the long flag names, grouped in a table per subcommand:
//!
//! ```toml
//! [scan]
//! inputs = ["s3://org-trail/AWSLogs/"]
//! since = "7d"
//! report = "report.html"
//! report-format = "html"
//! fail-on = "high"
//! ```
//!
//! Relative paths in the file are relative to the file's directory.
//!
//! Adding a key: add an `Option` field named like the flag to the section
//! struct, and one line to its `apply`. Unknown keys are an error that names
//! the file, so a typo never silently does nothing.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use clap::ArgMatches;
use clap::ValueEnum;
use clap::parser::ValueSource;
use serde::Deserialize;

use super::args::{ColorChoice, ReportFormat, ScanArgs};

/// The file looked for in the working directory.
pub const DEFAULT_FILE: &str = "trailtriage.toml";

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ConfigFile {
    /// `[scan]`: defaults for `trailtriage scan`.
    #[serde(default)]
    pub scan: ScanSection,
}

/// One string or a list of strings (`role = "*Deploy*"` or `role = ["a", "b"]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

/// A size: a number of bytes or a string such as `"512M"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Size {
    Bytes(u64),
    Text(String),
}

/// `[scan]`: every key is the long name of a `scan` flag.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ScanSection {
    /// Inputs used when none is named on the command line.
    pub inputs: Option<OneOrMany>,
    pub threads: Option<usize>,
    pub all_denied: Option<bool>,
    pub include_context: Option<bool>,
    /// `off`, `roles` or `full`.
    pub log_context: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub account: Option<OneOrMany>,
    pub log_region: Option<OneOrMany>,
    pub caller: Option<OneOrMany>,
    pub role: Option<OneOrMany>,
    pub cause: Option<OneOrMany>,
    pub parquet: Option<String>,
    pub jsonl: Option<String>,
    pub report: Option<String>,
    pub report_format: Option<String>,
    pub color: Option<String>,
    pub fail_on: Option<String>,
    pub max_decompressed_size: Option<Size>,
}

/// A loaded file and where it came from.
#[derive(Debug)]
pub struct Loaded {
    pub path: PathBuf,
    pub file: ConfigFile,
}

impl Loaded {
    /// The directory relative paths in the file are resolved against.
    fn base(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new(""))
    }
}

/// Read `explicit`, or `trailtriage.toml` in the working directory if it
/// exists. A missing `--config` file is an error; a missing default is not.
pub fn load(explicit: Option<&Path>) -> Result<Option<Loaded>> {
    let (path, required) = match explicit {
        Some(p) => (p.to_path_buf(), true),
        None => (PathBuf::from(DEFAULT_FILE), false),
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read config file {}", path.display()));
        }
    };
    let file = parse(&text).map_err(|e| anyhow!("config file {}: {e}", path.display()))?;
    tracing::info!("using config file {}", path.display());
    Ok(Some(Loaded { path, file }))
}

/// Parse the text of a config file.
pub fn parse(text: &str) -> Result<ConfigFile, toml::de::Error> {
    toml::from_str(text)
}

/// Was this argument given on the command line (or through its environment
/// variable), as opposed to left at its default?
fn given(m: &ArgMatches, id: &str) -> bool {
    matches!(
        m.value_source(id),
        Some(ValueSource::CommandLine | ValueSource::EnvVariable)
    )
}

/// A path from the file, relative to the file's directory; `-` (stdin or
/// stdout) and URLs such as `s3://...` are left alone.
fn rel(base: &Path, s: String) -> String {
    if s == "-" || s.contains("://") || base.as_os_str().is_empty() || Path::new(&s).is_absolute() {
        return s;
    }
    base.join(&s).to_string_lossy().into_owned()
}

fn value_enum<T: ValueEnum>(key: &str, v: &str) -> Result<T> {
    T::from_str(v, true).map_err(|_| {
        let names: Vec<String> = T::value_variants()
            .iter()
            .filter_map(|x| x.to_possible_value())
            .map(|p| p.get_name().to_string())
            .collect();
        anyhow!("{key} = {v:?}: expected one of {}", names.join(", "))
    })
}

/// Fill `a` from the `[scan]` table of `cfg` wherever the command line left
/// an option unset. `m` are the `scan` subcommand's matches.
pub fn apply_scan(cfg: Loaded, a: &mut ScanArgs, m: &ArgMatches) -> Result<()> {
    let base = cfg.base().to_path_buf();
    let name = cfg.path.display().to_string();
    scan_section(cfg.file.scan, &base, a, m).map_err(|e| anyhow!("config file {name}: {e:#}"))
}

fn fill(flag_given: bool, cli: &mut Vec<String>, v: Option<OneOrMany>) {
    if !flag_given && let Some(v) = v {
        *cli = v.into_vec();
    }
}

fn scan_section(s: ScanSection, base: &Path, a: &mut ScanArgs, m: &ArgMatches) -> Result<()> {
    {
        if !given(m, "inputs")
            && let Some(v) = s.inputs
        {
            a.inputs = v.into_vec().into_iter().map(|p| rel(base, p)).collect();
        }
        if !given(m, "threads") && s.threads.is_some() {
            a.threads = s.threads;
        }
        if !given(m, "all_denied")
            && let Some(v) = s.all_denied
        {
            a.all_denied = v;
        }
        if !given(m, "include_context")
            && let Some(v) = s.include_context
        {
            a.include_context = v;
        }
        if !given(m, "log_context")
            && let Some(v) = s.log_context
        {
            a.log_context = value_enum::<super::args::LogContextArg>("log-context", &v)?;
        }
        if !given(m, "since") && s.since.is_some() {
            a.since = s.since;
        }
        if !given(m, "until") && s.until.is_some() {
            a.until = s.until;
        }
        fill(given(m, "account"), &mut a.account, s.account);
        fill(given(m, "log_region"), &mut a.log_region, s.log_region);
        fill(given(m, "caller"), &mut a.caller, s.caller);
        fill(given(m, "role"), &mut a.role, s.role);
        fill(given(m, "cause"), &mut a.cause, s.cause);
        if !given(m, "parquet")
            && let Some(v) = s.parquet
        {
            a.parquet = Some(PathBuf::from(rel(base, v)));
        }
        if !given(m, "jsonl")
            && let Some(v) = s.jsonl
        {
            a.jsonl = Some(rel(base, v));
        }
        if !given(m, "report")
            && let Some(v) = s.report
        {
            a.report = Some(rel(base, v));
        }
        if !given(m, "report_format")
            && let Some(v) = s.report_format
        {
            a.report_format = value_enum::<ReportFormat>("report-format", &v)?;
        }
        if !given(m, "color")
            && let Some(v) = s.color
        {
            a.color = value_enum::<ColorChoice>("color", &v)?;
        }
        if !given(m, "fail_on")
            && let Some(v) = s.fail_on
        {
            super::FailOn::parse(&v).map_err(|e| anyhow!("fail-on = {v:?}: {e}"))?;
            a.fail_on = Some(v);
        }
        if !given(m, "max_decompressed_size")
            && let Some(v) = s.max_decompressed_size
        {
            let text = match v {
                Size::Bytes(n) => n.to_string(),
                Size::Text(t) => t,
            };
            super::parse_size(&text).map_err(|e| anyhow!("max-decompressed-size: {e}"))?;
            a.max_decompressed_size = text;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_rejected_with_their_name() {
        let e = parse("[scan]\nreprot = \"x.md\"\n")
            .err()
            .map(|e| e.to_string());
        assert!(e.as_deref().unwrap_or("").contains("reprot"), "{e:?}");
        let e = parse("colour = \"never\"\n").err().map(|e| e.to_string());
        assert!(e.as_deref().unwrap_or("").contains("colour"), "{e:?}");
    }

    #[test]
    fn lists_accept_one_string() {
        let c = parse("[scan]\nrole = \"*Deploy*\"\naccount = [\"111122223333\"]\nmax-decompressed-size = 1000\n")
            .ok()
            .unwrap_or_default();
        assert_eq!(
            c.scan.role.map(OneOrMany::into_vec),
            Some(vec!["*Deploy*".to_string()])
        );
        assert!(matches!(
            c.scan.max_decompressed_size,
            Some(Size::Bytes(1000))
        ));
    }

    #[test]
    fn relative_paths_follow_the_file() {
        let b = Path::new("conf");
        assert_eq!(
            rel(b, "logs".into()),
            Path::new("conf").join("logs").to_string_lossy()
        );
        assert_eq!(rel(b, "-".into()), "-");
        assert_eq!(rel(b, "s3://b/p".into()), "s3://b/p");
        assert_eq!(rel(Path::new(""), "logs".into()), "logs");
    }
}

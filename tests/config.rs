//! The config file: `trailtriage.toml` in the working directory or
//! `--config FILE`; its values apply, flags win over it, mistakes are named.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn sample_logs() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample-logs")
}

fn run_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trailtriage"))
        .args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .env("COLUMNS", "100")
        .output()
        .expect("run trailtriage")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    assert_eq!(o.status.code(), Some(0), "stderr: {}", text(&o.stderr));
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&o.stdout)))
}

/// Findings per cause in the unfiltered sample-logs run.
fn cause_count(cause: &str) -> u64 {
    let dir = tempfile::tempdir().expect("temp dir");
    let v = json(&run_in(
        dir.path(),
        &[
            "scan",
            sample_logs().to_str().expect("utf-8"),
            "--report-format",
            "json",
        ],
    ));
    v["by_cause"]
        .as_array()
        .expect("by_cause")
        .iter()
        .find(|c| c["cause_id"] == cause)
        .and_then(|c| c["count"].as_u64())
        .expect("cause in sample-logs")
}

fn toml_str(p: &Path) -> String {
    // TOML basic string: escape backslashes and quotes.
    p.to_string_lossy()
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
}

#[test]
fn file_in_the_working_directory_applies() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("trailtriage.toml"),
        format!(
            "[scan]\ninputs = [\"{}\"]\nreport-format = \"json\"\ncause = \"saml_invalid_response\"\nthreads = 2\n",
            toml_str(&sample_logs())
        ),
    )
    .expect("write config");
    // No input and no format on the command line: both come from the file.
    let v = json(&run_in(dir.path(), &["scan"]));
    assert_eq!(v["findings"], cause_count("saml_invalid_response"));
    assert_eq!(v["by_cause"].as_array().map(Vec::len), Some(1));
}

#[test]
fn flags_win_over_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("trailtriage.toml"),
        format!(
            "[scan]\ninputs = \"{}\"\nreport-format = \"json\"\ncause = [\"saml_invalid_response\"]\n",
            toml_str(&sample_logs())
        ),
    )
    .expect("write config");
    // --cause replaces the file's list (it does not add to it).
    let v = json(&run_in(
        dir.path(),
        &["scan", "--cause", "cross_account_denied_ambiguous"],
    ));
    assert_eq!(v["findings"], cause_count("cross_account_denied_ambiguous"));
    // --report-format beats the file's report-format.
    let o = run_in(dir.path(), &["scan", "--report-format", "markdown"]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", text(&o.stderr));
    assert!(text(&o.stdout).starts_with("# Failed role assumptions"));
    // Inputs on the command line replace the file's inputs.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    let v = json(&run_in(
        dir.path(),
        &["scan", empty.to_str().expect("utf-8")],
    ));
    assert_eq!(v["findings"], 0);
}

#[test]
fn explicit_config_resolves_paths_relative_to_itself() {
    let dir = tempfile::tempdir().expect("temp dir");
    let conf = dir.path().join("conf");
    std::fs::create_dir(&conf).expect("mkdir");
    let logs = conf.join("logs");
    std::fs::create_dir(&logs).expect("mkdir");
    std::fs::copy(
        sample_logs().join(
            "AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/05/111122223333_CloudTrail_us-east-1_20261005T0805Z_V3PbSiNAtMsA5Xfh.json.gz",
        ),
        logs.join("x.json.gz"),
    )
    .expect("copy a sample log");
    // Whatever that one file holds, the run must read it (1 file), and write
    // the report next to the config file.
    std::fs::write(
        conf.join("team.toml"),
        "[scan]\ninputs = [\"logs\"]\nreport = \"out/report.json\"\nreport-format = \"json\"\n",
    )
    .expect("write config");
    std::fs::create_dir(conf.join("out")).expect("mkdir");
    let o = run_in(dir.path(), &["--config", "conf/team.toml", "scan"]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", text(&o.stderr));
    let report =
        std::fs::read_to_string(conf.join("out/report.json")).expect("report next to config");
    let v: serde_json::Value = serde_json::from_str(&report).expect("JSON");
    assert_eq!(v["stats"]["files_seen"], 1);
}

#[test]
fn unknown_key_is_an_error_naming_the_file_and_the_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("trailtriage.toml"),
        "[scan]\nreprot-format = \"html\"\n",
    )
    .expect("write config");
    let o = run_in(dir.path(), &["scan", "x"]);
    assert_eq!(o.status.code(), Some(2));
    let e = text(&o.stderr);
    assert!(e.contains("config file trailtriage.toml"), "{e}");
    assert!(e.contains("reprot-format"), "{e}");
    assert!(e.contains("line 2"), "{e}");

    // A bad value is named with its key; a missing --config file is named.
    std::fs::write(
        dir.path().join("trailtriage.toml"),
        "[scan]\nreport-format = \"pdf\"\n",
    )
    .expect("write config");
    let o = run_in(dir.path(), &["scan", "x"]);
    assert_eq!(o.status.code(), Some(2));
    let e = text(&o.stderr);
    assert!(
        e.contains("report-format = \"pdf\"") && e.contains("html"),
        "{e}"
    );

    let o = run_in(dir.path(), &["--config", "nope.toml", "scan", "x"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("nope.toml"));
}

#[test]
fn no_input_anywhere_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let o = run_in(dir.path(), &["scan"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("trailtriage.toml"));
}

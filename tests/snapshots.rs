//! Snapshot tests (insta): the output schema, the reports on sample-logs, and
//! `--help`, so none of them drifts unnoticed. Update with
//! `INSTA_UPDATE=always cargo test --test snapshots` and review the diff.

use std::path::PathBuf;
use std::process::Command;

use trailtriage::pipeline::{Input, ScanOptions, Silent, run_local};
use trailtriage::sink::report::{Format, TextStyle, render};
use trailtriage::sink::schema::schema;

fn sample() -> (Vec<trailtriage::Finding>, trailtriage::Stats) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // Relative path so snapshots do not depend on where the checkout lives.
    std::env::set_current_dir(&root).unwrap();
    run_local(
        &[Input::Path("sample-logs".into())],
        &ScanOptions::default(),
        &Silent,
    )
}

#[test]
fn output_schema() {
    let s: Vec<String> = schema()
        .fields()
        .iter()
        .map(|f| {
            format!(
                "{}: {}{}",
                f.name(),
                f.data_type(),
                if f.is_nullable() { " (nullable)" } else { "" }
            )
        })
        .collect();
    insta::assert_snapshot!(s.join("\n"));
}

#[test]
fn markdown_report() {
    let (f, st) = sample();
    insta::assert_snapshot!(render(&f, &st, Format::Markdown, TextStyle::default()));
}

#[test]
fn text_report() {
    let (f, st) = sample();
    insta::assert_snapshot!(render(
        &f,
        &st,
        Format::Text,
        TextStyle {
            width: 100,
            color: false
        }
    ));
}

#[test]
fn json_report() {
    let (f, st) = sample();
    insta::assert_snapshot!(render(&f, &st, Format::Json, TextStyle::default()));
}

fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_trailtriage"))
        .args(args)
        .env("COLUMNS", "100")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn help_top_level() {
    insta::assert_snapshot!(help(&["--help"]));
}

#[test]
fn help_scan() {
    insta::assert_snapshot!(help(&["scan", "--help"]));
}

#[test]
fn help_explain() {
    insta::assert_snapshot!(help(&["explain", "--help"]));
}

/// The Parquet writer encodes columns in parallel; the file must not depend
/// on how many threads did it (and must read back to the same findings).
#[test]
fn parquet_bytes_do_not_depend_on_the_thread_count() {
    let (findings, _) = sample();
    assert!(findings.len() > 10, "sample-logs should give findings");
    let write = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let mut out = Vec::new();
        pool.install(|| trailtriage::sink::parquet::write_to(&mut out, &findings))
            .unwrap();
        out
    };
    let one = write(1);
    for threads in [2, 3, 8] {
        assert!(write(threads) == one, "{threads} threads wrote other bytes");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.parquet");
    std::fs::write(&path, &one).unwrap();
    let back = trailtriage::sink::parquet::read_file(&path).unwrap();
    assert_eq!(back.len(), findings.len());
    for (a, b) in back.iter().zip(&findings) {
        assert_eq!(a.event_id, b.event_id);
        assert_eq!(a.cause_id, b.cause_id);
        assert_eq!(a.evidence, b.evidence);
    }
}

//! JSON Lines output: one finding per line, exactly the Parquet columns.

use std::io::Write;

use crate::finding::Finding;

/// Write findings as JSON Lines.
pub fn write_to(mut w: impl Write, rows: &[Finding]) -> std::io::Result<()> {
    for r in rows {
        serde_json::to_writer(&mut w, r).map_err(std::io::Error::other)?;
        w.write_all(b"\n")?;
    }
    w.flush()
}

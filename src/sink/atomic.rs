//! Atomic file output: write to a temporary name in the target directory,
//! flush and sync, then rename. A crash never leaves a partial file under the
//! final name.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::Error;

fn werr(path: &Path, source: std::io::Error) -> Error {
    Error::Write {
        path: path.to_path_buf(),
        source,
    }
}

/// The temporary name used while `path` is being written.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    let tmp = format!(".{name}.tmp-{}", std::process::id());
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.join(tmp),
        _ => PathBuf::from(tmp),
    }
}

/// Write `path` atomically with `f`, which gets a buffered writer.
pub fn write_atomic(
    path: &Path,
    f: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<(), Error> {
    let tmp = temp_path(path);
    let file = File::create(&tmp).map_err(|e| werr(path, e))?;
    let mut w = BufWriter::with_capacity(256 * 1024, file);
    let res = f(&mut w)
        .and_then(|_| w.flush())
        .and_then(|_| w.get_ref().sync_all());
    if let Err(e) = res {
        drop(w);
        let _ = std::fs::remove_file(&tmp);
        return Err(werr(path, e));
    }
    drop(w);
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        werr(path, e)
    })
}

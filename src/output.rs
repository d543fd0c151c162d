//! Where output goes: data on stdout (tables, JSON, JSON Lines, CSV), people's messages on stderr.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::error::{UserContext, user};

/// How data is written on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// JSON (one document) or JSON Lines (streams), for machines.
    Json,
    /// CSV with a header row.
    Csv,
}

/// Verbosity of the messages on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

/// Global output settings, shared by every command.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    pub format: Format,
    pub verbosity: Verbosity,
}

impl Printer {
    /// A message for people (stderr), hidden with `-q`.
    pub fn info(&self, msg: impl AsRef<str>) {
        if self.verbosity >= Verbosity::Normal {
            eprintln!("{}", msg.as_ref());
        }
    }

    /// A detail for people (stderr), shown with `-v`.
    pub fn debug(&self, msg: impl AsRef<str>) {
        if self.verbosity >= Verbosity::Verbose {
            eprintln!("{}", msg.as_ref());
        }
    }

    /// A warning (stderr), always shown unless `-q`.
    pub fn warn(&self, msg: impl AsRef<str>) {
        if self.verbosity >= Verbosity::Normal {
            eprintln!("warning: {}", msg.as_ref());
        }
    }
}

/// Buffered stdout. Write errors (a closed pipe included) propagate, and `main` exits quietly on
/// a broken pipe.
pub fn stdout() -> BufWriter<io::StdoutLock<'static>> {
    BufWriter::new(io::stdout().lock())
}

/// Opens a file for reading, `-` meaning stdin.
pub fn open_input(path: &Path) -> Result<Box<dyn BufRead>> {
    if path == Path::new("-") {
        return Ok(Box::new(BufReader::new(io::stdin())));
    }
    let file = File::open(path)
        .with_user_context(|| format!("cannot open {} (check the path)", path.display()))?;
    Ok(Box::new(BufReader::new(file)))
}

/// Reads a whole file (or stdin for `-`) as UTF-8 text.
pub fn read_to_string(path: &Path) -> Result<String> {
    let mut s = String::new();
    open_input(path)?
        .read_to_string(&mut s)
        .with_user_context(|| format!("cannot read {} as UTF-8 text", path.display()))?;
    Ok(s)
}

/// Opens an output: a file path, or stdout for `-`.
pub fn open_output(path: &Path) -> Result<Box<dyn Write>> {
    if path == Path::new("-") {
        return Ok(Box::new(stdout()));
    }
    let file = File::create(path).with_user_context(|| {
        format!(
            "cannot create {} (check the directory exists and is writable)",
            path.display()
        )
    })?;
    Ok(Box::new(BufWriter::new(file)))
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, fsync, rename.
/// A crash leaves either the old file or the new one, never a torn one. `-` is stdout; a path
/// that is not a regular file (`/dev/null`, a FIFO, a terminal) is written through, never
/// replaced; a symlink to a regular file keeps its link, its target is replaced.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if path == Path::new("-") {
        let mut w = stdout();
        w.write_all(bytes)?;
        w.flush()?;
        return Ok(());
    }
    if let Ok(meta) = std::fs::metadata(path) {
        if !meta.is_file() {
            if meta.is_dir() {
                return Err(user(format!(
                    "{} is a directory; give a file name",
                    path.display()
                )));
            }
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .with_user_context(|| format!("cannot write to {}", path.display()))?;
            f.write_all(bytes)
                .with_context(|| format!("writing {}", path.display()))?;
            return Ok(());
        }
        if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
            let target = std::fs::canonicalize(path)
                .with_context(|| format!("resolving the link {}", path.display()))?;
            return write_atomic(&target, bytes);
        }
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    // Outputs may name directories that do not exist yet (`--state vali/state.json`).
    std::fs::create_dir_all(&dir)
        .with_user_context(|| format!("cannot create the directory {}", dir.display()))?;
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let result = (|| -> Result<()> {
        let mut f = File::create(&tmp).with_user_context(|| {
            format!(
                "cannot write in {} (check it exists and is writable)",
                dir.display()
            )
        })?;
        f.write_all(bytes)
            .with_context(|| format!("writing {}", tmp.display()))?;
        f.sync_all()
            .with_context(|| format!("syncing {}", tmp.display()))?;
        std::fs::rename(&tmp, path)
            .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// A simple aligned text table.
#[derive(Debug, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(header: I) -> Self {
        Table {
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row<I: IntoIterator<Item = S>, S: Into<String>>(&mut self, row: I) {
        self.rows.push(row.into_iter().map(Into::into).collect());
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Writes the table with two spaces between columns; numbers are not special-cased.
    pub fn write(&self, w: &mut dyn Write) -> io::Result<()> {
        let ncol = self.header.len();
        let mut width = vec![0usize; ncol];
        for r in std::iter::once(&self.header).chain(self.rows.iter()) {
            for (i, c) in r.iter().enumerate().take(ncol) {
                width[i] = width[i].max(c.chars().count());
            }
        }
        for r in std::iter::once(&self.header).chain(self.rows.iter()) {
            let mut line = String::new();
            for (i, c) in r.iter().enumerate().take(ncol) {
                if i + 1 == ncol {
                    line.push_str(c);
                } else {
                    line.push_str(c);
                    line.extend(std::iter::repeat_n(' ', width[i] - c.chars().count() + 2));
                }
            }
            writeln!(w, "{}", line.trim_end())?;
        }
        Ok(())
    }

    /// Writes the table as CSV (header first).
    pub fn write_csv(&self, w: &mut dyn Write) -> Result<()> {
        let mut csv = csv::Writer::from_writer(w);
        csv.write_record(&self.header)?;
        for r in &self.rows {
            csv.write_record(r)?;
        }
        csv.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns() {
        let mut t = Table::new(["uid", "weight"]);
        t.row(["1", "0.5"]);
        t.row(["123", "1"]);
        let mut out = Vec::new();
        t.write(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "uid  weight\n1    0.5\n123  1\n"
        );
    }

    #[test]
    fn atomic_write_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}

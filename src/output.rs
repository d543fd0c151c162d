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

/// The most sn9 reads whole into memory, per kind of file. An input past its bound (an endless
/// stream such as `/dev/zero` or a FIFO, a wrong path, a padded file from a miner) is refused
/// with a user error instead of growing until the machine runs out of memory. Large data
/// (token shards, safetensors, parquet) is memory-mapped or streamed instead. The table is in
/// docs/architecture.md ("Bounded reads").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// sn9's own small files: settings (TOML), validator state, run and checkpoint state,
    /// manifests, the local chain's and hub's state: 64 MiB.
    State,
    /// A model's JSON and text side files: config.json, generation_config.json, the
    /// safetensors index, tokenizer_config.json, vocab.txt: 256 MiB.
    ModelJson,
    /// tokenizer.json (and vocabularies it needs): 1 GiB.
    Tokenizer,
    /// Passwords and key files: 1 MiB.
    Secret,
    /// Tables and lists read whole: evaluation results, score input, rows lists, runtime
    /// metadata, metrics: 1 GiB.
    Table,
    /// One document of a corpus (a JSON Lines line, a whole .txt file with `--txt-split file`,
    /// one line or paragraph of a .txt): 1 GiB.
    Document,
    /// A WAV file: 4 GiB (the format's own limit).
    Audio,
}

impl Limit {
    /// The bound in bytes.
    pub const fn bytes(self) -> u64 {
        match self {
            Limit::State => 64 << 20,
            Limit::ModelJson => 256 << 20,
            Limit::Tokenizer | Limit::Table | Limit::Document => 1 << 30,
            Limit::Secret => 1 << 20,
            Limit::Audio => 4 << 30,
        }
    }

    fn what(self) -> &'static str {
        match self {
            Limit::State => "a settings or state file",
            Limit::ModelJson => "a model's JSON or text file",
            Limit::Tokenizer => "a tokenizer file",
            Limit::Secret => "a password or key file",
            Limit::Table => "a table or list",
            Limit::Document => "one document",
            Limit::Audio => "a WAV file",
        }
    }

    /// The error for an input past the bound.
    pub fn exceeded(self, path: &Path) -> anyhow::Error {
        user(format!(
            "{} is larger than sn9 reads as {} ({}); check the path (an endless stream or a \
             device is refused too)",
            path.display(),
            self.what(),
            human_bytes(self.bytes())
        ))
    }
}

/// `1.0 GiB`, `64 MiB`, `1 KiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 || v.fract() == 0.0 {
        format!("{v:.0} {}", UNITS[u])
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Reads at most `limit` bytes of `r` into `buf`; an input with more is refused.
fn read_bounded_into(r: &mut dyn Read, buf: &mut Vec<u8>, limit: Limit, path: &Path) -> Result<()> {
    r.take(limit.bytes() + 1)
        .read_to_end(buf)
        .with_user_context(|| format!("cannot read {}", path.display()))?;
    if buf.len() as u64 > limit.bytes() {
        return Err(limit.exceeded(path));
    }
    Ok(())
}

/// Reads a whole file (or stdin for `-`), at most `limit` bytes.
pub fn read_bytes(path: &Path, limit: Limit) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    read_bounded_into(&mut open_input(path)?, &mut buf, limit, path)?;
    Ok(buf)
}

/// Reads a whole file (or stdin for `-`) as UTF-8 text, at most `limit` bytes.
pub fn read_text(path: &Path, limit: Limit) -> Result<String> {
    String::from_utf8(read_bytes(path, limit)?)
        .map_err(|_| user(format!("{} is not UTF-8 text", path.display())))
}

/// [`read_text`] for a file that may be absent: `Ok(None)` when it does not exist.
pub fn read_text_if_exists(path: &Path, limit: Limit) -> Result<Option<String>> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        _ => read_text(path, limit).map(Some),
    }
}

/// `read_until(b'\n')` that refuses a line longer than `limit` (an endless line).
pub fn read_line_bounded(
    r: &mut dyn BufRead,
    buf: &mut Vec<u8>,
    limit: Limit,
    path: &Path,
) -> Result<usize> {
    let n = r
        .take(limit.bytes() + 1)
        .read_until(b'\n', buf)
        .with_user_context(|| format!("cannot read {}", path.display()))?;
    if n as u64 > limit.bytes() {
        return Err(limit.exceeded(path));
    }
    Ok(n)
}

/// Reads a whole file (or stdin for `-`) as UTF-8 text: a table or list ([`Limit::Table`]).
pub fn read_to_string(path: &Path) -> Result<String> {
    read_text(path, Limit::Table)
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
    sweep_stale(&dir, &format!(".{name}.tmp."), "");
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

/// Whether process `pid` is running (Linux: `/proc/PID`); where that cannot be told, true, so
/// nothing of a live process is ever removed.
pub fn pid_alive(pid: u32) -> bool {
    let proc = Path::new("/proc");
    !proc.join("self").exists() || proc.join(pid.to_string()).exists()
}

/// Removes what killed runs left in `dir`: the entries named `{prefix}{pid}{suffix}` whose
/// process no longer runs (temporary files and directories of atomic writes). Returns how many.
pub fn sweep_stale(dir: &Path, prefix: &str, suffix: &str) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut n = 0;
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|s| s.strip_prefix(prefix))
            .and_then(|s| s.strip_suffix(suffix))
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() || pid_alive(pid) {
            continue;
        }
        let p = e.path();
        let gone = if e.file_type().is_ok_and(|t| t.is_dir()) {
            std::fs::remove_dir_all(&p)
        } else {
            std::fs::remove_file(&p)
        };
        if gone.is_ok() {
            eprintln!(
                "sn9: removed {}, left by an interrupted run (process {pid})",
                p.display()
            );
            n += 1;
        }
    }
    n
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

//! Settings resolution: command-line flag > `SN9_*` environment variable > config file > default.
//!
//! clap reads the flag and its environment variable (both end up in an `Option` field, so clap
//! never fills in a default); the config file, a TOML file named by `--config` / `SN9_CONFIG`,
//! holds one table per command (`[score]`, `[competitions]`, ...) with the flags' long names as
//! keys (dashes or underscores). Each command then builds one resolved settings struct.

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::de::DeserializeOwned;

use crate::error::{UserContext, user};

/// A parsed config file (or none).
#[derive(Debug, Default, Clone)]
pub struct ConfigFile {
    path: Option<PathBuf>,
    table: toml::Table,
}

impl ConfigFile {
    /// Loads the config file; `None` gives an empty config.
    pub fn load(path: Option<&Path>) -> Result<Self> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text = crate::output::read_text(path, crate::output::Limit::State).with_user_context(
            || {
                format!(
                    "cannot read config file {} (given by --config or SN9_CONFIG)",
                    path.display()
                )
            },
        )?;
        let table: toml::Table = text.parse().with_user_context(|| {
            let hint = if path.extension().is_some_and(|e| e == "json") {
                " (--config is sn9's settings file; a model's config.json goes to `sn9 model init \
                 --model-config` or `sn9 train --model`)"
            } else {
                ""
            };
            format!("config file {} is not valid TOML{hint}", path.display())
        })?;
        for (k, v) in &table {
            if !v.is_table() {
                return Err(user(format!(
                    "config file {}: top-level key `{k}` must be a table such as [score]",
                    path.display()
                )));
            }
        }
        Ok(ConfigFile {
            path: Some(path.to_path_buf()),
            table,
        })
    }

    /// The value of `key` in section `[section]`, if present (`some-key` and `some_key` both match).
    pub fn get<T: DeserializeOwned>(&self, section: &str, key: &str) -> Result<Option<T>> {
        let Some(sec) = self.table.get(section).and_then(|v| v.as_table()) else {
            return Ok(None);
        };
        let alt = key.replace('-', "_");
        let alt2 = key.replace('_', "-");
        let Some(v) = sec
            .get(key)
            .or_else(|| sec.get(&alt))
            .or_else(|| sec.get(&alt2))
        else {
            return Ok(None);
        };
        let path = self.path.as_deref().unwrap_or(Path::new("<config>"));
        v.clone().try_into::<T>().map(Some).with_user_context(|| {
            format!(
                "config file {}: [{section}] {key} has the wrong type",
                path.display()
            )
        })
    }

    /// Resolves one setting: `flag` (already holding the env var when set) > config file > default.
    pub fn resolve<T: DeserializeOwned>(
        &self,
        flag: Option<T>,
        section: &str,
        key: &str,
        default: T,
    ) -> Result<T> {
        match flag {
            Some(v) => Ok(v),
            None => Ok(self.get(section, key)?.unwrap_or(default)),
        }
    }

    /// Like [`ConfigFile::resolve`] with no default.
    pub fn resolve_opt<T: DeserializeOwned>(
        &self,
        flag: Option<T>,
        section: &str,
        key: &str,
    ) -> Result<Option<T>> {
        match flag {
            Some(v) => Ok(Some(v)),
            None => self.get(section, key),
        }
    }

    /// Paths in the config file are relative to the config file's directory.
    pub fn resolve_path(
        &self,
        flag: Option<PathBuf>,
        section: &str,
        key: &str,
    ) -> Result<Option<PathBuf>> {
        if flag.is_some() {
            return Ok(flag);
        }
        let p: Option<PathBuf> = self.get(section, key)?;
        Ok(p.map(|p| match (&self.path, p.is_absolute()) {
            (Some(cfg), false) => cfg.parent().map(|d| d.join(&p)).unwrap_or(p),
            _ => p,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sn9.toml");
        std::fs::write(&p, "[score]\nblock = 7\nstate-file = \"s.json\"\n").unwrap();
        let c = ConfigFile::load(Some(&p)).unwrap();
        assert_eq!(c.resolve(Some(3u64), "score", "block", 1).unwrap(), 3);
        assert_eq!(c.resolve(None, "score", "block", 1u64).unwrap(), 7);
        assert_eq!(c.resolve(None, "score", "neurons", 1u64).unwrap(), 1);
        assert_eq!(
            c.resolve_path(None, "score", "state_file")
                .unwrap()
                .unwrap(),
            dir.path().join("s.json")
        );
        assert!(c.get::<u64>("score", "state-file").is_err());
    }

    #[test]
    fn rejects_non_table() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sn9.toml");
        std::fs::write(&p, "block = 7\n").unwrap();
        assert!(ConfigFile::load(Some(&p)).is_err());
    }
}

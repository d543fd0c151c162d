//! `sn9 wallet show|create`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use serde_json::json;

use super::{WalletSpec, create, default_path, hotkey_address, new_phrase, read_address};
use crate::error::user;
use crate::output::{Format, Printer, Table, stdout};

/// Which wallet: bittensor's `--wallet.path/name/hotkey`.
#[derive(Debug, Clone, clap::Args)]
pub struct WalletArgs {
    /// Wallets directory [default: ~/.bittensor/wallets].
    #[arg(long, env = "SN9_WALLET_PATH", value_name = "DIR")]
    pub wallet_path: Option<PathBuf>,
    /// Wallet (coldkey) name.
    #[arg(long, env = "SN9_WALLET_NAME", default_value = "default")]
    pub wallet_name: String,
    /// Hotkey name.
    #[arg(long, env = "SN9_WALLET_HOTKEY", default_value = "default")]
    pub wallet_hotkey: String,
    /// Read the key password from this file (else $SN9_WALLET_PASSWORD, else a prompt).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
}

impl WalletArgs {
    pub fn spec(&self) -> WalletSpec {
        WalletSpec {
            path: self.wallet_path.clone().unwrap_or_else(default_path),
            name: self.wallet_name.clone(),
            hotkey: self.wallet_hotkey.clone(),
        }
    }

    /// The password: `--password-file`, `SN9_WALLET_PASSWORD`, or a prompt without echo.
    pub fn password(&self, what: &str) -> Result<String> {
        if let Some(f) = &self.password_file {
            let s = crate::output::read_text(f, crate::output::Limit::Secret)
                .map_err(|e| user(format!("--password-file: {e:#}")))?;
            return Ok(s.trim_end_matches(['\n', '\r']).to_string());
        }
        if let Ok(p) = std::env::var("SN9_WALLET_PASSWORD") {
            return Ok(p);
        }
        if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            return rpassword::prompt_password(format!("password for {what}: "))
                .map_err(|e| user(format!("cannot read the password: {e}")));
        }
        Err(user(format!(
            "{what} is encrypted: give its password with --password-file FILE or \
             SN9_WALLET_PASSWORD (no terminal to prompt on)"
        )))
    }

    /// The hotkey, ready to sign.
    pub fn hotkey(&self) -> Result<super::Key> {
        let w = self.spec();
        super::load_key(&w.hotkey_file(), || {
            self.password(&format!("hotkey {}", w.hotkey))
        })
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum WalletCommand {
    /// Print the wallet's coldkey and hotkey addresses (SS58; never secrets).
    Show {
        #[command(flatten)]
        wallet: WalletArgs,
        /// Also decrypt the coldkey, proving the password (asks for it).
        #[arg(long)]
        check_coldkey: bool,
    },
    /// Create a wallet: a coldkey (encrypted unless --no-password) and a hotkey, from fresh
    /// BIP-39 phrases, as bittensor writes them (files mode 0600; existing files are never
    /// overwritten). The phrases are only in the key files: back them up.
    Create {
        #[command(flatten)]
        wallet: WalletArgs,
        /// Only add a hotkey to an existing wallet.
        #[arg(long)]
        hotkey_only: bool,
        /// Store the coldkey unencrypted (test wallets only).
        #[arg(long)]
        no_password: bool,
    },
}

pub fn run(cmd: WalletCommand, p: &Printer) -> Result<()> {
    let mut w = stdout();
    match cmd {
        WalletCommand::Show {
            wallet,
            check_coldkey,
        } => {
            let s = wallet.spec();
            let cold = read_address(&s.dir().join("coldkeypub.txt")).ok();
            let hot = hotkey_address(&s).ok();
            if cold.is_none() && hot.is_none() {
                return Err(user(format!(
                    "no wallet at {} (create one with `sn9 wallet create`)",
                    s.dir().display()
                )));
            }
            if check_coldkey {
                let k = super::load_key(&s.coldkey_file(), || {
                    wallet.password(&format!("coldkey {}", s.name))
                })?;
                if Some(k.ss58()) != cold {
                    return Err(user("the coldkey does not match coldkeypub.txt"));
                }
                p.info("coldkey password ok");
            }
            if p.format == Format::Json {
                writeln!(
                    w,
                    "{}",
                    json!({"wallet": s.name, "path": s.dir(), "coldkey": cold, "hotkey_name": s.hotkey, "hotkey": hot})
                )?;
            } else {
                let mut t = Table::new(["key", "name", "ss58"]);
                t.row([
                    "coldkey".into(),
                    s.name.clone(),
                    cold.unwrap_or_else(|| "-".into()),
                ]);
                t.row([
                    "hotkey".into(),
                    s.hotkey.clone(),
                    hot.unwrap_or_else(|| "-".into()),
                ]);
                t.write(&mut w)?;
            }
        }
        WalletCommand::Create {
            wallet,
            hotkey_only,
            no_password,
        } => {
            let s = wallet.spec();
            let cold_phrase = new_phrase()?;
            let hot_phrase = new_phrase()?;
            let pw = if hotkey_only || no_password {
                None
            } else {
                Some(zeroize::Zeroizing::new(
                    wallet.password(&format!("the new coldkey {}", s.name))?,
                ))
            };
            let cold =
                (!hotkey_only).then(|| (cold_phrase.as_str(), pw.as_ref().map(|p| p.as_str())));
            let (c, h) = create(&s, cold, Some(hot_phrase.as_str()))?;
            if p.format == Format::Json {
                writeln!(
                    w,
                    "{}",
                    json!({"wallet": s.name, "path": s.dir(), "coldkey": c, "hotkey_name": s.hotkey, "hotkey": h})
                )?;
            } else {
                if let Some(c) = &c {
                    writeln!(w, "coldkey  {}  {c}", s.name)?;
                }
                if let Some(h) = &h {
                    writeln!(w, "hotkey   {}  {h}", s.hotkey)?;
                }
            }
            p.info(format!(
                "created in {}; the secret phrases are only in the key files: back them up",
                s.dir().display()
            ));
        }
    }
    Ok(())
}

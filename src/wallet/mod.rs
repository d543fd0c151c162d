//! Bittensor wallets in the SDK's on-disk format (`~/.bittensor/wallets/<name>/`): `coldkey`
//! (NaCl-encrypted: argon2i + XSalsa20-Poly1305), `coldkeypub.txt`, `hotkeys/<hotkey>` (plaintext
//! JSON by default) and `hotkeys/<hotkey>pub.txt`. sr25519 keys (schnorrkel, signing context
//! `substrate`), derived from BIP-39 phrases as substrate does. Secrets never reach stdout,
//! stderr or error messages; key files are created with mode 0600.

pub mod command;

use std::path::{Path, PathBuf};

use anyhow::Result;
use schnorrkel::{ExpansionMode, MiniSecretKey};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::chain::ss58;
use crate::error::user;

/// The SDK's fixed argon2 salt for NaCl keyfiles.
const NACL_SALT: [u8; 16] = [
    0x13, 0x71, 0x83, 0xdf, 0xf1, 0x5a, 0x09, 0xbc, 0x9c, 0x90, 0xb5, 0x51, 0x87, 0x39, 0xe9, 0xb1,
];

/// Where a wallet lives.
#[derive(Debug, Clone)]
pub struct WalletSpec {
    pub path: PathBuf,
    pub name: String,
    pub hotkey: String,
}

impl WalletSpec {
    pub fn dir(&self) -> PathBuf {
        self.path.join(&self.name)
    }
    pub fn hotkey_file(&self) -> PathBuf {
        self.dir().join("hotkeys").join(&self.hotkey)
    }
    pub fn coldkey_file(&self) -> PathBuf {
        self.dir().join("coldkey")
    }
}

/// The default wallets directory: `~/.bittensor/wallets`.
pub fn default_path() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
        .join(".bittensor")
        .join("wallets")
}

/// substrate-bip39: the mini secret of a phrase is the first 32 bytes of
/// PBKDF2-HMAC-SHA512(entropy, "mnemonic" ‖ password, 2048), with an empty password.
fn mini_secret(phrase: &str) -> Result<Zeroizing<[u8; 32]>> {
    let m = bip39::Mnemonic::parse_normalized(phrase)
        .map_err(|e| user(format!("the key's secret phrase is not valid BIP-39: {e}")))?;
    let (ent, n) = m.to_entropy_array();
    let mut seed = Zeroizing::new([0u8; 64]);
    pbkdf2::pbkdf2::<hmac::Hmac<sha2::Sha512>>(&ent[..n], b"mnemonic", 2048, seed.as_mut())
        .map_err(|e| anyhow::anyhow!("pbkdf2: {e}"))?;
    let mut mini = Zeroizing::new([0u8; 32]);
    mini.copy_from_slice(&seed[..32]);
    Ok(mini)
}

/// An sr25519 key pair.
pub struct Key {
    pub pair: schnorrkel::Keypair,
}

impl Key {
    pub fn from_mini_secret(seed: &[u8; 32]) -> Result<Key> {
        let m =
            MiniSecretKey::from_bytes(seed).map_err(|e| user(format!("bad secret seed: {e}")))?;
        Ok(Key {
            pair: m.expand_to_keypair(ExpansionMode::Ed25519),
        })
    }

    /// A key from a BIP-39 phrase (see [`mini_secret`]).
    pub fn from_phrase(phrase: &str) -> Result<Key> {
        Self::from_mini_secret(&*mini_secret(phrase)?)
    }

    pub fn public(&self) -> [u8; 32] {
        self.pair.public.to_bytes()
    }

    pub fn ss58(&self) -> String {
        ss58::encode(42, &self.public())
    }

    /// An sr25519 signature (context `substrate`, as subxt and the SDK sign).
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.pair.sign_simple(b"substrate", msg).to_bytes()
    }
}

/// Verifies an sr25519 signature by the SS58 account `who`.
pub fn verify(who: &str, msg: &[u8], sig: &[u8]) -> bool {
    let Ok((_, pk)) = ss58::decode(who) else {
        return false;
    };
    let (Ok(pk), Ok(sig)) = (
        schnorrkel::PublicKey::from_bytes(&pk),
        schnorrkel::Signature::from_bytes(sig),
    ) else {
        return false;
    };
    pk.verify_simple(b"substrate", msg, &sig).is_ok()
}

fn argon_key(password: &str) -> Result<Zeroizing<[u8; 32]>> {
    use argon2::{Algorithm, Argon2, Params, Version};
    let params = Params::new(524_288, 8, 1, Some(32)).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut key = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2i, Version::V0x13, params)
        .hash_password_into(password.as_bytes(), &NACL_SALT, key.as_mut())
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
    Ok(key)
}

/// Decrypts `$NACL` keyfile data; a wrong password is a user error that says so.
pub fn decrypt_nacl(data: &[u8], password: &str, what: &Path) -> Result<Zeroizing<Vec<u8>>> {
    use crypto_secretbox::aead::{Aead, KeyInit};
    use crypto_secretbox::{Nonce, XSalsa20Poly1305};
    let body = data
        .strip_prefix(b"$NACL")
        .ok_or_else(|| user(format!("{} is not NaCl-encrypted", what.display())))?;
    if body.len() < 24 + 16 {
        return Err(user(format!(
            "{} is truncated (corrupt keyfile)",
            what.display()
        )));
    }
    let key = argon_key(password)?;
    let cipher = XSalsa20Poly1305::new(key.as_ref().into());
    let plain = cipher
        .decrypt(Nonce::from_slice(&body[..24]), &body[24..])
        .map_err(|_| {
            user(format!(
                "wrong password for {} (or a corrupt keyfile); nothing was signed",
                what.display()
            ))
        })?;
    Ok(Zeroizing::new(plain))
}

/// Encrypts keyfile data the SDK's way (`$NACL` ‖ nonce ‖ secretbox).
pub fn encrypt_nacl(plain: &[u8], password: &str) -> Result<Vec<u8>> {
    use crypto_secretbox::aead::{Aead, KeyInit};
    use crypto_secretbox::{Nonce, XSalsa20Poly1305};
    let key = argon_key(password)?;
    let nonce: [u8; 24] = rand::random();
    let cipher = XSalsa20Poly1305::new(key.as_ref().into());
    let ct = cipher
        .encrypt(Nonce::from_slice(&nonce), plain)
        .map_err(|_| anyhow::anyhow!("encryption failed"))?;
    let mut out = b"$NACL".to_vec();
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Reads a key file; encrypted ones need `password()`.
pub fn load_key(path: &Path, password: impl FnOnce() -> Result<String>) -> Result<Key> {
    if let Err(e) = std::fs::metadata(path) {
        return Err(user(format!(
            "cannot read key file {} ({e}); create the wallet with `sn9 wallet create` or point \
             --wallet-path/--wallet-name/--wallet-hotkey at it",
            path.display()
        )));
    }
    let data = Zeroizing::new(crate::output::read_bytes(
        path,
        crate::output::Limit::Secret,
    )?);
    let plain = if data.starts_with(b"$NACL") {
        let pw = Zeroizing::new(password()?);
        decrypt_nacl(&data, &pw, path)?
    } else if data.starts_with(b"gAAAAA") || data.starts_with(b"$ANSIBLE_VAULT") {
        return Err(user(format!(
            "{} uses a legacy encryption (Fernet/Ansible vault) sn9 does not read; re-encrypt it \
             with a current bittensor wallet (`btcli wallet regen-coldkey`)",
            path.display()
        )));
    } else {
        Zeroizing::new(data.to_vec())
    };
    let v: Value = serde_json::from_slice(&plain).map_err(|_| {
        user(format!(
            "{} is not a key file (corrupt JSON)",
            path.display()
        ))
    })?;
    let key = if let Some(p) = v["secretPhrase"].as_str().filter(|s| !s.is_empty()) {
        Key::from_phrase(p)?
    } else if let Some(s) = v["secretSeed"].as_str() {
        let b = hex_bytes(s).filter(|b| b.len() == 32).ok_or_else(|| {
            user(format!(
                "{}: secretSeed is not 32 bytes of hex",
                path.display()
            ))
        })?;
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&b);
        Key::from_mini_secret(&seed)?
    } else if let Some(s) = v["privateKey"].as_str() {
        let b = hex_bytes(s).filter(|b| b.len() == 64).ok_or_else(|| {
            user(format!(
                "{}: privateKey is not 64 bytes of hex",
                path.display()
            ))
        })?;
        let secret = schnorrkel::SecretKey::from_ed25519_bytes(&b)
            .map_err(|e| user(format!("{}: bad privateKey: {e}", path.display())))?;
        Key {
            pair: schnorrkel::Keypair {
                public: secret.to_public(),
                secret,
            },
        }
    } else {
        return Err(user(format!(
            "{} holds no secret (only a public key); it cannot sign",
            path.display()
        )));
    };
    if let Some(a) = v["ss58Address"].as_str()
        && a != key.ss58()
    {
        return Err(user(format!(
            "{}: the secret gives {}, the file says {a} (corrupt keyfile)",
            path.display(),
            key.ss58()
        )));
    }
    Ok(key)
}

use crate::hex::{decode as hex_bytes, encode_0x as hex0x};

/// The SS58 address in a `*pub.txt` (or any key) file.
pub fn read_address(path: &Path) -> Result<String> {
    let text = crate::output::read_text(path, crate::output::Limit::Secret)?;
    let v: Value = serde_json::from_str(&text).map_err(|_| {
        user(format!(
            "{} is not a key file (corrupt JSON)",
            path.display()
        ))
    })?;
    v["ss58Address"]
        .as_str()
        .map(String::from)
        .ok_or_else(|| user(format!("{} has no ss58Address", path.display())))
}

/// The hotkey's address without reading its secret (`<hotkey>pub.txt`, else the key file).
pub fn hotkey_address(w: &WalletSpec) -> Result<String> {
    let pubf = w.dir().join("hotkeys").join(format!("{}pub.txt", w.hotkey));
    if pubf.exists() {
        read_address(&pubf)
    } else {
        Ok(load_key(&w.hotkey_file(), || {
            Err(user(
                "the hotkey is encrypted; its address needs hotkeys/<name>pub.txt",
            ))
        })?
        .ss58())
    }
}

/// Key file JSON for a phrase (the SDK's fields).
fn keyfile_json(phrase: &str) -> Result<(Value, Value, String)> {
    let seed = mini_secret(phrase)?;
    let mini = MiniSecretKey::from_bytes(seed.as_ref()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let secret = mini.expand(ExpansionMode::Ed25519);
    let public = secret.to_public().to_bytes();
    let ss58 = ss58::encode(42, &public);
    let full = json!({"accountId": hex0x(&public), "publicKey": hex0x(&public),
        "privateKey": hex0x(&secret.to_ed25519_bytes()), "secretPhrase": phrase,
        "secretSeed": hex0x(seed.as_ref()), "ss58Address": ss58, "cryptoType": 1});
    let public_only = json!({"accountId": hex0x(&public), "publicKey": hex0x(&public),
        "ss58Address": ss58, "cryptoType": 1});
    Ok((full, public_only, ss58))
}

/// Writes the key files of one `create` all or none, each with mode 0600 and never over an
/// existing key: every file goes to a temporary sibling, is synced, then linked to its name. On
/// any failure (a full disk) what this call made is removed, so no empty or partial key blocks
/// the next try. An empty file already at a key's path (left by a failed create of an older
/// version) holds no secret and is replaced.
fn write_secrets(files: &[(PathBuf, Zeroizing<Vec<u8>>)]) -> Result<()> {
    use std::io::Write;
    for (path, _) in files {
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.is_file() && m.len() == 0 => {
                eprintln!(
                    "sn9: {} is empty (left by an interrupted create); replacing it",
                    path.display()
                );
                std::fs::remove_file(path)
                    .map_err(|e| user(format!("cannot remove {}: {e}", path.display())))?;
            }
            Ok(_) => {
                return Err(user(format!(
                    "{} already exists; a wallet is never overwritten: choose another name",
                    path.display()
                )));
            }
            Err(_) => {}
        }
    }
    let mut made: Vec<PathBuf> = Vec::new();
    let mut temps: Vec<PathBuf> = Vec::new();
    let res = (|| -> Result<()> {
        for (path, bytes) in files {
            let dir = path.parent().unwrap_or(Path::new("."));
            std::fs::create_dir_all(dir)
                .map_err(|e| user(format!("cannot create {}: {e}", dir.display())))?;
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            crate::output::sweep_stale(dir, &format!(".{name}.tmp."), "");
            let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
            let mut o = std::fs::OpenOptions::new();
            o.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
            temps.push(tmp.clone());
            let mut f = o
                .open(&tmp)
                .map_err(|e| user(format!("cannot create {} ({e})", tmp.display())))?;
            f.write_all(bytes)
                .and_then(|()| f.sync_all())
                .map_err(|e| {
                    user(format!(
                        "cannot write {} ({e}); is the disk full?",
                        path.display()
                    ))
                })?;
        }
        for ((path, _), tmp) in files.iter().zip(&temps) {
            std::fs::hard_link(tmp, path).map_err(|e| {
                user(format!(
                    "cannot create {} ({e}); a wallet is never overwritten: choose another name",
                    path.display()
                ))
            })?;
            made.push(path.clone());
        }
        Ok(())
    })();
    for t in &temps {
        let _ = std::fs::remove_file(t);
    }
    if res.is_err() {
        for p in &made {
            let _ = std::fs::remove_file(p);
        }
    }
    res
}

/// A fresh 12-word BIP-39 phrase.
pub fn new_phrase() -> Result<Zeroizing<String>> {
    let entropy: [u8; 16] = rand::random();
    let m = bip39::Mnemonic::from_entropy(&entropy).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Zeroizing::new(m.to_string()))
}

/// Creates the coldkey (encrypted with `password` unless `None`) and/or the hotkey of `w`.
/// Returns the (coldkey, hotkey) addresses created.
pub fn create(
    w: &WalletSpec,
    coldkey: Option<(&str, Option<&str>)>,
    hotkey: Option<&str>,
) -> Result<(Option<String>, Option<String>)> {
    let mut out = (None, None);
    let mut files = Vec::new();
    if let Some((phrase, password)) = coldkey {
        let (full, public, ss58) = keyfile_json(phrase)?;
        let plain = Zeroizing::new(serde_json::to_vec(&full)?);
        let data = match password {
            Some(pw) => encrypt_nacl(&plain, pw)?,
            None => plain.to_vec(),
        };
        files.push((w.coldkey_file(), Zeroizing::new(data)));
        files.push((
            w.dir().join("coldkeypub.txt"),
            Zeroizing::new(serde_json::to_vec(&public)?),
        ));
        out.0 = Some(ss58);
    }
    if let Some(phrase) = hotkey {
        let (full, public, ss58) = keyfile_json(phrase)?;
        files.push((w.hotkey_file(), Zeroizing::new(serde_json::to_vec(&full)?)));
        files.push((
            w.dir().join("hotkeys").join(format!("{}pub.txt", w.hotkey)),
            Zeroizing::new(serde_json::to_vec(&public)?),
        ));
        out.1 = Some(ss58);
    }
    write_secrets(&files)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_phrase_gives_the_known_address_and_signs() {
        let k = Key::from_phrase(
            "bottom drive obey lake curtain smoke basket hold race lonely fit walk",
        )
        .unwrap();
        assert_eq!(k.ss58(), "5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzV");
        let sig = k.sign(b"hello");
        assert!(verify(&k.ss58(), b"hello", &sig));
        assert!(!verify(&k.ss58(), b"hellO", &sig));
    }

    #[test]
    fn nacl_round_trip_and_wrong_password() {
        let ct = encrypt_nacl(b"{\"x\":1}", "pw").unwrap();
        let p = Path::new("k");
        assert_eq!(&decrypt_nacl(&ct, "pw", p).unwrap()[..], b"{\"x\":1}");
        let e = decrypt_nacl(&ct, "nope", p).unwrap_err();
        assert!(format!("{e}").contains("wrong password"));
    }
}

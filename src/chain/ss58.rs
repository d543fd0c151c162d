//! SS58 addresses (substrate): base58 of `prefix ‖ 32-byte public key ‖ 2-byte checksum`, the
//! checksum being the first bytes of `blake2b-512("SS58PRE" ‖ prefix ‖ key)`.

use blake2::{Blake2b512, Digest};

/// Decodes an SS58 address into (network prefix, public key), checking the checksum.
pub fn decode(addr: &str) -> Result<(u16, [u8; 32]), String> {
    let bytes = bs58::decode(addr)
        .into_vec()
        .map_err(|e| format!("`{addr}` is not an SS58 address (not base58: {e})"))?;
    let (prefix, prefix_len) = match bytes.first() {
        Some(&b) if b < 64 => (b as u16, 1),
        Some(&b) if b < 128 && bytes.len() > 1 => {
            let lower = ((b << 2) | (bytes[1] >> 6)) as u16;
            let upper = (bytes[1] & 0b0011_1111) as u16;
            (lower | (upper << 8), 2)
        }
        _ => return Err(format!("`{addr}` is not an SS58 address (bad prefix)")),
    };
    if bytes.len() != prefix_len + 32 + 2 {
        return Err(format!(
            "`{addr}` is not an SS58 account address ({} bytes decoded)",
            bytes.len()
        ));
    }
    let body = &bytes[..prefix_len + 32];
    let mut h = Blake2b512::new();
    h.update(b"SS58PRE");
    h.update(body);
    let sum = h.finalize();
    if sum[..2] != bytes[prefix_len + 32..] {
        return Err(format!(
            "`{addr}` is not a valid SS58 address (checksum mismatch: a typo?)"
        ));
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(&body[prefix_len..]);
    Ok((prefix, key))
}

/// Encodes a public key with a one-byte prefix (42 = generic substrate, what bittensor uses).
pub fn encode(prefix: u8, key: &[u8; 32]) -> String {
    let mut body = vec![prefix];
    body.extend_from_slice(key);
    let mut h = Blake2b512::new();
    h.update(b"SS58PRE");
    h.update(&body);
    let sum = h.finalize();
    body.extend_from_slice(&sum[..2]);
    bs58::encode(body).into_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let key = [7u8; 32];
        let a = encode(42, &key);
        assert!(a.starts_with('5'));
        assert_eq!(decode(&a).unwrap(), (42, key));
        let mut bad = a.clone();
        bad.pop();
        bad.push(if a.ends_with('a') { 'b' } else { 'a' });
        assert!(decode(&bad).is_err());
        assert!(decode("not-base58-0OIl").is_err());
    }
}

//! Lowercase hex, as hashes, keys and SCALE bytes are shown (`0x` optional on input).

/// Lowercase hex of `b`, without a prefix.
pub fn encode(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `0x` + lowercase hex.
pub fn encode_0x(b: &[u8]) -> String {
    format!("0x{}", encode(b))
}

/// Bytes of a hex string (with or without `0x`); `None` if it is not hex.
pub fn decode(s: &str) -> Option<Vec<u8>> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip() {
        assert_eq!(super::encode_0x(&[0, 171, 255]), "0x00abff");
        assert_eq!(super::decode("0x00abff"), Some(vec![0, 171, 255]));
        assert_eq!(super::decode("00ABff"), Some(vec![0, 171, 255]));
        assert_eq!(super::decode("0xabc"), None);
        assert_eq!(super::decode("zz"), None);
    }
}

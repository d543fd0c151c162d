//! CPython's `random` module (Mersenne Twister MT19937), reproduced exactly: seeding from an
//! arbitrary-size non-negative integer, `getrandbits`, `random`, `randint`/`randrange`,
//! `choice` and `shuffle`, drawing the same numbers in the same order as CPython 3.11.

const N: usize = 624;
const M: usize = 397;

/// A Python `random.Random` instance.
#[derive(Clone)]
pub struct PyRandom {
    mt: [u32; N],
    index: usize,
}

impl std::fmt::Debug for PyRandom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PyRandom {{ index: {} }}", self.index)
    }
}

impl PyRandom {
    fn init_genrand(s: u32) -> [u32; N] {
        let mut mt = [0u32; N];
        mt[0] = s;
        for i in 1..N {
            mt[i] = 1_812_433_253u32
                .wrapping_mul(mt[i - 1] ^ (mt[i - 1] >> 30))
                .wrapping_add(i as u32);
        }
        mt
    }

    /// `random.seed(n)` for a non-negative integer given as 32-bit limbs, least significant
    /// first (`init_by_array` over the limbs of `abs(n)`; 0 seeds with the key `[0]`).
    pub fn from_limbs(limbs: &[u32]) -> PyRandom {
        let mut key: Vec<u32> = limbs.to_vec();
        while key.len() > 1 && *key.last().expect("non-empty") == 0 {
            key.pop();
        }
        if key.is_empty() {
            key.push(0);
        }
        let mut mt = Self::init_genrand(19_650_218);
        let (mut i, mut j) = (1usize, 0usize);
        let klen = key.len();
        for _ in 0..N.max(klen) {
            mt[i] = (mt[i] ^ (mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_mul(1_664_525))
                .wrapping_add(key[j])
                .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
            if j >= klen {
                j = 0;
            }
        }
        for _ in 0..N - 1 {
            mt[i] = (mt[i] ^ (mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_mul(1_566_083_941))
                .wrapping_sub(i as u32);
            i += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
        }
        mt[0] = 0x8000_0000;
        PyRandom { mt, index: N }
    }

    /// `random.seed(n)` for a `u64`.
    pub fn from_u64(n: u64) -> PyRandom {
        Self::from_limbs(&[n as u32, (n >> 32) as u32])
    }

    /// `random.seed(n)` for a big integer.
    pub fn from_bigint(n: &BigUint) -> PyRandom {
        Self::from_limbs(&n.limbs)
    }

    fn generate(&mut self) {
        const UPPER: u32 = 0x8000_0000;
        const LOWER: u32 = 0x7fff_ffff;
        const MATRIX_A: u32 = 0x9908_b0df;
        for k in 0..N {
            let y = (self.mt[k] & UPPER) | (self.mt[(k + 1) % N] & LOWER);
            let mag = if y & 1 == 1 { MATRIX_A } else { 0 };
            self.mt[k] = self.mt[(k + M) % N] ^ (y >> 1) ^ mag;
        }
        self.index = 0;
    }

    /// One tempered 32-bit output (`genrand_uint32`).
    pub fn next_u32(&mut self) -> u32 {
        if self.index >= N {
            self.generate();
        }
        let mut y = self.mt[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^= y >> 18;
        y
    }

    /// `getrandbits(k)` for `k ≤ 64`: 32-bit words least significant first, the last one shifted
    /// down to the bits still needed.
    pub fn getrandbits(&mut self, k: u32) -> u64 {
        assert!(k <= 64, "getrandbits above 64 bits is not needed here");
        if k == 0 {
            return 0;
        }
        if k <= 32 {
            return (self.next_u32() >> (32 - k)) as u64;
        }
        let lo = self.next_u32() as u64;
        let hi = (self.next_u32() >> (64 - k)) as u64;
        lo | (hi << 32)
    }

    /// `random()`: a float in [0, 1) with 53 random bits.
    pub fn random(&mut self) -> f64 {
        let a = (self.next_u32() >> 5) as f64;
        let b = (self.next_u32() >> 6) as f64;
        (a * 67_108_864.0 + b) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// `_randbelow(n)`: rejection sampling on `getrandbits(n.bit_length())`.
    pub fn randbelow(&mut self, n: u64) -> u64 {
        assert!(n > 0, "randbelow(0)");
        let k = 64 - n.leading_zeros();
        loop {
            let r = self.getrandbits(k);
            if r < n {
                return r;
            }
        }
    }

    /// `randint(a, b)`, both ends included. `None` when `b < a` (Python raises ValueError).
    pub fn randint(&mut self, a: i64, b: i64) -> Option<i64> {
        if b < a {
            return None;
        }
        let width = (b - a) as u64 + 1;
        Some(a + self.randbelow(width) as i64)
    }

    /// `choice(seq)` as an index.
    pub fn choice_index(&mut self, len: usize) -> Option<usize> {
        if len == 0 {
            None
        } else {
            Some(self.randbelow(len as u64) as usize)
        }
    }

    /// `shuffle(x)` (Fisher–Yates from the end).
    pub fn shuffle<T>(&mut self, x: &mut [T]) {
        for i in (1..x.len()).rev() {
            let j = self.randbelow(i as u64 + 1) as usize;
            x.swap(i, j);
        }
    }
}

/// A non-negative big integer (the 256-bit seeds), as 32-bit limbs least significant first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BigUint {
    pub limbs: Vec<u32>,
}

impl BigUint {
    /// From big-endian bytes (e.g. a sha256 digest).
    pub fn from_be_bytes(bytes: &[u8]) -> BigUint {
        let mut limbs = Vec::new();
        for chunk in bytes.rchunks(4) {
            let mut v = 0u32;
            for &b in chunk {
                v = (v << 8) | b as u32;
            }
            limbs.push(v);
        }
        Self::trimmed(limbs)
    }

    fn trimmed(mut limbs: Vec<u32>) -> BigUint {
        while limbs.len() > 1 && *limbs.last().expect("non-empty") == 0 {
            limbs.pop();
        }
        if limbs.is_empty() {
            limbs.push(0);
        }
        BigUint { limbs }
    }

    /// Parses a decimal string.
    pub fn parse_decimal(s: &str) -> Option<BigUint> {
        let s = s.trim();
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let mut limbs: Vec<u32> = vec![0];
        for b in s.bytes() {
            let mut carry = (b - b'0') as u64;
            for l in &mut limbs {
                let v = *l as u64 * 10 + carry;
                *l = v as u32;
                carry = v >> 32;
            }
            if carry > 0 {
                limbs.push(carry as u32);
            }
        }
        Some(Self::trimmed(limbs))
    }

    /// Decimal digits.
    pub fn to_decimal(&self) -> String {
        let mut limbs = self.limbs.clone();
        let mut parts: Vec<u32> = Vec::new();
        while !(limbs.len() == 1 && limbs[0] == 0) {
            let mut rem = 0u64;
            for l in limbs.iter_mut().rev() {
                let v = (rem << 32) | *l as u64;
                *l = (v / 1_000_000_000) as u32;
                rem = v % 1_000_000_000;
            }
            parts.push(rem as u32);
            while limbs.len() > 1 && *limbs.last().expect("non-empty") == 0 {
                limbs.pop();
            }
        }
        match parts.split_last() {
            None => "0".into(),
            Some((first, rest)) => {
                let mut s = first.to_string();
                for p in rest.iter().rev() {
                    s.push_str(&format!("{p:09}"));
                }
                s
            }
        }
    }

    /// `0x`-prefixed lowercase hex, as Python's `hex()`.
    pub fn to_hex(&self) -> String {
        let mut s = String::from("0x");
        let mut first = true;
        for l in self.limbs.iter().rev() {
            if first {
                s.push_str(&format!("{l:x}"));
                first = false;
            } else {
                s.push_str(&format!("{l:08x}"));
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_seed_42() {
        // random.seed(42); random.random() == 0.6394267984578837; randint(1, 10) == 1 (CPython).
        let mut r = PyRandom::from_u64(42);
        assert_eq!(r.random(), 0.6394267984578837);
        let mut r = PyRandom::from_u64(42);
        assert_eq!(r.randint(1, 10), Some(2));
    }

    #[test]
    fn bigint_roundtrip() {
        let s = "47137133047987366843627913065961486372647734429622217293125865327054350386694";
        let n = BigUint::parse_decimal(s).unwrap();
        assert_eq!(n.to_decimal(), s);
        assert_eq!(BigUint::parse_decimal("0").unwrap().to_decimal(), "0");
    }
}

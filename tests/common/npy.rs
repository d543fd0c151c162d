//! `.npy` arrays (little-endian, C order) of the reference fixtures.
#![allow(dead_code)]

use std::path::Path;

type R<T> = Result<T, String>;

/// An `.npy` array: its shape and its values as f64 (f32, f64, i16 and i64 arrays).
pub struct Npy {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

pub fn read_npy(path: &Path) -> R<Npy> {
    let b = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let bad = |m: &str| format!("{}: {m}", path.display());
    if b.len() < 10 || &b[..6] != b"\x93NUMPY" {
        return Err(bad("not an .npy file"));
    }
    let (hlen, start) = match b[6] {
        1 => (u16::from_le_bytes([b[8], b[9]]) as usize, 10),
        2 | 3 if b.len() >= 12 => (u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize, 12),
        _ => return Err(bad("unknown .npy version")),
    };
    let header = std::str::from_utf8(b.get(start..start + hlen).ok_or_else(|| bad("short"))?)
        .map_err(|_| bad("header not UTF-8"))?;
    let field = |k: &str| -> R<&str> {
        let at = header.find(k).ok_or_else(|| bad(&format!("no {k}")))? + k.len();
        Ok(header[at..].trim_start_matches([':', ' ']))
    };
    let descr = field("'descr'")?;
    let descr = &descr[1..descr[1..].find('\'').ok_or_else(|| bad("descr"))? + 1];
    if field("'fortran_order'")?.starts_with("True") {
        return Err(bad("Fortran order"));
    }
    let sh = field("'shape'")?;
    let sh = &sh[1..sh.find(')').ok_or_else(|| bad("shape"))?];
    let shape: Vec<usize> = sh
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|_| bad("shape")))
        .collect::<R<_>>()?;
    let body = &b[start + hlen..];
    let count: usize = shape.iter().product();
    let data: Vec<f64> = match descr {
        "<f4" => body
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64)
            .collect(),
        "<f8" => body
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
            .collect(),
        "<i2" => body
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes(c.try_into().unwrap()) as f64)
            .collect(),
        "<i8" => body
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap()) as f64)
            .collect(),
        d => return Err(bad(&format!("dtype {d} not handled"))),
    };
    if data.len() != count {
        return Err(bad(&format!("{} values for shape {shape:?}", data.len())));
    }
    Ok(Npy { shape, data })
}

/// An `.npy` of float32 values (exactly, as f32).
pub fn read_npy_f32(path: &Path) -> R<(Vec<usize>, Vec<f32>)> {
    let a = read_npy(path)?;
    Ok((a.shape, a.data.into_iter().map(|v| v as f32).collect()))
}

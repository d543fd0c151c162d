//! safetensors files: a memory-mapped, validating reader and an atomic writer, single file or
//! sharded with `model.safetensors.index.json`, as transformers reads and writes them.
//!
//! Format: an 8-byte little-endian header length `n`, `n` bytes of JSON
//! (`{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}`), then
//! the tensor bytes. Every header field is checked against the file before it is trusted: no
//! allocation or slice is driven by an unchecked length.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use half::{bf16, f16};
use memmap2::Mmap;
use serde_json::{Map, Value, json};

use crate::error::user;

/// Largest header sn9 accepts (transformers' biggest checkpoints have headers of a few MB).
const MAX_HEADER_BYTES: u64 = 100 << 20;

/// On-disk element types sn9 reads (floats) or recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    F32,
    F16,
    BF16,
    F64,
    I64,
    I32,
    I16,
    I8,
    U8,
    Bool,
}

impl Dtype {
    pub fn parse(s: &str) -> Option<Dtype> {
        Some(match s {
            "F32" => Dtype::F32,
            "F16" => Dtype::F16,
            "BF16" => Dtype::BF16,
            "F64" => Dtype::F64,
            "I64" => Dtype::I64,
            "I32" => Dtype::I32,
            "I16" => Dtype::I16,
            "I8" => Dtype::I8,
            "U8" => Dtype::U8,
            "BOOL" => Dtype::Bool,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "F32",
            Dtype::F16 => "F16",
            Dtype::BF16 => "BF16",
            Dtype::F64 => "F64",
            Dtype::I64 => "I64",
            Dtype::I32 => "I32",
            Dtype::I16 => "I16",
            Dtype::I8 => "I8",
            Dtype::U8 => "U8",
            Dtype::Bool => "BOOL",
        }
    }

    pub fn size(self) -> usize {
        match self {
            Dtype::F64 | Dtype::I64 => 8,
            Dtype::F32 | Dtype::I32 => 4,
            Dtype::F16 | Dtype::BF16 | Dtype::I16 => 2,
            Dtype::I8 | Dtype::U8 | Dtype::Bool => 1,
        }
    }

    /// The `torch_dtype` string transformers writes in config.json.
    pub fn torch_name(self) -> &'static str {
        match self {
            Dtype::F32 => "float32",
            Dtype::F16 => "float16",
            Dtype::BF16 => "bfloat16",
            Dtype::F64 => "float64",
            _ => "int",
        }
    }
}

/// Where a tensor lives in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    /// Absolute byte range in the file.
    pub start: usize,
    pub end: usize,
}

impl TensorInfo {
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// One memory-mapped safetensors file with a validated header.
pub struct SafeFile {
    pub path: PathBuf,
    mmap: Mmap,
    pub tensors: BTreeMap<String, TensorInfo>,
    pub metadata: Map<String, Value>,
}

fn bad(path: &Path, msg: impl std::fmt::Display) -> anyhow::Error {
    user(format!("{}: {msg}", path.display()))
}

impl SafeFile {
    /// Opens and validates a file (memory-mapped: tensors are read in place, never copied whole).
    pub fn open(path: &Path) -> Result<SafeFile> {
        let file = File::open(path).map_err(|e| bad(path, format!("cannot open ({e})")))?;
        // SAFETY: the map is read-only; a file truncated underneath by another process is the
        // same hazard every safetensors reader (and transformers) accepts.
        let mmap =
            unsafe { Mmap::map(&file) }.map_err(|e| bad(path, format!("cannot map ({e})")))?;
        let len = mmap.len() as u64;
        if len < 8 {
            return Err(bad(
                path,
                "truncated: shorter than the 8-byte header length",
            ));
        }
        let n = u64::from_le_bytes(mmap[..8].try_into().expect("8 bytes"));
        if n > MAX_HEADER_BYTES {
            return Err(bad(
                path,
                format!(
                    "header length {n} bytes is implausible (limit {MAX_HEADER_BYTES}); not a safetensors file or corrupt"
                ),
            ));
        }
        if 8 + n > len {
            return Err(bad(
                path,
                format!(
                    "truncated: header says {n} bytes but the file has {}",
                    len - 8
                ),
            ));
        }
        let header: Value = serde_json::from_slice(&mmap[8..8 + n as usize])
            .map_err(|e| bad(path, format!("header is not valid JSON ({e})")))?;
        let Value::Object(obj) = header else {
            return Err(bad(path, "header is not a JSON object"));
        };
        let data_start = 8 + n as usize;
        let data_len = mmap.len() - data_start;
        let mut tensors = BTreeMap::new();
        let mut metadata = Map::new();
        for (name, v) in obj {
            if name == "__metadata__" {
                // safetensors reads it as `Option<HashMap<String, String>>`.
                match v {
                    Value::Null => {}
                    Value::Object(m) if m.values().all(Value::is_string) => metadata = m,
                    _ => {
                        return Err(bad(
                            path,
                            "__metadata__ must map strings to strings (the safetensors library refuses this header)",
                        ));
                    }
                }
                continue;
            }
            let t = |msg: &str| bad(path, format!("tensor {name}: {msg}"));
            let dtype_s = v
                .get("dtype")
                .and_then(|d| d.as_str())
                .ok_or_else(|| t("missing dtype"))?;
            let dtype =
                Dtype::parse(dtype_s).ok_or_else(|| t(&format!("unknown dtype {dtype_s}")))?;
            let shape: Vec<usize> = v
                .get("shape")
                .and_then(|s| s.as_array())
                .ok_or_else(|| t("missing shape"))?
                .iter()
                .map(|d| {
                    d.as_u64()
                        .map(|d| d as usize)
                        .ok_or_else(|| t("shape must be non-negative integers"))
                })
                .collect::<Result<_>>()?;
            let offs = v
                .get("data_offsets")
                .and_then(|o| o.as_array())
                .ok_or_else(|| t("missing data_offsets"))?;
            let (a, b) = match offs.as_slice() {
                [a, b] => (
                    a.as_u64().ok_or_else(|| t("bad data_offsets"))?,
                    b.as_u64().ok_or_else(|| t("bad data_offsets"))?,
                ),
                _ => return Err(t("data_offsets must be [begin, end]")),
            };
            if a > b || b > data_len as u64 {
                return Err(t(&format!(
                    "data [{a}, {b}) lies outside the {data_len} data bytes (truncated file?)"
                )));
            }
            let numel = shape
                .iter()
                .try_fold(1usize, |acc, &d| acc.checked_mul(d))
                .ok_or_else(|| t("shape overflows"))?;
            let bytes = numel
                .checked_mul(dtype.size())
                .ok_or_else(|| t("size overflows"))?;
            if bytes as u64 != b - a {
                return Err(t(&format!(
                    "shape {shape:?} of {} needs {bytes} bytes, the header gives {}",
                    dtype.name(),
                    b - a
                )));
            }
            tensors.insert(
                name.clone(),
                TensorInfo {
                    dtype,
                    shape,
                    start: data_start + a as usize,
                    end: data_start + b as usize,
                },
            );
        }
        // safetensors 0.4.5 (`Metadata::validate`, `read_metadata`): sorted by offsets, the
        // tensors tile the data from byte 0 with no gap or overlap, and the last one ends where
        // the file ends.
        let mut ranges: Vec<(usize, usize, &String)> =
            tensors.iter().map(|(k, t)| (t.start, t.end, k)).collect();
        ranges.sort();
        let mut at = data_start;
        for (a, b, name) in &ranges {
            if *a != at {
                return Err(bad(
                    path,
                    format!(
                        "tensor {name} starts at data byte {} where {} was expected (a gap or an overlap; the safetensors library refuses the file: InvalidOffset)",
                        a - data_start,
                        at - data_start
                    ),
                ));
            }
            at = *b;
        }
        if at != mmap.len() {
            return Err(bad(
                path,
                format!(
                    "{} bytes after the last tensor (the safetensors library refuses the file: MetadataIncompleteBuffer)",
                    mmap.len() - at
                ),
            ));
        }
        Ok(SafeFile {
            path: path.to_path_buf(),
            mmap,
            tensors,
            metadata,
        })
    }

    /// The raw bytes of a tensor.
    pub fn bytes(&self, info: &TensorInfo) -> &[u8] {
        &self.mmap[info.start..info.end]
    }

    /// A floating-point tensor converted to f32.
    pub fn read_f32(&self, name: &str) -> Result<Vec<f32>> {
        let info = self
            .tensors
            .get(name)
            .ok_or_else(|| bad(&self.path, format!("no tensor {name}")))?;
        to_f32(self.bytes(info), info.dtype)
            .map_err(|e| bad(&self.path, format!("tensor {name}: {e}")))
    }
}

/// Converts little-endian floats to f32.
pub fn to_f32(bytes: &[u8], dtype: Dtype) -> Result<Vec<f32>, String> {
    Ok(match dtype {
        Dtype::F32 => bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        Dtype::BF16 => bytes
            .chunks_exact(2)
            .map(|c| bf16::from_bits(u16::from_le_bytes([c[0], c[1]])).to_f32())
            .collect(),
        Dtype::F16 => bytes
            .chunks_exact(2)
            .map(|c| f16::from_bits(u16::from_le_bytes([c[0], c[1]])).to_f32())
            .collect(),
        Dtype::F64 => bytes
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
            .collect(),
        other => {
            return Err(format!(
                "dtype {} is not a floating-point weight",
                other.name()
            ));
        }
    })
}

/// Encodes f32 values in a floating-point dtype (round to nearest even for bf16/f16).
pub fn from_f32(values: &[f32], dtype: Dtype) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() * dtype.size());
    match dtype {
        Dtype::F32 => values
            .iter()
            .for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
        Dtype::BF16 => values
            .iter()
            .for_each(|v| out.extend_from_slice(&bf16::from_f32(*v).to_bits().to_le_bytes())),
        Dtype::F16 => values
            .iter()
            .for_each(|v| out.extend_from_slice(&f16::from_f32(*v).to_bits().to_le_bytes())),
        Dtype::F64 => values
            .iter()
            .for_each(|v| out.extend_from_slice(&(*v as f64).to_le_bytes())),
        _ => unreachable!("weights are written as floats"),
    }
    out
}

/// transformers 4.44.1's check of a safetensors file's `__metadata__["format"]`: a file
/// without metadata fails (`metadata.get` on `None`), and so does a format outside `allowed`
/// (a single file of format `tf` or `flax` is sent to TensorFlow/Flax conversion, which a
/// validator without those frameworks fails).
fn check_format(f: &SafeFile, allowed: &[&str]) -> Result<()> {
    let format = f.metadata.get("format").and_then(|v| v.as_str());
    match format {
        Some(x) if allowed.contains(&x) => Ok(()),
        Some(x) => Err(bad(
            &f.path,
            format!(
                "__metadata__ format is {x:?}; transformers loads {} here (save with save_pretrained)",
                allowed.join(", ")
            ),
        )),
        None => Err(bad(
            &f.path,
            "no __metadata__ format (transformers 4.44.1 fails on such a file; save with save_pretrained, which writes {\"format\": \"pt\"})",
        )),
    }
}

/// The safetensors files of a model directory: `model.safetensors`, or the shards named by
/// `model.safetensors.index.json`.
pub struct WeightFiles {
    pub files: Vec<SafeFile>,
    /// Tensor name → index into `files`.
    pub index: BTreeMap<String, usize>,
}

impl WeightFiles {
    pub fn open(dir: &Path) -> Result<WeightFiles> {
        let index_path = dir.join("model.safetensors.index.json");
        let single = dir.join("model.safetensors");
        // transformers 4.44.1 (`from_pretrained`, a local directory) takes model.safetensors
        // when it exists, and the index only otherwise.
        if single.exists() {
            let f = SafeFile::open(&single)?;
            check_format(&f, &["pt", "mlx"])?;
            let index = f.tensors.keys().map(|k| (k.clone(), 0)).collect();
            return Ok(WeightFiles {
                files: vec![f],
                index,
            });
        }
        if index_path.exists() {
            let text = crate::output::read_text(&index_path, crate::output::Limit::ModelJson)?;
            let v: Value = serde_json::from_str(&text)
                .map_err(|e| bad(&index_path, format!("not valid JSON ({e})")))?;
            let map = v
                .get("weight_map")
                .and_then(|m| m.as_object())
                .ok_or_else(|| bad(&index_path, "missing weight_map"))?;
            let mut shard_names: Vec<String> = Vec::new();
            let mut index = BTreeMap::new();
            for (tensor, file) in map {
                let file = file.as_str().ok_or_else(|| {
                    bad(
                        &index_path,
                        format!("{tensor}: shard name must be a string"),
                    )
                })?;
                if file.contains('/') || file.contains("..") {
                    return Err(bad(
                        &index_path,
                        format!(
                            "{tensor}: shard `{file}` must be a file name in the model directory"
                        ),
                    ));
                }
                let i = match shard_names.iter().position(|s| s == file) {
                    Some(i) => i,
                    None => {
                        shard_names.push(file.to_string());
                        shard_names.len() - 1
                    }
                };
                index.insert(tensor.clone(), i);
            }
            let mut files = Vec::new();
            for name in &shard_names {
                let p = dir.join(name);
                if !p.exists() {
                    return Err(bad(
                        &index_path,
                        format!("shard {name} is missing from {}", dir.display()),
                    ));
                }
                let f = SafeFile::open(&p)?;
                // `load_state_dict` per shard: the format check only (no conversion path).
                check_format(&f, &["pt", "tf", "flax", "mlx"])?;
                files.push(f);
            }
            for (tensor, &i) in &index {
                if !files[i].tensors.contains_key(tensor) {
                    return Err(bad(
                        &files[i].path,
                        format!("tensor {tensor} is listed in the index but not in this shard"),
                    ));
                }
            }
            Ok(WeightFiles { files, index })
        } else {
            let hint = if dir.join("pytorch_model.bin").exists() {
                " (pickled pytorch_model.bin is not loaded, as validators load safetensors only; re-save with safe_serialization=True)"
            } else {
                ""
            };
            Err(user(format!(
                "{}: no model.safetensors or model.safetensors.index.json{hint}",
                dir.display()
            )))
        }
    }

    pub fn info(&self, name: &str) -> Option<(&SafeFile, &TensorInfo)> {
        let f = &self.files[*self.index.get(name)?];
        Some((f, &f.tensors[name]))
    }

    /// The dtype most weights are stored in.
    pub fn main_dtype(&self) -> Option<Dtype> {
        let mut count: BTreeMap<&str, (usize, Dtype)> = BTreeMap::new();
        for f in &self.files {
            for t in f.tensors.values() {
                count.entry(t.dtype.name()).or_insert((0, t.dtype)).0 += t.numel();
            }
        }
        count.values().max_by_key(|c| c.0).map(|c| c.1)
    }
}

/// A tensor to write.
pub struct OutTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// Writes one safetensors file (via a temporary file, synced, then renamed); returns the bytes of
/// tensor data.
pub fn write_one(path: &Path, tensors: &[&OutTensor], dtype: Dtype) -> Result<u64> {
    let mut header = Map::new();
    header.insert("__metadata__".into(), json!({"format": "pt"}));
    let mut offset = 0usize;
    for t in tensors {
        let n = t.data.len() * dtype.size();
        header.insert(
            t.name.clone(),
            json!({"dtype": dtype.name(), "shape": t.shape, "data_offsets": [offset, offset + n]}),
        );
        offset += n;
    }
    let mut h = serde_json::to_vec(&Value::Object(header))?;
    while h.len() % 8 != 0 {
        h.push(b' ');
    }
    let tmp = path.with_extension("safetensors.tmp");
    let mut w = std::io::BufWriter::new(
        File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?,
    );
    w.write_all(&(h.len() as u64).to_le_bytes())?;
    w.write_all(&h)?;
    for t in tensors {
        w.write_all(&from_f32(&t.data, dtype))?;
    }
    let f = w
        .into_inner()
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", tmp.display()))?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming {}", tmp.display()))?;
    Ok(offset as u64)
}

/// Writes weights as transformers does: `model.safetensors`, or shards of at most
/// `max_shard_bytes` plus `model.safetensors.index.json`. Returns the file names written.
pub fn write_weights(
    dir: &Path,
    tensors: &[OutTensor],
    dtype: Dtype,
    max_shard_bytes: u64,
) -> Result<Vec<String>> {
    let sizes: Vec<u64> = tensors.iter().map(|t| t.data.len() as u64).collect();
    write_sharded(dir, &sizes, dtype, max_shard_bytes, |idx, path| {
        let refs: Vec<&OutTensor> = idx.iter().map(|&i| &tensors[i]).collect();
        write_one(path, &refs, dtype)?;
        Ok(refs.iter().map(|t| t.name.clone()).collect())
    })
}

/// [`write_weights`] for tensors read one shard at a time: `load(name, shape)` gives the values
/// of each tensor of `specs` when its shard is written, so at most one shard is in memory.
pub fn write_weights_streaming(
    dir: &Path,
    specs: &[(String, Vec<usize>)],
    dtype: Dtype,
    max_shard_bytes: u64,
    mut load: impl FnMut(&str, &[usize]) -> Result<Vec<f32>>,
) -> Result<Vec<String>> {
    let sizes: Vec<u64> = specs
        .iter()
        .map(|(_, s)| s.iter().product::<usize>() as u64)
        .collect();
    write_sharded(dir, &sizes, dtype, max_shard_bytes, |idx, path| {
        let mut shard = Vec::with_capacity(idx.len());
        for &i in idx {
            let (name, shape) = &specs[i];
            shard.push(OutTensor {
                name: name.clone(),
                shape: shape.clone(),
                data: load(name, shape)?,
            });
        }
        write_one(path, &shard.iter().collect::<Vec<_>>(), dtype)?;
        Ok(shard.into_iter().map(|t| t.name).collect())
    })
}

/// The shard plan and index of [`write_weights`]: tensors of `numels` elements in order, cut
/// into shards of at most `max_shard_bytes`; `write(indices, path)` writes one shard and returns
/// its tensor names.
fn write_sharded(
    dir: &Path,
    numels: &[u64],
    dtype: Dtype,
    max_shard_bytes: u64,
    mut write: impl FnMut(&[usize], &Path) -> Result<Vec<String>>,
) -> Result<Vec<String>> {
    let bytes = |i: usize| numels[i] * dtype.size() as u64;
    let total: u64 = (0..numels.len()).map(bytes).sum();
    for stale in ["model.safetensors", "model.safetensors.index.json"] {
        let _ = std::fs::remove_file(dir.join(stale));
    }
    if total <= max_shard_bytes {
        let all: Vec<usize> = (0..numels.len()).collect();
        write(&all, &dir.join("model.safetensors"))?;
        return Ok(vec!["model.safetensors".into()]);
    }
    let mut shards: Vec<Vec<usize>> = vec![Vec::new()];
    let mut size = 0u64;
    for i in 0..numels.len() {
        let n = bytes(i);
        if size + n > max_shard_bytes && !shards.last().is_some_and(|s| s.is_empty()) {
            shards.push(Vec::new());
            size = 0;
        }
        shards.last_mut().expect("one shard").push(i);
        size += n;
    }
    let count = shards.len();
    let mut names = Vec::new();
    let mut weight_map = Map::new();
    for (i, shard) in shards.iter().enumerate() {
        let name = format!("model-{:05}-of-{:05}.safetensors", i + 1, count);
        for t in write(shard, &dir.join(&name))? {
            weight_map.insert(t, Value::from(name.clone()));
        }
        names.push(name);
    }
    let index = json!({"metadata": {"total_size": total}, "weight_map": weight_map});
    crate::output::write_atomic(
        &dir.join("model.safetensors.index.json"),
        serde_json::to_string_pretty(&index)?.as_bytes(),
    )?;
    names.push("model.safetensors.index.json".into());
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let t = OutTensor {
            name: "a.weight".into(),
            shape: vec![2, 3],
            data: vec![1.0, -2.0, 3.5, 0.0, 1e-3, 7.0],
        };
        write_weights(dir.path(), &[t], Dtype::F32, 1 << 30).unwrap();
        let w = WeightFiles::open(dir.path()).unwrap();
        let (f, info) = w.info("a.weight").unwrap();
        assert_eq!(info.shape, vec![2, 3]);
        assert_eq!(f.read_f32("a.weight").unwrap()[2], 3.5);
        assert_eq!(f.metadata["format"], "pt");
        // Truncate: a clear error, no panic.
        let p = dir.path().join("model.safetensors");
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() - 4]).unwrap();
        let err = SafeFile::open(&p).err().unwrap();
        assert!(format!("{err:#}").contains("a.weight"), "{err:#}");
        // A 100 GB header length.
        let mut huge = (100u64 << 30).to_le_bytes().to_vec();
        huge.extend_from_slice(b"{}");
        std::fs::write(&p, &huge).unwrap();
        assert!(format!("{:#}", SafeFile::open(&p).err().unwrap()).contains("implausible"));
    }

    #[test]
    fn sharded() {
        let dir = tempfile::tempdir().unwrap();
        let ts: Vec<OutTensor> = (0..5)
            .map(|i| OutTensor {
                name: format!("t{i}"),
                shape: vec![10],
                data: vec![i as f32; 10],
            })
            .collect();
        let names = write_weights(dir.path(), &ts, Dtype::BF16, 45).unwrap();
        assert_eq!(names.len(), 4, "{names:?}");
        let w = WeightFiles::open(dir.path()).unwrap();
        assert_eq!(w.files.len(), 3);
        assert_eq!(
            w.info("t4").unwrap().0.read_f32("t4").unwrap(),
            vec![4.0; 10]
        );
        std::fs::remove_file(dir.path().join("model-00002-of-00003.safetensors")).unwrap();
        assert!(format!("{:#}", WeightFiles::open(dir.path()).err().unwrap()).contains("missing"));
    }
}

//! PyTorch checkpoints (`torch.save(model.state_dict())`, e.g. Vocos's `pytorch_model.bin`)
//! read WITHOUT executing pickled code.
//!
//! Format (torch >= 1.6): a ZIP archive of stored (uncompressed) entries
//! `<name>/data.pkl` (a pickle, protocol 2 by default), `<name>/data/<key>` (the raw
//! little-endian bytes of each storage), `<name>/version`, maybe `<name>/byteorder` and
//! `<name>/.data/serialization_id`. In `data.pkl` every tensor is
//! `torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
//! backward_hooks[, metadata])`, where `storage` comes from a persistent id
//! `('storage', torch.FloatStorage, '<key>', '<location>', numel)` (opcode BINPERSID).
//!
//! The unpickler here is a restricted data-only machine: it knows the opcodes a pickle of
//! plain data uses (ints, floats, strings, bytes, tuples, lists, dicts, the memo), and it
//! resolves GLOBAL / STACK_GLOBAL only against a fixed allowlist:
//! `collections.OrderedDict`, `torch._utils._rebuild_tensor_v2`, `torch._utils._rebuild_tensor`,
//! `torch._utils._rebuild_parameter`, `torch._utils._rebuild_parameter_with_state` and the typed
//! storages `torch.{Float,Double,Half,BFloat16,Long,Int,Short,Char,Byte,Bool}Storage`. Each
//! "call" (REDUCE) is interpreted by this module, never dispatched: anything else (`os.system`,
//! `builtins.eval`, NEWOBJ/INST/OBJ/EXT opcodes, BUILD on anything but an `OrderedDict` given a
//! dict, as torch writes for `state_dict._metadata`) is refused with an error naming it.
//!
//! Everything is bounds-checked against the actual bytes: ZIP offsets and sizes (ZIP64
//! included), string lengths, memo indexes (a map, never a table sized by the index), nesting
//! depth, copy-on-write work, tensor extents (`offset + Σ (size_i - 1)·stride_i` must lie inside
//! the storage, whose declared length must fit in its entry), and the total bytes materialised.
//! Tensors are materialised in logical C order, so views with storage offsets and
//! non-contiguous strides (transposes, slices) come out as `tensor.contiguous()` would.
//!
//! Not read (refused with a message saying what was found): the legacy pre-1.6 format
//! (a bare pickle stream), torch < 0.4 tar files, compressed or encrypted ZIP entries,
//! big-endian checkpoints, tensor subclasses, quantized/sparse tensors, and checkpoints whose
//! top level is not a flat `{name: tensor}` dict.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::rc::Rc;

use anyhow::Result;

use crate::error::user;

/// What to tell the user to do with a file we refuse.
const HINT: &str = "re-save the weights with torch.save(model.state_dict()) (torch >= 1.6) \
                    or as safetensors";

/// Deepest nesting of tuples/lists/dicts accepted in `data.pkl` (a state dict needs ~4).
const MAX_DEPTH: u32 = 64;
/// Most container elements copied by copy-on-write mutations (quadratic-time guard).
const MAX_COW_WORK: usize = 1 << 22;
/// Most dimensions of one tensor.
const MAX_NDIM: usize = 64;
/// The materialised tensors may total at most this many times the input's size (views of a
/// shared storage are copied out once per view; tied weights need a few copies, not thousands).
const MAX_OUTPUT_FACTOR: usize = 16;

/// Element type of a tensor: the safetensors dtypes, which name the same ten torch types.
pub use super::safetensors::Dtype as TorchDtype;

/// The element type of a torch storage class (`FloatStorage` → float32, …).
fn storage_dtype(name: &str) -> Option<TorchDtype> {
    Some(match name {
        "FloatStorage" => TorchDtype::F32,
        "DoubleStorage" => TorchDtype::F64,
        "HalfStorage" => TorchDtype::F16,
        "BFloat16Storage" => TorchDtype::BF16,
        "LongStorage" => TorchDtype::I64,
        "IntStorage" => TorchDtype::I32,
        "ShortStorage" => TorchDtype::I16,
        "CharStorage" => TorchDtype::I8,
        "ByteStorage" => TorchDtype::U8,
        "BoolStorage" => TorchDtype::Bool,
        _ => return None,
    })
}

/// One tensor of a state dict, materialised.
#[derive(Debug, Clone, PartialEq)]
pub struct TorchTensor {
    pub dtype: TorchDtype,
    pub shape: Vec<usize>,
    /// Raw little-endian element bytes in logical C (row-major) order:
    /// `numel() * dtype.size()` bytes.
    pub data: Vec<u8>,
}

impl TorchTensor {
    /// Number of elements (1 for a 0-d tensor).
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// The raw element bytes in logical C order.
    pub fn bytes(&self) -> &[u8] {
        &self.data
    }

    /// The values converted to f32 (integers and bools by value, f64 rounded).
    pub fn to_f32(&self) -> Vec<f32> {
        let d = &self.data;
        match self.dtype {
            TorchDtype::F32 => d
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            TorchDtype::F64 => d
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f32)
                .collect(),
            TorchDtype::F16 => d
                .chunks_exact(2)
                .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
                .collect(),
            TorchDtype::BF16 => d
                .chunks_exact(2)
                .map(|c| f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16))
                .collect(),
            TorchDtype::I64 => d
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f32)
                .collect(),
            TorchDtype::I32 => d
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32)
                .collect(),
            TorchDtype::I16 => d
                .chunks_exact(2)
                .map(|c| i16::from_le_bytes([c[0], c[1]]) as f32)
                .collect(),
            TorchDtype::I8 => d.iter().map(|&b| b as i8 as f32).collect(),
            TorchDtype::U8 => d.iter().map(|&b| b as f32).collect(),
            TorchDtype::Bool => d.iter().map(|&b| if b != 0 { 1.0 } else { 0.0 }).collect(),
        }
    }
}

/// IEEE half to f32, exact (subnormals, infinities and NaN payloads included).
fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let mant = (h & 0x3ff) as u32;
    let bits = match exp {
        0 if mant == 0 => sign,
        0 => {
            // Subnormal: mant * 2^-24, exact in f32.
            let v = mant as f32 * (1.0 / 16_777_216.0);
            return if sign != 0 { -v } else { v };
        }
        31 => sign | 0x7f80_0000 | (mant << 13),
        _ => sign | ((exp + 112) << 23) | (mant << 13),
    };
    f32::from_bits(bits)
}

/// Reads a `torch.save`d state dict: name -> tensor, in the file's order.
pub fn read_state_dict(path: &Path) -> Result<Vec<(String, TorchTensor)>> {
    let bytes = std::fs::read(path).map_err(|e| {
        user(format!(
            "{}: cannot read the checkpoint: {e}",
            path.display()
        ))
    })?;
    read_state_dict_bytes(&bytes).map_err(|e| user(format!("{}: {e}", path.display())))
}

/// [`read_state_dict`] on the bytes of a checkpoint.
pub fn read_state_dict_bytes(bytes: &[u8]) -> Result<Vec<(String, TorchTensor)>> {
    if !(bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06")) {
        return Err(user(describe_non_zip(bytes)));
    }
    let zip = Zip::parse(bytes)?;
    let prefix = find_prefix(&zip)?;

    if let Some(e) = zip.get(&format!("{prefix}byteorder")) {
        let order = zip.read(e)?;
        match String::from_utf8_lossy(order).trim() {
            "little" => {}
            "big" => {
                return Err(user(format!(
                    "the checkpoint was saved on a big-endian machine, which is not supported; \
                     {HINT} on a little-endian machine"
                )));
            }
            other => {
                return Err(user(format!(
                    "the checkpoint's byteorder entry says {other:?} (expected \"little\"); \
                     the file is corrupt or not a torch checkpoint; {HINT}"
                )));
            }
        }
    }

    let pkl_entry = zip
        .get(&format!("{prefix}data.pkl"))
        .ok_or_else(|| user(format!("no {prefix}data.pkl in the archive; {HINT}")))?;
    let pkl = zip.read(pkl_entry)?;
    let top = Unpickler::new(pkl).run()?;

    let items = match &top {
        Value::Dict(d) => d.items.clone(),
        other => {
            return Err(user(format!(
                "data.pkl holds a {} where a state dict (a dict of name -> tensor) was expected; \
                 {HINT}",
                other.kind()
            )));
        }
    };

    let mut out = Vec::with_capacity(items.len().min(1 << 16));
    let mut ctx = Materialiser {
        zip: &zip,
        prefix: &prefix,
        verified: HashSet::new(),
        budget: bytes
            .len()
            .saturating_mul(MAX_OUTPUT_FACTOR)
            .saturating_add(1 << 16),
    };
    for (k, v) in items {
        let name = match &k {
            Value::Str(s) => s.to_string(),
            other => {
                return Err(user(format!(
                    "the state dict has a key of type {} (expected str); {HINT}",
                    other.kind()
                )));
            }
        };
        let t = match &v {
            Value::Tensor(t) => t.clone(),
            other => {
                let wrap = if matches!(other, Value::Dict(_)) {
                    " (a training checkpoint? save checkpoint[\"state_dict\"] or \
                     model.state_dict() instead)"
                } else {
                    ""
                };
                return Err(user(format!(
                    "state dict entry {name:?} is a {}, not a tensor{wrap}; only plain \
                     name -> tensor state dicts are read; {HINT}",
                    other.kind()
                )));
            }
        };
        let tensor = ctx.materialise(&name, &t)?;
        out.push((name, tensor));
    }
    Ok(out)
}

/// Says what a file that is not a ZIP archive looks like.
fn describe_non_zip(b: &[u8]) -> String {
    // The legacy (torch < 1.6) stream starts with the pickled magic number
    // 0x1950a86a20f9469cfc6c: PROTO 2, LONG1 of 10 bytes.
    const LEGACY_MAGIC: [u8; 14] = [
        0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19,
    ];
    if b.is_empty() {
        return format!("the checkpoint file is empty; download it again or {HINT}");
    }
    if b.starts_with(&LEGACY_MAGIC) {
        return format!(
            "this is the legacy (torch < 1.6, non-ZIP) torch.save format, which sn9 does not \
             read; load it with torch and {HINT}"
        );
    }
    if b.len() >= 262 && &b[257..262] == b"ustar" {
        return format!(
            "this is a tar archive (the torch < 0.4 checkpoint format), which sn9 does not \
             read; load it with torch and {HINT}"
        );
    }
    if b.starts_with(b"version https://git-lfs") {
        return "this is a Git LFS pointer, not the checkpoint itself; fetch the real file \
                (git lfs pull, or download it from the hub)"
            .to_string();
    }
    if b[0] == 0x80 && b.len() > 1 && b[1] <= 5 {
        return format!(
            "this is a bare pickle (protocol {}), not a torch.save ZIP checkpoint (it may be \
             pickle.dump output or torch.save(..., _use_new_zipfile_serialization=False)); {HINT}",
            b[1]
        );
    }
    if b.len() >= 10 {
        let n = u64::from_le_bytes(b[..8].try_into().unwrap_or([0xff; 8]));
        if n >= 2 && n <= (b.len() - 8) as u64 && b[8] == b'{' {
            return "this looks like a safetensors file, not a torch.save checkpoint; read it \
                    with the safetensors loader"
                .to_string();
        }
    }
    let head = b.iter().take(64).copied().collect::<Vec<u8>>();
    let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
    if text.trim_start().starts_with("<!doctype") || text.trim_start().starts_with("<html") {
        return "this is an HTML page, not a checkpoint (a failed download?); download the \
                file again"
            .to_string();
    }
    let hex: Vec<String> = b.iter().take(8).map(|x| format!("{x:02x}")).collect();
    format!(
        "not a PyTorch checkpoint: neither a ZIP archive (torch.save) nor a pickle; the file \
         starts with bytes {}; {HINT}",
        hex.join(" ")
    )
}

/// The archive's record prefix: `<name>/` of its single `<name>/data.pkl`.
fn find_prefix(zip: &Zip) -> Result<String> {
    let mut found: Vec<&str> = zip
        .names()
        .filter(|n| n.strip_suffix("data.pkl").is_some_and(valid_prefix))
        .collect();
    found.sort_unstable();
    match found.as_slice() {
        [one] => Ok(one[..one.len() - "data.pkl".len()].to_string()),
        [] => {
            let mut sample: Vec<&str> = zip.names().take(5).collect();
            sample.sort_unstable();
            Err(user(format!(
                "a ZIP archive, but not a torch.save checkpoint: no <name>/data.pkl entry \
                 (entries include {sample:?}); {HINT}"
            )))
        }
        many => Err(user(format!(
            "the archive holds {} data.pkl records ({:?}); expected exactly one; {HINT}",
            many.len(),
            many.iter().take(4).collect::<Vec<_>>()
        ))),
    }
}

/// `"<name>/"` with no further `/`, or `""` (data.pkl at the root).
fn valid_prefix(p: &str) -> bool {
    p.is_empty() || (p.ends_with('/') && p.len() > 1 && !p[..p.len() - 1].contains('/'))
}

// ------------------------------------------------------------------------------------------
// ZIP (stored entries only, ZIP64 aware)
// ------------------------------------------------------------------------------------------

struct ZipEntry {
    name: String,
    method: u16,
    flags: u16,
    crc: u32,
    /// Offset of the local file header.
    local: u64,
    comp_size: u64,
    size: u64,
}

struct Zip<'a> {
    bytes: &'a [u8],
    entries: Vec<ZipEntry>,
    by_name: HashMap<String, usize>,
}

fn le16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}
fn le32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}
fn le64(b: &[u8], at: usize) -> Option<u64> {
    let s = b.get(at..at.checked_add(8)?)?;
    Some(u64::from_le_bytes(s.try_into().ok()?))
}

fn zip_err(what: &str) -> anyhow::Error {
    user(format!(
        "the checkpoint is a damaged or truncated ZIP archive ({what}); download it again or \
         {HINT}"
    ))
}

fn to_usize(v: u64, what: &str) -> Result<usize> {
    usize::try_from(v).map_err(|_| zip_err(what))
}

impl<'a> Zip<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Zip<'a>> {
        const EOCD: u32 = 0x0605_4b50;
        const EOCD64_LOCATOR: u32 = 0x0706_4b50;
        const EOCD64: u32 = 0x0606_4b50;
        const CDH: u32 = 0x0201_4b50;

        // End of central directory: the last signature whose comment fits the file.
        if bytes.len() < 22 {
            return Err(zip_err("shorter than an end-of-central-directory record"));
        }
        let last = bytes.len() - 22;
        let first = last.saturating_sub(0xffff);
        let eocd = (first..=last)
            .rev()
            .find(|&p| {
                le32(bytes, p) == Some(EOCD)
                    && le16(bytes, p + 20).is_some_and(|c| p + 22 + c as usize <= bytes.len())
            })
            .ok_or_else(|| zip_err("no end-of-central-directory record"))?;
        let r16 = |at: usize| le16(bytes, at).ok_or_else(|| zip_err("end record cut short"));
        let r32 = |at: usize| le32(bytes, at).ok_or_else(|| zip_err("end record cut short"));
        let disk = r16(eocd + 4)?;
        let cd_disk = r16(eocd + 6)?;
        let mut count = r16(eocd + 10)? as u64;
        let mut cd_size = r32(eocd + 12)? as u64;
        let mut cd_off = r32(eocd + 16)? as u64;
        if disk != 0 || cd_disk != 0 {
            return Err(zip_err("multi-volume archives are not supported"));
        }
        // ZIP64: a locator right before the end record points at the ZIP64 end record.
        if eocd >= 20 && le32(bytes, eocd - 20) == Some(EOCD64_LOCATOR) {
            let loc = eocd - 20;
            let rec = to_usize(
                le64(bytes, loc + 8).ok_or_else(|| zip_err("ZIP64 locator cut short"))?,
                "ZIP64 end record offset",
            )?;
            if le32(bytes, rec) != Some(EOCD64) {
                return Err(zip_err("ZIP64 end record missing where its locator points"));
            }
            let r64 = |at: usize| le64(bytes, rec.checked_add(at)?);
            let short = || zip_err("ZIP64 end record cut short");
            let d64 = le32(bytes, rec + 16).ok_or_else(short)?;
            let cdd64 = le32(bytes, rec + 20).ok_or_else(short)?;
            if d64 != 0 || cdd64 != 0 {
                return Err(zip_err("multi-volume archives are not supported"));
            }
            count = r64(32).ok_or_else(short)?;
            cd_size = r64(40).ok_or_else(short)?;
            cd_off = r64(48).ok_or_else(short)?;
        } else if count == 0xffff || cd_size == 0xffff_ffff || cd_off == 0xffff_ffff {
            return Err(zip_err(
                "ZIP64 end record expected but its locator is missing",
            ));
        }
        let cd_start = to_usize(cd_off, "central directory offset")?;
        let cd_end = cd_start
            .checked_add(to_usize(cd_size, "central directory size")?)
            .filter(|&e| e <= bytes.len())
            .ok_or_else(|| zip_err("central directory runs past the end of the file"))?;
        // Every central header is at least 46 bytes: the count can't exceed what fits.
        if count > (cd_end - cd_start) as u64 / 46 {
            return Err(zip_err(
                "more entries declared than the central directory can hold",
            ));
        }

        let mut entries = Vec::new();
        let mut by_name = HashMap::new();
        let mut p = cd_start;
        for _ in 0..count {
            let cut = || zip_err("central directory entry cut short");
            if p.checked_add(46).is_none_or(|e| e > cd_end) || le32(bytes, p) != Some(CDH) {
                return Err(zip_err("bad central directory entry"));
            }
            let flags = le16(bytes, p + 8).ok_or_else(cut)?;
            let method = le16(bytes, p + 10).ok_or_else(cut)?;
            let crc = le32(bytes, p + 16).ok_or_else(cut)?;
            let mut comp_size = le32(bytes, p + 20).ok_or_else(cut)? as u64;
            let mut size = le32(bytes, p + 24).ok_or_else(cut)? as u64;
            let name_len = le16(bytes, p + 28).ok_or_else(cut)? as usize;
            let extra_len = le16(bytes, p + 30).ok_or_else(cut)? as usize;
            let comment_len = le16(bytes, p + 32).ok_or_else(cut)? as usize;
            let start_disk = le16(bytes, p + 34).ok_or_else(cut)?;
            let mut local = le32(bytes, p + 42).ok_or_else(cut)? as u64;
            let name_at = p + 46;
            let extra_at = name_at + name_len;
            let next = extra_at + extra_len + comment_len;
            if next > cd_end {
                return Err(cut());
            }
            let name = String::from_utf8_lossy(&bytes[name_at..extra_at]).into_owned();
            // ZIP64 extended information: 64-bit values for the fields saturated above, in
            // this order.
            let extra = &bytes[extra_at..extra_at + extra_len];
            let mut q = 0;
            while q + 4 <= extra.len() {
                let id = le16(extra, q).ok_or_else(cut)?;
                let len = le16(extra, q + 2).ok_or_else(cut)? as usize;
                let body = extra.get(q + 4..q + 4 + len).ok_or_else(cut)?;
                if id == 0x0001 {
                    let mut r = 0;
                    let mut take = |v: &mut u64| -> Result<()> {
                        if *v == 0xffff_ffff {
                            *v = le64(body, r).ok_or_else(|| zip_err("ZIP64 field cut short"))?;
                            r += 8;
                        }
                        Ok(())
                    };
                    take(&mut size)?;
                    take(&mut comp_size)?;
                    take(&mut local)?;
                }
                q += 4 + len;
            }
            if start_disk != 0 && start_disk != 0xffff {
                return Err(zip_err("multi-volume archives are not supported"));
            }
            if by_name.insert(name.clone(), entries.len()).is_some() {
                return Err(zip_err(&format!("entry {name:?} is listed twice")));
            }
            entries.push(ZipEntry {
                name,
                method,
                flags,
                crc,
                local,
                comp_size,
                size,
            });
            p = next;
        }
        Ok(Zip {
            bytes,
            entries,
            by_name,
        })
    }

    fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.name.as_str())
    }

    fn get(&self, name: &str) -> Option<&ZipEntry> {
        self.by_name.get(name).map(|&i| &self.entries[i])
    }

    /// The bytes of a stored entry, bounds- and CRC-checked.
    fn read(&self, e: &ZipEntry) -> Result<&'a [u8]> {
        let data = self.slice(e)?;
        let crc = crc32(data);
        if crc != e.crc {
            return Err(zip_err(&format!(
                "CRC mismatch in {:?}: stored {:08x}, computed {crc:08x}",
                e.name, e.crc
            )));
        }
        Ok(data)
    }

    /// The bytes of a stored entry, bounds-checked.
    fn slice(&self, e: &ZipEntry) -> Result<&'a [u8]> {
        const LFH: u32 = 0x0403_4b50;
        if e.flags & 1 != 0 {
            return Err(user(format!(
                "ZIP entry {:?} is encrypted; torch.save never encrypts; {HINT}",
                e.name
            )));
        }
        if e.method != 0 {
            return Err(user(format!(
                "ZIP entry {:?} is compressed (method {}); torch.save writes stored entries only \
                 (was the archive re-zipped?); {HINT}",
                e.name, e.method
            )));
        }
        if e.comp_size != e.size {
            return Err(zip_err(&format!(
                "stored entry {:?} has two different sizes",
                e.name
            )));
        }
        let b = self.bytes;
        let lh = to_usize(e.local, "local header offset")?;
        if le32(b, lh) != Some(LFH) {
            return Err(zip_err(&format!("no local header for {:?}", e.name)));
        }
        let n = le16(b, lh + 26).ok_or_else(|| zip_err("local header cut short"))? as usize;
        let x = le16(b, lh + 28).ok_or_else(|| zip_err("local header cut short"))? as usize;
        // The signature matched, so lh + 4 <= len: none of this overflows.
        let start = lh + 30 + n + x;
        let end = start
            .checked_add(to_usize(e.size, "entry size")?)
            .filter(|&end| end <= b.len())
            .ok_or_else(|| zip_err(&format!("entry {:?} runs past the end of the file", e.name)))?;
        Ok(&b[start..end])
    }
}

/// CRC-32 (IEEE, as ZIP uses), slicing-by-8.
fn crc32(data: &[u8]) -> u32 {
    static TABLES: std::sync::OnceLock<Box<[[u32; 256]; 8]>> = std::sync::OnceLock::new();
    let t = TABLES.get_or_init(|| {
        let mut t = Box::new([[0u32; 256]; 8]);
        for i in 0..256u32 {
            let mut c = i;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            t[0][i as usize] = c;
        }
        for i in 0..256 {
            for k in 1..8 {
                let prev = t[k - 1][i];
                t[k][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            }
        }
        t
    });
    let mut crc = !0u32;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let lo = crc ^ u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        let hi = u32::from_le_bytes([c[4], c[5], c[6], c[7]]);
        crc = t[7][(lo & 0xff) as usize]
            ^ t[6][((lo >> 8) & 0xff) as usize]
            ^ t[5][((lo >> 16) & 0xff) as usize]
            ^ t[4][(lo >> 24) as usize]
            ^ t[3][(hi & 0xff) as usize]
            ^ t[2][((hi >> 8) & 0xff) as usize]
            ^ t[1][((hi >> 16) & 0xff) as usize]
            ^ t[0][(hi >> 24) as usize];
    }
    for &b in chunks.remainder() {
        crc = t[0][((crc ^ b as u32) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

// ------------------------------------------------------------------------------------------
// Restricted unpickler
// ------------------------------------------------------------------------------------------

/// The callables data.pkl may name; each is interpreted here, never called.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Global {
    OrderedDict,
    RebuildTensorV2,
    RebuildTensor,
    RebuildParameter,
    RebuildParameterWithState,
    Storage(TorchDtype),
}

impl Global {
    fn resolve(module: &str, name: &str) -> Result<Global> {
        Ok(match (module, name) {
            ("collections", "OrderedDict") => Global::OrderedDict,
            ("torch._utils", "_rebuild_tensor_v2") => Global::RebuildTensorV2,
            ("torch._utils", "_rebuild_tensor") => Global::RebuildTensor,
            ("torch._utils", "_rebuild_parameter") => Global::RebuildParameter,
            ("torch._utils", "_rebuild_parameter_with_state") => Global::RebuildParameterWithState,
            ("torch", s) if storage_dtype(s).is_some() => {
                Global::Storage(storage_dtype(s).unwrap_or(TorchDtype::U8))
            }
            _ => {
                let shown: String = format!("{module}.{name}").chars().take(200).collect();
                return Err(user(format!(
                    "refusing to load: data.pkl references the Python global `{shown}`, which is \
                     not part of a plain tensor state dict (a pickle can run arbitrary code \
                     through globals; only collections.OrderedDict, \
                     torch._utils._rebuild_tensor_v2/_rebuild_parameter and torch.*Storage are \
                     accepted); {HINT}"
                )));
            }
        })
    }

    fn name(self) -> String {
        match self {
            Global::OrderedDict => "collections.OrderedDict".into(),
            Global::RebuildTensorV2 => "torch._utils._rebuild_tensor_v2".into(),
            Global::RebuildTensor => "torch._utils._rebuild_tensor".into(),
            Global::RebuildParameter => "torch._utils._rebuild_parameter".into(),
            Global::RebuildParameterWithState => {
                "torch._utils._rebuild_parameter_with_state".into()
            }
            Global::Storage(d) => format!("torch storage class ({})", d.name()),
        }
    }
}

#[derive(Debug)]
struct StorageRef {
    dtype: TorchDtype,
    key: Rc<str>,
    /// Elements the persistent id declares.
    numel: u64,
}

#[derive(Debug)]
struct TensorRef {
    storage: Rc<StorageRef>,
    offset: u64,
    size: Vec<u64>,
    stride: Vec<u64>,
}

#[derive(Debug, Clone)]
struct Seq {
    items: Vec<Value>,
    depth: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    None,
    Int(i64),
    Str(Rc<str>),
}

#[derive(Debug, Clone)]
struct DictV {
    items: Vec<(Value, Value)>,
    index: HashMap<Key, usize>,
    depth: u32,
    ordered: bool,
}

#[derive(Debug, Clone)]
enum Value {
    None,
    Bool(bool),
    Int(i64),
    // Scalars the state dict's metadata may hold; their values are never needed.
    #[allow(dead_code)]
    Float(f64),
    Str(Rc<str>),
    #[allow(dead_code)]
    Bytes(Rc<[u8]>),
    Tuple(Rc<Seq>),
    List(Rc<Seq>),
    Dict(Rc<DictV>),
    Global(Global),
    Storage(Rc<StorageRef>),
    Tensor(Rc<TensorRef>),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::Tuple(_) => "tuple",
            Value::List(_) => "list",
            Value::Dict(d) if d.ordered => "OrderedDict",
            Value::Dict(_) => "dict",
            Value::Global(_) => "class/function reference",
            Value::Storage(_) => "storage",
            Value::Tensor(_) => "tensor",
        }
    }

    fn depth(&self) -> u32 {
        match self {
            Value::Tuple(s) | Value::List(s) => s.depth,
            Value::Dict(d) => d.depth,
            _ => 0,
        }
    }

    fn key(&self) -> Result<Key> {
        Ok(match self {
            Value::None => Key::None,
            Value::Bool(b) => Key::Int(*b as i64),
            Value::Int(i) => Key::Int(*i),
            Value::Str(s) => Key::Str(s.clone()),
            other => {
                return Err(pickle_err(&format!("a dict key of type {}", other.kind())));
            }
        })
    }
}

fn pickle_err(what: &str) -> anyhow::Error {
    user(format!(
        "data.pkl is not a plain tensor state dict: found {what}; {HINT}"
    ))
}

fn new_seq(items: Vec<Value>) -> Result<Seq> {
    let depth = 1 + items.iter().map(Value::depth).max().unwrap_or(0);
    if depth > MAX_DEPTH {
        return Err(pickle_err(&format!(
            "containers nested deeper than {MAX_DEPTH} levels"
        )));
    }
    Ok(Seq { items, depth })
}

fn new_dict(ordered: bool) -> DictV {
    DictV {
        items: Vec::new(),
        index: HashMap::new(),
        depth: 1,
        ordered,
    }
}

impl DictV {
    fn set(&mut self, k: Value, v: Value) -> Result<()> {
        let depth = 1 + k.depth().max(v.depth());
        if depth > MAX_DEPTH {
            return Err(pickle_err(&format!(
                "containers nested deeper than {MAX_DEPTH} levels"
            )));
        }
        self.depth = self.depth.max(depth);
        let key = k.key()?;
        match self.index.get(&key) {
            Some(&i) => self.items[i].1 = v,
            None => {
                self.index.insert(key, self.items.len());
                self.items.push((k, v));
            }
        }
        Ok(())
    }
}

fn opname(op: u8) -> &'static str {
    match op {
        b'(' => "MARK",
        b'.' => "STOP",
        b'0' => "POP",
        b'1' => "POP_MARK",
        b'2' => "DUP",
        b'F' => "FLOAT",
        b'I' => "INT",
        b'J' => "BININT",
        b'K' => "BININT1",
        b'L' => "LONG",
        b'M' => "BININT2",
        b'N' => "NONE",
        b'P' => "PERSID",
        b'Q' => "BINPERSID",
        b'R' => "REDUCE",
        b'S' => "STRING",
        b'T' => "BINSTRING",
        b'U' => "SHORT_BINSTRING",
        b'V' => "UNICODE",
        b'X' => "BINUNICODE",
        b'a' => "APPEND",
        b'b' => "BUILD",
        b'c' => "GLOBAL",
        b'd' => "DICT",
        b'}' => "EMPTY_DICT",
        b'e' => "APPENDS",
        b'g' => "GET",
        b'h' => "BINGET",
        b'i' => "INST",
        b'j' => "LONG_BINGET",
        b'l' => "LIST",
        b']' => "EMPTY_LIST",
        b'o' => "OBJ",
        b'p' => "PUT",
        b'q' => "BINPUT",
        b'r' => "LONG_BINPUT",
        b's' => "SETITEM",
        b't' => "TUPLE",
        b')' => "EMPTY_TUPLE",
        b'u' => "SETITEMS",
        b'G' => "BINFLOAT",
        0x80 => "PROTO",
        0x81 => "NEWOBJ",
        0x82 => "EXT1",
        0x83 => "EXT2",
        0x84 => "EXT4",
        0x85 => "TUPLE1",
        0x86 => "TUPLE2",
        0x87 => "TUPLE3",
        0x88 => "NEWTRUE",
        0x89 => "NEWFALSE",
        0x8a => "LONG1",
        0x8b => "LONG4",
        b'B' => "BINBYTES",
        b'C' => "SHORT_BINBYTES",
        0x8c => "SHORT_BINUNICODE",
        0x8d => "BINUNICODE8",
        0x8e => "BINBYTES8",
        0x8f => "EMPTY_SET",
        0x90 => "ADDITEMS",
        0x91 => "FROZENSET",
        0x92 => "NEWOBJ_EX",
        0x93 => "STACK_GLOBAL",
        0x94 => "MEMOIZE",
        0x95 => "FRAME",
        0x96 => "BYTEARRAY8",
        0x97 => "NEXT_BUFFER",
        0x98 => "READONLY_BUFFER",
        _ => "unknown opcode",
    }
}

struct Unpickler<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: HashMap<u64, Value>,
    cow_work: usize,
}

impl<'a> Unpickler<'a> {
    fn new(data: &'a [u8]) -> Self {
        Unpickler {
            data,
            pos: 0,
            stack: Vec::new(),
            marks: Vec::new(),
            memo: HashMap::new(),
            cow_work: 0,
        }
    }

    fn truncated(&self) -> anyhow::Error {
        user(format!(
            "data.pkl is truncated (ends at byte {} in the middle of an instruction); the \
             checkpoint is damaged; download it again or {HINT}",
            self.data.len()
        ))
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8]> {
        let data: &'a [u8] = self.data;
        let n = usize::try_from(n).map_err(|_| self.truncated())?;
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= data.len())
            .ok_or_else(|| self.truncated())?;
        let s = &data[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16> {
        let s = self.take(2)?;
        Ok(u16::from_le_bytes([s[0], s[1]]))
    }
    fn u32(&mut self) -> Result<u32> {
        let s = self.take(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn u64(&mut self) -> Result<u64> {
        let s = self.take(8)?;
        Ok(u64::from_le_bytes(
            s.try_into().map_err(|_| self.truncated())?,
        ))
    }
    fn line(&mut self) -> Result<&'a str> {
        let data: &'a [u8] = self.data;
        let rest = &data[self.pos..];
        let n = rest
            .iter()
            .take(512)
            .position(|&b| b == b'\n')
            .ok_or_else(|| {
                pickle_err("a GLOBAL opcode whose name is not newline-terminated within 512 bytes")
            })?;
        self.pos += n + 1;
        std::str::from_utf8(&rest[..n]).map_err(|_| pickle_err("a GLOBAL name that is not UTF-8"))
    }
    fn string(&mut self, n: u64) -> Result<Value> {
        let s = self.take(n)?;
        let s = std::str::from_utf8(s).map_err(|_| pickle_err("a string that is not UTF-8"))?;
        Ok(Value::Str(Rc::from(s)))
    }

    fn fence(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }
    fn push(&mut self, v: Value) {
        self.stack.push(v);
    }
    fn pop(&mut self) -> Result<Value> {
        if self.stack.len() <= self.fence() {
            return Err(pickle_err(
                "an instruction that pops an empty stack (malformed pickle)",
            ));
        }
        self.stack.pop().ok_or_else(|| pickle_err("an empty stack"))
    }
    fn top(&mut self) -> Result<&mut Value> {
        if self.stack.len() <= self.fence() {
            return Err(pickle_err("an instruction that needs an empty stack's top"));
        }
        self.stack
            .last_mut()
            .ok_or_else(|| pickle_err("an empty stack"))
    }
    fn pop_mark(&mut self) -> Result<Vec<Value>> {
        let m = self
            .marks
            .pop()
            .ok_or_else(|| pickle_err("an instruction that needs a MARK but none is set"))?;
        Ok(self.stack.split_off(m.min(self.stack.len())))
    }

    /// Copy-on-write accounting: cloning a shared container costs its length.
    fn charge(&mut self, shared: bool, len: usize) -> Result<()> {
        if shared {
            self.cow_work = self.cow_work.saturating_add(len + 1);
            if self.cow_work > MAX_COW_WORK {
                return Err(pickle_err(
                    "too many copies of shared containers (hostile pickle?)",
                ));
            }
        }
        Ok(())
    }

    fn memo_put(&mut self, idx: u64) -> Result<()> {
        let v = self.top()?.clone();
        self.memo.insert(idx, v);
        Ok(())
    }
    fn memo_get(&mut self, idx: u64) -> Result<()> {
        let v =
            self.memo.get(&idx).cloned().ok_or_else(|| {
                pickle_err(&format!("a memo reference {idx} that was never stored"))
            })?;
        self.push(v);
        Ok(())
    }

    fn set_items(&mut self, pairs: Vec<Value>) -> Result<()> {
        if !pairs.len().is_multiple_of(2) {
            return Err(pickle_err("SETITEMS with an odd number of items"));
        }
        let mut d = match self.pop()? {
            Value::Dict(d) => d,
            other => return Err(pickle_err(&format!("SETITEM(S) on a {}", other.kind()))),
        };
        self.charge(Rc::strong_count(&d) > 1, d.items.len())?;
        let dm = Rc::make_mut(&mut d);
        let mut it = pairs.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            dm.set(k, v)?;
        }
        self.push(Value::Dict(d));
        Ok(())
    }

    fn append_items(&mut self, items: Vec<Value>) -> Result<()> {
        let mut l = match self.pop()? {
            Value::List(l) => l,
            other => return Err(pickle_err(&format!("APPEND(S) on a {}", other.kind()))),
        };
        self.charge(Rc::strong_count(&l) > 1, l.items.len())?;
        let lm = Rc::make_mut(&mut l);
        let depth = 1 + items.iter().map(Value::depth).max().unwrap_or(0);
        if depth > MAX_DEPTH {
            return Err(pickle_err(&format!(
                "containers nested deeper than {MAX_DEPTH} levels"
            )));
        }
        lm.depth = lm.depth.max(depth);
        lm.items.extend(items);
        self.push(Value::List(l));
        Ok(())
    }

    fn tuple(&mut self, items: Vec<Value>) -> Result<()> {
        let s = new_seq(items)?;
        self.push(Value::Tuple(Rc::new(s)));
        Ok(())
    }

    fn run(mut self) -> Result<Value> {
        loop {
            let at = self.pos;
            let op = match self.data.get(self.pos) {
                Some(&op) => op,
                None => {
                    return Err(user(format!(
                        "data.pkl ends without a STOP instruction (truncated); the checkpoint is \
                         damaged; download it again or {HINT}"
                    )));
                }
            };
            self.pos += 1;
            match op {
                0x80 => {
                    let p = self.u8()?;
                    if p > 5 {
                        return Err(pickle_err(&format!(
                            "pickle protocol {p} (at most 5 exists)"
                        )));
                    }
                }
                0x95 => {
                    // FRAME: only a read-ahead hint.
                    let n = self.u64()?;
                    if n > (self.data.len() - self.pos) as u64 {
                        return Err(self.truncated());
                    }
                }
                b'.' => {
                    let v = self.pop()?;
                    return Ok(v);
                }
                b'(' => self.marks.push(self.stack.len()),
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let v = self.top()?.clone();
                    self.push(v);
                }
                b'N' => self.push(Value::None),
                0x88 => self.push(Value::Bool(true)),
                0x89 => self.push(Value::Bool(false)),
                b'J' => {
                    let v = self.u32()? as i32;
                    self.push(Value::Int(v as i64));
                }
                b'K' => {
                    let v = self.u8()?;
                    self.push(Value::Int(v as i64));
                }
                b'M' => {
                    let v = self.u16()?;
                    self.push(Value::Int(v as i64));
                }
                0x8a | 0x8b => {
                    let n = if op == 0x8a {
                        self.u8()? as u64
                    } else {
                        self.u32()? as u64
                    };
                    let b = self.take(n)?;
                    if b.len() > 8 {
                        return Err(pickle_err(&format!(
                            "an integer of {} bytes (more than 64 bits)",
                            b.len()
                        )));
                    }
                    let v = if b.is_empty() {
                        0
                    } else {
                        let fill = if b[b.len() - 1] & 0x80 != 0 { 0xff } else { 0 };
                        let mut w = [fill; 8];
                        w[..b.len()].copy_from_slice(b);
                        i64::from_le_bytes(w)
                    };
                    self.push(Value::Int(v));
                }
                b'G' => {
                    let s = self.take(8)?;
                    let v = f64::from_be_bytes(s.try_into().map_err(|_| self.truncated())?);
                    self.push(Value::Float(v));
                }
                b'X' => {
                    let n = self.u32()? as u64;
                    let v = self.string(n)?;
                    self.push(v);
                }
                0x8c => {
                    let n = self.u8()? as u64;
                    let v = self.string(n)?;
                    self.push(v);
                }
                0x8d => {
                    let n = self.u64()?;
                    let v = self.string(n)?;
                    self.push(v);
                }
                b'U' | b'T' => {
                    // Python 2 str: bytes, read as Latin-1 text.
                    let n = if op == b'U' {
                        self.u8()? as u64
                    } else {
                        self.u32()? as u64
                    };
                    let s = self.take(n)?;
                    let text: String = s.iter().map(|&c| c as char).collect();
                    self.push(Value::Str(Rc::from(text.as_str())));
                }
                b'C' | b'B' | 0x8e => {
                    let n = match op {
                        b'C' => self.u8()? as u64,
                        b'B' => self.u32()? as u64,
                        _ => self.u64()?,
                    };
                    let s = self.take(n)?;
                    self.push(Value::Bytes(Rc::from(s)));
                }
                b')' => self.tuple(Vec::new())?,
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    self.tuple(items)?;
                }
                b't' => {
                    let items = self.pop_mark()?;
                    self.tuple(items)?;
                }
                b']' => self.push(Value::List(Rc::new(Seq {
                    items: Vec::new(),
                    depth: 1,
                }))),
                b'l' => {
                    let items = self.pop_mark()?;
                    let s = new_seq(items)?;
                    self.push(Value::List(Rc::new(s)));
                }
                b'a' => {
                    let v = self.pop()?;
                    self.append_items(vec![v])?;
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    self.append_items(items)?;
                }
                b'}' => self.push(Value::Dict(Rc::new(new_dict(false)))),
                b'd' => {
                    let items = self.pop_mark()?;
                    self.push(Value::Dict(Rc::new(new_dict(false))));
                    self.set_items(items)?;
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    self.set_items(vec![k, v])?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    self.set_items(items)?;
                }
                b'q' => {
                    let i = self.u8()? as u64;
                    self.memo_put(i)?;
                }
                b'r' => {
                    let i = self.u32()? as u64;
                    self.memo_put(i)?;
                }
                0x94 => {
                    let i = self.memo.len() as u64;
                    self.memo_put(i)?;
                }
                b'h' => {
                    let i = self.u8()? as u64;
                    self.memo_get(i)?;
                }
                b'j' => {
                    let i = self.u32()? as u64;
                    self.memo_get(i)?;
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    let g = Global::resolve(module, name)?;
                    self.push(Value::Global(g));
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let g = match (&module, &name) {
                        (Value::Str(m), Value::Str(n)) => Global::resolve(m, n)?,
                        _ => return Err(pickle_err("STACK_GLOBAL with non-string names")),
                    };
                    self.push(Value::Global(g));
                }
                b'Q' => {
                    let pid = self.pop()?;
                    let s = persistent_storage(&pid)?;
                    self.push(Value::Storage(Rc::new(s)));
                }
                b'R' => {
                    let args = self.pop()?;
                    let func = self.pop()?;
                    let v = reduce(&func, &args)?;
                    self.push(v);
                }
                b'b' => {
                    let state = self.pop()?;
                    let obj = self.top()?;
                    match (&*obj, &state) {
                        // OrderedDict.__reduce__ carries vars(self) as state: torch's
                        // `state_dict._metadata`. Plain data, dropped here.
                        (Value::Dict(d), Value::Dict(_)) if d.ordered => {}
                        (Value::Dict(d), Value::None) if d.ordered => {}
                        (o, s) => {
                            return Err(pickle_err(&format!(
                                "BUILD (set object state) of a {} with a {} at byte {at}; only \
                                 an OrderedDict's attribute dict is accepted",
                                o.kind(),
                                s.kind()
                            )));
                        }
                    }
                }
                other => {
                    return Err(user(format!(
                        "refusing to load: data.pkl uses pickle opcode {} (0x{other:02x}) at byte \
                         {at}, which a plain tensor state dict does not need (it can construct \
                         arbitrary objects or is not supported); {HINT}",
                        opname(other)
                    )));
                }
            }
        }
    }
}

/// `('storage', torch.XStorage, '<key>', '<location>', numel)`.
fn persistent_storage(pid: &Value) -> Result<StorageRef> {
    let bad = |why: &str| {
        pickle_err(&format!(
            "a persistent id that is not a torch storage ({why})"
        ))
    };
    let items = match pid {
        Value::Tuple(t) => &t.items,
        other => return Err(bad(&format!("a {}", other.kind()))),
    };
    match items.as_slice() {
        [
            Value::Str(tag),
            Value::Global(Global::Storage(dtype)),
            key,
            Value::Str(_loc),
            numel,
        ] if &**tag == "storage" => {
            let key = match key {
                Value::Str(k) => k.clone(),
                Value::Int(i) => Rc::from(i.to_string().as_str()),
                other => return Err(bad(&format!("a key of type {}", other.kind()))),
            };
            let numel = match numel {
                Value::Int(n) if *n >= 0 => *n as u64,
                _ => return Err(bad("its element count is not a non-negative int")),
            };
            Ok(StorageRef {
                dtype: *dtype,
                key,
                numel,
            })
        }
        [Value::Str(tag), Value::Global(g), ..] if &**tag == "storage" => {
            Err(bad(&format!("storage type {}", g.name())))
        }
        _ => Err(bad(
            "expected ('storage', torch.<T>Storage, key, location, numel)",
        )),
    }
}

fn int_tuple(v: &Value, what: &str) -> Result<Vec<u64>> {
    let items = match v {
        Value::Tuple(t) | Value::List(t) => &t.items,
        other => {
            return Err(pickle_err(&format!(
                "a tensor {what} that is a {}",
                other.kind()
            )));
        }
    };
    if items.len() > MAX_NDIM {
        return Err(pickle_err(&format!(
            "a tensor with {} dimensions",
            items.len()
        )));
    }
    items
        .iter()
        .map(|x| match x {
            Value::Int(i) if *i >= 0 => Ok(*i as u64),
            Value::Int(i) => Err(pickle_err(&format!("a negative tensor {what} entry {i}"))),
            o => Err(pickle_err(&format!(
                "a tensor {what} entry of type {}",
                o.kind()
            ))),
        })
        .collect()
}

/// Interprets REDUCE of an allowlisted callable.
fn reduce(func: &Value, args: &Value) -> Result<Value> {
    let g = match func {
        Value::Global(g) => *g,
        other => return Err(pickle_err(&format!("REDUCE calling a {}", other.kind()))),
    };
    let args = match args {
        Value::Tuple(t) => &t.items,
        other => {
            return Err(pickle_err(&format!(
                "REDUCE of {} with a {} of arguments",
                g.name(),
                other.kind()
            )));
        }
    };
    let bad_args = || {
        pickle_err(&format!(
            "a call of {} with unexpected arguments ({})",
            g.name(),
            args.iter().map(Value::kind).collect::<Vec<_>>().join(", ")
        ))
    };
    match g {
        Global::OrderedDict => {
            let mut d = new_dict(true);
            match args.as_slice() {
                [] => {}
                // Python 2 style: OrderedDict([[k, v], ...]).
                [Value::List(pairs)] | [Value::Tuple(pairs)] => {
                    for p in &pairs.items {
                        match p {
                            Value::List(kv) | Value::Tuple(kv) if kv.items.len() == 2 => {
                                d.set(kv.items[0].clone(), kv.items[1].clone())?;
                            }
                            _ => return Err(bad_args()),
                        }
                    }
                }
                _ => return Err(bad_args()),
            }
            Ok(Value::Dict(Rc::new(d)))
        }
        Global::RebuildTensorV2 | Global::RebuildTensor => {
            let (storage, offset, size, stride) = match (g, args.as_slice()) {
                (Global::RebuildTensorV2, [s, o, sz, st, Value::Bool(_), Value::Dict(_)])
                | (
                    Global::RebuildTensorV2,
                    [s, o, sz, st, Value::Bool(_), Value::Dict(_), Value::Dict(_)],
                )
                | (Global::RebuildTensor, [s, o, sz, st]) => (s, o, sz, st),
                _ => return Err(bad_args()),
            };
            let storage = match storage {
                Value::Storage(s) => s.clone(),
                _ => return Err(bad_args()),
            };
            let offset = match offset {
                Value::Int(o) if *o >= 0 => *o as u64,
                _ => return Err(bad_args()),
            };
            let size = int_tuple(size, "size")?;
            let stride = int_tuple(stride, "stride")?;
            if size.len() != stride.len() {
                return Err(pickle_err(&format!(
                    "a tensor with {} sizes but {} strides",
                    size.len(),
                    stride.len()
                )));
            }
            Ok(Value::Tensor(Rc::new(TensorRef {
                storage,
                offset,
                size,
                stride,
            })))
        }
        Global::RebuildParameter | Global::RebuildParameterWithState => match args.as_slice() {
            [t @ Value::Tensor(_), Value::Bool(_), Value::Dict(_)] => Ok(t.clone()),
            [
                t @ Value::Tensor(_),
                Value::Bool(_),
                Value::Dict(_),
                Value::Dict(_) | Value::None,
            ] if g == Global::RebuildParameterWithState => Ok(t.clone()),
            _ => Err(bad_args()),
        },
        Global::Storage(_) => Err(pickle_err(&format!(
            "a direct call of {} (storages come only from persistent ids)",
            g.name()
        ))),
    }
}

// ------------------------------------------------------------------------------------------
// Materialising tensors
// ------------------------------------------------------------------------------------------

struct Materialiser<'z, 'a> {
    zip: &'z Zip<'a>,
    prefix: &'z str,
    /// Storage entries already CRC-checked.
    verified: HashSet<Rc<str>>,
    /// Bytes that may still be materialised.
    budget: usize,
}

impl Materialiser<'_, '_> {
    fn materialise(&mut self, name: &str, t: &TensorRef) -> Result<TorchTensor> {
        let st = &t.storage;
        let dtype = st.dtype;
        let es = dtype.size();
        let bad = |why: String| {
            user(format!(
                "tensor {name:?}: {why}; the checkpoint is corrupt or hostile; {HINT}"
            ))
        };
        let entry_name = format!("{}data/{}", self.prefix, st.key);
        let entry = self.zip.get(&entry_name).ok_or_else(|| {
            bad(format!(
                "its storage {:?} has no {entry_name} entry in the archive",
                st.key
            ))
        })?;
        let raw = if self.verified.contains(&st.key) {
            // CRC-checked on its first use.
            self.zip.slice(entry)?
        } else {
            let r = self.zip.read(entry)?;
            self.verified.insert(st.key.clone());
            r
        };
        let storage_bytes = st
            .numel
            .checked_mul(es as u64)
            .filter(|&b| b <= raw.len() as u64);
        let Some(storage_bytes) = storage_bytes else {
            return Err(bad(format!(
                "its storage {:?} declares {} {} elements but its entry holds only {} bytes",
                st.key,
                st.numel,
                dtype.name(),
                raw.len()
            )));
        };
        let storage = &raw[..storage_bytes as usize];
        let storage_numel = st.numel;

        let mut numel: u64 = 1;
        for &s in &t.size {
            numel = numel
                .checked_mul(s)
                .ok_or_else(|| bad(format!("its shape {:?} overflows", t.size)))?;
        }
        let shape: Vec<usize> = t
            .size
            .iter()
            .map(|&s| usize::try_from(s))
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| bad(format!("its shape {:?} overflows", t.size)))?;
        if numel == 0 {
            return Ok(TorchTensor {
                dtype,
                shape,
                data: Vec::new(),
            });
        }
        // Extent of the view: last element's index must lie inside the storage.
        let mut last = t.offset;
        for (&s, &d) in t.size.iter().zip(&t.stride) {
            last = (s - 1)
                .checked_mul(d)
                .and_then(|x| last.checked_add(x))
                .ok_or_else(|| bad("its strides overflow".to_string()))?;
        }
        if last >= storage_numel {
            return Err(bad(format!(
                "its view (offset {}, size {:?}, stride {:?}) reaches element {last} of a storage \
                 of {storage_numel} elements",
                t.offset, t.size, t.stride
            )));
        }
        if numel > storage_numel {
            return Err(bad(format!(
                "it has {numel} elements but its storage only {storage_numel} (an expanded or \
                 overlapping view; save tensor.contiguous() instead)"
            )));
        }
        // numel <= storage_numel and storage_bytes fit in memory, so this can't overflow.
        let out_bytes = numel as usize * es;
        if out_bytes > self.budget {
            return Err(bad(
                "the tensors total far more bytes than the file holds (many views of the same \
                 storage?)"
                    .to_string(),
            ));
        }
        self.budget -= out_bytes;

        let offset = t.offset as usize;
        let size: Vec<usize> = shape.clone();
        // Strides of size-1 dimensions are irrelevant (and may be anything): zero them. The
        // others are <= `last` < storage_numel, so they fit in usize.
        let stride: Vec<usize> = t
            .size
            .iter()
            .zip(&t.stride)
            .map(|(&n, &s)| if n == 1 { 0 } else { s as usize })
            .collect();
        // C-contiguous (dims of size 1 may carry any stride)?
        let mut expect = 1usize;
        let mut contiguous = true;
        for i in (0..size.len()).rev() {
            if size[i] != 1 && stride[i] != expect {
                contiguous = false;
                break;
            }
            expect *= size[i];
        }
        let data = if contiguous {
            storage[offset * es..offset * es + out_bytes].to_vec()
        } else {
            gather(storage, es, offset, &size, &stride, out_bytes)
        };
        Ok(TorchTensor { dtype, shape, data })
    }
}

/// Copies a strided view out in logical C order (all indexes were bounds-checked).
fn gather(
    storage: &[u8],
    es: usize,
    offset: usize,
    size: &[usize],
    stride: &[usize],
    out_bytes: usize,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(out_bytes);
    let nd = size.len();
    // The innermost dimension is copied as one run when it is contiguous.
    let (inner, inner_stride) = if nd == 0 {
        (1, 1)
    } else {
        (size[nd - 1], stride[nd - 1])
    };
    let outer = nd.saturating_sub(1);
    let mut idx = vec![0usize; outer];
    let mut base = offset;
    loop {
        if inner_stride == 1 {
            out.extend_from_slice(&storage[base * es..(base + inner) * es]);
        } else {
            for j in 0..inner {
                let e = (base + j * inner_stride) * es;
                out.extend_from_slice(&storage[e..e + es]);
            }
        }
        // Odometer over the outer dimensions.
        let mut d = outer;
        loop {
            if d == 0 {
                return out;
            }
            d -= 1;
            idx[d] += 1;
            base += stride[d];
            if idx[d] < size[d] {
                break;
            }
            base -= stride[d] * size[d];
            idx[d] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE_DIR: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/ttsref/vocos_tiny/model"
    );

    fn fixture(name: &str) -> Vec<u8> {
        let p = format!("{FIXTURE_DIR}/{name}");
        std::fs::read(&p).unwrap_or_else(|e| panic!("fixture {p}: {e}"))
    }

    /// name -> (dtype, shape, bytes) of a safetensors file, through the crate's reader.
    fn read_safetensors(path: &Path) -> Vec<(String, String, Vec<usize>, Vec<u8>)> {
        let f = super::super::safetensors::SafeFile::open(path).unwrap();
        f.tensors
            .iter()
            .map(|(k, i)| {
                (
                    k.clone(),
                    i.dtype.name().to_string(),
                    i.shape.clone(),
                    f.bytes(i).to_vec(),
                )
            })
            .collect()
    }

    #[test]
    fn vocos_fixture_matches_safetensors_bit_for_bit() {
        let bin = fixture("pytorch_model.bin");
        let sd = read_state_dict_bytes(&bin).unwrap();
        let reference = read_safetensors(&Path::new(FIXTURE_DIR).join("model.safetensors"));
        assert_eq!(sd.len(), reference.len());
        assert_eq!(sd.len(), 38);
        let by_name: HashMap<&str, &TorchTensor> =
            sd.iter().map(|(k, t)| (k.as_str(), t)).collect();
        for (name, dtype, shape, bytes) in &reference {
            let t = by_name
                .get(name.as_str())
                .unwrap_or_else(|| panic!("missing {name}"));
            assert_eq!(dtype, "F32", "{name}");
            assert_eq!(t.dtype, TorchDtype::F32, "{name}");
            assert_eq!(&t.shape, shape, "{name}");
            assert_eq!(t.numel() * 4, bytes.len(), "{name}");
            assert!(t.data == *bytes, "{name}: bytes differ");
            let f = t.to_f32();
            assert_eq!(f.len(), t.numel());
            assert!(
                f.iter()
                    .zip(bytes.chunks_exact(4))
                    .all(|(x, c)| x.to_le_bytes() == c)
            );
        }
        // File order is kept.
        assert_eq!(sd[0].0, "feature_extractor.mel_spec.spectrogram.window");
        assert_eq!(sd[2].0, "backbone.embed.weight");
        assert_eq!(sd[2].1.shape, vec![64, 100, 7]);
        assert_eq!(sd.last().unwrap().0, "head.istft.window");
        // And through the path API.
        let p = Path::new(FIXTURE_DIR).join("pytorch_model.bin");
        assert_eq!(read_state_dict(&p).unwrap(), sd);
    }

    // ---- a minimal torch.save-like writer for crafted checkpoints ----

    /// A stored ZIP archive; `zip64` writes every entry with ZIP64 extra fields and a ZIP64
    /// end record (as torch does for big archives).
    fn zip(entries: &[(&str, &[u8])], zip64: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for (name, data) in entries {
            let off = out.len() as u64;
            let crc = crc32(data);
            out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
            out.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
            out.extend_from_slice(&crc.to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            // Padding extra field, like torch's 64-byte alignment.
            out.extend_from_slice(&7u16.to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&[0x46, 0x42, 3, 0, 0, 0, 0]);
            out.extend_from_slice(data);

            central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
            central.extend_from_slice(&[45, 0, 45, 0, 0, 8, 0, 0, 0, 0, 0, 0]);
            central.extend_from_slice(&crc.to_le_bytes());
            let small = |v: u64| if zip64 { 0xffff_ffffu32 } else { v as u32 };
            central.extend_from_slice(&small(data.len() as u64).to_le_bytes());
            central.extend_from_slice(&small(data.len() as u64).to_le_bytes());
            central.extend_from_slice(&(name.len() as u16).to_le_bytes());
            central.extend_from_slice(&(if zip64 { 28u16 } else { 0 }).to_le_bytes());
            central.extend_from_slice(&[0; 8]); // comment len, disk, int attr, ext attr(2 of 4)
            central.extend_from_slice(&[0; 2]);
            central.extend_from_slice(&small(off).to_le_bytes());
            central.extend_from_slice(name.as_bytes());
            if zip64 {
                central.extend_from_slice(&1u16.to_le_bytes());
                central.extend_from_slice(&24u16.to_le_bytes());
                central.extend_from_slice(&(data.len() as u64).to_le_bytes());
                central.extend_from_slice(&(data.len() as u64).to_le_bytes());
                central.extend_from_slice(&off.to_le_bytes());
            }
        }
        let cd_off = out.len() as u64;
        out.extend_from_slice(&central);
        let n = entries.len() as u64;
        if zip64 {
            let rec = out.len() as u64;
            out.extend_from_slice(&0x0606_4b50u32.to_le_bytes());
            out.extend_from_slice(&44u64.to_le_bytes());
            out.extend_from_slice(&[45, 0, 45, 0]);
            out.extend_from_slice(&[0; 8]);
            out.extend_from_slice(&n.to_le_bytes());
            out.extend_from_slice(&n.to_le_bytes());
            out.extend_from_slice(&(central.len() as u64).to_le_bytes());
            out.extend_from_slice(&cd_off.to_le_bytes());
            out.extend_from_slice(&0x0706_4b50u32.to_le_bytes());
            out.extend_from_slice(&0u32.to_le_bytes());
            out.extend_from_slice(&rec.to_le_bytes());
            out.extend_from_slice(&1u32.to_le_bytes());
        }
        out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        let (n16, sz, off) = if zip64 {
            (0xffffu16, 0xffff_ffffu32, 0xffff_ffffu32)
        } else {
            (n as u16, central.len() as u32, cd_off as u32)
        };
        out.extend_from_slice(&n16.to_le_bytes());
        out.extend_from_slice(&n16.to_le_bytes());
        out.extend_from_slice(&sz.to_le_bytes());
        out.extend_from_slice(&off.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out
    }

    /// Pickle-building helpers.
    struct P(Vec<u8>);
    impl P {
        fn new() -> P {
            P(vec![0x80, 2])
        }
        fn op(mut self, b: &[u8]) -> P {
            self.0.extend_from_slice(b);
            self
        }
        fn s(mut self, s: &str) -> P {
            self.0.push(b'X');
            self.0.extend_from_slice(&(s.len() as u32).to_le_bytes());
            self.0.extend_from_slice(s.as_bytes());
            self
        }
        fn int(mut self, v: u32) -> P {
            if v < 1 << 31 {
                self.0.push(b'J');
                self.0.extend_from_slice(&v.to_le_bytes());
            } else {
                // LONG1 with a sign byte, as pickle writes ints >= 2**31.
                self.0.extend_from_slice(&[0x8a, 5]);
                self.0.extend_from_slice(&v.to_le_bytes());
                self.0.push(0);
            }
            self
        }
        fn global(self, m: &str, n: &str) -> P {
            self.op(format!("c{m}\n{n}\n").as_bytes())
        }
        fn ints(mut self, v: &[u32]) -> P {
            self = self.op(b"(");
            for &x in v {
                self = self.int(x);
            }
            self.op(b"t")
        }
        /// `_rebuild_tensor_v2(('storage', torch.<cls>, key, 'cpu', numel), off, size, stride,
        /// False, OrderedDict())`.
        fn tensor(self, cls: &str, key: &str, numel: u32, off: u32, size: &[u32], st: &[u32]) -> P {
            self.global("torch._utils", "_rebuild_tensor_v2")
                .op(b"((")
                .s("storage")
                .global("torch", cls)
                .s(key)
                .s("cpu")
                .int(numel)
                .op(b"tQ")
                .int(off)
                .ints(size)
                .ints(st)
                .op(&[0x89])
                .global("collections", "OrderedDict")
                .op(b")Rt")
                .op(b"R")
        }
    }

    fn f32_bytes(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    fn checkpoint(pkl: &[u8], storages: &[(&str, &[u8])], zip64: bool) -> Vec<u8> {
        let mut names: Vec<(String, &[u8])> = vec![("archive/data.pkl".into(), pkl)];
        names.push(("archive/byteorder".into(), b"little"));
        for (k, d) in storages {
            names.push((format!("archive/data/{k}"), d));
        }
        names.push(("archive/version".into(), b"3\n"));
        let refs: Vec<(&str, &[u8])> = names.iter().map(|(n, d)| (n.as_str(), *d)).collect();
        zip(&refs, zip64)
    }

    fn err(bytes: &[u8]) -> String {
        format!("{:#}", read_state_dict_bytes(bytes).unwrap_err())
    }

    #[test]
    fn strided_views_offsets_and_ordered_dict_metadata() {
        // Storage 0: 0..12 as f32. Tensors:
        //  "t": transpose of a 3x4 (shape [4,3], stride [1,4]);
        //  "s": a slice with offset 5, shape [2,2], stride [4,1] -> [5,6,9,10];
        //  "c": every other element of the last row, shape [2], stride [2], offset 8 -> [8,10];
        //  "z": empty; "h": f16 storage; "p": a Parameter around a plain tensor.
        let vals: Vec<f32> = (0..12).map(|x| x as f32).collect();
        let halfs: Vec<u8> = [0x3c00u16, 0xc000, 0x0001, 0x7c00]
            .iter()
            .flat_map(|h| h.to_le_bytes())
            .collect();
        let p = P::new()
            .global("collections", "OrderedDict")
            .op(b")R")
            .op(b"q\x00(")
            .s("t")
            .tensor("FloatStorage", "0", 12, 0, &[4, 3], &[1, 4])
            .s("s")
            .tensor("FloatStorage", "0", 12, 5, &[2, 2], &[4, 1])
            .s("c")
            .tensor("FloatStorage", "0", 12, 8, &[2], &[2])
            .s("z")
            .tensor("FloatStorage", "0", 12, 0, &[0, 5], &[5, 1])
            .s("h")
            .tensor("HalfStorage", "1", 4, 0, &[4], &[1])
            .s("p")
            .global("torch._utils", "_rebuild_parameter")
            .op(b"(")
            .tensor("LongStorage", "2", 2, 0, &[2, 1], &[1, 7])
            .op(&[0x88])
            .global("collections", "OrderedDict")
            .op(b")Rt")
            .op(b"R")
            .op(b"u")
            // BUILD: {'_metadata': OrderedDict([('', {'version': 1})])}
            .op(b"}(")
            .s("_metadata")
            .global("collections", "OrderedDict")
            .op(b")R(")
            .s("")
            .op(b"}(")
            .s("version")
            .op(b"K\x01uu")
            .op(b"ub.");
        let longs: Vec<u8> = [-3i64, 1 << 40]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        let mut padded = f32_bytes(&vals);
        padded.extend_from_slice(&[0; 4]); // storage entries may be longer than declared
        for zip64 in [false, true] {
            let file = checkpoint(&p.0, &[("0", &padded), ("1", &halfs), ("2", &longs)], zip64);
            let sd = read_state_dict_bytes(&file).unwrap();
            let names: Vec<&str> = sd.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(names, ["t", "s", "c", "z", "h", "p"]);
            let t = &sd[0].1;
            assert_eq!(t.shape, [4, 3]);
            assert_eq!(
                t.to_f32(),
                [0., 4., 8., 1., 5., 9., 2., 6., 10., 3., 7., 11.]
            );
            assert_eq!(sd[1].1.to_f32(), [5., 6., 9., 10.]);
            assert_eq!(sd[2].1.to_f32(), [8., 10.]);
            assert_eq!(sd[3].1.shape, [0, 5]);
            assert_eq!(sd[3].1.numel(), 0);
            assert!(sd[3].1.data.is_empty());
            assert_eq!(sd[4].1.dtype, TorchDtype::F16);
            assert_eq!(sd[4].1.to_f32(), [1.0, -2.0, 5.960_464_5e-8, f32::INFINITY]);
            assert_eq!(sd[5].1.dtype, TorchDtype::I64);
            assert_eq!(sd[5].1.shape, [2, 1]);
            assert_eq!(sd[5].1.to_f32(), [-3.0, (1u64 << 40) as f32]);
        }
    }

    #[test]
    fn refuses_code_execution() {
        // The classic: os.system('echo pwned') via GLOBAL + REDUCE.
        let p = P::new()
            .global("os", "system")
            .s("echo pwned")
            .op(&[0x85])
            .op(b"R.");
        let e = err(&checkpoint(&p.0, &[], false));
        assert!(e.contains("os.system") && e.contains("refusing"), "{e}");
        // builtins.eval through STACK_GLOBAL.
        let p = P::new().s("builtins").s("eval").op(&[0x93]).op(b".");
        let e = err(&checkpoint(&p.0, &[], false));
        assert!(e.contains("builtins.eval"), "{e}");
        // Object construction opcodes are refused by name.
        let p = P::new()
            .global("collections", "OrderedDict")
            .op(b")")
            .op(&[0x81, b'.']);
        let e = err(&checkpoint(&p.0, &[], false));
        assert!(e.contains("NEWOBJ"), "{e}");
        let p = P::new().op(b"(").op(b"ios\nsystem\n.");
        let e = err(&checkpoint(&p.0, &[], false));
        assert!(e.contains("INST"), "{e}");
        // BUILD on a plain tensor / dict is refused.
        let p = P::new().op(b"}}b.");
        let e = err(&checkpoint(&p.0, &[], false));
        assert!(e.contains("BUILD"), "{e}");
        // A storage class called directly.
        let p = P::new().global("torch", "FloatStorage").op(b")R.");
        let e = err(&checkpoint(&p.0, &[], false));
        assert!(e.contains("storage"), "{e}");
        // torch globals outside the allowlist.
        let p = P::new().global("torch", "load").op(b".");
        let e = err(&checkpoint(&p.0, &[], false));
        assert!(e.contains("torch.load"), "{e}");
    }

    #[test]
    fn refuses_malformed_and_hostile_structure() {
        let vals = f32_bytes(&[1.0, 2.0, 3.0, 4.0]);
        let one = |size: &[u32], stride: &[u32], off: u32, numel: u32| {
            P::new()
                .op(b"}(")
                .s("w")
                .tensor("FloatStorage", "0", numel, off, size, stride)
                .op(b"u.")
        };
        // Offset beyond the storage.
        let e = err(&checkpoint(
            &one(&[2], &[1], 3, 4).0,
            &[("0", &vals)],
            false,
        ));
        assert!(e.contains("reaches element 4"), "{e}");
        // Stride beyond the storage.
        let e = err(&checkpoint(
            &one(&[2, 2], &[3, 1], 0, 4).0,
            &[("0", &vals)],
            false,
        ));
        assert!(e.contains("reaches element"), "{e}");
        // Declared numel beyond the entry's bytes.
        let e = err(&checkpoint(
            &one(&[8], &[1], 0, 8).0,
            &[("0", &vals)],
            false,
        ));
        assert!(e.contains("holds only 16 bytes"), "{e}");
        // Sizes whose product overflows u64.
        let huge = 0xffff_ffff;
        let e = err(&checkpoint(
            &one(&[huge, huge, huge], &[0, 0, 0], 0, 4).0,
            &[("0", &vals)],
            false,
        ));
        assert!(e.contains("overflow"), "{e}");
        // Expanded (stride-0) view bigger than its storage.
        let e = err(&checkpoint(
            &one(&[1000], &[0], 0, 4).0,
            &[("0", &vals)],
            false,
        ));
        assert!(e.contains("expanded"), "{e}");
        // Missing storage entry.
        let e = err(&checkpoint(&one(&[2], &[1], 0, 4).0, &[], false));
        assert!(e.contains("no archive/data/0 entry"), "{e}");
        // Huge memo index that was never stored: a clean error, no allocation.
        let p = P::new().op(b"j\xff\xff\xff\xff.");
        let e = err(&checkpoint(&p.0, &[], false));
        assert!(e.contains("memo"), "{e}");
        // Deep nesting: 100k nested tuples.
        let mut p = P::new().op(b")");
        p.0.extend(std::iter::repeat_n(0x85u8, 100_000));
        p.0.push(b'.');
        let e = err(&checkpoint(&p.0, &[], false));
        assert!(e.contains("nested deeper"), "{e}");
        // A string length past the end.
        let p = P::new().op(b"X\xff\xff\xff\x7fabc");
        let e = err(&checkpoint(&p.0, &[], false));
        assert!(e.contains("truncated"), "{e}");
        // No STOP.
        let p = P::new().op(b"}");
        let e = err(&checkpoint(&p.0, &[], false));
        assert!(e.contains("STOP"), "{e}");
        // Stack underflow.
        let p = P::new().op(b"R.");
        let e = err(&checkpoint(&p.0, &[], false));
        assert!(e.contains("stack"), "{e}");
        // Not a dict of tensors.
        let p = P::new().op(b"}(").s("epoch").op(b"K\x03u.");
        let e = err(&checkpoint(&p.0, &[], false));
        assert!(e.contains("\"epoch\" is a int"), "{e}");
        let p = P::new().op(b"].");
        let e = err(&checkpoint(&p.0, &[], false));
        assert!(e.contains("holds a list"), "{e}");
        // Copy-on-write blow-up: a dict re-fetched from the memo and grown again and again.
        let mut p = P::new().op(b"}");
        for i in 0..2000u32 {
            p = p.op(b"(").int(i).op(b"Nu");
        }
        p = p.op(b"q\x00");
        for i in 0..40_000u32 {
            p = p.op(b"0h\x00").int(1_000_000 + i).op(b"Ns").op(b"q\x00");
        }
        let e = err(&checkpoint(&p.op(b".").0, &[], false));
        assert!(e.contains("copies"), "{e}");
        // Big-endian checkpoints.
        let ok = one(&[2], &[1], 0, 4);
        let be = zip(
            &[
                ("a/data.pkl", &ok.0[..]),
                ("a/byteorder", &b"big"[..]),
                ("a/data/0", &vals[..]),
            ],
            false,
        );
        let e = err(&be);
        assert!(e.contains("big-endian"), "{e}");
        // And the well-formed version of the same reads.
        let sd = read_state_dict_bytes(&checkpoint(&ok.0, &[("0", &vals)], false)).unwrap();
        assert_eq!(sd[0].1.to_f32(), [1.0, 2.0]);
    }

    #[test]
    fn refuses_non_checkpoints_and_damaged_zips() {
        assert!(err(b"").contains("empty"));
        let e = err(b"hello, this is not a checkpoint at all");
        assert!(e.contains("neither a ZIP"), "{e}");
        let mut legacy = vec![
            0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19,
        ];
        legacy.extend_from_slice(b".\x80\x02M\xe9\x03.");
        let e = err(&legacy);
        assert!(e.contains("legacy"), "{e}");
        let e = err(b"\x80\x02}q\x00.");
        assert!(e.contains("bare pickle"), "{e}");
        let e = err(b"version https://git-lfs.github.com/spec/v1\noid sha256:00\n");
        assert!(e.contains("LFS"), "{e}");
        let mut st = 2u64.to_le_bytes().to_vec();
        st.extend_from_slice(b"{}");
        assert!(err(&st).contains("safetensors"));
        // A ZIP that isn't a torch checkpoint.
        let e = err(&zip(&[("weights.npy", &b"abc"[..])], false));
        assert!(e.contains("no <name>/data.pkl"), "{e}");

        let p = P::new()
            .op(b"}(")
            .s("w")
            .tensor("FloatStorage", "0", 2, 0, &[2], &[1])
            .op(b"u.");
        let vals = f32_bytes(&[1.0, 2.0]);
        let good = checkpoint(&p.0, &[("0", &vals)], false);
        assert_eq!(read_state_dict_bytes(&good).unwrap().len(), 1);
        // Every truncation is an error, never a panic.
        for cut in (0..good.len()).step_by(7) {
            assert!(read_state_dict_bytes(&good[..cut]).is_err(), "cut {cut}");
        }
        // Every single-byte corruption is either refused or (in ignored bytes) harmless.
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x5a;
            let _ = read_state_dict_bytes(&bad);
        }
        // A flipped data byte is caught by the CRC.
        let mut bad = good.clone();
        let at = good.windows(8).position(|w| w == vals.as_slice()).unwrap();
        bad[at] ^= 1;
        assert!(err(&bad).contains("CRC"));
        // Compressed entries are refused by name.
        let mut comp = good.clone();
        let cd = comp
            .windows(4)
            .position(|w| w == [0x50, 0x4b, 1, 2])
            .unwrap();
        comp[cd + 10] = 8; // deflate
        let e = err(&comp);
        assert!(e.contains("compressed"), "{e}");
        // A central directory claiming absurd counts/offsets.
        let mut absurd = good.clone();
        let n = absurd.len();
        absurd[n - 12..n - 10].copy_from_slice(&0xfff0u16.to_le_bytes());
        assert!(read_state_dict_bytes(&absurd).is_err());
        let mut absurd = good.clone();
        absurd[n - 6..n - 2].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
        assert!(read_state_dict_bytes(&absurd).is_err());
    }

    #[test]
    fn pickle_mutations_never_panic() {
        let p = P::new()
            .global("collections", "OrderedDict")
            .op(b")R(")
            .s("w")
            .tensor("FloatStorage", "0", 4, 1, &[3, 1], &[1, 1])
            .s("v")
            .tensor("FloatStorage", "0", 4, 0, &[2, 2], &[1, 2])
            .op(b"u}(")
            .s("_metadata")
            .global("collections", "OrderedDict")
            .op(b")R(")
            .s("")
            .op(b"}(")
            .s("version")
            .op(b"K\x01uuub.");
        let vals = f32_bytes(&[1.0, 2.0, 3.0, 4.0]);
        let sd = read_state_dict_bytes(&checkpoint(&p.0, &[("0", &vals)], false)).unwrap();
        assert_eq!(sd[0].1.to_f32(), [2.0, 3.0, 4.0]);
        assert_eq!(sd[1].1.to_f32(), [1.0, 3.0, 2.0, 4.0]);
        for i in 2..p.0.len() {
            for x in [0x01u8, 0x10, 0x80, 0xff] {
                let mut q = p.0.clone();
                q[i] ^= x;
                let _ = read_state_dict_bytes(&checkpoint(&q, &[("0", &vals)], false));
            }
            let _ = read_state_dict_bytes(&checkpoint(&p.0[..i], &[("0", &vals)], false));
        }
    }

    #[test]
    fn crc32_known_value() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(
            crc32(b"The quick brown fox jumps over the lazy dog"),
            0x414f_a339
        );
    }

    #[test]
    fn half_conversion() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x8000).to_bits(), 0x8000_0000);
        assert!(f16_to_f32(0x7e00).is_nan());
        assert_eq!(f16_to_f32(0x0400), 6.103_515_6e-5);
    }
}

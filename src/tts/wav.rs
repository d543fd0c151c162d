//! WAV files: RIFF/WAVE with PCM (8/16/24/32-bit) or IEEE float (32/64-bit) samples, read into
//! float32 channels scaled as torchaudio scales them (`int / 2^(bits−1)`, 8-bit unsigned
//! centred); written as 32-bit float mono.

use std::path::Path;

use anyhow::Result;

use crate::error::user;

/// Decoded audio: one `Vec` per channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    pub sample_rate: u32,
    pub channels: Vec<Vec<f32>>,
}

impl Audio {
    /// The mean over channels (`mean(dim=0)`), or the only channel.
    pub fn mono(&self) -> Vec<f32> {
        if self.channels.len() == 1 {
            return self.channels[0].clone();
        }
        let n = self.channels[0].len();
        let c = self.channels.len() as f32;
        (0..n)
            .map(|i| self.channels.iter().map(|ch| ch[i]).sum::<f32>() / c)
            .collect()
    }
}

fn u16le(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn u32le(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Parses WAV bytes (`what` names the source in errors).
pub fn decode(bytes: &[u8], what: &str) -> Result<Audio> {
    let bad = |m: String| user(format!("{what}: {m}"));
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(bad(
            "not a WAV file (no RIFF/WAVE header); give a .wav file".into(),
        ));
    }
    let mut at = 12;
    let mut fmt: Option<(u16, u16, u32, u16)> = None;
    let mut data: Option<&[u8]> = None;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let size = u32le(bytes, at + 4) as usize;
        let body_start = at + 8;
        // A data chunk whose size runs past the file (streamed writers leave 0 or 0xFFFFFFFF)
        // takes what is there.
        let body_end = body_start.saturating_add(size).min(bytes.len());
        let body = &bytes[body_start..body_end];
        match id {
            b"fmt " => {
                if body.len() < 16 {
                    return Err(bad("the fmt chunk is truncated".into()));
                }
                let mut format = u16le(body, 0);
                let channels = u16le(body, 2);
                let rate = u32le(body, 4);
                let bits = u16le(body, 14);
                if format == 0xFFFE && body.len() >= 26 {
                    format = u16le(body, 24); // WAVE_FORMAT_EXTENSIBLE: the sub-format GUID's first two bytes
                }
                fmt = Some((format, channels, rate, bits));
            }
            b"data" => {
                data = Some(body);
                if fmt.is_some() {
                    break;
                }
            }
            _ => {}
        }
        at = body_start.saturating_add(size).saturating_add(size & 1);
    }
    let (format, channels, rate, bits) = fmt.ok_or_else(|| bad("no fmt chunk".into()))?;
    let data = data.ok_or_else(|| bad("no data chunk".into()))?;
    if channels == 0 {
        return Err(bad("0 channels".into()));
    }
    if rate == 0 || rate > 768_000 {
        return Err(bad(format!("sample rate {rate} Hz is not plausible")));
    }
    let width = match (format, bits) {
        (1, 8 | 16 | 24 | 32) | (3, 32 | 64) => bits as usize / 8,
        _ => {
            return Err(bad(format!(
                "unsupported sample format (format tag {format}, {bits} bits); use PCM 8/16/24/32-bit or float 32/64-bit"
            )));
        }
    };
    let frame = width * channels as usize;
    let n = data.len() / frame;
    let mut out = vec![Vec::with_capacity(n); channels as usize];
    for i in 0..n {
        for (c, ch) in out.iter_mut().enumerate() {
            let s = &data[i * frame + c * width..i * frame + (c + 1) * width];
            let v = match (format, bits) {
                (1, 8) => (s[0] as f32 - 128.0) / 128.0,
                (1, 16) => i16::from_le_bytes([s[0], s[1]]) as f32 / 32768.0,
                (1, 24) => (i32::from_le_bytes([0, s[0], s[1], s[2]]) >> 8) as f32 / 8_388_608.0,
                (1, 32) => {
                    (i32::from_le_bytes([s[0], s[1], s[2], s[3]]) as f64 / 2_147_483_648.0) as f32
                }
                (3, 32) => f32::from_le_bytes([s[0], s[1], s[2], s[3]]),
                _ => f64::from_le_bytes(s.try_into().expect("8 bytes")) as f32,
            };
            ch.push(v);
        }
    }
    Ok(Audio {
        sample_rate: rate,
        channels: out,
    })
}

/// Reads a WAV file.
pub fn read(path: &Path) -> Result<Audio> {
    let bytes = crate::output::read_bytes(path, crate::output::Limit::Audio)?;
    decode(&bytes, &path.display().to_string())
}

/// 32-bit float mono WAV bytes.
pub fn encode_f32_mono(samples: &[f32], rate: u32) -> Vec<u8> {
    let data_len = (samples.len() * 4) as u32;
    let mut b = Vec::with_capacity(44 + samples.len() * 4);
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data_len).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&3u16.to_le_bytes()); // IEEE float
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate * 4).to_le_bytes());
    b.extend_from_slice(&4u16.to_le_bytes());
    b.extend_from_slice(&32u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        b.extend_from_slice(&s.to_le_bytes());
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_pcm16() {
        let w = [0.0f32, 0.5, -0.25, 1.0];
        let a = decode(&encode_f32_mono(&w, 24000), "x").unwrap();
        assert_eq!(a.sample_rate, 24000);
        assert_eq!(a.channels, vec![w.to_vec()]);
        // 16-bit stereo: mono is the channel mean.
        let mut b = encode_f32_mono(&[], 16000);
        b[20..22].copy_from_slice(&1u16.to_le_bytes());
        b[22..24].copy_from_slice(&2u16.to_le_bytes());
        b[34..36].copy_from_slice(&16u16.to_le_bytes());
        b.truncate(40);
        b.extend_from_slice(&8u32.to_le_bytes());
        for s in [16384i16, 0, -32768, 32767] {
            b.extend_from_slice(&s.to_le_bytes());
        }
        let a = decode(&b, "x").unwrap();
        assert_eq!(a.channels[0], vec![0.5, -1.0]);
        assert_eq!(a.mono(), vec![0.25, (-1.0 + 32767.0 / 32768.0) / 2.0]);
    }

    #[test]
    fn refuses_what_is_not_wav() {
        assert!(decode(b"ID3\x03 not a wav at all", "x").is_err());
        let mut b = encode_f32_mono(&[0.0], 0);
        assert!(format!("{:#}", decode(&b, "x").unwrap_err()).contains("sample rate"));
        b = encode_f32_mono(&[0.0], 24000);
        b[20] = 2; // ADPCM
        assert!(decode(&b, "x").is_err());
    }
}

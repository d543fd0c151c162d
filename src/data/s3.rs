//! Stack v2 file contents from the Software Heritage S3 bucket, as the reference reads them
//! (`s3://softwareheritage/content/{blob_id}` through boto3 + smart_open): a SigV4-signed GET
//! with the usual AWS environment credentials, gunzip, then decode with the row's
//! `src_encoding` (strictly, as Python's `bytes.decode`).

use std::io::Read;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::sample::FetchError;

/// The public endpoint of the bucket.
pub const DEFAULT_ENDPOINT: &str = "https://softwareheritage.s3.amazonaws.com";
/// sha256 of the empty payload.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// AWS credentials from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`).
#[derive(Clone)]
pub struct Credentials {
    pub access_key: String,
    secret_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        write!(f, "Credentials {{ access_key: {}, .. }}", self.access_key)
    }
}

impl Credentials {
    pub fn new(access_key: &str, secret_key: &str, session_token: Option<String>) -> Self {
        Credentials {
            access_key: access_key.into(),
            secret_key: secret_key.into(),
            session_token,
        }
    }

    pub fn from_env() -> Option<Credentials> {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Some(Credentials::new(
            &get("AWS_ACCESS_KEY_ID")?,
            &get("AWS_SECRET_ACCESS_KEY")?,
            get("AWS_SESSION_TOKEN"),
        ))
    }
}

fn hmac(key: &[u8], msg: &str) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(msg.as_bytes());
    m.finalize().into_bytes().to_vec()
}

use crate::hex::encode as hex;

/// The `Authorization` header of a SigV4-signed GET without a body. `headers` are the extra
/// headers to sign besides host, x-amz-content-sha256 and x-amz-date (lowercase names).
pub fn sign_get(
    creds: &Credentials,
    region: &str,
    host: &str,
    path: &str,
    amz_date: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut headers: Vec<(String, String)> = vec![
        ("host".into(), host.into()),
        ("x-amz-content-sha256".into(), EMPTY_SHA256.into()),
        ("x-amz-date".into(), amz_date.into()),
    ];
    for (k, v) in extra {
        headers.push((k.to_ascii_lowercase(), v.trim().into()));
    }
    if let Some(t) = &creds.session_token {
        headers.push(("x-amz-security-token".into(), t.clone()));
    }
    headers.sort();
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    let signed = signed.join(";");
    let canonical = format!("GET\n{path}\n\n{canonical_headers}\n{signed}\n{EMPTY_SHA256}");
    let date = &amz_date[..8];
    let scope = format!("{date}/{region}/s3/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let k = hmac(format!("AWS4{}", creds.secret_key).as_bytes(), date);
    let k = hmac(&k, region);
    let k = hmac(&k, "s3");
    let k = hmac(&k, "aws4_request");
    let sig = hex(&hmac(&k, &to_sign));
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope},SignedHeaders={signed},Signature={sig}",
        creds.access_key
    )
}

/// Formats the current UTC time as `YYYYMMDDTHHMMSSZ`.
fn amz_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Decodes bytes with a Python codec name, strictly.
pub fn decode(bytes: &[u8], encoding: &str) -> Result<String, String> {
    let e = encoding.trim().to_ascii_lowercase().replace('_', "-");
    match e.as_str() {
        "utf-8" | "utf8" | "" => {
            String::from_utf8(bytes.to_vec()).map_err(|err| format!("not valid UTF-8: {err}"))
        }
        "latin-1" | "latin1" | "iso-8859-1" | "iso8859-1" | "l1" => {
            Ok(bytes.iter().map(|&b| b as char).collect())
        }
        "ascii" | "us-ascii" => {
            if bytes.is_ascii() {
                Ok(String::from_utf8_lossy(bytes).into_owned())
            } else {
                Err("not ASCII".into())
            }
        }
        label => {
            let enc = encoding_rs::Encoding::for_label(label.as_bytes())
                .ok_or_else(|| format!("unknown encoding `{encoding}`"))?;
            let (text, _, had_errors) = enc.decode(bytes);
            if had_errors {
                Err(format!("invalid {encoding} data"))
            } else {
                Ok(text.into_owned())
            }
        }
    }
}

/// The bucket.
pub struct Blobs {
    endpoint: String,
    region: String,
    creds: Credentials,
    agent: ureq::Agent,
}

impl Blobs {
    pub fn new(endpoint: &str, creds: Credentials, timeout: Duration) -> Blobs {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Blobs {
            endpoint: endpoint.trim_end_matches('/').into(),
            region: "us-east-1".into(),
            creds,
            agent,
        }
    }

    /// The decoded text of a blob.
    pub fn text(&self, blob_id: &str, encoding: &str) -> Result<String, FetchError> {
        if blob_id.is_empty() || !blob_id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(FetchError::Fatal(anyhow::anyhow!(
                "blob id `{blob_id}` is not a hex digest"
            )));
        }
        let path = format!("/content/{blob_id}");
        let url = format!("{}{path}", self.endpoint);
        let host = self
            .endpoint
            .split("://")
            .nth(1)
            .unwrap_or(&self.endpoint)
            .split('/')
            .next()
            .unwrap_or("")
            .to_string();
        let date = amz_now();
        let auth = sign_get(&self.creds, &self.region, &host, &path, &date, &[]);
        let mut req = self
            .agent
            .get(&url)
            .header("x-amz-date", &date)
            .header("x-amz-content-sha256", EMPTY_SHA256)
            .header("Authorization", &auth);
        if let Some(t) = &self.creds.session_token {
            req = req.header("x-amz-security-token", t);
        }
        // botocore errors are not requests exceptions: the reference does not retry them.
        let fatal = |m: String| FetchError::Fatal(anyhow::anyhow!(m));
        let mut resp = req
            .call()
            .map_err(|e| fatal(format!("S3 GET {url}: {e}")))?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(256 << 20)
            .read_to_vec()
            .map_err(|e| fatal(format!("S3 GET {url}: {e}")))?;
        if status >= 400 {
            let snippet: String = String::from_utf8_lossy(&body).chars().take(200).collect();
            return Err(fatal(format!("S3 GET {url}: HTTP {status}: {snippet}")));
        }
        let mut raw = Vec::new();
        let limit = crate::output::Limit::Document.bytes();
        flate2::read::GzDecoder::new(&body[..])
            .take(limit + 1)
            .read_to_end(&mut raw)
            .map_err(|e| fatal(format!("blob {blob_id}: not gzip ({e})")))?;
        if raw.len() as u64 > limit {
            return Err(fatal(format!(
                "blob {blob_id}: more than {} once decompressed",
                crate::output::human_bytes(limit)
            )));
        }
        decode(&raw, encoding).map_err(|e| fatal(format!("blob {blob_id}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's published SigV4 example "GET Object" (S3 API reference, sig-v4-header-based-auth).
    #[test]
    fn aws_documented_example() {
        let c = Credentials::new(
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            None,
        );
        let a = sign_get(
            &c,
            "us-east-1",
            "examplebucket.s3.amazonaws.com",
            "/test.txt",
            "20130524T000000Z",
            &[("range", "bytes=0-9")],
        );
        assert_eq!(
            a,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
        assert!(!format!("{c:?}").contains("EXAMPLEKEY"));
    }

    #[test]
    fn decodes_like_python() {
        assert_eq!(decode(b"caf\xc3\xa9", "UTF-8").unwrap(), "café");
        assert!(decode(b"caf\xe9", "utf-8").is_err());
        assert_eq!(decode(b"caf\xe9", "ISO-8859-1").unwrap(), "café");
        assert_eq!(decode(b"\x80", "latin-1").unwrap(), "\u{80}");
        assert_eq!(decode(b"\x80", "windows-1252").unwrap(), "€");
        assert!(decode(b"x", "klingon").is_err());
        assert_eq!(amz_now().len(), 16);
    }
}

//! `sn9 hub push` / `sn9 hub pull` through the binary, against a local hub (`file://`) and the
//! loopback fake Hub (tests/common/fakehub.rs): round trips at pinned commits with hash checks,
//! unchanged re-pushes uploading nothing, LFS basic and multipart, an interrupted download
//! resumed, 5xx storms, lying servers, tokens, and bad input refused before any transfer.

mod common;
use common::fakehub::{FakeHub, HubFaults};
use common::{root, sn9};

use std::path::{Path, PathBuf};

use assert_cmd::prelude::*;
use predicates::prelude::*;
use serde_json::Value;

/// A hotkey of the golden vectors (a valid SS58 address).
const HOTKEY: &str = "5F3sa2TJAWMqDhXG6jhV4N8ko9SxwGy8TpaNS1repo5EYjQX";

/// A tiny model directory (sn9 model init) plus a stray file that must not be pushed.
fn model(dir: &Path) -> PathBuf {
    let m = dir.join("model");
    sn9()
        .args(["-q", "model", "init", "--seed", "3", "--model-config"])
        .arg(root().join("fixtures/train/micro-llama.json"))
        .arg(&m)
        .assert()
        .success();
    std::fs::write(m.join("notes.txt"), "not a model file").unwrap();
    m
}

fn push(hub: &str, home: &Path, dir: &Path, repo: &str) -> Value {
    json_of(
        sn9()
            .env("SN9_HUB", hub)
            .env("HF_HOME", home)
            .args([
                "--json",
                "hub",
                "push",
                "--backoff-ms",
                "10",
                "--hotkey",
                HOTKEY,
            ])
            .arg(dir)
            .arg(repo)
            .output()
            .unwrap(),
    )
}

fn json_of(out: std::process::Output) -> Value {
    common::ok(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

fn pull(hub: &str, home: &Path, repo: &str, commit: &str, extra: &[&str]) -> std::process::Output {
    sn9()
        .env("SN9_HUB", hub)
        .env("HF_HOME", home)
        .env_remove("HF_ENDPOINT")
        .env_remove("HF_HUB_CACHE")
        .args([
            "--json",
            "hub",
            "pull",
            "--backoff-ms",
            "10",
            "--retries",
            "3",
            repo,
            "--revision",
            commit,
        ])
        .args(extra)
        .output()
        .unwrap()
}

fn round_trip(hub: &str, home: &Path, m: &Path) -> (Value, Value) {
    let pushed = push(hub, home, m, "alice/tiny-llama");
    assert_eq!(pushed["committed"], true);
    let commit = pushed["commit"].as_str().unwrap().to_string();
    assert_eq!(commit.len(), 40);
    let secure = pushed["secure_hash"].as_str().unwrap().to_string();
    let got = json_of(pull(
        hub,
        home,
        "alice/tiny-llama",
        &commit,
        &["--hotkey", HOTKEY, "--expect-hash", &secure],
    ));
    assert_eq!(got["verified"], true);
    assert_eq!(
        got["files"],
        serde_json::json!(["config.json", "model.safetensors"])
    );
    assert_eq!(got["directory_hash"], pushed["directory_hash"]);
    // The snapshot is in the HF cache layout and holds the pushed bytes.
    let dir = PathBuf::from(got["dir"].as_str().unwrap());
    assert!(dir.starts_with(home.join("hub/models--alice--tiny-llama/snapshots")));
    assert!(
        std::fs::symlink_metadata(dir.join("model.safetensors"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        std::fs::read(dir.join("model.safetensors")).unwrap(),
        std::fs::read(m.join("model.safetensors")).unwrap()
    );
    // Re-pushing the same files uploads nothing and makes no commit.
    let again = push(hub, home, m, "alice/tiny-llama");
    assert_eq!(again["committed"], false);
    assert_eq!(again["commit"], pushed["commit"]);
    assert_eq!(again["uploaded"], serde_json::json!([]));
    (pushed, got)
}

#[test]
fn local_hub_round_trip() {
    let d = tempfile::tempdir().unwrap();
    let m = model(d.path());
    let hub = format!("file://{}", d.path().join("hub").display());
    let home = d.path().join("hf");
    let (pushed, _) = round_trip(&hub, &home, &m);
    // A wrong expected hash is refused (exit 1).
    let out = pull(
        &hub,
        &home,
        "alice/tiny-llama",
        pushed["commit"].as_str().unwrap(),
        &[
            "--expect-hash",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected AAAA"));
    // A changed model gets a new commit; the old commit still pulls the old bytes.
    let m2 = d.path().join("model2");
    sn9()
        .args(["-q", "model", "init", "--seed", "4", "--model-config"])
        .arg(root().join("fixtures/train/micro-llama.json"))
        .arg(&m2)
        .assert()
        .success();
    let second = push(&hub, &home, &m2, "alice/tiny-llama");
    assert_ne!(second["commit"], pushed["commit"]);
    let old = json_of(pull(
        &hub,
        &home,
        "alice/tiny-llama",
        pushed["commit"].as_str().unwrap(),
        &[],
    ));
    assert_eq!(old["directory_hash"], pushed["directory_hash"]);
    // A cached blob damaged on disk (same size, one byte flipped) is detected on the next pull
    // and downloaded again; the pull then verifies as before.
    let weights = PathBuf::from(old["dir"].as_str().unwrap()).join("model.safetensors");
    let blob = std::fs::canonicalize(&weights).unwrap();
    let mut bytes = std::fs::read(&blob).unwrap();
    let n = bytes.len();
    bytes[n - 1] ^= 0x5a;
    std::fs::write(&blob, &bytes).unwrap();
    let out = pull(
        &hub,
        &home,
        "alice/tiny-llama",
        pushed["commit"].as_str().unwrap(),
        &[
            "--hotkey",
            HOTKEY,
            "--expect-hash",
            pushed["secure_hash"].as_str().unwrap(),
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        err.contains("is damaged") && err.contains("downloading it again"),
        "{err}"
    );
    assert_eq!(json_of(out)["verified"], true);
    assert_eq!(
        std::fs::read(&weights).unwrap(),
        std::fs::read(m.join("model.safetensors")).unwrap()
    );
}

#[test]
fn fake_hub_round_trip_basic_lfs() {
    let d = tempfile::tempdir().unwrap();
    let m = model(d.path());
    let fake = FakeHub::start(HubFaults::default());
    let home = d.path().join("hf");
    round_trip(&fake.url, &home, &m);
    let log = fake.log();
    let puts = log
        .iter()
        .filter(|l| l.starts_with("PUT /lfs-upload/"))
        .count();
    assert_eq!(
        puts, 1,
        "one LFS upload (the safetensors), then none: {log:?}"
    );
    assert_eq!(log.iter().filter(|l| l.contains("/commit/main")).count(), 1);
    assert!(log.iter().any(|l| l.starts_with("POST /lfs-verify/")));
    // A pulled-again model comes from the cache (no new download).
    let n = log.iter().filter(|l| l.contains("/resolve/")).count();
    let commit = fake.head("alice/tiny-llama").unwrap();
    json_of(pull(&fake.url, &home, "alice/tiny-llama", &commit, &[]));
    assert_eq!(
        fake.log()
            .iter()
            .filter(|l| l.contains("/resolve/"))
            .count(),
        n
    );
}

#[test]
fn fake_hub_multipart_upload() {
    let d = tempfile::tempdir().unwrap();
    let m = model(d.path());
    let fake = FakeHub::start(HubFaults {
        multipart_chunk: Some(100_000),
        ..Default::default()
    });
    let home = d.path().join("hf");
    round_trip(&fake.url, &home, &m);
    let parts = fake
        .log()
        .iter()
        .filter(|l| l.starts_with("PUT /lfs-part/"))
        .count();
    let size = std::fs::metadata(m.join("model.safetensors"))
        .unwrap()
        .len() as usize;
    assert_eq!(parts, size.div_ceil(100_000));
}

#[test]
fn interrupted_download_resumes_and_storms_are_retried() {
    let d = tempfile::tempdir().unwrap();
    let m = model(d.path());
    let fake = FakeHub::start(HubFaults::default());
    let home = d.path().join("hf");
    let pushed = push(&fake.url, &home, &m, "bob/resume");
    let commit = pushed["commit"].as_str().unwrap();
    // Cut the weights after 50 kB, and fail the next 3 requests with 503.
    fake.set_faults(HubFaults {
        cut_after: Some(50_000),
        fail_next: 3,
        ..Default::default()
    });
    let home2 = d.path().join("hf2");
    let got = json_of(pull(&fake.url, &home2, "bob/resume", commit, &[]));
    assert_eq!(got["directory_hash"], pushed["directory_hash"]);
    let gets = fake
        .log()
        .iter()
        .filter(|l| l.starts_with("GET") && l.ends_with("model.safetensors"))
        .count();
    assert_eq!(gets, 2, "one cut transfer, one resumed: {:?}", fake.log());
    // No partial file is left looking complete.
    let blobs = home2.join("hub/models--bob--resume/blobs");
    assert!(std::fs::read_dir(&blobs).unwrap().all(|e| {
        !e.unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".incomplete")
    }));
    // A storm longer than the retries: a clear failure.
    fake.set_faults(HubFaults {
        fail_next: 100,
        ..Default::default()
    });
    let out = pull(&fake.url, &d.path().join("hf3"), "bob/resume", commit, &[]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an outage is an environment failure"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("gave up after 4 attempts"));
    // An overall deadline ends the retries sooner, and says so.
    let out = sn9()
        .env("SN9_HUB", &fake.url)
        .env("HF_HOME", d.path().join("hf4"))
        .env_remove("HF_ENDPOINT")
        .env_remove("HF_HUB_CACHE")
        .args(["hub", "pull", "bob/resume", "--revision", commit])
        .args([
            "--retries",
            "50",
            "--backoff-ms",
            "400",
            "--deadline-s",
            "1",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("the deadline (--deadline-s) came"), "{err}");
}

#[test]
fn lying_servers_and_tokens() {
    let d = tempfile::tempdir().unwrap();
    let m = model(d.path());
    let fake = FakeHub::start(HubFaults::default());
    let home = d.path().join("hf");
    let commit = push(&fake.url, &home, &m, "carol/lies")["commit"]
        .as_str()
        .unwrap()
        .to_string();
    // A wrong sha256 for the weights: the download is discarded, nothing enters the cache.
    fake.set_faults(HubFaults {
        lie_oid: true,
        ..Default::default()
    });
    let h = d.path().join("h1");
    let out = pull(&fake.url, &h, "carol/lies", &commit, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lying or broken server"));
    let blobs = h.join("hub/models--carol--lies/blobs");
    assert!(
        !std::fs::read_dir(&blobs)
            .unwrap()
            .any(|e| e.unwrap().metadata().unwrap().len() > 100_000)
    );
    // Oids and file names that climb out of the cache: refused before they touch a path.
    for (faults, what) in [
        (
            HubFaults {
                escape_oid: true,
                ..Default::default()
            },
            "is not a 64-digit hex digest",
        ),
        (
            HubFaults {
                escape_path: true,
                ..Default::default()
            },
            "is not a relative path inside the repository",
        ),
    ] {
        fake.set_faults(faults);
        let h = d.path().join("h-escape");
        let out = pull(&fake.url, &h, "carol/lies", &commit, &[]);
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(what) && err.contains("refusing"), "{err}");
        assert!(!d.path().join("escaped").exists());
        let _ = std::fs::remove_dir_all(&h);
    }
    // Sizes larger than the bytes sent: retried, then refused.
    fake.set_faults(HubFaults {
        lie_size: true,
        ..Default::default()
    });
    let out = pull(&fake.url, &d.path().join("h2"), "carol/lies", &commit, &[]);
    assert_eq!(out.status.code(), Some(2));
    // A hub that wants a token: refused without one, served with it.
    fake.set_faults(HubFaults {
        token: Some("hf_good".into()),
        ..Default::default()
    });
    let out = pull(&fake.url, &d.path().join("h3"), "carol/lies", &commit, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("HF_TOKEN"));
    let out = sn9()
        .env("SN9_HUB", &fake.url)
        .env("HF_HOME", d.path().join("h4"))
        .env("HF_TOKEN", "hf_good")
        .args(["hub", "pull", "carol/lies", "--revision", &commit])
        .output()
        .unwrap();
    common::ok(&out);
}

#[test]
fn bad_input_is_refused_before_any_transfer() {
    let d = tempfile::tempdir().unwrap();
    let m = model(d.path());
    let fake = FakeHub::start(HubFaults::default());
    let home = d.path().join("hf");
    // Repo id over 38 characters; a revision that is not a full sha.
    sn9()
        .env("SN9_HUB", &fake.url)
        .args(["hub", "push"])
        .arg(&m)
        .arg(format!("alice/{}", "x".repeat(40)))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("4 to 38"));
    let out = pull(&fake.url, &home, "alice/tiny-llama", "main", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("40-hex"));
    assert!(fake.log().is_empty(), "{:?}", fake.log());
    // A repository over the competition's size limit: refused after the listing, before downloading.
    let commit = push(&fake.url, &home, &m, "dave/big")["commit"]
        .as_str()
        .unwrap()
        .to_string();
    let mut sched: Value = serde_json::from_slice(
        &sn9()
            .args(["--json", "competitions"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    for e in sched.as_array_mut().unwrap() {
        for c in e["competitions"].as_array_mut().unwrap() {
            c["constraints"]["max_bytes"] = 1000.into();
        }
    }
    let sp = d.path().join("schedule.json");
    std::fs::write(&sp, sched.to_string()).unwrap();
    let before = fake.log().len();
    let out = pull(
        &fake.url,
        &d.path().join("h2"),
        "dave/big",
        &commit,
        &["--competition", "2", "--schedule", sp.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("1000-byte limit"));
    assert!(!fake.log()[before..].iter().any(|l| l.contains("/resolve/")));
    // A directory without weights is not a model.
    let empty = d.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    std::fs::write(empty.join("config.json"), "{}").unwrap();
    sn9()
        .env("SN9_HUB", &fake.url)
        .args(["hub", "push"])
        .arg(&empty)
        .arg("alice/none")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("safetensors"));
}

/// The real Python client (`huggingface_hub`, installed into a venv under the target directory
/// when Python and PyPI are reachable; skipped with the reason otherwise) reads what sn9 pushed
/// to the fake Hub, and sn9 pulls what the Python client pushed.
#[test]
fn python_huggingface_hub_interoperates() {
    let Some(py) = common::python_venv("py-hub", &["huggingface_hub==0.36.2"]) else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let m = model(d.path());
    let fake = FakeHub::start(HubFaults::default());
    let home = d.path().join("hf");
    let pushed = push(&fake.url, &home, &m, "alice/from-sn9");
    let commit = pushed["commit"].as_str().unwrap();
    // What Python uploads: another model directory.
    let up = d.path().join("up");
    sn9()
        .args(["-q", "model", "init", "--seed", "9", "--model-config"])
        .arg(root().join("fixtures/train/micro-llama.json"))
        .arg(&up)
        .assert()
        .success();
    let out = std::process::Command::new(&py)
        .arg(root().join("tests/python/hub_client.py"))
        .args([&fake.url, "alice/from-sn9", commit])
        .arg(&m)
        .arg(&up)
        .arg(d.path())
        .env("HF_ENDPOINT", &fake.url)
        .env("HF_HUB_DISABLE_XET", "1")
        .env("HF_HUB_DISABLE_TELEMETRY", "1")
        .env("HF_HOME", d.path().join("pyhome"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python client failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let res: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(res["downloaded"].as_array().unwrap().len(), 2);
    let py_commit = res["python_commit"].as_str().unwrap();
    let got = json_of(pull(&fake.url, &home, "py/uploaded", py_commit, &[]));
    let dir = PathBuf::from(got["dir"].as_str().unwrap());
    assert_eq!(
        std::fs::read(dir.join("model.safetensors")).unwrap(),
        std::fs::read(up.join("model.safetensors")).unwrap()
    );
    println!("python huggingface_hub: read sn9's push and wrote {py_commit}, which sn9 pulled");
}

/// An upload that meets a 5xx storm is retried (create, preupload, batch, PUT, commit all go
/// through the bounded retries) and lands once.
#[test]
fn interrupted_upload_is_retried() {
    let d = tempfile::tempdir().unwrap();
    let m = model(d.path());
    let fake = FakeHub::start(HubFaults {
        fail_next: 3,
        ..Default::default()
    });
    let home = d.path().join("hf");
    let pushed = push(&fake.url, &home, &m, "erin/retry");
    assert_eq!(pushed["committed"], true);
    assert_eq!(
        fake.head("erin/retry").as_deref(),
        pushed["commit"].as_str()
    );
    let log = fake.log();
    assert!(
        log.iter()
            .filter(|l| l == &"POST /api/repos/create")
            .count()
            >= 2,
        "{log:?}"
    );
    assert_eq!(log.iter().filter(|l| l.contains("/commit/main")).count(), 1);
}

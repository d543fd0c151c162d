//! `sn9 data fetch → mix → pack` through the binary: rows fetched from the loopback
//! datasets-server, a local JSON Lines corpus and a parquet file mixed by weight; the draw is
//! deterministic and is CPython's `random.Random(seed)` (redrawn in Python); parquet works as
//! mix output and as pack input; the shipped subnet mix file; bad mixes and inputs.

mod common;

use std::path::Path;

use common::{FakeDatasetsServer, Faults, root, sn9};
use serde_json::Value;

fn lines(p: &Path) -> Vec<Value> {
    common::json_lines(&std::fs::read_to_string(p).unwrap())
}

fn mix(file: &Path, out: &Path) -> std::process::Output {
    sn9()
        .args(["--json", "data", "mix"])
        .arg(file)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

fn ok_json(out: std::process::Output) -> Value {
    common::ok(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

fn fails(out: std::process::Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(needle), "expected `{needle}` in: {err}");
}

/// `sn9 data fetch` of `rows` FineWeb rows from `server` into `out`.
fn fetch(server: &FakeDatasetsServer, rows: u64, out: &Path) {
    let out = sn9()
        .args([
            "-q",
            "data",
            "fetch",
            "--dataset",
            "HuggingFaceFW/fineweb",
            "--subset",
            "CC-MAIN-2024-10",
            "--rows",
            &rows.to_string(),
            "--datasets-server",
            &server.url,
            "--out",
        ])
        .arg(out)
        .output()
        .unwrap();
    common::ok(&out);
}

fn by_source(r: &Value) -> Vec<(String, u64)> {
    r["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["selected"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn fetch_mix_pack_end_to_end() {
    let d = tempfile::tempdir().unwrap();
    let d = d.path();
    // (a) rows from the datasets-server.
    let server = FakeDatasetsServer::start(
        vec![("CC-MAIN-2024-10".to_string(), 10_000)],
        Faults::default(),
    );
    std::fs::create_dir_all(d.join("fw")).unwrap();
    fetch(&server, 120, &d.join("fw/0.jsonl"));
    // A parquet source: written by a one-source mix of the local corpus (with an empty
    // document and a text-less row, counted and never drawn).
    std::fs::create_dir_all(d.join("local")).unwrap();
    let mut corpus = std::fs::read_to_string(root().join("fixtures/corpus/tiny.jsonl")).unwrap();
    corpus.push_str("{\"text\": \"   \"}\n{\"title\": \"no text\"}\n");
    std::fs::write(d.join("local/tiny.jsonl"), corpus).unwrap();
    std::fs::write(
        d.join("pq.toml"),
        "seed = 1\n[[source]]\nname = \"tiny\"\nfiles = [\"local/*.jsonl\"]\ndocuments = 200\n",
    )
    .unwrap();
    std::fs::create_dir_all(d.join("pq")).unwrap();
    let r = ok_json(mix(&d.join("pq.toml"), &d.join("pq/part.parquet")));
    assert_eq!(r["documents"], 200);
    assert_eq!(r["sources"][0]["available"], 400);
    assert_eq!(r["sources"][0]["empty_documents"], 1);
    assert_eq!(r["sources"][0]["missing_text"], 1);
    // The mix: fetched rows, the corpus and the parquet file by weight.
    let spec = "seed = 42\ndocuments = 100\n\
        [[source]]\nname = \"web\"\nfiles = [\"fw/*.jsonl\"]\nweight = 0.5\n\
        [[source]]\nname = \"tiny\"\nfiles = [\"local/tiny.jsonl\"]\nweight = 0.3\n\
        [[source]]\nname = \"pq\"\nfiles = [\"pq/*.parquet\"]\nweight = 0.2\n";
    std::fs::write(d.join("mix.toml"), spec).unwrap();
    let r = ok_json(mix(&d.join("mix.toml"), &d.join("mix.jsonl")));
    assert_eq!(
        by_source(&r),
        vec![("web".into(), 50), ("tiny".into(), 30), ("pq".into(), 20)]
    );
    let rows = lines(&d.join("mix.jsonl"));
    assert_eq!(rows.len(), 100);
    assert_eq!(rows.iter().filter(|r| r["source"] == "pq").count(), 20);
    // Deterministic: the same bytes again; an existing output needs --force.
    fails(mix(&d.join("mix.toml"), &d.join("mix.jsonl")), "--force");
    ok_json(mix(&d.join("mix.toml"), &d.join("again.jsonl")));
    assert_eq!(
        std::fs::read(d.join("mix.jsonl")).unwrap(),
        std::fs::read(d.join("again.jsonl")).unwrap()
    );
    // And to parquet: the same rows.
    ok_json(mix(&d.join("mix.toml"), &d.join("mix.parquet")));
    std::fs::write(
        d.join("back.toml"),
        "seed = 0\n[[source]]\nname = \"m\"\nfiles = [\"mix.parquet\"]\ndocuments = 100\n",
    )
    .unwrap();
    ok_json(mix(&d.join("back.toml"), &d.join("back.jsonl")));
    let mut a: Vec<String> = rows.iter().map(|r| r["text"].to_string()).collect();
    let mut b: Vec<String> = lines(&d.join("back.jsonl"))
        .iter()
        .map(|r| r["text"].to_string())
        .collect();
    a.sort();
    b.sort();
    assert_eq!(a, b);

    // Pack: the mix (JSON Lines) and the parquet file directly.
    for (input, name) in [
        (d.join("mix.jsonl"), "s1"),
        (d.join("pq/part.parquet"), "s2"),
    ] {
        let m = ok_json(
            sn9()
                .args(["--json", "data", "pack"])
                .arg(&input)
                .arg("--tokenizer")
                .arg(root().join("fixtures/tokenizer/bytes"))
                .args(["--seq-len", "32", "--out"])
                .arg(d.join(name))
                .output()
                .unwrap(),
        );
        let docs = m["origin"]["stats"]["documents"].as_u64().unwrap();
        assert_eq!(docs, if name == "s1" { 100 } else { 200 }, "{m}");
    }
}

/// The draw is `random.Random(seed)`: per source `shuffle(list(range(n)))` and the first k taken,
/// then one `shuffle` of all taken rows. Python redraws the same mix.
#[test]
fn the_draw_is_cpythons_random() {
    let d = tempfile::tempdir().unwrap();
    let d = d.path();
    let a: Vec<String> = (0..37).map(|i| format!("a{i}")).collect();
    let b: Vec<String> = (0..23).map(|i| format!("b{i}")).collect();
    let jl = |v: &[String]| {
        v.iter()
            .map(|t| serde_json::json!({"text": t}).to_string() + "\n")
            .collect::<String>()
    };
    std::fs::write(d.join("a.jsonl"), jl(&a)).unwrap();
    std::fs::write(d.join("b.jsonl"), jl(&b)).unwrap();
    std::fs::write(
        d.join("m.toml"),
        "seed = 2024\ndocuments = 20\n[[source]]\nname = \"a\"\nfiles = [\"a.jsonl\"]\nweight = 3\n\
         [[source]]\nname = \"b\"\nfiles = [\"b.jsonl\"]\ndocuments = 9\n",
    )
    .unwrap();
    ok_json(mix(&d.join("m.toml"), &d.join("m.jsonl")));
    let ours: Vec<String> = lines(&d.join("m.jsonl"))
        .iter()
        .map(|r| r["text"].as_str().unwrap().to_string())
        .collect();
    let py = r#"
import json, random
r = random.Random(2024)
rows = []
for name, n, k in [("a", 37, 20), ("b", 23, 9)]:
    idx = list(range(n)); r.shuffle(idx)
    rows += [f"{name}{i}" for i in idx[:k]]
r.shuffle(rows)
print(json.dumps(rows))
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", py])
        .output();
    let Ok(out) = out else {
        println!("skipped: no python3");
        return;
    };
    let theirs: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(ours, theirs);
}

/// The shipped mix file: the subnet's evaluation weights; without Stack v2 (optional) the rest
/// is renormalised.
#[test]
fn the_shipped_subnet_mix() {
    let d = tempfile::tempdir().unwrap();
    let d = d.path();
    std::fs::copy(root().join("mixes/sn9-eval.toml"), d.join("sn9-eval.toml")).unwrap();
    let dirs = [
        "fineweb",
        "fineweb-edu2",
        "pes2ox",
        "finemath3p",
        "infiwebmath3p",
    ];
    for s in dirs {
        std::fs::create_dir_all(d.join("data").join(s)).unwrap();
        let docs: String = (0..60)
            .map(|i| serde_json::json!({"text": format!("{s} document {i}")}).to_string() + "\n")
            .collect();
        std::fs::write(d.join("data").join(s).join("0.jsonl"), docs).unwrap();
    }
    let run = |out: &str| {
        sn9()
            .args(["--json", "data", "mix"])
            .arg(d.join("sn9-eval.toml"))
            .args(["--documents", "100", "--out"])
            .arg(d.join(out))
            .output()
            .unwrap()
    };
    let out = run("without-stack.jsonl");
    assert!(String::from_utf8_lossy(&out.stderr).contains("stack-v2-dedup skipped"));
    let r = ok_json(out);
    assert_eq!(
        by_source(&r),
        vec![
            ("fineweb".into(), 46),
            ("fineweb-edu-score-2".into(), 38),
            ("stack-v2-dedup".into(), 0),
            ("pes2ox".into(), 8),
            ("finemath-3plus".into(), 5),
            ("infiwebmath-3plus".into(), 3)
        ]
    );
    std::fs::create_dir_all(d.join("data/stackv2")).unwrap();
    let code: String = (0..60)
        .map(|i| serde_json::json!({"content": format!("fn f{i}() {{}}")}).to_string() + "\n")
        .collect();
    std::fs::write(d.join("data/stackv2/0.jsonl"), code).unwrap();
    let r = ok_json(run("with-stack.jsonl"));
    assert_eq!(
        by_source(&r).iter().map(|x| x.1).collect::<Vec<_>>(),
        vec![30, 25, 35, 5, 3, 2]
    );
}

#[test]
fn bad_mixes_and_inputs_are_clear_errors() {
    let d = tempfile::tempdir().unwrap();
    let d = d.path();
    std::fs::write(
        d.join("a.jsonl"),
        "{\"text\": \"one\"}\n{\"text\": \"two\"}\n",
    )
    .unwrap();
    let case = |name: &str, toml: &str, needle: &str| {
        std::fs::write(d.join(name), toml).unwrap();
        fails(mix(&d.join(name), &d.join(format!("{name}.jsonl"))), needle);
        assert!(!d.join(format!("{name}.jsonl")).exists(), "nothing written");
    };
    case(
        "zero.toml",
        "seed = 1\ndocuments = 5\n[[source]]\nname = \"a\"\nfiles = [\"a.jsonl\"]\nweight = 0\n",
        "weights sum to 0",
    );
    case(
        "short.toml",
        "seed = 1\n[[source]]\nname = \"a\"\nfiles = [\"a.jsonl\"]\ndocuments = 3\n",
        "has 2 usable documents; the mix asks for 3",
    );
    case(
        "both.toml",
        "seed = 1\n[[source]]\nname = \"a\"\nfiles = [\"a.jsonl\"]\ndocuments = 1\nweight = 1\n",
        "exactly one of weight, documents, tokens",
    );
    case(
        "typo.toml",
        "seed = 1\n[[source]]\nname = \"a\"\nfile = [\"a.jsonl\"]\ndocuments = 1\n",
        "unknown field",
    );
    case(
        "nofile.toml",
        "seed = 1\n[[source]]\nname = \"a\"\nfiles = [\"missing/*.jsonl\"]\ndocuments = 1\n",
        "matches no file",
    );
    case(
        "tokens.toml",
        "seed = 1\n[[source]]\nname = \"a\"\nfiles = [\"a.jsonl\"]\ntokens = 10\n",
        "give --tokenizer",
    );
    // A parquet file without the text column: the error names the columns it has.
    std::fs::write(
        d.join("p.toml"),
        "seed = 1\n[[source]]\nname = \"a\"\nfiles = [\"a.jsonl\"]\ndocuments = 2\n",
    )
    .unwrap();
    ok_json(mix(&d.join("p.toml"), &d.join("p.parquet")));
    fails(
        sn9()
            .args(["data", "pack"])
            .arg(d.join("p.parquet"))
            .args(["--text-field", "body", "--tokenizer"])
            .arg(root().join("fixtures/tokenizer/bytes"))
            .arg("--out")
            .arg(d.join("shards"))
            .output()
            .unwrap(),
        "no `body` column (it has: text, source)",
    );
    // Token budgets with a tokenizer: documents until the budget is met.
    std::fs::write(
        d.join("tok.toml"),
        "seed = 1\n[[source]]\nname = \"a\"\nfiles = [\"a.jsonl\"]\ntokens = 5\n",
    )
    .unwrap();
    let r = ok_json(
        sn9()
            .args(["--json", "data", "mix"])
            .arg(d.join("tok.toml"))
            .arg("--tokenizer")
            .arg(root().join("fixtures/tokenizer/bytes"))
            .arg("--out")
            .arg(d.join("tok.jsonl"))
            .output()
            .unwrap(),
    );
    assert_eq!(r["sources"][0]["selected"], 2, "{r}");
    assert!(r["sources"][0]["tokens"].as_u64().unwrap() >= 5);
}

/// `data fetch --from` normalises local files (.jsonl, .txt, .parquet) to `{"text", "source"}`
/// rows, counting what it leaves out; fetched rows and local files can be written as parquet.
#[test]
fn fetch_local_files_and_parquet_output() {
    let d = tempfile::tempdir().unwrap();
    let d = d.path();
    std::fs::write(
        d.join("a.jsonl"),
        "{\"text\": \"alpha\"}\n{\"text\": \"\"}\n{\"id\": 3}\n{\"content\": \"fn main() {}\"}\n",
    )
    .unwrap();
    std::fs::write(
        d.join("b.txt"),
        "first paragraph\nstill first\n\nsecond paragraph\n",
    )
    .unwrap();
    let r = ok_json(
        sn9()
            .args(["--json", "data", "fetch", "--from"])
            .arg(d.join("a.jsonl"))
            .arg(d.join("b.txt"))
            .arg("--out")
            .arg(d.join("local.parquet"))
            .output()
            .unwrap(),
    );
    assert_eq!(r["rows_written"], 4);
    assert_eq!(r["empty_documents"], 1);
    assert_eq!(r["missing_text"], 1);
    // Back from parquet to JSON Lines: the same documents, in order, with their sources.
    let r = ok_json(
        sn9()
            .args(["--json", "data", "fetch", "--from"])
            .arg(d.join("local.parquet"))
            .arg("--out")
            .arg(d.join("local.jsonl"))
            .output()
            .unwrap(),
    );
    assert_eq!(r["rows_written"], 4);
    let texts: Vec<String> = lines(&d.join("local.jsonl"))
        .iter()
        .map(|r| r["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        texts,
        [
            "alpha",
            "fn main() {}",
            "first paragraph\nstill first",
            "second paragraph"
        ]
    );
    // Rows from the datasets-server, as parquet.
    let server = FakeDatasetsServer::start(
        vec![("CC-MAIN-2024-10".to_string(), 10_000)],
        Faults::default(),
    );
    fetch(&server, 150, &d.join("rows.parquet"));
    assert!(!d.join(".rows.parquet.rows.jsonl").exists());
    let r = ok_json(
        sn9()
            .args(["--json", "data", "fetch", "--from"])
            .arg(d.join("rows.parquet"))
            .arg("--out")
            .arg(d.join("rows.jsonl"))
            .output()
            .unwrap(),
    );
    assert_eq!(r["rows_written"], 150);
    assert_eq!(
        lines(&d.join("rows.jsonl"))[0]["text"],
        common::fake_text("HuggingFaceFW/fineweb", "CC-MAIN-2024-10", 0)
    );
}

/// `data fetch --hub-dataset`: a dataset's parquet shards at a pinned commit, from a local hub
/// and over HTTP (the loopback fake Hub), through the HF cache (`datasets--ns--name`), read
/// for their text; a pattern that matches nothing names the files there are.
#[test]
fn hub_dataset_parquet_shards() {
    use sn9::hub::repo::{RepoId, git_blob_sha1, sha256_file};
    use sn9::hub::store::{Hub, LocalFile, Retry};
    let d = tempfile::tempdir().unwrap();
    let d = d.path();
    let docs: String = (0..30)
        .map(|i| serde_json::json!({"text": format!("shard document {i}")}).to_string() + "\n")
        .collect();
    std::fs::write(d.join("docs.jsonl"), docs).unwrap();
    let shard = d.join("train-0.parquet");
    ok_json(
        sn9()
            .args(["--json", "data", "fetch", "--from"])
            .arg(d.join("docs.jsonl"))
            .arg("--out")
            .arg(&shard)
            .output()
            .unwrap(),
    );
    let (sha256, size) = sha256_file(&shard).unwrap();
    let files = vec![LocalFile {
        path: "data/CC-MAIN-2024-10/train-0.parquet".into(),
        abs: shard.clone(),
        size,
        sha256,
        blob_id: git_blob_sha1(&std::fs::read(&shard).unwrap()),
        lfs: true,
    }];
    let repo = RepoId::dataset("HuggingFaceFW/fineweb-edu-score-2").unwrap();
    let local = sn9::hub::local::LocalHub::new(d.join("hub"));
    let c1 = local.push(&repo, &files, "shards", false).unwrap().commit;
    let fake = common::fakehub::FakeHub::start(Default::default());
    let http = sn9::hub::http::HttpHub::new(&fake.url, None, Retry::default());
    let c2 = http.push(&repo, &files, "shards", false).unwrap().commit;
    for (hub, commit, out) in [
        (
            format!("file://{}", d.join("hub").display()),
            c1,
            "local.jsonl",
        ),
        (fake.url.clone(), c2, "http.parquet"),
    ] {
        let r = ok_json(
            sn9()
                .args([
                    "--json",
                    "data",
                    "fetch",
                    "--hub-dataset",
                    "HuggingFaceFW/fineweb-edu-score-2",
                    "--revision",
                    &commit,
                    "--files",
                    "data/CC-MAIN-2024-10/*.parquet",
                    "--rows",
                    "25",
                    "--hub",
                    &hub,
                    "--cache-dir",
                ])
                .arg(d.join("cache"))
                .arg("--out")
                .arg(d.join(out))
                .output()
                .unwrap(),
        );
        assert_eq!(r["commit"], commit.as_str());
        assert_eq!(r["rows_written"], 25);
        assert!(
            d.join("cache/datasets--HuggingFaceFW--fineweb-edu-score-2/snapshots")
                .join(&commit)
                .join("data/CC-MAIN-2024-10/train-0.parquet")
                .exists()
        );
    }
    let rows = lines(&d.join("local.jsonl"));
    assert_eq!(rows[0]["text"], "shard document 0");
    assert_eq!(rows[24]["file"], "data/CC-MAIN-2024-10/train-0.parquet");
    fails(
        sn9()
            .args([
                "data",
                "fetch",
                "--hub-dataset",
                "HuggingFaceFW/fineweb-edu-score-2",
                "--files",
                "data/nothing/*.parquet",
                "--hub",
                &format!("file://{}", d.join("hub").display()),
                "--cache-dir",
            ])
            .arg(d.join("cache"))
            .arg("--out")
            .arg(d.join("none.jsonl"))
            .output()
            .unwrap(),
        "it has: data/CC-MAIN-2024-10/train-0.parquet",
    );
}

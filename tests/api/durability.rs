//! Durability with the real binary and `kill -9`: every write the server
//! acknowledged survives a crash, indexes still agree with entities, and a
//! seed load cut short is never taken for a whole one.
//!
//! `DIPLOGRAPH_CRASH_CYCLES` sets how many crash cycles to run (default 3,
//! to keep CI short) and `DIPLOGRAPH_CRASH_WRITERS` how many concurrent
//! writers each cycle kills the server under (default 16, so writes share
//! log syncs in groups, one landing while the next forms); run with
//! `--nocapture` to see the figures (`benches/kill9.sh` runs 100 cycles).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use diplograph::model::{EntityKind, Id};
use diplograph::seed;
use diplograph::store::{SeedState, Store};
use serde_json::{json, Value};

use crate::helpers::seed_dir;

const TOKEN: &str = "crash-test-write-token-0123456789";

/// Page cache for stores the test opens itself.
const CACHE: u64 = 16 * 1024 * 1024;

/// A deterministic stream of numbers (splitmix64), one seed per cycle, so a
/// failing cycle can be rerun with the same delays.
struct Prng(u64);

impl Prng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `low..=high`.
    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }
}

/// The real binary, with no `DIPLOGRAPH_*` setting inherited from the test's environment.
fn diplograph() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_diplograph"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("DIPLOGRAPH_") {
            command.env_remove(key);
        }
    }
    command.env("RUST_LOG", "info").stdin(Stdio::null());
    command
}

/// A `diplograph serve` process.
pub(crate) struct Server {
    child: Child,
    pub(crate) url: String,
    /// Holds the file the server writes its address to.
    _scratch: tempfile::TempDir,
}

impl Server {
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `limit` for the process to end by itself; its status.
    pub(crate) fn wait_for_exit(mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Starts the server on `data` with `seed` and waits until it is ready
    /// (it writes its address to `--address-file`; `/ready` says when the
    /// seed is loaded).
    pub(crate) fn start(data: &Path, seed: &Path) -> Server {
        let scratch = tempfile::tempdir().unwrap();
        let address_file = scratch.path().join("address");
        let mut child = diplograph()
            .arg("serve")
            .env("DIPLOGRAPH_DATA_DIR", data)
            .env("DIPLOGRAPH_BIND", "127.0.0.1:0")
            .env("DIPLOGRAPH_SEED_DIR", seed)
            .env("DIPLOGRAPH_WRITE_TOKENS", TOKEN)
            .env("DIPLOGRAPH_ADDRESS_FILE", &address_file)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the diplograph binary starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        // Reads the log to its end, so the server never blocks on a full pipe;
        // the log is shown only if the server does not come up.
        let (log_sender, log) = mpsc::channel();
        std::thread::spawn(move || {
            let lines: Vec<String> = BufReader::new(stderr).lines().map_while(Result::ok).collect();
            let _ = log_sender.send(lines.join("\n"));
        });
        let began = Instant::now();
        loop {
            let address = std::fs::read_to_string(&address_file).unwrap_or_default();
            if !address.is_empty() && crate::helpers::ready_status(&address) == Some(200) {
                return Server {
                    child,
                    url: format!("http://{address}/graphql"),
                    _scratch: scratch,
                };
            }
            if began.elapsed() > Duration::from_secs(120) || child.try_wait().unwrap().is_some() {
                let _ = child.kill();
                let status = child.wait();
                let log = log.recv_timeout(Duration::from_secs(5)).unwrap_or_default();
                panic!("the server did not become ready ({status:?}):\n{log}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `kill -9`: on Unix `Child::kill` sends SIGKILL.
    fn crash(mut self) {
        self.child.kill().expect("SIGKILL sent");
        self.child.wait().expect("the killed server is reaped");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // A test that fails part-way leaves no server behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const CREATE_ACTOR: &str = "mutation($input: CreateActorInput!) { createActor(input: $input) { actor { id } } }";

/// What one writer saw: the ids acknowledged, and answers that were
/// neither an acknowledgement nor a broken connection.
#[derive(Default)]
struct Written {
    acknowledged: Vec<String>,
    unexpected: Vec<String>,
}

/// Creates actors as fast as the server answers until it goes away.
async fn writer(url: String, cycle: usize, writer: usize) -> Written {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let mut written = Written::default();
    for n in 0.. {
        let id = format!("actor/crash-c{cycle}-w{writer}-{n}");
        let sent = client
            .post(&url)
            .header("authorization", format!("Bearer {TOKEN}"))
            .json(&json!({ "query": CREATE_ACTOR, "variables": { "input": {
                "id": id, "name": format!("Crash {cycle} {writer} {n}"), "kind": "GROUP"
            } } }))
            .send()
            .await;
        // A refused connection or one cut mid-answer: the server is gone,
        // and this write was never acknowledged.
        let Ok(response) = sent else { break };
        let status = response.status();
        let Ok(body) = response.json::<Value>().await else {
            break;
        };
        if status == 200 && body.get("errors").is_none() && body["data"]["createActor"]["actor"]["id"] == id.as_str() {
            written.acknowledged.push(id);
        } else {
            written.unexpected.push(format!("{id}: {status} {body}"));
            break;
        }
    }
    written
}

/// The ids among `wanted` that the server at `url` does not know.
async fn missing_over_http(url: &str, wanted: &[String]) -> Vec<String> {
    let client = reqwest::Client::new();
    let mut missing = Vec::new();
    for chunk in wanted.chunks(100) {
        let body: Value = client
            .post(url)
            .json(&json!({ "query": "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", "variables": { "ids": chunk } }))
            .send()
            .await
            .expect("the restarted server answers")
            .json()
            .await
            .expect("JSON response");
        let found = body["data"]["nodes"].as_array().expect("a list of nodes");
        assert_eq!(found.len(), chunk.len(), "{body}");
        missing.extend(
            chunk
                .iter()
                .zip(found)
                .filter(|(_, node)| node.is_null())
                .map(|(id, _)| id.clone()),
        );
    }
    missing
}

/// A count from the environment variable `name`, or `default`.
fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_write_survives_kill_minus_9_and_the_indexes_still_agree() {
    let cycles = env_count("DIPLOGRAPH_CRASH_CYCLES", 3);
    let writers = env_count("DIPLOGRAPH_CRASH_WRITERS", 16);
    let scratch = tempfile::tempdir().unwrap();
    let data = scratch.path().join("data");
    let mut acknowledged: Vec<String> = Vec::new();
    let mut lost: Vec<String> = Vec::new();
    let mut unexpected: Vec<String> = Vec::new();
    let mut disagreements: Vec<String> = Vec::new();
    let started = Instant::now();

    for cycle in 0..cycles {
        let mut prng = Prng(cycle as u64);
        let server = {
            let data = data.clone();
            tokio::task::spawn_blocking(move || Server::start(&data, &seed_dir()))
                .await
                .unwrap()
        };
        let writing: Vec<_> = (0..writers)
            .map(|w| tokio::spawn(writer(server.url.clone(), cycle, w)))
            .collect();
        tokio::time::sleep(Duration::from_millis(prng.between(100, 600))).await;
        server.crash();
        let mut this_cycle = Vec::new();
        for w in writing {
            let written = w.await.unwrap();
            this_cycle.extend(written.acknowledged);
            unexpected.extend(written.unexpected);
        }

        // Restarted on the same data directory, the server has every acknowledged write.
        let server = {
            let data = data.clone();
            tokio::task::spawn_blocking(move || Server::start(&data, &seed_dir()))
                .await
                .unwrap()
        };
        let missing_http = missing_over_http(&server.url, &this_cycle).await;
        server.crash();
        acknowledged.extend(this_cycle);

        // And so has the store itself, opened now that no server holds its
        // lock: every write of every cycle so far, with indexes in agreement.
        let store = Store::open(&data, CACHE).expect("the crashed store opens");
        let missing_store: Vec<String> = acknowledged
            .iter()
            .filter(|id| store.get(&Id::parse(id).unwrap()).unwrap().is_none())
            .cloned()
            .collect();
        for id in missing_http.into_iter().chain(missing_store) {
            if !lost.contains(&id) {
                lost.push(id);
            }
        }
        disagreements.extend(
            store
                .verify()
                .unwrap()
                .into_iter()
                .map(|p| format!("cycle {cycle}: {p}")),
        );
        assert!(
            matches!(store.seed_state().unwrap(), SeedState::Loaded { .. }),
            "cycle {cycle}: the seed stays loaded"
        );
        assert_eq!(
            store.count(EntityKind::Actor).unwrap() as usize,
            store.all(EntityKind::Actor).unwrap().len(),
            "cycle {cycle}: the actor count matches the actors stored"
        );
    }

    println!(
        "crash test: {cycles} cycles of kill -9 under {writers} writers, {} writes acknowledged, {} writes lost, {} index disagreements, in {:.1} s",
        acknowledged.len(),
        lost.len(),
        disagreements.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(!acknowledged.is_empty(), "no write was acknowledged in {cycles} cycles");
    assert!(
        unexpected.is_empty(),
        "writes refused before the crash: {unexpected:#?}"
    );
    assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
    assert!(
        disagreements.is_empty(),
        "indexes disagree with entities: {disagreements:#?}"
    );
}

// ---- a crash during the first seed load ----------------------------------------------------

/// Writes a seed of `actors` generated actors citing one source, big enough
/// that loading it takes seconds in a debug build.
fn big_seed(dir: &Path, actors: usize) {
    std::fs::write(
        dir.join("sources.json"),
        r#"[ { "id": "source/generated", "document": "A generated document" } ]"#,
    )
    .unwrap();
    let mut out = std::io::BufWriter::new(std::fs::File::create(dir.join("actors.json")).unwrap());
    write!(out, "[").unwrap();
    for n in 0..actors {
        let actor = json!({
            "id": format!("actor/generated-{n}"),
            "name": format!("Generated actor {n}"),
            "kind": "group",
            "aliases": [format!("Gen {n}")],
            "summary": format!("Generated actor number {n}, one of many for the crash test."),
            "sources": ["source/generated"]
        });
        write!(out, "{}{actor}", if n == 0 { "\n" } else { ",\n" }).unwrap();
    }
    writeln!(out, "\n]").unwrap();
    out.flush().unwrap();
}

fn counts(store: &Store) -> BTreeMap<EntityKind, usize> {
    EntityKind::ALL
        .into_iter()
        .map(|k| (k, store.count(k).unwrap() as usize))
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// Size of sled's main file, which grows as the load writes. (sled 0.34
/// keeps its log in `<dir>/db`.)
fn store_file_size(data: &Path) -> u64 {
    std::fs::metadata(data.join("db")).map(|m| m.len()).unwrap_or(0)
}

/// When to kill the load.
#[derive(Debug, Clone, Copy)]
enum KillAt {
    /// As soon as the store file passes this many MiB: entities are being
    /// written. (Past the size of the first batch, the first of the
    /// seed's two transactions has committed.)
    StoreGrows(u64),
    /// After this many milliseconds.
    Delay(u64),
}

/// How the store is brought back after the crash.
#[derive(Debug, Clone, Copy)]
enum Recovery {
    /// `diplograph seed` again.
    SeedCommand,
    /// `diplograph serve`, which loads the seed at start-up when it must.
    Serve,
}

#[test]
fn a_seed_load_killed_part_way_is_never_taken_for_a_whole_one_and_is_redone() {
    let seed_files = tempfile::tempdir().unwrap();
    // Two write transactions: 5,000 actors (the loader's batch size), then the rest.
    big_seed(seed_files.path(), 8_000);
    let report = seed::check(seed_files.path()).expect("the generated seed is valid");
    let whole: BTreeMap<EntityKind, usize> = report.counts.clone().into_iter().filter(|(_, n)| *n > 0).collect();
    let mut prng = Prng(2026);
    let attempts = [
        (KillAt::StoreGrows(1), Recovery::SeedCommand),
        (KillAt::StoreGrows(36), Recovery::Serve),
        (KillAt::Delay(prng.between(300, 4_000)), Recovery::SeedCommand),
    ];
    let mut observed = Vec::new();
    for (kill_at, recovery) in attempts {
        let scratch = tempfile::tempdir().unwrap();
        let data: PathBuf = scratch.path().join("data");
        let mut child = diplograph()
            .arg("seed")
            .arg(seed_files.path())
            .env("DIPLOGRAPH_DATA_DIR", &data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the diplograph binary starts");
        let began = Instant::now();
        match kill_at {
            KillAt::StoreGrows(mib) => {
                while store_file_size(&data) < mib * 1024 * 1024 && child.try_wait().unwrap().is_none() {
                    assert!(
                        began.elapsed() < Duration::from_secs(120),
                        "the load never started writing"
                    );
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
            KillAt::Delay(ms) => std::thread::sleep(Duration::from_millis(ms)),
        }
        let finished_first = child.try_wait().unwrap();
        child.kill().expect("SIGKILL sent");
        child.wait().expect("the killed load is reaped");
        let killed_after = began.elapsed();

        // Right after the crash: whatever was written is consistent, and the
        // seed state never claims a seed the store does not wholly hold.
        let phase = {
            let store = Store::open(&data, CACHE).expect("the crashed store opens");
            assert_eq!(store.verify().unwrap(), Vec::<String>::new(), "{kill_at:?}");
            let held = counts(&store);
            match store.seed_state().unwrap() {
                SeedState::Loaded { hash } => {
                    assert_eq!(hash, report.hash, "{kill_at:?}");
                    assert_eq!(held, whole, "{kill_at:?}: a store marked loaded holds the whole seed");
                    "after the load finished".to_owned()
                }
                SeedState::Loading { hash } => {
                    assert_eq!(hash, report.hash, "{kill_at:?}");
                    for (kind, n) in &held {
                        assert!(
                            n <= whole.get(kind).unwrap_or(&0),
                            "{kill_at:?}: more {} than the seed has",
                            kind.plural()
                        );
                    }
                    format!("while writing, marked loading, holding {held:?}")
                }
                SeedState::Empty => {
                    assert_eq!(held, BTreeMap::new(), "{kill_at:?}: a store with no seed holds nothing");
                    "before writing anything".to_owned()
                }
            }
        };
        observed.push(format!(
            "{kill_at:?} (killed after {killed_after:?}{}): {phase}",
            if finished_first.is_some() {
                ", had already exited"
            } else {
                ""
            }
        ));

        match recovery {
            Recovery::SeedCommand => {
                let output = diplograph()
                    .arg("seed")
                    .arg(seed_files.path())
                    .env("DIPLOGRAPH_DATA_DIR", &data)
                    .output()
                    .expect("the diplograph binary runs");
                assert!(
                    output.status.success(),
                    "the second load failed: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
            Recovery::Serve => {
                let server = Server::start(&data, seed_files.path());
                server.crash();
            }
        }
        let store = Store::open(&data, CACHE).expect("the store opens");
        assert_eq!(
            store.seed_state().unwrap(),
            SeedState::Loaded {
                hash: report.hash.clone()
            },
            "{kill_at:?}, then {recovery:?}"
        );
        assert_eq!(counts(&store), whole, "{kill_at:?}, then {recovery:?}: the whole seed");
        assert_eq!(
            store.verify().unwrap(),
            Vec::<String>::new(),
            "{kill_at:?}, then {recovery:?}"
        );
    }
    println!("seed-load crash: {}", observed.join("; "));
}

// ---- a damaged database file ------------------------------------------------------------

/// Longer than the store's checkpoint interval (2 s): a write after this
/// long lands with a checkpoint.
const CHECKPOINT_WAIT: Duration = Duration::from_millis(2500);

/// Runs `diplograph ARGS` on `data` to its end (within a minute): whether it
/// succeeded, and its stdout and stderr together.
fn run(data: &Path, args: &[&str]) -> (bool, String) {
    let mut child = diplograph()
        .args(args)
        .env("DIPLOGRAPH_DATA_DIR", data)
        .env("DIPLOGRAPH_BIND", "127.0.0.1:0")
        .env("DIPLOGRAPH_SEED_DIR", seed_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the diplograph binary starts");
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let output = child.wait_with_output().unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            return (status.success(), text);
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`diplograph {args:?}` still runs after a minute");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_byte_in_the_database_file_is_found_at_start_up_and_by_verify_and_export_salvages_the_rest() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &seed_dir());
    let client = reqwest::Client::new();
    let mut noted_before_the_last = None;
    for n in 0..300 {
        if n == 299 {
            // Past the checkpoint interval, the last write ends with a
            // checkpoint: sled's files then hold every write, and the
            // write-ahead log none, so the damage below is sled's alone.
            tokio::time::sleep(CHECKPOINT_WAIT).await;
            noted_before_the_last = std::fs::read(data.path().join("acknowledged")).ok();
        }
        let answer: Value = client
            .post(&server.url)
            .header("authorization", format!("Bearer {TOKEN}"))
            .json(&json!({ "query": CREATE_ACTOR, "variables": { "input": {
                "id": format!("actor/flip-{n}"), "name": format!("Flip {n}"), "kind": "GROUP",
                "summary": format!("MARKER-{n:04}-QZX")
            } } }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(answer.get("errors").is_none(), "{answer}");
    }
    // The checkpoint runs once the last write is acknowledged, beside the
    // next writes rather than before the answer: wait for it to end (it
    // notes the generation it made durable in sled's files last of all).
    let acknowledged = data.path().join("acknowledged");
    let started = Instant::now();
    while std::fs::read(&acknowledged).ok() == noted_before_the_last {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no checkpoint after the last write"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.crash();
    let db = data.path().join("db");
    let marker = b"MARKER-0299-QZX";

    // The last write's record, as sled logged it: one byte flipped.
    let mut bytes = std::fs::read(&db).unwrap();
    let at = bytes
        .windows(marker.len())
        .rposition(|w| w == marker)
        .expect("the last record is in the db file");
    bytes[at + 5] ^= 0xff;
    std::fs::write(&db, bytes).unwrap();

    let (ok, report) = run(data.path(), &["verify"]);
    assert!(!ok, "verify must exit non-zero:\n{report}");
    assert!(
        report.contains("acknowledged writes are lost") || report.contains("damaged record"),
        "{report}"
    );

    let (ok, refusal) = run(data.path(), &["serve"]);
    assert!(!ok, "the server must refuse a damaged store:\n{refusal}");
    assert!(refusal.contains("--allow-damaged"), "{refusal}");

    let out = tempfile::tempdir().unwrap();
    let (ok, exported) = run(data.path(), &["export", out.path().to_str().unwrap()]);
    assert!(ok, "{exported}");
    let actors: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("actors.json")).unwrap()).unwrap();
    let salvaged = actors
        .iter()
        .filter(|a| a["id"].as_str().is_some_and(|id| id.starts_with("actor/flip-")))
        .count();
    println!("export salvaged {salvaged} of the 300 written actors");
    assert!(salvaged >= 299, "{salvaged} salvaged");

    // Told to, the server serves what is intact: it gets as far as listening.
    let scratch = tempfile::tempdir().unwrap();
    let address_file = scratch.path().join("address");
    let mut served = diplograph()
        .args([
            "serve",
            "--allow-damaged",
            "--address-file",
            address_file.to_str().unwrap(),
        ])
        .env("DIPLOGRAPH_DATA_DIR", data.path())
        .env("DIPLOGRAPH_BIND", "127.0.0.1:0")
        .env("DIPLOGRAPH_SEED_DIR", seed_dir())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut listening = false;
    while started.elapsed() < Duration::from_secs(30) {
        if address_file.exists() {
            listening = true;
            break;
        }
        if let Ok(Some(_)) = served.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = served.kill();
    let _ = served.wait();
    assert!(listening, "with --allow-damaged the server starts");
}

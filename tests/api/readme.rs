//! The documentation is tested: every GraphQL example in README.md and
//! docs/*.md answers exactly the JSON shown after it (values and key order)
//! on a freshly seeded server, every subscription shown is accepted, and
//! every shell command shown is run here as written (with the server on a
//! free port and scratch directories), run by `.ci/run`, or named below with
//! why it cannot run offline.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::Value;

use crate::helpers::{http_get, ready_status, seed_dir, spawn_app};

/// The repository's root.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and every page under docs/.
fn documents() -> Vec<PathBuf> {
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("a docs/ folder")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    docs.insert(0, root().join("README.md"));
    docs
}

/// A fenced code block: where it starts, its language and its text.
#[derive(Debug, Clone)]
struct Block {
    place: String,
    language: String,
    text: String,
}

fn blocks(path: &Path) -> Vec<Block> {
    let text = std::fs::read_to_string(path).unwrap();
    let name = path.strip_prefix(root()).unwrap().display().to_string();
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for (n, line) in text.lines().enumerate() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(language)) => {
                open = Some(Block {
                    place: format!("{name}:{}", n + 1),
                    language: language.trim().to_owned(),
                    text: String::new(),
                })
            }
            (Some(_), Some("")) => blocks.push(open.take().unwrap()),
            (Some(block), _) => {
                block.text.push_str(line);
                block.text.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "{name}: a code block is never closed");
    blocks
}

fn all_blocks() -> Vec<Block> {
    documents().iter().flat_map(|d| blocks(d)).collect()
}

/// Every ```graphql block with the ```json block right after it (if any).
fn graphql_examples() -> Vec<(Block, Option<Block>)> {
    let mut examples = Vec::new();
    for document in documents() {
        let blocks = blocks(&document);
        for (i, block) in blocks.iter().enumerate() {
            if block.language == "graphql" {
                let answer = blocks.get(i + 1).filter(|b| b.language == "json").cloned();
                examples.push((block.clone(), answer));
            }
        }
    }
    examples
}

/// JSON as text with its keys in the order they came.
fn canonical(text: &str, place: &str) -> String {
    let value: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{place}: not JSON: {e}\n{text}"));
    serde_json::to_string_pretty(&value).unwrap()
}

#[tokio::test]
async fn every_graphql_example_in_the_docs_answers_exactly_the_json_shown_after_it() {
    let app = spawn_app().await;
    let examples: Vec<(Block, Block)> = graphql_examples()
        .into_iter()
        .filter_map(|(query, answer)| answer.map(|a| (query, a)))
        .collect();
    assert!(
        examples.iter().any(|(q, _)| q.place.starts_with("README.md")),
        "the README shows an example with its answer"
    );
    assert!(examples.len() >= 5, "{} examples found", examples.len());
    let mut wrong = Vec::new();
    for (query, answer) in &examples {
        let expected = canonical(&answer.text, &answer.place);
        // The first run goes through async-graphql, the second through a compiled plan.
        for run in ["first run", "second run"] {
            let text = app
                .client
                .post(format!("{}/graphql", app.address))
                .json(&serde_json::json!({ "query": query.text }))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let got = canonical(&text, &query.place);
            if got != expected {
                wrong.push(format!("{} ({run}):\nshown:\n{expected}\nserved:\n{got}", query.place));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "examples that do not answer as shown:\n{}",
        wrong.join("\n\n")
    );
}

#[tokio::test]
async fn every_graphql_example_without_an_answer_is_a_subscription_the_server_accepts() {
    let store = crate::helpers::seeded();
    let settings = diplograph::config::Settings::for_data_dir(PathBuf::from("unused"));
    let schema = diplograph::graphql::build_schema(store, settings.schema_options());
    let subscriptions: Vec<Block> = graphql_examples()
        .into_iter()
        .filter(|(_, answer)| answer.is_none())
        .map(|(query, _)| query)
        .collect();
    assert!(!subscriptions.is_empty(), "the docs show subscriptions");
    for query in subscriptions {
        assert!(
            query.text.trim_start().starts_with("subscription"),
            "{}: a query or mutation needs the JSON it answers after it",
            query.place
        );
        let mut stream = schema.execute_stream(query.text.as_str());
        // A refused subscription answers at once with errors; an accepted one
        // waits for the next change.
        match tokio::time::timeout(Duration::from_millis(300), stream.next()).await {
            Err(_) => {}
            Ok(first) => panic!("{}: refused: {first:?}", query.place),
        }
    }
}

// ---- Shell commands -------------------------------------------------------------------

/// How a command shown in the docs is checked.
#[derive(Debug)]
enum Covered {
    /// Run as written by the named test in this file.
    Here(&'static str),
    /// Run by `.ci/run`, which holds this text.
    Ci(&'static str),
    /// Not run offline, and why.
    Not(&'static str),
}

/// The write recipe's request.
const CURL_WRITE: &str = "curl -s localhost:8000/graphql -H 'content-type: application/json' -H \"authorization: Bearer $TOKEN\" -d '{\"query\":\"mutation { createActor(input: {name: \\\"Jane Envoy\\\", kind: PERSON, positions: [{title: \\\"Envoy\\\", of: \\\"actor/russia\\\", from: \\\"2010-02\\\"}]}) { actor { id name } } }\"}'";

/// Every command shown in a ```sh block of the docs (comments dropped,
/// continued lines joined), and how it is checked.
const COMMANDS: &[(&str, Covered)] = &[
    (
        "cargo run --release",
        Covered::Here("the_two_commands_serve_a_seeded_server_with_its_ide"),
    ),
    ("cargo test", Covered::Ci("cargo test")),
    (
        "cargo run --release -- seed --check seed/",
        Covered::Here("the_other_commands_run_as_written"),
    ),
    (
        "cargo run --release -- seed --check seed/ --article ../shared/source/russia-south-ossetia-relations.txt",
        Covered::Ci("seed --check seed/ --article"),
    ),
    (
        "cargo run --release -- seed",
        Covered::Here("the_other_commands_run_as_written"),
    ),
    (
        "cargo run --release -- seed --reset",
        Covered::Here("the_other_commands_run_as_written"),
    ),
    (
        "cargo run --release -- export backup/",
        Covered::Here("the_other_commands_run_as_written"),
    ),
    (
        "cargo run --release -- generate --entities 100000 --out /tmp/big",
        Covered::Here("the_other_commands_run_as_written"),
    ),
    (
        "cargo run --release -- schema",
        Covered::Here("the_other_commands_run_as_written"),
    ),
    (
        "cargo run --release -- schema --federation",
        Covered::Here("the_other_commands_run_as_written"),
    ),
    (
        "cargo run --release -- --version",
        Covered::Here("the_other_commands_run_as_written"),
    ),
    (
        "docker compose --profile federation up --build",
        Covered::Ci("node tests/federation/run.mjs"),
    ),
    ("docker compose up --build", Covered::Ci("bash .ci/docker-context")),
    (
        "export TOKEN=\"$(openssl rand -hex 24)\"",
        Covered::Here("the_write_recipe_runs_as_written"),
    ),
    ("echo \"$TOKEN\"", Covered::Here("the_write_recipe_runs_as_written")),
    (
        "DIPLOGRAPH_WRITE_TOKENS=\"$TOKEN\" cargo run --release",
        Covered::Here("the_write_recipe_runs_as_written"),
    ),
    (CURL_WRITE, Covered::Here("the_write_recipe_runs_as_written")),
    (
        "mkdir -p /opt/ide && cd /opt/ide && npm install graphiql@3.8.3 react@18.3.1 react-dom@18.3.1",
        Covered::Not("npm fetches the packages from its registry"),
    ),
    (
        "./target/release/diplograph serve --playground-assets /opt/ide/node_modules",
        Covered::Here("the_air_gapped_ide_recipe_takes_only_the_pinned_release"),
    ),
    (
        "./target/release/diplograph verify",
        Covered::Not("the recovery of a damaged store: tests/api/durability.rs runs verify and export on a store with a flipped byte; the rest moves files and runs the seed and serve commands shown elsewhere"),
    ),
    (
        "./target/release/diplograph export salvage/",
        Covered::Not("the recovery of a damaged store: tests/api/durability.rs runs verify and export on a store with a flipped byte; the rest moves files and runs the seed and serve commands shown elsewhere"),
    ),
    (
        "mv data data.damaged",
        Covered::Not("the recovery of a damaged store: tests/api/durability.rs runs verify and export on a store with a flipped byte; the rest moves files and runs the seed and serve commands shown elsewhere"),
    ),
    (
        "./target/release/diplograph seed --reset salvage/",
        Covered::Not("the recovery of a damaged store: tests/api/durability.rs runs verify and export on a store with a flipped byte; the rest moves files and runs the seed and serve commands shown elsewhere"),
    ),
    (
        "./target/release/diplograph serve --seed-dir salvage/",
        Covered::Not("the recovery of a damaged store: tests/api/durability.rs runs verify and export on a store with a flipped byte; the rest moves files and runs the seed and serve commands shown elsewhere"),
    ),
    (
        "bash benches/run.sh",
        Covered::Not("a load test: needs wrk and a release build, and takes minutes"),
    ),
    (
        "cargo bench",
        Covered::Not("takes many minutes; .ci/run builds the benchmarks (cargo bench --no-run)"),
    ),
];

/// The commands of one ```sh block.
fn commands(block: &Block) -> Vec<String> {
    let mut commands = Vec::new();
    let mut current = String::new();
    for line in block.text.lines() {
        // A comment starts at a `#` after two spaces, or opens the line.
        let line = line.split("  #").next().unwrap();
        let line = if line.trim_start().starts_with('#') { "" } else { line };
        match line.trim_end().strip_suffix('\\') {
            Some(continued) => current.push_str(continued.trim_start()),
            None => {
                current.push_str(line.trim());
                if !current.is_empty() {
                    commands.push(std::mem::take(&mut current));
                }
            }
        }
    }
    commands
}

fn shell_blocks() -> Vec<Block> {
    all_blocks().into_iter().filter(|b| b.language == "sh").collect()
}

#[test]
fn every_shell_command_in_the_docs_is_run_by_a_test_or_by_ci_or_says_why_not() {
    let shown: Vec<(String, String)> = shell_blocks()
        .iter()
        .flat_map(|b| commands(b).into_iter().map(|c| (b.place.clone(), c)))
        .collect();
    let tests = std::fs::read_to_string(root().join("tests/api/readme.rs")).unwrap();
    let ci = std::fs::read_to_string(root().join(".ci/run")).unwrap();
    let mut problems = Vec::new();
    for (place, command) in &shown {
        if !COMMANDS.iter().any(|(c, _)| c == command) {
            problems.push(format!("{place}: `{command}` is checked nowhere; add it to COMMANDS"));
        }
    }
    for (command, covered) in COMMANDS {
        if !shown.iter().any(|(_, c)| c == command) {
            problems.push(format!("`{command}` is no longer in the docs; drop it from COMMANDS"));
        }
        match covered {
            Covered::Here(test) if !tests.contains(&format!("fn {test}()")) => {
                problems.push(format!("`{command}`: there is no test {test}"))
            }
            Covered::Ci(text) if !ci.contains(text) => {
                problems.push(format!("`{command}`: .ci/run does not run {text}"))
            }
            Covered::Not("") => problems.push(format!("`{command}`: say why it is not run")),
            _ => {}
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The block whose commands include `command`, and the block right after it.
fn block_with(command: &str) -> (Block, Option<Block>) {
    for document in documents() {
        let blocks = blocks(&document);
        for (i, block) in blocks.iter().enumerate() {
            if block.language == "sh" && commands(block).iter().any(|c| c == command) {
                return (block.clone(), blocks.get(i + 1).cloned());
            }
        }
    }
    panic!("no shell block runs `{command}`");
}

/// A command as the test runs it: the binary cargo built for the tests
/// stands in for `cargo run --release` and `./target/release/diplograph`.
fn as_run_here(command: &str) -> String {
    let binary = format!("'{}'", env!("CARGO_BIN_EXE_diplograph"));
    command
        .replace("cargo run --release --", &binary)
        .replace("cargo run --release", &binary)
        .replace("./target/release/diplograph", &binary)
}

/// `bash -c script` in `cwd`, with no `DIPLOGRAPH_*` setting inherited.
fn bash(script: &str, cwd: &Path, env: &[(&str, &Path)]) -> Command {
    let mut command = Command::new("bash");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("DIPLOGRAPH_") {
            command.env_remove(key);
        }
    }
    command
        .arg("-c")
        .arg(script)
        .current_dir(cwd)
        .envs(env.iter().map(|(k, v)| (*k, v.as_os_str())))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null());
    command
}

/// A server started by a recipe: its whole process group is stopped on drop.
struct Recipe {
    child: std::process::Child,
}

impl Recipe {
    /// Starts `script`, a recipe that runs the server in the foreground, on a
    /// free port, and waits until it is ready. Returns it and its address.
    fn start(script: &str, cwd: &Path, scratch: &Path, env: &[(&str, &Path)]) -> (Recipe, String) {
        use std::os::unix::process::CommandExt;
        let address_file = scratch.join("address");
        let mut env = env.to_vec();
        env.push(("DIPLOGRAPH_ADDRESS_FILE", &address_file));
        let child = bash(script, cwd, &env)
            .env("DIPLOGRAPH_BIND", "127.0.0.1:0")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("bash runs");
        let mut recipe = Recipe { child };
        let began = Instant::now();
        loop {
            let address = std::fs::read_to_string(&address_file).unwrap_or_default();
            if !address.is_empty() && ready_status(&address) == Some(200) {
                return (recipe, address);
            }
            if let Some(status) = recipe.child.try_wait().unwrap() {
                let mut log = String::new();
                std::io::Read::read_to_string(recipe.child.stderr.as_mut().unwrap(), &mut log).unwrap();
                panic!("`{script}` stopped ({status}) before it was ready:\n{log}");
            }
            assert!(
                began.elapsed() < Duration::from_secs(60),
                "`{script}` was not ready in a minute"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Recipe {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.child.wait();
    }
}

/// A scratch folder laid out like the repository's root for a user's
/// commands: a copy of `seed/`.
fn scratch_with_seed() -> tempfile::TempDir {
    let scratch = tempfile::tempdir().unwrap();
    std::fs::create_dir(scratch.path().join("seed")).unwrap();
    for entry in std::fs::read_dir(seed_dir()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, scratch.path().join("seed").join(path.file_name().unwrap())).unwrap();
    }
    scratch
}

fn get(address: &str, path: &str) -> (u16, String) {
    http_get(address, path).unwrap_or_else(|| panic!("GET {path} got no answer"))
}

#[test]
fn the_two_commands_serve_a_seeded_server_with_its_ide() {
    let (block, _) = block_with("cargo run --release");
    let serve = commands(&block)
        .into_iter()
        .find(|c| c == "cargo run --release")
        .unwrap();
    let scratch = scratch_with_seed();
    let (_server, address) = Recipe::start(&as_run_here(&serve), scratch.path(), scratch.path(), &[]);
    let (status, page) = get(&address, "/");
    assert_eq!(status, 200);
    assert!(page.contains("graphiql"), "the IDE page: {page}");
    assert!(scratch.path().join("data").is_dir(), "the database is in ./data");
}

#[test]
fn the_other_commands_run_as_written() {
    let (block, _) = block_with("cargo run --release -- schema");
    let scratch = scratch_with_seed();
    let big = scratch.path().join("big");
    for command in commands(&block) {
        if command.contains("--article") {
            // The article's copy is outside the repository; .ci/run runs this where it is at hand.
            continue;
        }
        // Written where the user can see it; a scratch folder stands in for /tmp.
        let script = as_run_here(&command).replace("/tmp/big", big.to_str().unwrap());
        let output: Output = bash(&script, scratch.path(), &[]).output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "`{command}` failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        if command.ends_with(" schema") {
            let file = std::fs::read_to_string(root().join("schema.graphql")).unwrap();
            assert_eq!(stdout, file, "`{command}` prints schema.graphql");
        }
        if command.ends_with(" schema --federation") {
            assert_eq!(
                stdout,
                diplograph::graphql::subgraph_sdl(),
                "`{command}` prints the subgraph SDL"
            );
        }
    }
    assert!(
        scratch.path().join("backup/actors.json").is_file(),
        "export wrote the backup"
    );
    assert!(big.join("actors.json").is_file(), "generate wrote the graph");
}

#[test]
fn the_write_recipe_runs_as_written() {
    let (start, _) = block_with("echo \"$TOKEN\"");
    let (write, answer) = block_with(CURL_WRITE);
    let scratch = tempfile::tempdir().unwrap();
    let data = scratch.path().join("data");
    // Run from the repository's root, as the docs say; the database goes to scratch.
    let (mut server, address) = Recipe::start(
        &as_run_here(&start.text),
        &root(),
        scratch.path(),
        &[("DIPLOGRAPH_DATA_DIR", &data)],
    );
    let mut token = String::new();
    BufReader::new(server.child.stdout.as_mut().unwrap())
        .read_line(&mut token)
        .unwrap();
    let token = token.trim();
    assert_eq!(token.len(), 48, "the recipe prints its token: {token:?}");
    let curl = commands(&write)
        .into_iter()
        .find(|c| c.starts_with("curl"))
        .unwrap()
        .replace("localhost:8000", &address);
    let output = bash(&curl, scratch.path(), &[]).env("TOKEN", token).output().unwrap();
    let answer = answer.expect("the answer is shown after the write");
    assert_eq!(answer.language, "json");
    assert_eq!(
        canonical(&String::from_utf8_lossy(&output.stdout), &write.place),
        canonical(&answer.text, &answer.place)
    );
}

/// The recipe with files that are not the pinned release: the server
/// refuses to start, naming the file and the command that installs the
/// right one. (With the real packages the recipe is run by `.ci/run`:
/// tests/clients/browser.test.mjs serves `--playground-assets` from its
/// `node_modules` and drives the IDE in Chromium.)
#[test]
fn the_air_gapped_ide_recipe_takes_only_the_pinned_release() {
    let command = "./target/release/diplograph serve --playground-assets /opt/ide/node_modules";
    block_with(command);
    let (install, _) =
        block_with("mkdir -p /opt/ide && cd /opt/ide && npm install graphiql@3.8.3 react@18.3.1 react-dom@18.3.1");
    let scratch = tempfile::tempdir().unwrap();
    // Every file the page loads, but not the pinned release's bytes.
    let modules = scratch.path().join("node_modules");
    for file in [
        "graphiql/graphiql.min.css",
        "react/umd/react.production.min.js",
        "react-dom/umd/react-dom.production.min.js",
        "graphiql/graphiql.min.js",
    ] {
        let path = modules.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, format!("/* {file} */")).unwrap();
    }
    let script = as_run_here(command).replace("/opt/ide/node_modules", modules.to_str().unwrap());
    let data = scratch.path().join("data");
    let output = bash(&script, &root(), &[("DIPLOGRAPH_DATA_DIR", &data)])
        .env("DIPLOGRAPH_BIND", "127.0.0.1:0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "the server refused to start: {stderr}");
    assert!(stderr.contains("graphiql/graphiql.min.css"), "{stderr}");
    let shown = commands(&install).pop().unwrap();
    let npm = shown.split(" && ").last().unwrap();
    assert!(
        stderr.contains(npm),
        "the message gives the docs' install command `{npm}`: {stderr}"
    );
}

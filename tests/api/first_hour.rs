//! A new user's first hour: the command line, start-up and its mistakes.
//! Each mistake gets a message that says what to do; the binary is run as a
//! user would run it.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use clap::CommandFactory;
use diplograph::config::Cli;
use diplograph::startup::Application;
use diplograph::store::{SeedState, Store};

use crate::helpers::{ready_status, seed_dir, test_settings, TestApp};

/// The real binary in `cwd`, with no `DIPLOGRAPH_*` setting inherited from the
/// test's environment, and `env` set.
fn diplograph(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_diplograph"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("DIPLOGRAPH_") {
            command.env_remove(key);
        }
    }
    command
        .args(args)
        .current_dir(cwd)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdin(Stdio::null());
    command
}

/// Runs the binary to its end.
fn run(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Output {
    diplograph(args, cwd, env).output().expect("the diplograph binary runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

// ---- The command line ---------------------------------------------------------

#[test]
fn each_subcommand_lists_only_its_own_flags() {
    let scratch = tempfile::tempdir().unwrap();
    // (command, a flag it must list, flags it must not list)
    let cases: [(&[&str], &[&str], &[&str]); 5] = [
        (&["schema", "--help"], &[], &["--max-depth", "--bind", "--data-dir"]),
        (
            &["generate", "--help"],
            &["--rng-seed", "--out"],
            &["--max-depth", "--bind", "--data-dir", "--seed "],
        ),
        (
            &["seed", "--help"],
            &["--data-dir", "--seed-dir", "--check"],
            &["--max-depth", "--bind"],
        ),
        (&["export", "--help"], &["--data-dir"], &["--max-depth", "--bind"]),
        (
            &["serve", "--help"],
            &["--bind", "--max-depth", "--data-dir", "--reseed", "--dev"],
            &[],
        ),
    ];
    for (args, listed, unlisted) in cases {
        let output = run(args, scratch.path(), &[]);
        let help = stdout(&output);
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        for flag in listed {
            assert!(help.contains(flag), "{args:?} should list {flag}:\n{help}");
        }
        for flag in unlisted {
            assert!(!help.contains(flag), "{args:?} should not list {flag}:\n{help}");
        }
    }
}

#[test]
fn version_prints_the_crate_version() {
    let scratch = tempfile::tempdir().unwrap();
    let output = run(&["--version"], scratch.path(), &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stdout(&output).trim(),
        format!("diplograph {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn generate_takes_its_random_seed_as_rng_seed_and_refuses_the_old_seed_flag() {
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("generated");
    let output = run(
        &[
            "generate",
            "--entities",
            "200",
            "--rng-seed",
            "7",
            "--out",
            out.to_str().unwrap(),
        ],
        scratch.path(),
        &[],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(out.join("actors.json").is_file());
    let output = run(
        &[
            "generate",
            "--entities",
            "200",
            "--seed",
            "7",
            "--out",
            out.to_str().unwrap(),
        ],
        scratch.path(),
        &[],
    );
    assert!(
        !output.status.success(),
        "--seed is easily taken for --seed-dir; it is --rng-seed now"
    );
}

/// Every boolean setting of `serve`: its long name.
fn boolean_flags() -> Vec<String> {
    let command = Cli::command();
    let serve = command.find_subcommand("serve").expect("a serve command");
    serve
        .get_arguments()
        .filter(|a| {
            let values: Vec<String> = a
                .get_possible_values()
                .iter()
                .map(|v| v.get_name().to_owned())
                .collect();
            values == ["true", "false"]
        })
        .filter_map(|a| a.get_long().map(str::to_owned))
        .collect()
}

#[test]
fn every_boolean_flag_works_bare_and_with_true_or_false() {
    let flags = boolean_flags();
    for expected in ["dev", "batching", "apq", "introspection", "reseed", "compression"] {
        assert!(
            flags.iter().any(|f| f == expected),
            "{expected} is a boolean flag: {flags:?}"
        );
    }
    for flag in &flags {
        for (args, want) in [
            (vec![format!("--{flag}")], true),
            (vec![format!("--{flag}"), "true".into()], true),
            (vec![format!("--{flag}"), "false".into()], false),
            (vec![format!("--{flag}=false")], false),
        ] {
            for prefix in [vec!["diplograph", "serve"], vec!["diplograph"]] {
                let argv: Vec<String> = prefix.iter().map(|s| s.to_string()).chain(args.clone()).collect();
                let matches = Cli::command()
                    .try_get_matches_from(&argv)
                    .unwrap_or_else(|e| panic!("{argv:?} is refused: {e}"));
                let matches = matches.subcommand_matches("serve").unwrap_or(&matches);
                let id = flag.replace('-', "_");
                assert_eq!(matches.get_one::<bool>(&id), Some(&want), "{argv:?}");
            }
        }
    }
}

#[test]
fn a_boolean_setting_in_the_environment_takes_true_and_false() {
    let scratch = tempfile::tempdir().unwrap();
    // `schema` ignores server settings; `serve` with a bad value must name the
    // variable, and a good value must get as far as the missing seed folder.
    for value in ["true", "false"] {
        let output = run(&["serve"], scratch.path(), &[("DIPLOGRAPH_DEV", value)]);
        let message = stderr(&output);
        assert!(!output.status.success());
        assert!(message.contains("no seed folder"), "DIPLOGRAPH_DEV={value}: {message}");
    }
}

#[test]
fn a_bad_environment_variable_is_named_as_the_variable() {
    let scratch = tempfile::tempdir().unwrap();
    let cases = [
        ("DIPLOGRAPH_MAX_DEPTH", "abc", "--max-depth"),
        ("DIPLOGRAPH_DEV", "maybe", "--dev"),
        ("DIPLOGRAPH_BIND", "nowhere", "--bind"),
        ("DIPLOGRAPH_CACHE_MB", "lots", "--cache-mb"),
    ];
    for (var, value, flag) in cases {
        for args in [&["serve"][..], &[][..]] {
            let output = run(args, scratch.path(), &[(var, value)]);
            let message = stderr(&output);
            assert!(!output.status.success(), "{var}={value} {args:?} was accepted");
            assert!(
                message.contains(var) && message.contains(value),
                "{var}={value} {args:?}: the message names the variable and its value: {message}"
            );
            assert!(
                !message.contains(flag),
                "{var}={value} {args:?}: the user never typed {flag}: {message}"
            );
        }
    }
    // A flag typed on the command line is still named as the flag.
    let output = run(&["serve", "--max-depth", "abc"], scratch.path(), &[]);
    assert!(stderr(&output).contains("--max-depth"), "{}", stderr(&output));
}

#[test]
fn a_bad_config_file_key_or_value_is_named_with_its_key_and_file() {
    let scratch = tempfile::tempdir().unwrap();
    let cases = [
        ("max_depth = \"deep\"\n", "max_depth", "deep"),
        ("maxdepth = 3\n", "maxdepth", "unknown setting"),
        ("dev = \"sometimes\"\n", "dev", "sometimes"),
    ];
    for (text, key, detail) in cases {
        let file = scratch.path().join("diplograph.toml");
        std::fs::write(&file, text).unwrap();
        let file = file.to_str().unwrap();
        let output = run(&["serve", "--config", file], scratch.path(), &[]);
        let message = stderr(&output);
        assert!(!output.status.success(), "{text:?} was accepted");
        for part in [key, detail, file] {
            assert!(message.contains(part), "{text:?}: the message names {part}: {message}");
        }
        assert!(!message.contains("DIPLOGRAPH_"), "{text:?}: {message}");
    }
}

// ---- Mistakes at start-up ---------------------------------------------------------

#[test]
fn a_busy_port_says_another_server_may_run_and_to_use_bind() {
    let scratch = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let seed = seed_dir();
    let output = run(
        &["serve", "--bind", &address, "--seed-dir", seed.to_str().unwrap()],
        scratch.path(),
        &[],
    );
    let message = stderr(&output);
    assert!(!output.status.success());
    for part in [address.as_str(), "another server running", "--bind"] {
        assert!(message.contains(part), "the message names {part}: {message}");
    }
}

#[test]
fn a_data_directory_held_by_another_process_is_named_once_with_what_to_do() {
    let scratch = tempfile::tempdir().unwrap();
    let data = scratch.path().join("data");
    let _held = Store::open(&data, 1024 * 1024).expect("the store opens");
    let data_arg = data.to_str().unwrap();
    for args in [
        vec!["export", "--data-dir", data_arg, "backup"],
        vec!["seed", "--data-dir", data_arg],
        vec!["serve", "--data-dir", data_arg, "--bind", "127.0.0.1:0"],
    ] {
        let output = run(&args, scratch.path(), &[]);
        let message = stderr(&output);
        assert!(!output.status.success(), "{args:?}");
        for part in [
            data_arg,
            "another diplograph process",
            "stop that process",
            "--data-dir",
        ] {
            assert!(message.contains(part), "{args:?}: the message names {part}: {message}");
        }
        assert_eq!(message.matches("in use").count(), 1, "{args:?}: said once: {message}");
        assert!(!message.contains("WouldBlock"), "{args:?}: {message}");
    }
}

#[test]
fn serving_from_a_folder_without_a_seed_or_a_database_says_where_to_run_and_leaves_nothing() {
    let scratch = tempfile::tempdir().unwrap();
    let output = run(&["serve", "--bind", "127.0.0.1:0"], scratch.path(), &[]);
    let message = stderr(&output);
    assert!(!output.status.success());
    for part in ["./seed", "--seed-dir", "repository's root"] {
        assert!(message.contains(part), "the message names {part}: {message}");
    }
    assert!(!scratch.path().join("data").exists(), "an empty ./data was left behind");
}

// ---- A seeded store, the seed folder, and readiness ------------------------------

/// A data directory holding the real seed, closed again.
fn seeded_data_dir() -> tempfile::TempDir {
    let data = tempfile::tempdir().unwrap();
    let store = Store::open(data.path(), 1024 * 1024).unwrap();
    diplograph::seed::load(&store, &seed_dir(), false).expect("the real seed loads");
    store.flush().unwrap();
    data
}

/// Starts a server in-process on `settings` and waits until it is ready.
async fn start(settings: diplograph::config::Settings, data_dir: tempfile::TempDir) -> TestApp {
    crate::helpers::start_app(settings, data_dir).await
}

fn loaded_hash(store: &Store) -> String {
    match store.seed_state().unwrap() {
        SeedState::Loaded { hash } => hash,
        other => panic!("not loaded: {other:?}"),
    }
}

#[tokio::test]
async fn a_seeded_store_starts_without_the_seed_folder() {
    let data = seeded_data_dir();
    let mut settings = test_settings(data.path());
    settings.store.seed_dir = data.path().join("no-such-seed");
    let app = start(settings, data).await;
    let answer = app.data(r#"{ actor(id: "russia") { name } }"#).await;
    assert_eq!(answer["actor"]["name"], "Russia");
}

/// A seed of two entities, unlike the real one.
fn small_seed() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("sources.json"),
        r#"[{"id": "source/only", "document": "A test document"}]"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("actors.json"),
        r#"[{"id": "actor/only", "name": "The only actor", "kind": "state", "sources": ["source/only"]}]"#,
    )
    .unwrap();
    dir
}

#[tokio::test]
async fn a_changed_seed_folder_is_not_merged_at_start_unless_asked_with_reseed() {
    let small = small_seed();
    let small_hash = diplograph::seed::check(small.path())
        .expect("the small seed is valid")
        .hash;

    let data = seeded_data_dir();
    let before = loaded_hash(&Store::open(data.path(), 1024 * 1024).unwrap());
    let mut settings = test_settings(data.path());
    settings.store.seed_dir = small.path().to_owned();
    let app = start(settings, data).await;
    assert_eq!(loaded_hash(&app.store), before, "the changed seed was merged silently");
    assert_eq!(
        app.data(r#"{ actor(id: "russia") { name } }"#).await["actor"]["name"],
        "Russia"
    );

    let data = seeded_data_dir();
    let mut settings = test_settings(data.path());
    settings.store.seed_dir = small.path().to_owned();
    settings.reseed = true;
    let app = start(settings, data).await;
    assert_eq!(loaded_hash(&app.store), small_hash, "--reseed merges the changed seed");
    assert_eq!(
        app.data(r#"{ actor(id: "only") { name } }"#).await["actor"]["name"],
        "The only actor"
    );
}

#[tokio::test]
async fn during_a_first_load_the_server_answers_ready_503_with_progress_and_graphql_503() {
    let seed = tempfile::tempdir().unwrap();
    diplograph::generate::generate(40_000, 1, seed.path()).unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut settings = test_settings(data.path());
    settings.store.seed_dir = seed.path().to_owned();
    diplograph::telemetry::init_for_tests();
    let began = Instant::now();
    let app = Application::build(settings).await.expect("server starts");
    let address = format!("127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();

    // It listens before the load is done.
    let ready = client.get(format!("http://{address}/ready")).send().await.unwrap();
    assert_eq!(
        ready.status(),
        503,
        "ready before a 40,000-entity load ({:?} in)",
        began.elapsed()
    );
    let progress: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(progress["status"], "loading the seed", "{progress}");
    assert!(progress["written"].is_u64(), "{progress}");
    let graphql = client
        .post(format!("http://{address}/graphql"))
        .json(&serde_json::json!({ "query": "{ actors { totalCount } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(graphql.status(), 503);
    let body: serde_json::Value = graphql.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_READY", "{body}");
    assert_eq!(
        client
            .get(format!("http://{address}/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let deadline = Instant::now() + Duration::from_secs(300);
    while tokio::task::spawn_blocking({
        let address = address.clone();
        move || ready_status(&address)
    })
    .await
    .unwrap()
        != Some(200)
    {
        assert!(Instant::now() < deadline, "the load never finished");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let graphql = client
        .post(format!("http://{address}/graphql"))
        .json(&serde_json::json!({ "query": "{ actors { totalCount } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(graphql.status(), 200);
    drop((seed, data));
}

#[test]
fn a_large_load_logs_its_progress() {
    let scratch = tempfile::tempdir().unwrap();
    let seed = scratch.path().join("big");
    diplograph::generate::generate(40_000, 3, &seed).unwrap();
    let output = run(
        &["seed", seed.to_str().unwrap(), "--data-dir", "data"],
        scratch.path(),
        &[("RUST_LOG", "info")],
    );
    let log = stderr(&output);
    assert!(output.status.success(), "{log}");
    // A fixed message with the count as a field, every few seconds.
    let progress: Vec<&str> = log.lines().filter(|l| l.contains("loading the seed")).collect();
    assert!(
        !progress.is_empty() && progress.iter().all(|l| l.contains("written=")),
        "no progress in the log of a 40,000-entity load:\n{log}"
    );
}

//! A full disk, for real: the data directory on a 3 MiB tmpfs, filled up
//! with a ballast file. A write that cannot reach the disk is refused with
//! `STORAGE_UNAVAILABLE`, leaves no trace readers can see (not even for a
//! moment: a reader polls while writes fail), flips `/ready` to
//! 503 with the reason and is counted in `/metrics`; once space comes back,
//! writes work again without a restart. A free-space floor refuses writes
//! before the disk is completely full.
//!
//! Mounting needs root; run as another user, the tests say so and pass.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diplograph::model::Id;
use serde_json::{json, Value};

use crate::helpers::{error_code, spawn_app_with, TestApp, TEST_WRITE_TOKEN};

const CREATE_ACTOR: &str = "mutation($input: CreateActorInput!) { createActor(input: $input) { actor { id } } }";

/// A tmpfs mounted for one test, unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// Mounts a tmpfs of `size` (as `mount -o size=` spells it), or says why not.
    fn mount(size: &str) -> Option<SmallDisk> {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc_geteuid() } != 0 {
            eprintln!("skipped: mounting a tmpfs needs root, and this test runs as another user");
            return None;
        }
        let dir = tempfile::tempdir().expect("mount point");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status();
        match status {
            Ok(s) if s.success() => Some(SmallDisk { dir }),
            other => {
                eprintln!("skipped: could not mount a tmpfs ({other:?}); no CAP_SYS_ADMIN here");
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills the disk with a ballast file until a write fails.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let path = self.path().join("ballast");
        let mut file = std::fs::File::create(&path).expect("ballast file");
        let chunk = vec![0u8; 4096];
        while file.write_all(&chunk).is_ok() {}
        let _ = file.flush();
        path
    }
}

/// A server taking writes with its data directory on `disk`, refusing
/// them below `min_free_mb` of free space (0: only when the disk is full).
async fn spawn_on(disk: &SmallDisk, min_free_mb: u64) -> TestApp {
    let data = disk.path().join("data");
    spawn_app_with(|s| {
        s.store.data_dir = data;
        s.write_tokens = vec![TEST_WRITE_TOKEN.into()];
        s.min_free_mb = min_free_mb;
    })
    .await
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

async fn create(app: &TestApp, n: usize) -> Value {
    app.query_as(
        TEST_WRITE_TOKEN,
        CREATE_ACTOR,
        json!({ "input": { "id": format!("actor/disk-{n}"), "name": format!("Disk Test {n}"), "kind": "PERSON",
                           "summary": "x".repeat(2000) } }),
    )
    .await
}

async fn actor_count(app: &TestApp) -> u64 {
    let data = app.data("{ actors { totalCount } }").await;
    data["actors"]["totalCount"].as_u64().expect("a count")
}

async fn ready(app: &TestApp) -> (u16, Value) {
    let response = app
        .client
        .get(format!("{}/ready", app.address))
        .send()
        .await
        .expect("ready answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn metrics(app: &TestApp) -> String {
    app.client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .expect("metrics answer")
        .text()
        .await
        .expect("metrics text")
}

#[tokio::test]
async fn a_write_refused_by_a_full_disk_leaves_no_trace_and_writes_resume_once_space_returns() {
    let Some(disk) = SmallDisk::mount("3m") else {
        return;
    };
    let app = spawn_on(&disk, 0).await;
    let before = actor_count(&app).await;
    let ballast = disk.fill();

    // Write until the disk refuses (the ballast left a few pages at most).
    let mut acknowledged = 0;
    let mut refused = None;
    for n in 0..400 {
        let started = Instant::now();
        let answer = create(&app, n).await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "a write on a full disk took {:?}",
            started.elapsed()
        );
        if answer.get("errors").is_none() {
            acknowledged += 1;
        } else {
            refused = Some(answer);
            break;
        }
    }
    let refused = refused.expect("some write fails once the disk is full");
    assert_eq!(error_code(&refused), "STORAGE_UNAVAILABLE", "{refused:#}");
    let message = refused["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("disk") || message.contains("space"), "{message}");

    // While the disk stays full, writes are refused at once.
    let started = Instant::now();
    let again = create(&app, 999).await;
    assert_eq!(error_code(&again), "STORAGE_UNAVAILABLE", "{again:#}");
    assert!(started.elapsed() < Duration::from_secs(1));

    // Readers see exactly the acknowledged writes.
    assert_eq!(actor_count(&app).await, before + acknowledged);
    let (status, body) = ready(&app).await;
    assert_eq!(status, 503, "{body:#}");
    assert!(body.to_string().contains("write"), "{body:#}");
    let page = metrics(&app).await;
    let errors: f64 = page
        .lines()
        .find(|l| l.starts_with("diplograph_storage_errors_total"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    assert!(errors >= 1.0, "{page}");

    // Space returns: the next write works, quickly, with no restart.
    std::fs::remove_file(&ballast).unwrap();
    let started = Instant::now();
    let answer = create(&app, 1000).await;
    assert!(answer.get("errors").is_none(), "{answer:#}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(actor_count(&app).await, before + acknowledged + 1);
    assert_eq!(ready(&app).await.0, 200);
    let problems = app.store.verify().unwrap();
    assert!(problems.is_empty(), "{problems:?}");
}

/// Creates the actor `id` (a summary of 2 KB, so a full disk refuses it).
async fn create_with_id(app: &TestApp, id: &str) -> Value {
    app.query_as(
        TEST_WRITE_TOKEN,
        CREATE_ACTOR,
        json!({ "input": { "id": id, "name": format!("Disk Test {id}"), "kind": "PERSON",
                           "summary": "x".repeat(2000) } }),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_polling_while_the_disk_refuses_writes_never_sees_a_refused_one() {
    let Some(disk) = SmallDisk::mount("3m") else {
        return;
    };
    let app = spawn_on(&disk, 0).await;

    // A reader on its own thread reads the entity being written, over and
    // over, and notes every id it ever saw.
    let writing: Arc<Mutex<Option<Id>>> = Arc::default();
    let seen: Arc<Mutex<HashSet<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (store, writing, seen, stop) = (app.store.clone(), writing.clone(), seen.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut reads = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let Some(id) = writing.lock().unwrap().clone() else {
                    std::hint::spin_loop();
                    continue;
                };
                if let Ok(Some(_)) = store.get(&id) {
                    seen.lock().unwrap().insert(id.to_string());
                }
                reads += 1;
            }
            reads
        })
    };

    // Fill the disk, write until it refuses, free it, write again: a few rounds.
    let mut refused = Vec::new();
    for round in 0..6 {
        let ballast = disk.fill();
        for n in 0..400 {
            let id = format!("actor/poll-{round}-{n}");
            *writing.lock().unwrap() = Some(Id::parse(&id).unwrap());
            let answer = create_with_id(&app, &id).await;
            if answer.get("errors").is_some() {
                assert_eq!(error_code(&answer), "STORAGE_UNAVAILABLE", "{answer:#}");
                refused.push(id);
                break;
            }
        }
        std::fs::remove_file(&ballast).unwrap();
        let id = format!("actor/poll-{round}-resumed");
        *writing.lock().unwrap() = Some(Id::parse(&id).unwrap());
        let answer = create_with_id(&app, &id).await;
        assert!(answer.get("errors").is_none(), "round {round}: {answer:#}");
    }
    stop.store(true, Ordering::Relaxed);
    let reads = reader.join().unwrap();
    assert_eq!(refused.len(), 6, "every round ends with a refused write: {refused:?}");
    assert!(reads > 1000, "the reader read while the writes ran ({reads} reads)");
    let seen = seen.lock().unwrap();
    let shown: Vec<&String> = refused.iter().filter(|id| seen.contains(*id)).collect();
    assert!(shown.is_empty(), "a reader saw writes the disk refused: {shown:?}");
    // And none of them is there now.
    for id in &refused {
        assert_eq!(app.store.get(&Id::parse(id).unwrap()).unwrap(), None, "{id}");
    }
    let problems = app.store.verify().unwrap();
    assert!(problems.is_empty(), "{problems:?}");
}

#[tokio::test]
async fn a_free_space_floor_refuses_writes_with_a_clear_error_before_the_disk_is_full() {
    let Some(disk) = SmallDisk::mount("8m") else {
        return;
    };
    let app = spawn_on(&disk, 4).await;
    let before = actor_count(&app).await;
    // Leave about 2 MiB free: under the floor.
    let ballast = disk.path().join("ballast");
    let free = fs_free(disk.path());
    std::fs::write(&ballast, vec![0u8; (free.saturating_sub(2 << 20)) as usize]).unwrap();
    let answer = create(&app, 1).await;
    assert_eq!(error_code(&answer), "STORAGE_UNAVAILABLE", "{answer:#}");
    let message = answer["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("floor"), "{message}");
    assert_eq!(actor_count(&app).await, before);
    assert_eq!(ready(&app).await.0, 503);

    std::fs::remove_file(&ballast).unwrap();
    let answer = create(&app, 2).await;
    assert!(answer.get("errors").is_none(), "{answer:#}");
    assert_eq!(actor_count(&app).await, before + 1);
    assert_eq!(ready(&app).await.0, 200);
}

/// Bytes free on the filesystem holding `path`.
fn fs_free(path: &Path) -> u64 {
    let out = Command::new("df")
        .args(["-B1", "--output=avail"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .unwrap()
}

//! The transport baseline for `benches/run.sh`: a minimal actix-web server
//! that answers each benchmark body with the answer bytes recorded from
//! diplograph, doing no GraphQL work at all, with the same worker settings
//! (one worker, the same client timeout, the same allocator). What it serves per second is the
//! limit of the transport on this machine, so every row of the load test
//! gets a ratio to it on the same bytes.
//!
//!     transport <answers-dir> <bind-address>
//!
//! `<answers-dir>` holds, per benchmark query `NAME`, the request body
//! `NAME.json`, the answer `NAME.answer`, and, when diplograph gzipped it
//! for a client that accepts gzip, `NAME.answer.gz`. `GET /health` answers
//! as diplograph's does. The address it listens on is printed as
//! `listening on <address>`. Built by `cargo bench --no-run`; `cargo bench`
//! itself passes `--bench`, which is ignored.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use actix_web::http::header::{self, HeaderValue};
use actix_web::web::{self, Bytes};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer};

// The allocator diplograph's binary uses, so the baseline differs from it
// only by the GraphQL work.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One recorded answer, plain and (when recorded) gzipped.
struct Recorded {
    plain: Bytes,
    gzipped: Option<Bytes>,
}

/// Recorded answers by request body.
type Answers = Arc<HashMap<Bytes, Recorded>>;

fn load(dir: &Path) -> std::io::Result<HashMap<Bytes, Recorded>> {
    let mut answers = HashMap::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let plain_path = path.with_extension("answer");
        let Ok(plain) = std::fs::read(&plain_path) else {
            continue;
        };
        let gzipped = std::fs::read(path.with_extension("answer.gz")).ok().map(Bytes::from);
        answers.insert(
            Bytes::from(std::fs::read(&path)?),
            Recorded {
                plain: Bytes::from(plain),
                gzipped,
            },
        );
    }
    Ok(answers)
}

fn accepts_gzip(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("gzip"))
}

async fn graphql(req: HttpRequest, body: Bytes, answers: web::Data<Answers>) -> HttpResponse {
    let Some(recorded) = answers.get(&body) else {
        return HttpResponse::NotFound().body("no recorded answer for this body");
    };
    let mut response = HttpResponse::Ok();
    response.insert_header((
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    ));
    match (&recorded.gzipped, accepts_gzip(&req)) {
        (Some(gzipped), true) => {
            response.insert_header((header::CONTENT_ENCODING, HeaderValue::from_static("gzip")));
            response.body(gzipped.clone())
        }
        _ => response.body(recorded.plain.clone()),
    }
}

async fn health() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let [dir, bind] = args.as_slice() else {
        // Under `cargo bench` with no arguments: nothing to measure alone.
        eprintln!("usage: transport <answers-dir> <bind-address> (benches/run.sh starts it)");
        return Ok(());
    };
    let answers: Answers = Arc::new(load(Path::new(dir))?);
    eprintln!("{} recorded answers", answers.len());
    actix_web::rt::System::new().block_on(async move {
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(answers.clone()))
                .app_data(web::PayloadConfig::new(1024 * 1024))
                .route("/health", web::get().to(health))
                .route("/graphql", web::post().to(graphql))
        })
        .workers(1)
        .client_request_timeout(std::time::Duration::from_secs(5))
        .bind(bind.as_str())?;
        for address in server.addrs() {
            println!("listening on {address}");
        }
        use std::io::Write;
        std::io::stdout().flush()?;
        server.run().await
    })
}

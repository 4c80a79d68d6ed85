//! HTTP: the actix-web routes in front of the schema. This layer knows
//! GraphQL-over-HTTP, not entity types.
//!
//! Routes: `POST /graphql`, `GET /graphql` (queries only), the GraphiQL IDE at
//! `/` and at `/graphql` for browsers asking for HTML, `GET /health`, and the
//! IDE's assets under `/playground-assets/` when they are served locally.

mod graphql;
mod playground;

use std::path::PathBuf;

use actix_web::{web, HttpResponse};

use crate::graphql::AppSchema;
use crate::store::Store;

/// Where the IDE's scripts come from.
#[derive(Clone, Debug)]
pub enum Assets {
    /// A URL base such as `https://unpkg.com`, laid out like a package CDN.
    Cdn(String),
    /// A local directory laid out like `node_modules`, served by this server.
    Local(PathBuf),
}

impl Assets {
    /// A setting is a URL when it has a scheme; anything else is a directory.
    pub fn from_setting(setting: &str) -> Assets {
        if setting.starts_with("http://") || setting.starts_with("https://") {
            Assets::Cdn(setting.trim_end_matches('/').to_owned())
        } else {
            Assets::Local(PathBuf::from(setting))
        }
    }
}

/// What every handler shares; built once and cloned into each worker.
#[derive(Clone)]
pub struct AppState {
    pub schema: AppSchema,
    pub store: Store,
    pub assets: Assets,
    pub body_limit: usize,
}

/// Registers every route.
pub fn configure(state: AppState) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg: &mut web::ServiceConfig| {
        if let Assets::Local(dir) = &state.assets {
            cfg.service(actix_files::Files::new("/playground-assets", dir));
        }
        cfg.app_data(web::Data::new(state))
            .route("/health", web::get().to(health))
            .route("/", web::get().to(playground::page))
            .service(
                web::resource("/graphql")
                    .route(web::post().to(graphql::post))
                    .route(web::get().to(graphql::get))
                    .default_service(web::to(graphql::other_method)),
            );
    }
}

async fn health() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

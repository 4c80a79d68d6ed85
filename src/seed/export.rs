//! Exporting a store as seed files.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::Path;

use crate::model::{Entity, EntityKind};
use crate::store::Store;

use super::SeedError;

/// Writes the whole store out as seed files (`actors.json`, …) in `dir`,
/// one entity at a time, so that loading `dir` gives back the same graph.
pub fn export(store: &Store, dir: &Path) -> Result<BTreeMap<EntityKind, usize>, SeedError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source: std::io::Error| SeedError::Dir { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut counts = BTreeMap::new();
    for kind in EntityKind::ALL {
        let path = dir.join(format!("{}.json", kind.plural()));
        let mut out = std::io::BufWriter::new(File::create(&path).map_err(io(&path))?);
        out.write_all(b"[").map_err(io(&path))?;
        let mut n = 0usize;
        let mut failure: Option<SeedError> = None;
        // A damaged record is skipped (and logged): export salvages what is intact.
        let damaged = store.for_each_intact(kind, &mut |record| {
            if failure.is_some() {
                return;
            }
            let body = match &record.entity {
                Entity::Actor(e) => serde_json::to_string_pretty(e),
                Entity::Event(e) => serde_json::to_string_pretty(e),
                Entity::Treaty(e) => serde_json::to_string_pretty(e),
                Entity::Funding(e) => serde_json::to_string_pretty(e),
                Entity::Place(e) => serde_json::to_string_pretty(e),
                Entity::Source(e) => serde_json::to_string_pretty(e),
            };
            let result = body
                .map_err(std::io::Error::other)
                .and_then(|body| write!(out, "{}\n{body}", if n == 0 { "\n" } else { ",\n" }));
            match result {
                Ok(()) => n += 1,
                Err(e) => failure = Some(io(&path)(e)),
            }
        })?;
        for problem in damaged {
            tracing::error!(problem = %problem, "export skipped a damaged record");
        }
        if let Some(e) = failure {
            return Err(e);
        }
        out.write_all(b"\n]\n").map_err(io(&path))?;
        out.flush().map_err(io(&path))?;
        counts.insert(kind, n);
    }
    Ok(counts)
}

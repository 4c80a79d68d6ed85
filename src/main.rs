use std::process::ExitCode;

// Resolving a query allocates many small, short-lived objects; mimalloc
// serves them markedly faster than the system allocator. It is built without
// transparent huge pages (the `no_thp` feature): with them, its arenas held
// ~50 MB resident on an idle server; without, ~14 MB.
// The `system-alloc` feature leaves the system allocator in place, so that
// heap profilers which intercept malloc (heaptrack) see every allocation.
#[cfg(not(feature = "system-alloc"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use diplograph::config::Command;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", diplograph::startup::error_report(&error));
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let command = diplograph::config::parse()?.into_command();
    diplograph::telemetry::init();
    match command {
        Command::Serve(settings) => {
            // Memory freed by a thread that then idles goes back at once
            // (see `allocator`): the server's footprint at 10 M entities.
            #[cfg(not(feature = "system-alloc"))]
            diplograph::allocator::purge_promptly();
            diplograph::startup::serve(settings)
        }
        Command::Seed {
            store,
            check,
            reset,
            dir,
            article,
        } => diplograph::startup::seed(&store, dir, check, reset, article.as_deref()),
        Command::Generate {
            entities,
            out,
            rng_seed,
        } => {
            let shape = diplograph::generate::generate(entities, rng_seed, &out)?;
            println!(
                "wrote {} sources, {} places, {} actors, {} treaties, {} events, {} funding allocations to {}",
                shape.sources,
                shape.places,
                shape.actors,
                shape.treaties,
                shape.events,
                shape.funding,
                out.display()
            );
            Ok(())
        }
        Command::Export { store, dir } => diplograph::startup::export(&store, &dir),
        Command::Verify { store } => diplograph::startup::verify(&store),
        Command::Schema { federation: false } => {
            print!("{}", diplograph::graphql::sdl());
            Ok(())
        }
        Command::Schema { federation: true } => {
            print!("{}", diplograph::graphql::subgraph_sdl());
            Ok(())
        }
    }
}

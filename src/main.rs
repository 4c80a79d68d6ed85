use clap::Parser;

// Resolving a query allocates many small, short-lived objects; mimalloc
// serves them markedly faster than the system allocator. It is built without
// transparent huge pages (the `no_thp` feature): with them, its arenas held
// ~50 MB resident on an idle server; without, ~14 MB.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use diplograph::config::{apply_config_file, Cli, Command};

fn main() -> anyhow::Result<()> {
    // The config file only fills in environment variables, so it must be
    // read before clap looks at them.
    apply_config_file(&std::env::args().collect::<Vec<_>>())?;
    let cli = Cli::parse();
    diplograph::telemetry::init();
    cli.settings.validate()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => diplograph::startup::serve(cli.settings),
        Command::Seed {
            check,
            reset,
            dir,
            article,
        } => diplograph::startup::seed(&cli.settings, dir, check, reset, article.as_deref()),
        Command::Generate { entities, out, seed } => {
            let shape = diplograph::generate::generate(entities, seed, &out)?;
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
        Command::Export { dir } => diplograph::startup::export(&cli.settings, &dir),
        Command::Verify => diplograph::startup::verify(&cli.settings),
        Command::Schema => {
            print!("{}", diplograph::graphql::sdl());
            Ok(())
        }
    }
}

use clap::Parser;

use diplograph::config::{Cli, Command};

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    diplograph::telemetry::init();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => diplograph::startup::serve(cli.settings),
        Command::Seed { check, reset, dir } => {
            diplograph::startup::seed(&cli.settings, dir, check, reset)
        }
        Command::Schema => {
            print!("{}", diplograph::graphql::sdl());
            Ok(())
        }
    }
}

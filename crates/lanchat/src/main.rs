//! `lanchat`: the one user-facing binary. `main` only parses arguments,
//! sets up logging and hands over to [`run`]; the work lives in the
//! libraries.

mod cli;
mod discover;
mod docs;
mod join;
mod logging;
mod secrets;
mod serve;
mod usage;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("lanchat: {err:#}");
            if err.is::<usage::Usage>() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn run(cli: cli::Cli) -> anyhow::Result<ExitCode> {
    let command = cli.command.unwrap_or(cli::Command::Join(cli.join));
    if matches!(command, cli::Command::Serve(_)) {
        serve::restart_with_tunables();
        lanchat_server::tune_allocator();
    }
    let mut builder = match &command {
        cli::Command::Serve(args) if args.threads == 1 => {
            tokio::runtime::Builder::new_current_thread()
        }
        cli::Command::Serve(args) => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            if args.threads > 1 {
                b.worker_threads(args.threads);
            }
            b
        }
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    let runtime = builder.enable_all().build()?;
    match command {
        cli::Command::Serve(args) => {
            logging::init("info");
            runtime.block_on(serve::run(args))
        }
        cli::Command::Join(args) => {
            let tui = join::wants_tui(&args);
            if tui {
                logging::init_file("info");
            } else {
                logging::init("warn");
            }
            runtime.block_on(join::run(args, tui))
        }
        cli::Command::Discover(args) => {
            logging::init("warn");
            runtime.block_on(discover::run(args))
        }
        cli::Command::Forget { room } => join::forget(&room),
        cli::Command::Completions { shell } => docs::completions(shell),
        cli::Command::Man => docs::man(),
    }
}

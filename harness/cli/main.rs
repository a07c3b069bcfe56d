//! The `authmatrix` command: a thin layer over the library. It parses the command line, lets
//! `authmatrix::command` validate it into a `Config` and run it, and turns the outcome into the
//! exit code `authmatrix::exit` documents (also listed by `--help`).

mod args;

use args::{Cli, Command};
use authmatrix::command::{self, Config};
use authmatrix::exit::{self, Error};
use clap::Parser;
use clap::error::ErrorKind;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap exits 2 on a usage error, which is CONDITIONAL's code here: bad input is 3.
            let _ = e.print();
            return ExitCode::from(match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => exit::OK,
                _ => exit::BAD_INPUT,
            });
        }
    };
    match run(cli.command) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // An error during Ctrl-C may be the interrupt's doing: the handler exits 130 first.
            authmatrix::cleanup::yield_to_interrupt();
            eprintln!("authmatrix: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn run(command: Command) -> Result<u8, Error> {
    let config = match command {
        Command::NamespaceCheck { inside } => {
            let text = authmatrix::backend::sandbox::child::namespace_check(inside)
                .map_err(anyhow::Error::msg)?;
            print!("{text}");
            return Ok(exit::OK);
        }
        Command::SandboxServe => {
            authmatrix::backend::sandbox::child::main().map_err(anyhow::Error::msg)?;
            return Ok(exit::OK);
        }
        Command::Engine => return command::engine(),
        Command::Run(a) => Config::run(a)?,
        Command::Verdict(a) => Config::verdict(a)?,
        Command::Explain(a) => Config::explain(a)?,
        Command::Prepare(a) => Config::prepare(a)?,
        Command::Scan(a) => Config::scan(a)?,
        Command::Diff { old, new } => Config::diff(&old, &new)?,
        Command::Scenarios { scenario_dir } => Config::scenarios(scenario_dir.as_deref())?,
    };
    config.execute()
}

//! The `authmatrix` command: a thin layer over the library.

mod args;

use anyhow::{Context, bail};
use authmatrix::backend::local::probes::ProbeBuilder;
use authmatrix::backend::{self, Choice, cluster, local};
use authmatrix::matrix::{self, plan};
use authmatrix::report::{Report, diff};
use authmatrix::shared::ArgoTag;
use authmatrix::{ci, decision, explain, project_root as root, scenario};
use args::{Cli, Command, Selection};
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("authmatrix: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::NamespaceCheck { inside } => {
            let text = authmatrix::backend::sandbox::child::namespace_check(inside)
                .map_err(anyhow::Error::msg)?;
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Command::SandboxServe => {
            authmatrix::backend::sandbox::child::main().map_err(anyhow::Error::msg)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Verdict {
            from,
            to,
            uses,
            uses_file,
            report,
            backend,
            provider,
            scenario_dir,
            jobs,
            json,
        } => {
            let globs = decision::uses_globs(uses, uses_file.as_deref())?;
            let scope = plan::select(load(&scenario_dir)?, &globs)?;
            let tags = ArgoTag::parse_list(&format!("{from},{to}"))?;
            let (from, to) = (ArgoTag::parse(&from)?.tag, ArgoTag::parse(&to)?.tag);
            let report = match report {
                Some(dir) => Report::read(&dir)?,
                None => {
                    let choice = Choice::parse(&backend, &provider)?;
                    let jobs = if choice == Choice::Local { jobs } else { choice.default_jobs() };
                    matrix::run(&mut pool(choice, &scope, jobs, 60)?, &scope, &tags)?
                }
            };
            let verdict = decision::decide(&report, &scope, &from, &to);
            let text = verdict.render();
            match json {
                true => println!("{}", serde_json::to_string_pretty(&verdict)?),
                false => print!("{text}"),
            }
            let decision = verdict.decision.label();
            ci::step_summary(&format!(
                "## authmatrix verdict: {from} → {to}: {decision}\n\n{}",
                ci::code_block(&text)
            ))?;
            ci::output("decision", decision)?;
            Ok(ExitCode::from(verdict.decision.exit_code()))
        }
        Command::Explain {
            scenario,
            from,
            to,
            bisect,
            scenario_dir,
            jobs,
        } => {
            let scope = plan::select(load(&scenario_dir)?, std::slice::from_ref(&scenario))?;
            let [s] = &scope[..] else {
                bail!("`{scenario}` names {} scenarios; name exactly one", scope.len())
            };
            let (from, to) = (ArgoTag::parse(&from)?, ArgoTag::parse(&to)?);
            let builder = ProbeBuilder::new(default_cache_dir().join("probes"), root().join("probes"))?;
            let changes = explain::changed_modules(&builder, s, &from, &to)?;
            print!("{}", explain::render(s, &from, &to, &changes));
            if bisect {
                let mut backends = pool(Choice::Local, &scope, jobs, 60)?;
                print!("{}", explain::bisect(&mut backends, &builder, s, &from, &to)?.render());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Diff { old, new } => {
            let (old, new) = (Report::read(&old)?, Report::read(&new)?);
            let d = diff::diff(&old, &new);
            let text = d.render(&old, &new);
            print!("{text}");
            ci::step_summary(&format!(
                "## authmatrix diff: since the previous report\n\n{}",
                ci::code_block(&text)
            ))?;
            Ok(ExitCode::from(u8::from(d.newly_regressed())))
        }
        Command::Scenarios { scenario_dir } => {
            for s in &load(&scenario_dir)? {
                println!("{:<36} {:<14} {}", s.id, s.component.as_str(), s.title);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Prepare {
            backend,
            selection,
            write_sums,
        } => {
            let (scenarios, tags) = select(&selection)?;
            let lines = match backend.as_str() {
                "cluster" => cluster::prepare_tier(&cluster_options(60)?, &tags)?,
                _ => local::prepare_probes(&root(), &default_cache_dir(), &scenarios, &tags, write_sums)?
                    .iter()
                    .map(|p| format!("wrote {}", p.display()))
                    .collect(),
            };
            lines.iter().for_each(|l| println!("{l}"));
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            backend,
            provider,
            selection,
            out,
            probe_timeout,
            jobs,
        } => {
            let choice = Choice::parse(&backend, &provider)?;
            let (scenarios, tags) = select(&selection)?;
            Report::check_writable(&out)?;
            let jobs = jobs.unwrap_or(choice.default_jobs());
            let mut backends = pool(choice, &scenarios, jobs, probe_timeout)?;
            let report = matrix::run(&mut backends, &scenarios, &tags)?;
            drop(backends);
            report
                .write(&out)
                .with_context(|| format!("writing reports to {}", out.display()))?;
            print!("{}", report.matrix_text());
            ci::step_summary(&std::fs::read_to_string(out.join("report.md"))?)?;
            println!("{} cells; reports in {}", report.summary.cells, out.display());
            Ok(ExitCode::from(u8::from(!report.summary.ok)))
        }
    }
}

fn load(dir: &Option<PathBuf>) -> anyhow::Result<Vec<scenario::Scenario>> {
    Ok(plan::catalogue(dir.as_deref())?)
}

fn select(selection: &Selection) -> anyhow::Result<(Vec<scenario::Scenario>, Vec<ArgoTag>)> {
    let scenarios = plan::select(load(&selection.scenario_dir)?, &selection.scenarios)?;
    Ok((scenarios, plan::tags(selection.argo.as_deref())?))
}

/// `jobs` backends of one kind for these scenarios (refused when the backend can run none of
/// them), each probe or workflow bounded by `timeout` seconds.
fn pool(
    choice: Choice,
    scenarios: &[scenario::Scenario],
    jobs: usize,
    timeout: u64,
) -> anyhow::Result<Vec<Box<dyn authmatrix::backend::Backend + Send>>> {
    choice.check_can_run(scenarios)?;
    backend::pool(choice, std::env::current_exe()?, jobs, Duration::from_secs(timeout))
}

fn cluster_options(timeout: u64) -> anyhow::Result<cluster::ClusterOptions> {
    Ok(cluster::ClusterOptions {
        sandbox_exe: std::env::current_exe()?,
        project_root: root(),
        cache_dir: default_cache_dir(),
        provider: cluster::provider::ProviderKind::LocalUp,
        cell_timeout: Duration::from_secs(timeout),
    })
}

fn default_cache_dir() -> PathBuf {
    local::LocalOptions::default_cache_dir()
}

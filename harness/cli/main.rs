//! The `authmatrix` command: a thin layer over the library.

mod args;

use anyhow::{Context, bail};
use args::{Cli, Command, ExplainArgs, PrepareArgs, RunArgs, ScanArgs, Selection, VerdictArgs};
use authmatrix::backend::{self, Choice, cluster};
use authmatrix::build::{self, probe_set, probes::ProbeBuilder};
use authmatrix::matrix::{self, plan};
use authmatrix::report::{Report, diff};
use authmatrix::shared::ArgoTag;
use authmatrix::{ci, decision, explain, project_root as root, scenario};
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            authmatrix::cleanup::yield_to_interrupt();
            eprintln!("authmatrix: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::NamespaceCheck { inside } => {
            let text =
                backend::sandbox::child::namespace_check(inside).map_err(anyhow::Error::msg)?;
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Command::SandboxServe => {
            backend::sandbox::child::main().map_err(anyhow::Error::msg)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Verdict(a) => verdict(a),
        Command::Scan(a) => scan(a),
        Command::Explain(a) => explain(a),
        Command::Diff { old, new } => {
            let (old, new) = (Report::read(&old)?, Report::read(&new)?);
            let d = diff::diff(&old, &new);
            let text = d.render(&old, &new);
            print!("{text}");
            let summary = ci::code_block(&text);
            ci::step_summary(&format!(
                "## authmatrix diff: since the previous report\n\n{summary}"
            ))?;
            Ok(ExitCode::from(u8::from(d.newly_regressed())))
        }
        Command::Scenarios { scenario_dir } => {
            for s in &load(&scenario_dir)? {
                println!("{:<36} {:<14} {}", s.id, s.component.as_str(), s.title);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Engine => {
            let exe = std::env::current_exe()?;
            cluster::engine::serve(&root(), &build::cache_dir(), &exe)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Prepare(a) => prepare(a),
        Command::Run(a) => run_matrix(a),
    }
}

fn verdict(a: VerdictArgs) -> anyhow::Result<ExitCode> {
    let globs = decision::uses_globs(a.uses, a.uses_file.as_deref())?;
    let scope = plan::select(load(&a.scenario_dir)?, &globs)?;
    let from = decision::from_or_recorded(a.from, a.scenario_dir.as_deref())?;
    let tags = ArgoTag::parse_list(&format!("{from},{}", a.to))?;
    let (from, to) = (ArgoTag::parse(&from)?.tag, ArgoTag::parse(&a.to)?.tag);
    let report = match a.report {
        Some(dir) => Report::read(&dir)?,
        None => {
            let choice = Choice::parse(&a.backend, &a.provider)?;
            let jobs = match choice {
                Choice::Local => a.jobs.unwrap_or(matrix::default_jobs(
                    choice,
                    &matrix::Cells::all(&scope, &tags),
                )),
                _ => choice.default_jobs(),
            };
            matrix::run(&mut pool(choice, &scope, jobs, 60)?, &scope, &tags)?
        }
    };
    let verdict = decision::decide(&report, &scope, &from, &to);
    let text = verdict.render();
    match a.json {
        true => println!("{}", serde_json::to_string_pretty(&verdict)?),
        false => print!("{text}"),
    }
    let decision = verdict.decision.label();
    let summary = ci::code_block(&text);
    ci::step_summary(&format!(
        "## authmatrix verdict: {from} → {to}: {decision}\n\n{summary}"
    ))?;
    ci::output("decision", decision)?;
    Ok(ExitCode::from(verdict.decision.exit_code()))
}

fn scan(a: ScanArgs) -> anyhow::Result<ExitCode> {
    let scanned = match &a.kubeconfig {
        Some(kc) => authmatrix::scan::from_cluster(kc, a.context.as_deref()),
        None => authmatrix::scan::from_manifests(&a.manifests, &a.namespace),
    };
    let scanned = match scanned {
        Ok(s) => s,
        Err(e) => {
            eprintln!("authmatrix: {e}");
            return Ok(ExitCode::from(authmatrix::scan::EXIT_CANNOT_SCAN));
        }
    };
    match a.json {
        true => println!("{}", serde_json::to_string_pretty(&scanned)?),
        false => print!("{}", scanned.render()),
    }
    if let Some(out) = &a.out {
        let catalogue = a.scenario_dir.unwrap_or_else(|| root().join("scenarios"));
        let files = authmatrix::scan::catalogue::write(&scanned, &catalogue, out)
            .map_err(anyhow::Error::msg)?;
        eprintln!("wrote {} files to {}", files.len(), out.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn explain(a: ExplainArgs) -> anyhow::Result<ExitCode> {
    let scope = plan::select(load(&a.scenario_dir)?, std::slice::from_ref(&a.scenario))?;
    let [s] = &scope[..] else {
        bail!(
            "`{}` names {} scenarios; name exactly one",
            a.scenario,
            scope.len()
        )
    };
    let (from, to) = (ArgoTag::parse(&a.from)?, ArgoTag::parse(&a.to)?);
    let builder = ProbeBuilder::new(build::cache_dir().join("probes"), root().join("probes"))?;
    let changes = explain::changed_modules(&builder, s, &from, &to)?;
    print!("{}", explain::render(s, &from, &to, &changes));
    if a.bisect {
        let mut backends = pool(Choice::Local, &scope, a.jobs, 60)?;
        print!(
            "{}",
            explain::bisect(&mut backends, &builder, s, &from, &to)?.render()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn prepare(a: PrepareArgs) -> anyhow::Result<ExitCode> {
    let (scenarios, tags) = select(&a.selection)?;
    let lines = match a.backend.as_str() {
        "cluster" => cluster::prepare_tier(&cluster_options(60)?, &tags)?,
        _ => probe_set::prepare_probes(
            &root(),
            &build::cache_dir(),
            &scenarios,
            &tags,
            a.write_sums,
        )?
        .iter()
        .map(|p| format!("wrote {}", p.display()))
        .collect(),
    };
    lines.iter().for_each(|l| println!("{l}"));
    Ok(ExitCode::SUCCESS)
}

fn run_matrix(a: RunArgs) -> anyhow::Result<ExitCode> {
    let choice = Choice::parse(&a.backend, &a.provider)?;
    let (scenarios, tags) = select(&a.selection)?;
    Report::check_writable(&a.out)?;
    let jobs = a
        .jobs
        .unwrap_or_else(|| matrix::default_jobs(choice, &matrix::Cells::all(&scenarios, &tags)));
    let mut backends = pool(choice, &scenarios, jobs, a.probe_timeout)?;
    let report = matrix::run(&mut backends, &scenarios, &tags)?;
    drop(backends);
    let out = &a.out;
    report
        .write(out)
        .with_context(|| format!("writing reports to {}", out.display()))?;
    print!("{}", report.matrix_text());
    ci::step_summary(&std::fs::read_to_string(out.join("report.md"))?)?;
    println!(
        "{} cells; reports in {}",
        report.summary.cells,
        out.display()
    );
    Ok(ExitCode::from(u8::from(!report.summary.ok)))
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
    backend::pool(
        choice,
        std::env::current_exe()?,
        jobs,
        Duration::from_secs(timeout),
    )
}

fn cluster_options(timeout: u64) -> anyhow::Result<cluster::ClusterOptions> {
    Ok(cluster::ClusterOptions {
        sandbox_exe: std::env::current_exe()?,
        project_root: root(),
        cache_dir: build::cache_dir(),
        provider: cluster::provider::ProviderKind::LocalUp,
        cell_timeout: Duration::from_secs(timeout),
    })
}

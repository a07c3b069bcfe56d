//! The `authmatrix` command: a thin layer over the library.

use anyhow::{Context, bail};
use authmatrix::backend::local::probes::ProbeBuilder;
use authmatrix::backend::local::{LocalOptions, ProbeSet};
use authmatrix::explain;
use authmatrix::matrix::{self, plan, tags::ArgoTag};
use authmatrix::scenario;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "authmatrix",
    version,
    about = "Which Argo Workflows auth setups break on which Argo version"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct Selection {
    /// Argo tags, comma-separated (default: v3.5.11,v3.5.12,v3.6.0,v3.6.2,v3.6.4,v3.6.5,v3.7.18).
    #[arg(long, env = "AUTHMATRIX_ARGO")]
    argo: Option<String>,
    /// Only scenarios whose id matches this glob; repeatable (in the environment: comma-separated).
    #[arg(
        long = "scenario",
        value_name = "GLOB",
        env = "AUTHMATRIX_SCENARIO",
        value_delimiter = ','
    )]
    scenarios: Vec<String>,
    /// Directory of scenario files (default: the project's scenarios/).
    #[arg(long = "scenarios", value_name = "DIR")]
    scenario_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the matrix and write report.json, report.md and junit.xml.
    Run {
        /// `local` (Argo's code via probes, in a sandbox) or `cluster` (Argo's released
        /// workflow-controller against a real Kubernetes API server).
        #[arg(long, default_value = "local", env = "AUTHMATRIX_BACKEND")]
        backend: String,
        /// Where the cluster backend's cluster comes from: `local-up` (built from Kubernetes'
        /// Go modules, no container engine) or `kind` (Docker and a registry).
        #[arg(long, default_value = "local-up")]
        provider: String,
        #[command(flatten)]
        selection: Selection,
        /// Output directory for the reports.
        #[arg(long, default_value = "out")]
        out: PathBuf,
        /// Seconds one probe may run.
        #[arg(long, default_value_t = 60)]
        probe_timeout: u64,
        /// Backends running cells side by side, each with its own sandbox (default: 4 local, 2
        /// cluster).
        #[arg(long)]
        jobs: Option<usize>,
    },
    /// Decide whether an upgrade is safe for the auth setups you use: GO (exit 0), NO-GO (exit 1,
    /// with blockers, upstream issues, fix versions and workarounds) or CONDITIONAL (exit 2).
    Verdict {
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        /// Scenario id globs of the setups you rely on (default: all); repeatable.
        #[arg(long = "uses", value_name = "GLOB")]
        uses: Vec<String>,
        /// A file of such globs, one per line (`#` starts a comment).
        #[arg(long = "uses-file", value_name = "FILE")]
        uses_file: Option<PathBuf>,
        /// Read the cells from this run's report.json instead of running them.
        #[arg(long, value_name = "DIR")]
        report: Option<PathBuf>,
        /// Where to run the cells when there is no --report: `local` or `cluster` (node scenarios
        /// need the cluster; on the local backend they are not applicable, so the verdict is
        /// CONDITIONAL for them).
        #[arg(long, default_value = "local", env = "AUTHMATRIX_BACKEND")]
        backend: String,
        #[arg(long, default_value = "local-up")]
        provider: String,
        #[arg(long = "scenarios", value_name = "DIR")]
        scenario_dir: Option<PathBuf>,
        #[arg(long, default_value_t = authmatrix::matrix::DEFAULT_JOBS)]
        jobs: usize,
        /// Print the verdict as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Which Go modules on a scenario's code path changed between two versions; with --bisect, run
    /// the scenario on every tag in between and name the first one where the cell flips.
    Explain {
        scenario: String,
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        #[arg(long)]
        bisect: bool,
        #[arg(long = "scenarios", value_name = "DIR")]
        scenario_dir: Option<PathBuf>,
        #[arg(long, default_value_t = authmatrix::matrix::DEFAULT_JOBS)]
        jobs: usize,
    },
    /// Build (or find cached) what a backend needs for the selected tags, without running
    /// anything: probes (local), or Kubernetes, etcd and each tag's workflow-controller (cluster).
    Prepare {
        #[arg(long, default_value = "local")]
        backend: String,
        #[command(flatten)]
        selection: Selection,
        /// Also copy each probe's go.sum into probes/<probe>/sums/<tag>.sum (to commit).
        #[arg(long)]
        write_sums: bool,
    },
    /// What moved between two runs: cells whose verdict or observed outcome changed, new and
    /// vanished cells. Exit 1 when a cell newly regressed. Each is a report.json or its directory.
    Diff { old: PathBuf, new: PathBuf },
    /// Validate the scenario catalogue and list it.
    Scenarios {
        #[arg(long = "scenarios", value_name = "DIR")]
        scenario_dir: Option<PathBuf>,
    },
    /// Check that the local backend's namespaces work here (as root or through user namespaces).
    NamespaceCheck {
        #[arg(long, hide = true)]
        inside: bool,
    },
    /// Internal: the sandbox process, started by the local backend inside its namespaces.
    #[command(hide = true)]
    SandboxServe,
}

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
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Command::SandboxServe => {
            authmatrix::backend::sandbox::child::main().map_err(|e| anyhow::anyhow!(e))?;
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
            let mut globs = uses;
            if let Some(file) = uses_file {
                let text = std::fs::read_to_string(&file)
                    .with_context(|| format!("reading {}", file.display()))?;
                globs.extend(
                    text.lines()
                        .map(|l| l.split('#').next().unwrap_or("").trim())
                        .filter(|l| !l.is_empty())
                        .map(str::to_string),
                );
            }
            let scope = plan::select(load(scenario_dir.as_ref())?, &globs)?;
            let tags = ArgoTag::parse_list(&format!("{from},{to}"))?;
            let (from, to) = (ArgoTag::parse(&from)?.tag, ArgoTag::parse(&to)?.tag);
            let report = match report {
                Some(dir) => authmatrix::report::Report::read(&dir)?,
                None => {
                    let choice = authmatrix::backend::Choice::parse(&backend, &provider)?;
                    let jobs = if choice == authmatrix::backend::Choice::Local {
                        jobs
                    } else {
                        choice.default_jobs()
                    };
                    let mut backends = authmatrix::backend::pool(
                        choice,
                        std::env::current_exe()?,
                        jobs,
                        Duration::from_secs(60),
                    )?;
                    matrix::run(&mut backends, &scope, &tags)?
                }
            };
            let verdict = authmatrix::decision::decide(&report, &scope, &from, &to);
            if json {
                println!("{}", serde_json::to_string_pretty(&verdict)?);
            } else {
                print!("{}", verdict.render());
            }
            let decision = verdict.decision.label();
            authmatrix::ci::step_summary(&format!(
                "## authmatrix verdict: {from} → {to}: {decision}\n\n{}",
                authmatrix::ci::code_block(&verdict.render())
            ))?;
            authmatrix::ci::output("decision", decision)?;
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
            let scope = plan::select(
                load(scenario_dir.as_ref())?,
                std::slice::from_ref(&scenario),
            )?;
            let [s] = &scope[..] else {
                bail!(
                    "`{scenario}` names {} scenarios; name exactly one",
                    scope.len()
                )
            };
            let (from, to) = (ArgoTag::parse(&from)?, ArgoTag::parse(&to)?);
            let builder = ProbeBuilder::new(
                LocalOptions::default_cache_dir().join("probes"),
                authmatrix::project_root().join("probes"),
            )?;
            let changes = explain::changed_modules(&builder, s, &from, &to)?;
            print!("{}", explain::render(s, &from, &to, &changes));
            if bisect {
                let mut tags = vec![from.clone()];
                tags.extend(explain::tags_between(&builder, &from, &to));
                tags.push(to.clone());
                let names: Vec<&str> = tags.iter().map(|t| t.tag.as_str()).collect();
                authmatrix::progress::line(&format!("bisect over {}", names.join(", ")));
                let mut backends = local_backends(jobs, 60)?;
                let report = matrix::run(&mut backends, &scope, &tags)?;
                drop(backends);
                let outcome = |t: &ArgoTag| report.cell(&s.id, &t.tag).map(|c| c.observed.outcome);
                let start = outcome(&from);
                println!();
                for t in &tags {
                    println!(
                        "  {:<10} {}",
                        t.tag,
                        outcome(t)
                            .map(|o| format!("{o:?}").to_lowercase())
                            .unwrap_or_default()
                    );
                }
                match tags.iter().skip(1).find(|t| outcome(t) != start) {
                    Some(t) => println!("first tag where {} flips: {}", s.id, t.tag),
                    None => println!("{} does not flip between {from} and {to}", s.id),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Diff { old, new } => {
            use authmatrix::report::{Report, diff};
            let (old, new) = (Report::read(&old)?, Report::read(&new)?);
            let d = diff::diff(&old, &new);
            print!("{}", d.render(&old, &new));
            authmatrix::ci::step_summary(&format!(
                "## authmatrix diff: since the previous report\n\n{}",
                authmatrix::ci::code_block(&d.render(&old, &new))
            ))?;
            Ok(if d.newly_regressed() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Scenarios { scenario_dir } => {
            let scenarios = load(scenario_dir.as_ref())?;
            for s in &scenarios {
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
            if backend == "cluster" {
                return prepare_cluster(&tags);
            }
            // Probes need only Go (ProbeBuilder says if it is missing): this runs on a fresh
            // machine before the venv or `ip` exist.
            authmatrix::cleanup::install();
            let mut probes = ProbeSet::new(
                &authmatrix::project_root(),
                &LocalOptions::default_cache_dir(),
            );
            let mut components: Vec<_> = scenarios.iter().map(|s| s.component).collect();
            components.sort();
            components.dedup();
            let infos = probes.build(&tags, &components)?;
            let failed: Vec<_> = infos
                .iter()
                .flat_map(|(t, c)| {
                    c.values()
                        .filter_map(move |i| i.error.as_ref().map(|e| format!("{t}: {e}")))
                })
                .collect();
            if !failed.is_empty() {
                bail!("some probes did not build:\n{}", failed.join("\n"));
            }
            if write_sums {
                for path in probes.write_sums()? {
                    println!("wrote {}", path.display());
                }
            }
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
            let choice = authmatrix::backend::Choice::parse(&backend, &provider)?;
            let (scenarios, tags) = select(&selection)?;
            authmatrix::report::Report::check_writable(&out)?;
            let mut backends = authmatrix::backend::pool(
                choice,
                std::env::current_exe()?,
                jobs.unwrap_or(choice.default_jobs()),
                Duration::from_secs(probe_timeout),
            )?;
            let report = matrix::run(&mut backends, &scenarios, &tags)?;
            drop(backends);
            report
                .write(&out)
                .with_context(|| format!("writing reports to {}", out.display()))?;
            print!("{}", report.matrix_text());
            authmatrix::ci::step_summary(&std::fs::read_to_string(out.join("report.md"))?)?;
            println!(
                "{} cells; reports in {}",
                report.summary.cells,
                out.display()
            );
            Ok(if report.summary.ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

/// Builds the cluster tier for `tags`; fails naming every piece that did not build.
fn prepare_cluster(tags: &[ArgoTag]) -> anyhow::Result<ExitCode> {
    use authmatrix::backend::cluster::{ClusterBackend, ClusterOptions, provider::ProviderKind};
    let opts = ClusterOptions {
        sandbox_exe: std::env::current_exe()?,
        project_root: authmatrix::project_root(),
        cache_dir: LocalOptions::default_cache_dir(),
        provider: ProviderKind::LocalUp,
        cell_timeout: Duration::from_secs(60),
    };
    let (plane, controllers) =
        ClusterBackend::build_all(&opts, tags).map_err(|e| anyhow::anyhow!(e))?;
    println!(
        "Kubernetes {} and etcd {}: {}",
        plane.kubernetes_version,
        plane.etcd_version,
        plane.kube.display()
    );
    let mut failed = Vec::new();
    for (tag, result) in controllers {
        match result {
            Ok(b) => println!("workflow-controller {tag}: {}", b.binary.display()),
            Err(e) => failed.push(format!("{tag}: {e}")),
        }
    }
    if !failed.is_empty() {
        bail!(
            "some workflow-controllers did not build:\n{}",
            failed.join("\n")
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn load(dir: Option<&PathBuf>) -> anyhow::Result<Vec<scenario::Scenario>> {
    let dir = dir
        .cloned()
        .unwrap_or_else(|| authmatrix::project_root().join("scenarios"));
    Ok(scenario::load_dir(&dir)?)
}

fn select(selection: &Selection) -> anyhow::Result<(Vec<scenario::Scenario>, Vec<ArgoTag>)> {
    let scenarios = plan::select(load(selection.scenario_dir.as_ref())?, &selection.scenarios)?;
    let tags = match &selection.argo {
        Some(list) => ArgoTag::parse_list(list)?,
        None => ArgoTag::defaults(),
    };
    if tags.is_empty() {
        bail!("--argo names no tag");
    }
    Ok((scenarios, tags))
}

/// `jobs` local backends, one sandbox each, for `matrix::run`.
fn local_backends(
    jobs: usize,
    probe_timeout: u64,
) -> anyhow::Result<Vec<Box<dyn authmatrix::backend::Backend + Send>>> {
    authmatrix::backend::pool(
        authmatrix::backend::Choice::Local,
        std::env::current_exe()?,
        jobs,
        Duration::from_secs(probe_timeout),
    )
}

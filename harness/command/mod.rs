//! The commands `authmatrix` carries out, in two steps each: its flags become one typed,
//! validated [`Config`] (catalogue loaded, globs matched, tags parsed and known to the module
//! proxy, report read, output directory writable) before a sandbox, cluster or build starts, and
//! only then does [`Config::execute`] do the work. Bad input is refused once, with exit 3, and
//! never after work has begun; see `crate::exit` for every code.

pub mod flags;
mod tags;

use crate::backend::{self, Choice, cluster};
use crate::builds::cache_dir;
use crate::exit::{self, Classify, Error};
use crate::matrix::{self, plan};
use crate::report::{Report, diff};
use crate::scenario::Scenario;
use crate::shared::ArgoTag;
use crate::{ci, decision, explain, project_root as root};
use flags::{Format, Timeout};
use std::path::{Path, PathBuf};

/// A command, validated: everything in it has been checked.
pub enum Config {
    Run(RunConfig),
    Verdict(VerdictConfig),
    Explain(ExplainConfig),
    Prepare(PrepareConfig),
    Scan(ScanConfig),
    Diff { old: Report, new: Report },
    Scenarios(Vec<Scenario>),
}

pub struct RunConfig {
    pub choice: Choice,
    pub scenarios: Vec<Scenario>,
    pub tags: Vec<ArgoTag>,
    pub out: PathBuf,
    pub timeout: Timeout,
    pub jobs: Option<usize>,
}

pub struct VerdictConfig {
    pub scope: Vec<Scenario>,
    pub from: ArgoTag,
    pub to: ArgoTag,
    pub cells: Cells,
    pub format: Format,
}

/// Where a verdict's cells come from.
pub enum Cells {
    Report(Report),
    Run {
        choice: Choice,
        jobs: Option<usize>,
        timeout: Timeout,
    },
}

pub struct ExplainConfig {
    pub scope: Vec<Scenario>,
    pub from: ArgoTag,
    pub to: ArgoTag,
    pub bisect: bool,
    pub jobs: usize,
    pub timeout: Timeout,
}

pub struct PrepareConfig {
    pub choice: Choice,
    pub scenarios: Vec<Scenario>,
    pub tags: Vec<ArgoTag>,
    pub write_sums: bool,
}

pub struct ScanConfig {
    pub source: ScanSource,
    pub format: Format,
    pub out: Option<PathBuf>,
    pub catalogue: PathBuf,
}

pub enum ScanSource {
    Manifests {
        paths: Vec<PathBuf>,
        namespace: String,
    },
    Cluster {
        kubeconfig: PathBuf,
        context: Option<String>,
    },
}

impl Config {
    pub fn run(a: flags::RunArgs) -> Result<Config, Error> {
        let choice = Choice::from(a.target);
        let (scenarios, tags) = select(&a.selection)?;
        choice.check_can_run(&scenarios).input()?;
        Report::check_writable(&a.out).input()?;
        check_known(&tags)?;
        Ok(Config::Run(RunConfig {
            choice,
            scenarios,
            tags,
            out: a.out,
            timeout: a.timeout,
            jobs: a.jobs,
        }))
    }

    pub fn verdict(a: flags::VerdictArgs) -> Result<Config, Error> {
        let globs = decision::uses_globs(a.uses, a.uses_file.as_deref()).input()?;
        let scope = plan::select(load(a.scenario_dir.as_deref())?, &globs).input()?;
        let from = decision::from_or_recorded(a.from, a.scenario_dir.as_deref()).input()?;
        let (from, to) = (parse_tag(&from)?, parse_tag(&a.to)?);
        let cells = match a.report {
            Some(dir) => Cells::Report(Report::read(&dir).input()?),
            None => {
                let choice = Choice::from(a.target);
                choice.check_can_run(&scope).input()?;
                check_known(&[from.clone(), to.clone()])?;
                Cells::Run {
                    choice,
                    jobs: a.jobs,
                    timeout: a.timeout,
                }
            }
        };
        Ok(Config::Verdict(VerdictConfig {
            scope,
            from,
            to,
            cells,
            format: a.output.format(),
        }))
    }

    pub fn explain(a: flags::ExplainArgs) -> Result<Config, Error> {
        let scope = plan::select(
            load(a.scenario_dir.as_deref())?,
            std::slice::from_ref(&a.scenario),
        )
        .input()?;
        if scope.len() != 1 {
            return Err(anyhow::anyhow!(
                "`{}` names {} scenarios; name exactly one",
                a.scenario,
                scope.len()
            ))
            .input();
        }
        let (from, to) = (parse_tag(&a.from)?, parse_tag(&a.to)?);
        check_known(&[from.clone(), to.clone()])?;
        Ok(Config::Explain(ExplainConfig {
            scope,
            from,
            to,
            bisect: a.bisect,
            jobs: a.jobs,
            timeout: a.timeout,
        }))
    }

    pub fn prepare(a: flags::PrepareArgs) -> Result<Config, Error> {
        let choice = Choice::from(flags::Target {
            backend: a.backend,
            provider: a.provider,
        });
        let (scenarios, tags) = select(&a.selection)?;
        check_known(&tags)?;
        Ok(Config::Prepare(PrepareConfig {
            choice,
            scenarios,
            tags,
            write_sums: a.write_sums,
        }))
    }

    pub fn scan(a: flags::ScanArgs) -> Result<Config, Error> {
        let source = match a.kubeconfig {
            Some(kubeconfig) => {
                // An unreadable kubeconfig is the user's to fix; a cluster that does not answer
                // through a readable one is the infrastructure's.
                std::fs::File::open(&kubeconfig)
                    .map_err(|e| anyhow::anyhow!("cannot scan: {}: {e}", kubeconfig.display()))
                    .input()?;
                ScanSource::Cluster {
                    kubeconfig,
                    context: a.context,
                }
            }
            None => ScanSource::Manifests {
                paths: a.manifests,
                namespace: a.namespace,
            },
        };
        if let Some(out) = &a.out {
            Report::check_writable(out).input()?;
        }
        Ok(Config::Scan(ScanConfig {
            source,
            format: a.output.format(),
            out: a.out,
            catalogue: a.scenario_dir.unwrap_or_else(|| root().join("scenarios")),
        }))
    }

    pub fn diff(old: &Path, new: &Path) -> Result<Config, Error> {
        Ok(Config::Diff {
            old: Report::read(old).input()?,
            new: Report::read(new).input()?,
        })
    }

    pub fn scenarios(dir: Option<&Path>) -> Result<Config, Error> {
        Ok(Config::Scenarios(load(dir)?))
    }

    /// Does the work; the exit code of an outcome (`exit::OK`, `NO_GO`, `CONDITIONAL`).
    pub fn execute(self) -> Result<u8, Error> {
        match self {
            Config::Run(c) => c.execute(),
            Config::Verdict(c) => c.execute(),
            Config::Explain(c) => c.execute(),
            Config::Prepare(c) => c.execute(),
            Config::Scan(c) => c.execute(),
            Config::Diff { old, new } => {
                let d = diff::diff(&old, &new);
                let text = d.render(&old, &new);
                print!("{text}");
                let summary = ci::code_block(&text);
                ci::step_summary(&format!(
                    "## authmatrix diff: since the previous report\n\n{summary}"
                ))?;
                Ok(if d.newly_regressed() {
                    exit::NO_GO
                } else {
                    exit::OK
                })
            }
            Config::Scenarios(scenarios) => {
                for s in &scenarios {
                    println!("{:<36} {:<14} {}", s.id, s.component.as_str(), s.title);
                }
                Ok(exit::OK)
            }
        }
    }
}

impl RunConfig {
    fn execute(self) -> Result<u8, Error> {
        let jobs = self.jobs.unwrap_or_else(|| {
            matrix::default_jobs(
                self.choice,
                &matrix::Cells::all(&self.scenarios, &self.tags),
            )
        });
        let mut backends = pool(self.choice, jobs, self.timeout)?;
        let report = matrix::run(&mut backends, &self.scenarios, &self.tags)?;
        drop(backends);
        let out = &self.out;
        report
            .write(out)
            .map_err(|e| e.context(format!("writing reports to {}", out.display())))?;
        print!("{}", report.matrix_text());
        ci::step_summary(
            &std::fs::read_to_string(out.join("report.md")).map_err(anyhow::Error::from)?,
        )?;
        println!(
            "{} cells; reports in {}",
            report.summary.cells,
            out.display()
        );
        Ok(if report.summary.ok {
            exit::OK
        } else {
            exit::NO_GO
        })
    }
}

impl VerdictConfig {
    fn execute(self) -> Result<u8, Error> {
        let (from, to) = (&self.from, &self.to);
        let report = match self.cells {
            Cells::Report(report) => report,
            Cells::Run {
                choice,
                jobs,
                timeout,
            } => {
                let mut tags = vec![from.clone(), to.clone()];
                tags.sort();
                tags.dedup();
                let jobs = jobs.unwrap_or_else(|| {
                    matrix::default_jobs(choice, &matrix::Cells::all(&self.scope, &tags))
                });
                matrix::run(&mut pool(choice, jobs, timeout)?, &self.scope, &tags)?
            }
        };
        let verdict = decision::decide(&report, &self.scope, &from.tag, &to.tag);
        let text = verdict.render();
        match self.format {
            Format::Json => println!(
                "{}",
                serde_json::to_string_pretty(&verdict).map_err(anyhow::Error::from)?
            ),
            Format::Text => print!("{text}"),
        }
        let decision = verdict.decision.label();
        let summary = ci::code_block(&text);
        ci::step_summary(&format!(
            "## authmatrix verdict: {from} → {to}: {decision}\n\n{summary}"
        ))?;
        ci::output("decision", decision)?;
        Ok(verdict.decision.exit_code())
    }
}

impl ExplainConfig {
    fn execute(self) -> Result<u8, Error> {
        let s = &self.scope[0];
        let (from, to) = (&self.from, &self.to);
        let builder = crate::builds::probes::ProbeBuilder::new(
            cache_dir().join("probes"),
            root().join("probes"),
        )
        .map_err(anyhow::Error::from)?;
        let changes =
            explain::changed_modules(&builder, s, from, to).map_err(anyhow::Error::from)?;
        print!("{}", explain::render(s, from, to, &changes));
        if self.bisect {
            let mut backends = pool(Choice::Local, self.jobs, self.timeout)?;
            print!(
                "{}",
                explain::bisect(&mut backends, &builder, s, from, to)?.render()
            );
        }
        Ok(exit::OK)
    }
}

impl PrepareConfig {
    fn execute(self) -> Result<u8, Error> {
        let lines = match self.choice {
            Choice::Cluster(provider) => prepare_cluster(provider, &self.tags)?,
            Choice::Local => crate::builds::probe_set::prepare_probes(
                &root(),
                &cache_dir(),
                &self.scenarios,
                &self.tags,
                self.write_sums,
            )?
            .iter()
            .map(|p| format!("wrote {}", p.display()))
            .collect(),
        };
        lines.iter().for_each(|l| println!("{l}"));
        Ok(exit::OK)
    }
}

/// What a cluster backend of `provider` builds before it starts (Kubernetes, etcd, each tag's
/// workflow-controller), and for kind what `make kind-node` and `make engine` built, which a run
/// cannot build itself.
fn prepare_cluster(
    provider: cluster::provider::ProviderKind,
    tags: &[ArgoTag],
) -> Result<Vec<String>, Error> {
    let opts = cluster::ClusterOptions {
        sandbox_exe: std::env::current_exe().map_err(anyhow::Error::from)?,
        project_root: root(),
        cache_dir: cache_dir(),
        provider,
        cell_timeout: Timeout::default().duration(),
    };
    let mut lines = cluster::prepare_tier(&opts, tags)?;
    if provider == cluster::provider::ProviderKind::Kind {
        let kind = cluster::kind::KindBuild::find(&opts.project_root, &opts.cache_dir)
            .map_err(anyhow::Error::msg)?;
        let engine = cluster::engine::EngineBuild::find(&opts.project_root, &opts.cache_dir)
            .map_err(anyhow::Error::msg)?;
        lines.push(format!("kind CLI: {}", kind.cli.display()));
        lines.push(format!(
            "kind node image {}: {}",
            kind.node_image,
            kind.node_tarball.display()
        ));
        lines.push(format!("container engine: {}", engine.dockerd.display()));
    }
    Ok(lines)
}

impl ScanConfig {
    fn execute(self) -> Result<u8, Error> {
        let scanned = match &self.source {
            // Nothing readable in the files given is bad input (exit 3, `scan::EXIT_CANNOT_SCAN`).
            ScanSource::Manifests { paths, namespace } => {
                crate::scan::from_manifests(paths, namespace).input()?
            }
            // The kubeconfig was readable: a cluster that cannot be listed is infrastructure.
            ScanSource::Cluster {
                kubeconfig,
                context,
            } => crate::scan::from_cluster(kubeconfig, context.as_deref()).infra()?,
        };
        match self.format {
            Format::Json => println!(
                "{}",
                serde_json::to_string_pretty(&scanned).map_err(anyhow::Error::from)?
            ),
            Format::Text => print!("{}", scanned.render()),
        }
        if let Some(out) = &self.out {
            let files = crate::scan::catalogue::write(&scanned, &self.catalogue, out)
                .map_err(anyhow::Error::msg)?;
            eprintln!("wrote {} files to {}", files.len(), out.display());
        }
        Ok(exit::OK)
    }
}

/// `authmatrix engine`: serves the kind provider's container engine until stdin closes.
pub fn engine() -> Result<u8, Error> {
    let exe = std::env::current_exe().map_err(anyhow::Error::from)?;
    cluster::engine::serve(&root(), &cache_dir(), &exe)?;
    Ok(exit::OK)
}

fn load(dir: Option<&Path>) -> Result<Vec<Scenario>, Error> {
    plan::catalogue(dir).input()
}

fn parse_tag(tag: &str) -> Result<ArgoTag, Error> {
    ArgoTag::parse(tag).input()
}

fn select(selection: &flags::Selection) -> Result<(Vec<Scenario>, Vec<ArgoTag>), Error> {
    let scenarios = plan::select(
        load(selection.scenario_dir.as_deref())?,
        &selection.scenarios,
    )
    .input()?;
    Ok((scenarios, plan::tags(selection.argo.as_deref()).input()?))
}

fn check_known(tags: &[ArgoTag]) -> Result<(), Error> {
    tags::check_known(tags, &cache_dir(), &root())
}

/// `jobs` backends of one kind, each probe or workflow bounded by `timeout`.
fn pool(
    choice: Choice,
    jobs: usize,
    timeout: Timeout,
) -> Result<Vec<Box<dyn backend::Backend + Send>>, Error> {
    let exe = std::env::current_exe().map_err(anyhow::Error::from)?;
    Ok(backend::pool(choice, exe, jobs, timeout.duration())?)
}

//! The GitHub workflows: actionlint (built from its Go module by `make actionlint`) passes them and
//! fails a broken one, and every `run:` step is executed here as GitHub would run it — the same
//! command string, the same environment with `${{ … }}` filled in — against this build.
//! Tier: Go (actionlint) and a sandbox (the steps run cells).

use crate::util::root;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

fn make(args: &[&str], envs: &[(&str, &str)]) -> (i32, String) {
    crate::util::run_text(
        Command::new("make")
            .current_dir(root())
            .arg("-s")
            .args(args)
            .envs(envs.iter().copied()),
    )
}

#[test]
fn actionlint_passes_both_workflows_and_fails_a_broken_one() {
    require!(Actionlint);
    let (code, out) = make(&["lint-workflows"], &[]);
    assert_eq!(code, 0, "actionlint on .github/workflows:\n{out}");
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.yml");
    // Untrusted text pasted into a script (injection) and a job without runs-on.
    std::fs::write(
        &broken,
        "on: issues\njobs:\n  x:\n    steps:\n      - run: make nightly ARGO=\"${{ github.event.issue.title }}\"\n",
    )
    .unwrap();
    let files = format!("ACTIONLINT_FILES={}", broken.display());
    let (code, out) = make(&["lint-workflows", &files], &[]);
    assert_ne!(code, 0, "actionlint accepted a broken workflow:\n{out}");
    assert!(
        out.contains("\"runs-on\" section is missing") && out.contains("potentially untrusted"),
        "actionlint names both faults:\n{out}"
    );
}

/// One workflow, as far as its `run:` steps go.
struct Workflow {
    env: BTreeMap<String, String>,
    steps: Vec<Step>,
}

struct Step {
    name: String,
    run: String,
    env: BTreeMap<String, String>,
}

fn workflow(file: &str) -> Workflow {
    let path = root().join(".github/workflows").join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let doc: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    let strings = |v: &serde_json::Value| -> BTreeMap<String, String> {
        v.as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect()
    };
    let jobs = doc["jobs"].as_object().expect("jobs");
    assert_eq!(jobs.len(), 1, "{file}: one job");
    let job = jobs.values().next().unwrap();
    let steps = job["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|s| {
            Some(Step {
                name: s["name"].as_str().unwrap_or_default().to_string(),
                run: s["run"].as_str()?.trim().to_string(),
                env: strings(&s["env"]),
            })
        })
        .collect();
    Workflow {
        env: strings(&doc["env"]),
        steps,
    }
}

/// `${{ inputs.x }}` and `${{ github.token }}` as GitHub fills them in; anything else is a step
/// this test cannot stand in for, so it fails loudly.
fn fill(value: &str, inputs: &BTreeMap<&str, &str>) -> String {
    let re = regex::Regex::new(r"\$\{\{\s*([^}]*?)\s*\}\}").unwrap();
    re.replace_all(value, |c: &regex::Captures| {
        let expr = &c[1];
        if let Some(name) = expr.strip_prefix("inputs.") {
            return inputs.get(name).copied().unwrap_or_default().to_string();
        }
        assert_eq!(
            expr, "github.token",
            "an expression this test cannot fill: {expr}"
        );
        String::new()
    })
    .into_owned()
}

/// Runs one step's command the way a runner does (`bash -e`), as root without `sudo`.
fn run_step(
    wf: &Workflow,
    step: &Step,
    inputs: &BTreeMap<&str, &str>,
    extra: &[(&str, String)],
) -> (i32, String) {
    let command = step.run.strip_prefix("sudo ").unwrap_or(&step.run);
    assert!(
        command.starts_with("make "),
        "step `{}` is not one make target: {}",
        step.name,
        step.run
    );
    let mut cmd = Command::new("bash");
    cmd.current_dir(root()).args(["-e", "-c", command]);
    for (k, v) in wf.env.iter().chain(&step.env) {
        cmd.env(k, fill(v, inputs));
    }
    cmd.env("AUTHMATRIX", env!("CARGO_BIN_EXE_authmatrix"));
    for (k, v) in extra {
        cmd.env(k, v);
    }
    crate::util::run_text(&mut cmd)
}

fn step<'a>(wf: &'a Workflow, target: &str) -> &'a Step {
    wf.steps
        .iter()
        .find(|s| {
            let command = s.run.strip_prefix("sudo ").unwrap_or(&s.run);
            command.split_whitespace().nth(1) == Some(target)
        })
        .unwrap_or_else(|| panic!("no step runs `make {target}`"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn the_nightly_steps_run_report_summarize_and_catch_a_regression_against_the_previous_night() {
    require_local_run!();
    let wf = workflow("nightly.yml");
    let dir = tempfile::tempdir().unwrap();
    let (out, previous, summary) = (
        dir.path().join("out"),
        dir.path().join("previous"),
        dir.path().join("summary.md"),
    );
    let extra = [
        ("OUT", out.display().to_string()),
        ("PREVIOUS", previous.display().to_string()),
        ("GITHUB_STEP_SUMMARY", summary.display().to_string()),
        // Two cells instead of the nightly's whole matrix.
        (
            "AUTHMATRIX_SCENARIO",
            "s3-static-keys,s3-wrong-static-keys".into(),
        ),
    ];
    let inputs = BTreeMap::from([("argo", "v3.6.5")]);
    let nightly = step(&wf, "nightly");
    let (code, text) = run_step(&wf, nightly, &inputs, &extra);
    assert_eq!(code, 0, "{text}");
    for f in ["report.json", "report.md", "report.html", "junit.xml"] {
        assert!(out.join(f).is_file(), "{f} written:\n{text}");
    }
    assert!(
        read(&summary).contains("s3-wrong-static-keys"),
        "report.md is in the step summary"
    );

    // Outside GitHub there is no previous night: the step says so and passes.
    let (code, text) = run_step(&wf, step(&wf, "previous-report"), &inputs, &extra);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("no previous report"), "{text}");
    let (code, text) = run_step(&wf, step(&wf, "nightly-diff"), &inputs, &extra);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("nothing to compare"), "{text}");

    // Last night as tonight: nothing moved.
    std::fs::copy(out.join("report.json"), previous.join("report.json")).unwrap();
    let (code, text) = run_step(&wf, step(&wf, "nightly-diff"), &inputs, &extra);
    assert_eq!(code, 0, "{text}");
    assert!(
        read(&summary).contains("authmatrix diff"),
        "the diff is in the summary"
    );

    // Tonight's report with one cell turned into a regression (by hand): the step fails naming it.
    let mut tonight: serde_json::Value =
        serde_json::from_str(&read(&out.join("report.json"))).unwrap();
    let cell = tonight["cells"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| c["scenario"] == "s3-static-keys")
        .unwrap();
    cell["verdict"] = "regression".into();
    cell["observed"]["outcome"] = "fail".into();
    cell["observed"]["message"] = "hand-written regression".into();
    std::fs::write(out.join("report.json"), tonight.to_string()).unwrap();
    let (code, text) = run_step(&wf, step(&wf, "nightly-diff"), &inputs, &extra);
    // make turns the command's exit 1 into its own 2; GitHub fails the step on either.
    assert_ne!(code, 0, "a newly regressed cell fails the step:\n{text}");
    assert!(text.contains("s3-static-keys::v3.6.5"), "{text}");
}

#[test]
fn the_upgrade_gate_step_decides_by_exit_code_and_reports_the_decision() {
    require_local_run!();
    let wf = workflow("upgrade-gate.yml");
    let gate = step(&wf, "upgrade-gate");
    let dir = tempfile::tempdir().unwrap();
    let (summary, output) = (dir.path().join("summary.md"), dir.path().join("output"));
    let extra = [
        ("GITHUB_STEP_SUMMARY", summary.display().to_string()),
        ("GITHUB_OUTPUT", output.display().to_string()),
    ];
    let go = BTreeMap::from([
        ("from", "v3.5.11"),
        ("to", "v3.6.5"),
        ("uses", "s3-static-keys"),
    ]);
    let (code, text) = run_step(&wf, gate, &go, &extra);
    assert_eq!(code, 0, "{text}");
    assert!(read(&output).contains("decision=GO\n"), "{}", read(&output));
    assert!(read(&summary).contains("v3.5.11 → v3.6.5: GO"));

    // The ECR entrypoint lookup of 3.6.0 (#13947): NO-GO fails the step.
    let no_go = BTreeMap::from([
        ("from", "v3.5.11"),
        ("to", "v3.6.0"),
        ("uses", "ecr-irsa-entrypoint s3-static-keys"),
    ]);
    let (code, text) = run_step(&wf, gate, &no_go, &extra);
    assert_ne!(
        code, 0,
        "NO-GO fails the job (make reports any failure as 2):\n{text}"
    );
    assert!(text.contains("ecr-irsa-entrypoint"), "{text}");
    assert!(
        read(&output).contains("decision=NO-GO\n"),
        "{}",
        read(&output)
    );
}

#[test]
fn every_step_is_one_make_target_that_make_knows() {
    for file in ["nightly.yml", "upgrade-gate.yml"] {
        let wf = workflow(file);
        assert!(!wf.steps.is_empty(), "{file} has run steps");
        for s in &wf.steps {
            let command = s.run.strip_prefix("sudo ").unwrap_or(&s.run);
            let words: Vec<&str> = command.split_whitespace().collect();
            assert!(
                words.first() == Some(&"make") && !s.run.contains('\n'),
                "{file}: step `{}` is not one make call: {}",
                s.name,
                s.run
            );
            let (code, text) = make(&["-n", words[1]], &[("FROM", "v3.5.11"), ("TO", "v3.6.5")]);
            assert_eq!(code, 0, "{file}: make -n {}:\n{text}", words[1]);
        }
    }
}

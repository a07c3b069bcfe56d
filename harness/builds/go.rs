//! The `go` command as the build caches run it (probes, and the cluster tier's Kubernetes, etcd and
//! Argo binaries): the environment both builders give it and the Go version that goes into their
//! cache keys. Argo's module itself is `module.rs`'s.
//!
//! Like the rest of the build layer, it knows nothing of the backends. Run the commands it makes with
//! `crate::cleanup::KillableOutput` (or `spawn_killable`) so that an interrupt kills them whole.

use std::path::Path;
use std::process::Command;

/// GONOSUMDB when Argo's module is trusted on first use.
const ARGO_NOSUMDB: &str = "github.com/argoproj/argo-workflows";

/// Added to every build's GOFLAGS: the compiler emits no DWARF. Every binary is linked with `-s -w`,
/// which drops it anyway, so the code is the same and cache keys leave the flag out; generating it
/// was a tenth of compiling etcd on two cores (44 s against 39 s from an empty GOCACHE, 2026-12-03).
/// The Makefile and tools/kind-node/build.sh pass the same flag, so the Go build cache is shared.
pub const NO_DWARF: &str = "-gcflags=all=-dwarf=false";

/// GOTMPDIR, inside a partial build directory.
pub const GO_TMP: &str = ".gotmp";

/// Whether Go's temporary files go to `<dir>/.gotmp` (inside a partial build, so that what a killed
/// build leaves goes with that directory).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GoTmp {
    /// Only if the caller created it (the probes create it and remove it before publishing).
    IfPresent,
    /// Created for each command (the cluster builds; it stays in the published entry).
    Create,
}

/// How a `go` command runs; what differs between the builders.
#[derive(Clone, Copy, Debug)]
pub struct GoEnv<'a> {
    /// GOTOOLCHAIN: `local`, or a toolchain such as `go1.23.1`.
    pub toolchain: &'a str,
    /// GOFLAGS, e.g. `-mod=mod -buildvcs=false`.
    pub goflags: &'a str,
    /// Argo's module is trusted on first use (its version is unknown to the checksum database).
    pub nosumdb: bool,
    pub tmp: GoTmp,
}

impl GoEnv<'_> {
    /// `go` (the binary at `go`) in `dir`, without cgo.
    pub fn command(&self, go: &Path, dir: &Path) -> Command {
        let mut cmd = Command::new(go);
        cmd.current_dir(dir)
            .env("GOTOOLCHAIN", self.toolchain)
            .env("GOFLAGS", format!("{} {NO_DWARF}", self.goflags))
            .env("CGO_ENABLED", "0");
        let go_tmp = dir.join(GO_TMP);
        let use_tmp = match self.tmp {
            GoTmp::IfPresent => go_tmp.is_dir(),
            GoTmp::Create => std::fs::create_dir_all(&go_tmp).is_ok(),
        };
        if use_tmp {
            cmd.env("GOTMPDIR", go_tmp);
        }
        if self.nosumdb {
            cmd.env("GONOSUMDB", ARGO_NOSUMDB);
        }
        cmd
    }
}

/// `go env GOVERSION` (e.g. `go1.26.8`), part of every cache key. `toolchain` sets GOTOOLCHAIN;
/// `None` leaves the caller's environment as it is.
pub fn version(go: &Path, toolchain: Option<&str>) -> std::io::Result<String> {
    use crate::cleanup::KillableOutput;
    let mut cmd = Command::new(go);
    if let Some(toolchain) = toolchain {
        cmd.env("GOTOOLCHAIN", toolchain);
    }
    let out = cmd.args(["env", "GOVERSION"]).killable_output()?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The version the wrapper module in `dir` requires of `module` (`require m v` or a line of a
/// `require (…)` block), as the Makefile's `module_version` and tools/kind-node/build.sh read it.
pub fn required_version(dir: &Path, module: &str) -> Result<String, String> {
    let gomod = dir.join("go.mod");
    let text = std::fs::read_to_string(&gomod)
        .map_err(|e| format!("cannot read {}: {e}", gomod.display()))?;
    text.lines()
        .map(|l| l.trim().trim_start_matches("require").trim())
        .find_map(|l| l.strip_prefix(&format!("{module} ")))
        .map(|v| v.split_whitespace().next().unwrap_or_default().to_string())
        .ok_or_else(|| format!("{} requires no {module}", gomod.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    fn env(cmd: &Command) -> Vec<(String, Option<String>)> {
        let mut vars: Vec<_> = cmd
            .get_envs()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.map(|v| v.to_string_lossy().into_owned()),
                )
            })
            .collect();
        vars.sort();
        vars
    }

    fn var(k: &str, v: &str) -> (String, Option<String>) {
        (k.to_string(), Some(v.to_string()))
    }

    #[test]
    fn a_go_command_gets_the_environment_its_builder_asks_for() {
        let dir = tempfile::tempdir().unwrap();
        let probe = GoEnv {
            toolchain: "go1.23.1",
            goflags: "-mod=mod -buildvcs=false",
            nosumdb: true,
            tmp: GoTmp::IfPresent,
        };
        let cmd = probe.command(Path::new("/usr/bin/go"), dir.path());
        assert_eq!(cmd.get_program(), OsStr::new("/usr/bin/go"));
        assert_eq!(cmd.get_current_dir(), Some(dir.path()));
        assert_eq!(
            env(&cmd),
            [
                var("CGO_ENABLED", "0"),
                var(
                    "GOFLAGS",
                    "-mod=mod -buildvcs=false -gcflags=all=-dwarf=false"
                ),
                var("GONOSUMDB", "github.com/argoproj/argo-workflows"),
                var("GOTOOLCHAIN", "go1.23.1"),
            ],
            "no GOTMPDIR while the directory is absent"
        );
        assert!(
            !dir.path().join(GO_TMP).exists(),
            "IfPresent creates nothing"
        );
        std::fs::create_dir(dir.path().join(GO_TMP)).unwrap();
        let cmd = probe.command(Path::new("go"), dir.path());
        let gotmp = dir.path().join(GO_TMP).display().to_string();
        assert!(env(&cmd).contains(&var("GOTMPDIR", &gotmp)));
    }

    #[test]
    fn a_cluster_go_command_creates_its_temporary_directory() {
        let dir = tempfile::tempdir().unwrap();
        let cluster = GoEnv {
            toolchain: "local",
            goflags: "-mod=readonly -buildvcs=false",
            nosumdb: false,
            tmp: GoTmp::Create,
        };
        let cmd = cluster.command(Path::new("go"), dir.path());
        assert!(dir.path().join(GO_TMP).is_dir());
        let gotmp = dir.path().join(GO_TMP).display().to_string();
        assert_eq!(
            env(&cmd),
            [
                var("CGO_ENABLED", "0"),
                var(
                    "GOFLAGS",
                    "-mod=readonly -buildvcs=false -gcflags=all=-dwarf=false"
                ),
                var("GOTMPDIR", &gotmp),
                var("GOTOOLCHAIN", "local"),
            ]
        );
    }

    #[test]
    fn the_required_version_is_read_from_the_wrapper_module() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("go.mod"),
            "module x\n\ngo 1.24\n\nrequire k8s.io/kubernetes v1.34.1\n\nrequire (\n\tfoo v1 // indirect\n)\n",
        )
        .unwrap();
        let v = super::required_version(dir.path(), "k8s.io/kubernetes").unwrap();
        assert_eq!(v, "v1.34.1");
        assert!(super::required_version(dir.path(), "go.etcd.io/etcd/server/v3").is_err());
    }
}

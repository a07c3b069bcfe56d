//! The external programs the harness needs, found up front with a clear word on how to get them.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
#[error("`{tool}` is needed {why} but was not found on PATH; {install}")]
pub struct MissingTool {
    pub tool: &'static str,
    pub why: &'static str,
    pub install: &'static str,
}

/// Finds `name` on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

/// Whether `p` is a file anyone may execute.
pub fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

pub fn go() -> Result<PathBuf, MissingTool> {
    which("go").ok_or(MissingTool {
        tool: "go",
        why: "to build probes against each Argo version",
        install: "install Go 1.21 or newer (https://go.dev/dl/) or run `make setup`",
    })
}

pub fn ip() -> Result<PathBuf, MissingTool> {
    which("ip").ok_or(MissingTool {
        tool: "ip",
        why: "to set up the sandbox's network namespace",
        install: "install iproute2 (`apt-get install iproute2`) or run `make setup`",
    })
}

/// The emulator that runs `arch`'s programs on this machine (a controller on another CPU).
pub fn qemu(arch: crate::scenario::Arch) -> Result<PathBuf, MissingTool> {
    which(arch.qemu()).ok_or(MissingTool {
        tool: arch.qemu(),
        why: "to run a probe built for a controller on another CPU",
        install: "install qemu-user-static (`apt-get install qemu-user-static`) or run `make setup-local`",
    })
}

/// The Python that has moto: `$AUTHMATRIX_PYTHON`, else the project's `.venv`, else none.
pub fn python(project_root: &Path) -> Result<PathBuf, MissingTool> {
    let missing = MissingTool {
        tool: "python (with moto)",
        why: "to run the fake cloud's S3/IAM/STS server",
        install: "run `make setup` (creates .venv with moto), or point AUTHMATRIX_PYTHON at a Python that has `moto[server]` and boto3",
    };
    if let Some(p) = std::env::var_os("AUTHMATRIX_PYTHON") {
        let p = PathBuf::from(p);
        return if is_executable(&p) {
            Ok(p)
        } else {
            Err(missing)
        };
    }
    let venv = project_root.join(".venv/bin/python");
    if is_executable(&venv) {
        Ok(venv)
    } else {
        Err(missing)
    }
}

/// A cluster node's container runtime: Debian's containerd (with ctr and the runc v2 shim) and runc.
pub fn node_runtime() -> Result<(), MissingTool> {
    for tool in ["containerd", "ctr", "containerd-shim-runc-v2", "runc"] {
        if which(tool).is_none() {
            return Err(MissingTool {
                tool,
                why: "to run the cluster node's pods",
                install: "install containerd and runc (`apt-get install containerd runc containernetworking-plugins`) or run `make setup`",
            });
        }
    }
    Ok(())
}

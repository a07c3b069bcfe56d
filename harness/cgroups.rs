//! The cgroup tree a sandboxed node's containers live in. Namespaces and mounts vanish with the
//! sandbox; cgroups do not (the hierarchies are the machine's), so the tree is named after the
//! sandbox and removed by whoever outlives its processes: the sandbox itself as it ends, the harness
//! when it kills a sandbox, and every later run for trees whose sandbox is gone.
//!
//! Both layouts: cgroup v1 (a hierarchy per controller under /sys/fs/cgroup, and a v2 one at
//! `unified/` on hybrid machines: this project's VM) and cgroup v2 alone (/sys/fs/cgroup is the
//! one hierarchy, marked by its `cgroup.controllers`: GitHub's Ubuntu runners, current distros).

use std::path::{Path, PathBuf};

const ROOT: &str = "/sys/fs/cgroup";
pub const PREFIX: &str = "authmatrix-";

/// The tree's name for the sandbox whose outer process is `pid` (a host PID: unique while it runs).
pub fn name_for(pid: u32) -> String {
    format!("{PREFIX}{pid}")
}

/// `<hierarchy>/<name>` for every mounted hierarchy that has it.
pub fn trees(name: &str) -> Vec<PathBuf> {
    hierarchies()
        .into_iter()
        .map(|h| h.join(name))
        .filter(|p| p.is_dir())
        .collect()
}

fn hierarchies() -> Vec<PathBuf> {
    hierarchies_under(Path::new(ROOT))
}

/// The hierarchies mounted at `root`: `root` itself when it is a cgroup v2 root, else each
/// directory in it (v1's per-controller mounts).
fn hierarchies_under(root: &Path) -> Vec<PathBuf> {
    if root.join("cgroup.controllers").is_file() {
        return vec![root.to_path_buf()];
    }
    std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect()
}

/// Kills what is left in the tree and removes it, deepest first. Returns what could not be removed.
pub fn remove(name: &str) -> Vec<PathBuf> {
    let mut left = Vec::new();
    for tree in trees(name) {
        for _ in 0..50 {
            kill_all(&tree);
            if remove_tree(&tree).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        if tree.exists() {
            left.push(tree);
        }
    }
    left
}

/// Removes trees of sandboxes that no longer run (a run that was killed before it could).
pub fn remove_orphans() {
    let mut names: Vec<String> = hierarchies()
        .iter()
        .flat_map(|h| std::fs::read_dir(h).into_iter().flatten().flatten())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(PREFIX))
        .collect();
    names.sort();
    names.dedup();
    for name in names {
        let alive = name[PREFIX.len()..]
            .parse::<u32>()
            .is_ok_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
        if !alive {
            remove(&name);
        }
    }
}

fn kill_all(dir: &Path) {
    // cgroup v2 (Linux 5.14+) kills the whole subtree at once, processes forking meanwhile included.
    if std::fs::write(dir.join("cgroup.kill"), "1").is_ok() {
        return;
    }
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            kill_all(&entry.path());
        }
    }
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
    for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
        // SAFETY: kill(2) on a pid read from the tree this run owns.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

fn remove_tree(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)?.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_tree(&entry.path())?;
        }
    }
    // A cgroup directory goes with rmdir(2) alone; its control files are not files to unlink.
    std::fs::remove_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::hierarchies_under;
    use std::fs;

    #[test]
    fn a_v1_machine_has_a_hierarchy_per_controller_and_a_v2_machine_one() {
        let v1 = tempfile::tempdir().unwrap();
        for h in ["cpu,cpuacct", "memory", "unified"] {
            fs::create_dir(v1.path().join(h)).unwrap();
        }
        let mut found = hierarchies_under(v1.path());
        found.sort();
        let names: Vec<_> = found.iter().map(|p| p.file_name().unwrap()).collect();
        assert_eq!(names, ["cpu,cpuacct", "memory", "unified"]);

        let v2 = tempfile::tempdir().unwrap();
        fs::write(v2.path().join("cgroup.controllers"), "cpu memory pids\n").unwrap();
        fs::create_dir(v2.path().join("system.slice")).unwrap();
        assert_eq!(hierarchies_under(v2.path()), [v2.path()]);
    }
}

//! Entering a private network + mount namespace. As root directly; otherwise inside a new user
//! namespace that maps the caller to root, so that an unprivileged user gets the same sandbox.
//!
//! Nothing here is ever named or bind-mounted under /run/netns: the namespaces live exactly as long
//! as the processes inside them, so a crash, a panic or Ctrl-C cannot leave one behind.

use std::ffi::CString;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// Whether the children of the isolated process get a PID namespace of their own.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum PidNamespace {
    /// The sandbox: its first child becomes PID 1 there (see `child::main`), and when that one
    /// dies, for whatever reason, the kernel kills every process it started.
    New,
    /// Checks that fork short-lived helpers (`ip`), which would otherwise become PID 1 and end it.
    Shared,
}

/// Makes `cmd` start in fresh namespaces.
pub fn isolate(cmd: &mut Command, pid: PidNamespace) {
    // SAFETY: getuid/getgid cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let rootless = uid != 0;
    let uid_map = format!("0 {uid} 1");
    let gid_map = format!("0 {gid} 1");
    // SAFETY: the closure runs between fork and exec; it only makes raw system calls on data
    // prepared before the fork (no allocation, no locks).
    unsafe {
        cmd.pre_exec(move || {
            if rootless {
                check(libc::unshare(libc::CLONE_NEWUSER))?;
                write_proc(c"/proc/self/setgroups", b"deny")?;
                write_proc(c"/proc/self/uid_map", uid_map.as_bytes())?;
                write_proc(c"/proc/self/gid_map", gid_map.as_bytes())?;
            }
            let pid_flag = if pid == PidNamespace::New {
                libc::CLONE_NEWPID
            } else {
                0
            };
            check(libc::unshare(
                libc::CLONE_NEWNET | libc::CLONE_NEWNS | pid_flag,
            ))
        });
    }
}

/// Makes `cmd` die with SIGKILL when the process that started it dies: nothing the sandbox starts
/// outlives it, even when the sandbox itself is killed.
pub fn die_with_parent(cmd: &mut Command) {
    // SAFETY: prctl is async-signal-safe; no allocation between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            check(libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL))?;
            Ok(())
        });
    }
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn write_proc(path: &std::ffi::CStr, data: &[u8]) -> io::Result<()> {
    // SAFETY: raw open/write/close on a valid C string and buffer.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = libc::write(fd, data.as_ptr().cast(), data.len());
        libc::close(fd);
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }
}

/// Inside the new mount namespace: stop mount events from reaching the host, then put `source`
/// over `target` (e.g. a private /etc/hosts). Both vanish with the namespace.
pub fn make_private_and_bind(binds: &[(&std::path::Path, &str)]) -> io::Result<()> {
    mount(None, "/", None, libc::MS_REC | libc::MS_PRIVATE)?;
    for (source, target) in binds {
        let source = source
            .to_str()
            .ok_or_else(|| io::Error::other("non-UTF-8 path"))?;
        mount(Some(source), target, None, libc::MS_BIND)?;
    }
    Ok(())
}

/// mount(2) with no data.
fn mount(
    source: Option<&str>,
    target: &str,
    fstype: Option<&str>,
    flags: libc::c_ulong,
) -> io::Result<()> {
    mount_with(source, target, fstype, flags, None)
}

fn mount_with(
    source: Option<&str>,
    target: &str,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> io::Result<()> {
    let c = |s: &str| CString::new(s).map_err(io::Error::other);
    let source = source.map(c).transpose()?;
    let fstype = fstype.map(c).transpose()?;
    let data = data.map(c).transpose()?;
    let target = c(target)?;
    let ptr = |s: &Option<CString>| s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
    // SAFETY: valid C strings (or null) that outlive the call.
    check(unsafe {
        libc::mount(
            ptr(&source),
            target.as_ptr(),
            ptr(&fstype),
            flags,
            ptr(&data).cast(),
        )
    })
}

/// kind bind-mounts the host's /lib/modules into its nodes, and Docker creates a missing source
/// directory: on a host without one (this VM's kernel has no modules) that would be a directory
/// left on the host. So where it is missing, the directory holding it becomes an overlay whose
/// writes land on a tmpfs of this namespace (`scratch`), and vanish with it.
fn keep_module_dir_inside(scratch: &std::path::Path) -> io::Result<()> {
    let modules = std::fs::canonicalize("/lib")?.join("modules");
    if modules.exists() {
        return Ok(());
    }
    let lib = modules.parent().expect("a parent").to_path_buf();
    let (upper, work) = (scratch.join("lib-upper"), scratch.join("lib-work"));
    std::fs::create_dir_all(&upper)?;
    std::fs::create_dir_all(&work)?;
    let text = |p: &std::path::Path| {
        p.to_str()
            .map(str::to_owned)
            .ok_or_else(|| io::Error::other("non-UTF-8 path"))
    };
    let options = format!(
        "lowerdir={},upperdir={},workdir={}",
        text(&lib)?,
        text(&upper)?,
        text(&work)?
    );
    mount_with(
        Some("overlay"),
        &text(&lib)?,
        Some("overlay"),
        0,
        Some(&options),
    )?;
    std::fs::create_dir(&modules)
}

/// For a node inside the sandbox: a proc of the sandbox's own PID namespace (runc and the kubelet
/// read /proc/1 and /proc/self), fresh tmpfs over `tmpfs` (paths containerd and the kubelet use
/// whatever their configuration says, e.g. /run/containerd/s, /var/log/containers), /lib/modules
/// where the host has none (see `keep_module_dir_inside`; needs /run among `tmpfs`), then shared
/// propagation under `/` as the kubelet wants it — a peer group of this namespace only, since `/`
/// was made private from the host first.
pub fn node_mounts(tmpfs: &[std::path::PathBuf]) -> io::Result<()> {
    mount(
        Some("proc"),
        "/proc",
        Some("proc"),
        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
    )?;
    for target in tmpfs {
        let target = target
            .to_str()
            .ok_or_else(|| io::Error::other("non-UTF-8 path"))?;
        mount(
            Some("tmpfs"),
            target,
            Some("tmpfs"),
            libc::MS_NOSUID | libc::MS_NODEV,
        )?;
    }
    if let Some(run) = tmpfs
        .iter()
        .find(|t| t.as_path() == std::path::Path::new("/run"))
    {
        keep_module_dir_inside(&run.join("authmatrix-overlays"))?;
    }
    mount(None, "/", None, libc::MS_REC | libc::MS_SHARED)
}

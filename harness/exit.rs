//! How `authmatrix` ends: its exit codes, and the one error type its commands return, whose class
//! (bad input or infrastructure) picks the code. A leaf: the commands, `decision` and `scan` name
//! their codes from here, so that no two meanings share a number (2 once meant both "error" and
//! CONDITIONAL, and a gate could not tell a broken run from an undecided one).

/// GO; `run`: every cell as expected; `diff`: nothing newly regressed; `scan`: it ran.
pub const OK: u8 = 0;
/// NO-GO; `run`: a cell not as expected; `diff`: a cell newly regressed.
pub const NO_GO: u8 = 1;
/// CONDITIONAL: no regression, but some setup could not be decided (`verdict` only).
pub const CONDITIONAL: u8 = 2;
/// What was asked cannot be done as asked: fix the command line or its files and run it again.
pub const BAD_INPUT: u8 = 3;
/// Something the run needs could not start or is missing (sandbox, cluster, build, tool).
pub const INFRA: u8 = 4;
/// Interrupted (Ctrl-C): `cleanup`'s handler ends the process with it.
pub const INTERRUPTED: u8 = 130;

/// The exit codes as `--help` lists them.
pub const HELP: &str = "\
Exit codes:
  0    GO; run: every cell as expected; diff: nothing newly regressed; scan: it ran
  1    NO-GO; run: a cell not as expected; diff: a cell newly regressed
  2    CONDITIONAL: no regression, but a setup could not be decided (verdict only)
  3    bad input: a usage error, a malformed or unknown Argo tag, a missing or unreadable
       report, a broken scenario file, a glob that matches nothing, an output directory that
       cannot be written, nothing readable to scan
  4    infrastructure: a sandbox, cluster, build or tool could not start or is missing
  130  interrupted (Ctrl-C)";

/// Why a command failed, by what the user can do about it. `anyhow` inside keeps the context; the
/// class is decided where input is validated (`Input`), and everything else is `Infra`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input: exit 3.
    #[error("{0:#}")]
    Input(anyhow::Error),
    /// The infrastructure failed: exit 4.
    #[error("{0:#}")]
    Infra(anyhow::Error),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Input(_) => BAD_INPUT,
            Error::Infra(_) => INFRA,
        }
    }
}

/// An error nobody classified is the infrastructure's: input is classified where it is checked.
impl From<anyhow::Error> for Error {
    fn from(e: anyhow::Error) -> Self {
        Error::Infra(e)
    }
}

/// Classifies a result at the place that knows what failed.
pub trait Classify<T> {
    /// The error is bad input (exit 3).
    fn input(self) -> Result<T, Error>;
    /// The error is the infrastructure's (exit 4).
    fn infra(self) -> Result<T, Error>;
}

impl<T, E: Into<anyhow::Error>> Classify<T> for Result<T, E> {
    fn input(self) -> Result<T, Error> {
        self.map_err(|e| Error::Input(e.into()))
    }
    fn infra(self) -> Result<T, Error> {
        self.map_err(|e| Error::Infra(e.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_outcome_has_its_own_code() {
        let mut codes = [OK, NO_GO, CONDITIONAL, BAD_INPUT, INFRA, INTERRUPTED];
        codes.sort();
        assert!(codes.windows(2).all(|w| w[0] != w[1]), "{codes:?}");
        for code in codes {
            assert!(HELP.contains(&format!("\n  {code} ")), "{code} in --help");
        }
    }

    #[test]
    fn an_unclassified_error_is_the_infrastructure_s() {
        let e: Error = anyhow::anyhow!("no sandbox").into();
        assert_eq!(e.exit_code(), INFRA);
        let e = Err::<(), _>(anyhow::anyhow!("bad tag"))
            .input()
            .unwrap_err();
        assert_eq!(
            (e.exit_code(), e.to_string()),
            (BAD_INPUT, "bad tag".into())
        );
    }
}

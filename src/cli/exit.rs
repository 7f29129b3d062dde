//! Exit codes, documented in `--help` and the README.

use std::process::ExitCode;

/// The process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: complete, every input read.
    Ok,
    /// 1: complete, but some input could not be read (named on stderr and in the report).
    SomeInputUnreadable,
    /// 2: usage error or fatal error (nothing or not everything was written).
    Fatal,
    /// 3: `--fail-on` matched at least one finding.
    FailOnMatched,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::SomeInputUnreadable => 1,
            Exit::Fatal => 2,
            Exit::FailOnMatched => 3,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e.code())
    }
}

pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  complete: every input was read (skipped Digest/Insight/Config files are fine)
  1  complete, but some input could not be read (each is named on stderr and in the report)
  2  usage error or fatal error
  3  --fail-on matched at least one finding";

//! The trailtriage binary: a thin shell around the library.

#![forbid(unsafe_code)]

mod cli;

fn main() -> std::process::ExitCode {
    cli::main().into()
}

//! The trailtriage binary: a thin shell around the library.

#![forbid(unsafe_code)]

mod cli;

fn main() -> std::process::ExitCode {
    // A build for x86-64-v3 (the repository's `.cargo/config.toml`) on a CPU
    // without AVX2 would die of an illegal instruction somewhere later; say
    // why instead, before any of that code runs.
    #[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
    if !(std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("bmi2")) {
        eprintln!(
            "trailtriage: this build needs an x86-64-v3 CPU (AVX2, BMI2), and this one lacks them.\n\
             Rebuild for any x86-64 CPU with: RUSTFLAGS=\"-C target-cpu=x86-64\" cargo build --release"
        );
        return std::process::ExitCode::from(2);
    }
    cli::main().into()
}

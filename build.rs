//! Link settings for the shipped binary (`cargo:rustc-link-arg-bins`: tests and
//! benches link as before, and the integration tests run the binary built here).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let target = |key: &str| std::env::var(key).unwrap_or_default();
    // Pack the position-independent binary's relative relocations (DT_RELR;
    // GNU ld >= 2.38 or lld, glibc >= 2.36): the 61,539 of them took 1.48 MB
    // of `.rela.dyn` in the 32.6 MB stripped binary, and packed they take a
    // few KB (issue 19's size budget). macOS binaries carry chained fixups,
    // which are compact already.
    if target("CARGO_CFG_TARGET_OS") == "linux" && target("CARGO_CFG_TARGET_ENV") == "gnu" {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

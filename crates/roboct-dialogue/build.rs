//! Links Debian's libpocketsphinx and libsphinxbase (the `libpocketsphinx-dev` and
//! `libsphinxbase-dev` packages, installed by `scripts/deps`), found through pkg-config.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // pkg-config prints the `cargo:rustc-link-*` lines for both libraries (pocketsphinx.pc
    // requires sphinxbase).
    if let Err(e) = pkg_config::Config::new().probe("pocketsphinx") {
        panic!(
            "roboct-dialogue needs libpocketsphinx and libsphinxbase (Debian packages \
             libpocketsphinx-dev, libsphinxbase-dev and pkg-config; run ./scripts/deps): {e}"
        );
    }
}

//! Where results go: `<target dir>/echo-bench/`.

use std::env;
use std::path::PathBuf;

/// `$CARGO_TARGET_DIR/echo-bench`, else the target dir this binary was built into
/// (`<target>/<profile>/deps/echo-<hash>`), else `target/` next to Cargo.toml.
pub fn results_dir() -> PathBuf {
    target_dir().join("echo-bench")
}

pub fn target_dir() -> PathBuf {
    if let Some(dir) = env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    if let Ok(exe) = env::current_exe() {
        let deps = exe.parent();
        if deps.is_some_and(|d| d.ends_with("deps")) {
            if let Some(target) = deps.and_then(|d| d.parent()).and_then(|p| p.parent()) {
                return target.to_path_buf();
            }
        }
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target")
}

use std::path::{Path, PathBuf};

/// Extra directories searched besides `$PATH`: daemons such as `dovecot` live in `/usr/sbin`,
/// which is not on every user's `PATH`.
const EXTRA_DIRS: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// The full path of the program `name` (searched in `$PATH`, then the sbin/bin directories), if
/// it is installed and executable.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    if name.contains('/') {
        let p = Path::new(name);
        return p.is_file().then(|| p.to_path_buf());
    }
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path_var).chain(EXTRA_DIRS.iter().map(PathBuf::from));
    for dir in dirs {
        let candidate = dir.join(name);
        if let Ok(meta) = std::fs::metadata(&candidate) {
            if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
                return Some(candidate);
            }
        }
    }
    None
}

/// The Debian package that provides a tool the tests need, for the error message.
fn package_hint(name: &str) -> &'static str {
    match name {
        "dovecot" | "doveadm" => "dovecot-imapd (apt-get install -y dovecot-imapd)",
        "cargo-nextest" => "cargo-nextest (cargo install cargo-nextest --locked)",
        _ => "the package that provides it",
    }
}

/// The message used when a tool is missing.
pub(crate) fn missing_tool_message(name: &str) -> String {
    format!(
        "required tool `{name}` is not installed (searched $PATH and /usr/sbin, /sbin, ...). \
         Install {}; scripts/test.sh installs everything the tests need — run the tests with \
         `bash scripts/test.sh`.",
        package_hint(name)
    )
}

/// Returns the path of `name`, or panics with an actionable message if it is not installed.
/// Tests that need a program must fail loudly rather than silently skip.
pub fn require_tool(name: &str) -> PathBuf {
    match find_tool(name) {
        Some(p) => p,
        None => panic!("{}", missing_tool_message(name)),
    }
}

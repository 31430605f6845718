//! The state file, which is the whole resource: present and ours means
//! running. Every access goes through a directory descriptor, never through
//! a link, never blocking on a FIFO (see [`State`]).

use std::io::ErrorKind;
use std::path::Path;

use ocf::files::TrustedDir;

use crate::config::Config;

/// The state file's mode, set when it is created.
pub const STATE_MODE: u32 = 0o644;
/// A state file holds an instance name; anything longer is not ours.
const STATE_LIMIT: u64 = 4096;

/// What is at the state file's place.
pub enum State {
    /// A regular file of ours (root's), with its (bounded) content.
    Ours(Vec<u8>),
    Absent,
    /// Something start never makes: a link, a FIFO, a directory, a device,
    /// another user's file. Never followed, opened for writing or read from
    /// in a way that could block.
    Foreign(String),
}

/// The state file's directory, held by a descriptor, and the file's name.
/// The default directory (HA_RSCTMP) must be ours: root's, writable by
/// nobody else (created on start). A `state` the user chose may sit in a
/// directory others write to (/tmp): its last component is never a link,
/// and every file in it is opened without following links and checked, so
/// those users can remove our file (stop the dummy), never make us write,
/// read or remove anything else.
pub fn state_dir(cfg: &Config, create: bool) -> std::io::Result<(TrustedDir, String)> {
    let bad = |what: &str| {
        std::io::Error::new(
            ErrorKind::InvalidInput,
            format!("{} {what}", cfg.state.display()),
        )
    };
    let name = cfg
        .state
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| bad("does not end in a file name"))?
        .to_string();
    let parent = cfg.state.parent().unwrap_or(Path::new("/"));
    let parent = if parent.as_os_str().is_empty() {
        Path::new("/")
    } else {
        parent
    };
    let dir = if cfg.default_state {
        TrustedDir::open(parent, create.then_some(0o755))?
    } else {
        TrustedDir::open_any(parent)?
    };
    Ok((dir, name))
}

/// Look at `name` in `dir` without following a link or blocking on a FIFO.
pub fn inspect(dir: &TrustedDir, name: &str) -> State {
    match dir.read(name, STATE_LIMIT) {
        Ok(content) => State::Ours(content),
        Err(e) if e.kind() == ErrorKind::NotFound => State::Absent,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            State::Foreign("it is a symbolic link".into())
        }
        Err(e) => State::Foreign(e.to_string()),
    }
}

/// [`inspect`] from the configured path; a missing directory means absent.
pub fn state_of(cfg: &Config) -> State {
    match state_dir(cfg, false) {
        Ok((dir, name)) => inspect(&dir, &name),
        Err(e) if e.kind() == ErrorKind::NotFound => State::Absent,
        Err(e) => State::Foreign(format!("its directory: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::time::Duration;

    #[test]
    fn links_and_foreign_files_are_not_ours() {
        let dir = std::env::temp_dir().join(format!("ocf-rs-dummy-state-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = Config {
            state: dir.join("s"),
            default_state: false,
            op_sleep: Duration::ZERO,
        };
        assert!(matches!(state_of(&cfg), State::Absent));
        std::os::unix::fs::symlink("/etc/hostname", dir.join("s")).unwrap();
        assert!(matches!(state_of(&cfg), State::Foreign(w) if w.contains("link")));
        std::fs::remove_file(dir.join("s")).unwrap();
        let (d, name) = state_dir(&cfg, false).unwrap();
        d.replace(&name, b"x\n", STATE_MODE).unwrap();
        assert!(matches!(state_of(&cfg), State::Ours(c) if c == b"x\n"));
        let missing = Config {
            state: PathBuf::from("/nonexistent/dir/s"),
            ..cfg
        };
        assert!(matches!(state_of(&missing), State::Absent));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

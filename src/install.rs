//! `ocf-rs install`: the provider directory of symlinks Pacemaker looks in.
//! Idempotent: a link that already points at the binary is left alone, our
//! link pointing at another ocf-rs binary is replaced atomically, and what is
//! not our link (a real file, a link to anything not named `ocf-rs`) is never
//! touched: it is reported, the other agents are still linked, and `run`
//! returns how many were left alone (the CLI exits 3 then, which the
//! package's postinst accepts: the admin's file wins over ours).

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

#[derive(Debug, PartialEq, Eq)]
pub struct Options {
    pub prefix: PathBuf,
    pub provider: String,
    pub binary: Option<PathBuf>,
    pub uninstall: bool,
    pub dry_run: bool,
}

pub fn parse(args: &[&str]) -> Result<Options, String> {
    let mut o = Options {
        prefix: PathBuf::from("/usr/lib/ocf"),
        provider: "rust".into(),
        binary: None,
        uninstall: false,
        dry_run: false,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (key, inline): (&str, Option<&str>) = match a.split_once('=') {
            Some((k, v)) if k.starts_with("--") => (k, Some(v)),
            _ => (a, None),
        };
        let mut value = |what: &str| -> Result<String, String> {
            inline
                .map(str::to_string)
                .or_else(|| it.next().map(|s| s.to_string()))
                .ok_or(format!("{what} needs a value"))
        };
        match key {
            "--prefix" => o.prefix = PathBuf::from(value("--prefix")?),
            "--provider" => o.provider = value("--provider")?,
            "--binary" => o.binary = Some(PathBuf::from(value("--binary")?)),
            "--uninstall" => o.uninstall = true,
            "--dry-run" | "-n" => o.dry_run = true,
            other => return Err(format!("unknown install option {other:?}")),
        }
    }
    let p = &o.provider;
    if p.is_empty()
        || p.starts_with('.')
        || !p
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(format!(
            "provider {p:?} must be letters, digits, '-' or '_' and not start with '.'"
        ));
    }
    if !o.prefix.is_absolute() {
        return Err("--prefix must be an absolute path".into());
    }
    Ok(o)
}

fn say(dry_run: bool, msg: String) {
    println!("{}{msg}", if dry_run { "would " } else { "" });
}

/// Link (or with `--uninstall` unlink) every agent. `Ok(n)`: done, `n`
/// names were held by something that is not our link and were left alone.
pub fn run(o: &Options, agents: &[&str]) -> Result<usize, String> {
    let binary = match &o.binary {
        Some(b) => b.clone(),
        None => super::this_binary()?,
    };
    if !binary.is_absolute() {
        return Err(format!(
            "binary {} must be an absolute path",
            binary.display()
        ));
    }
    let dir = o.prefix.join("resource.d").join(&o.provider);
    if o.uninstall {
        return uninstall(o, &dir, &binary, agents);
    }
    if !dir.is_dir() {
        say(o.dry_run, format!("create {}", dir.display()));
        if !o.dry_run {
            fs::create_dir_all(&dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
    }
    let mut left_alone = 0;
    for name in agents {
        let link = dir.join(name);
        match fs::symlink_metadata(&link) {
            Ok(m) if m.file_type().is_symlink() => {
                if fs::read_link(&link).ok().as_deref() == Some(binary.as_path()) {
                    println!("{} -> {} (unchanged)", link.display(), binary.display());
                    continue;
                }
                if !is_ours(&link, &binary) {
                    eprintln!(
                        "{} is a link that is not ours ({}); not touching it",
                        link.display(),
                        fs::read_link(&link).unwrap_or_default().display()
                    );
                    left_alone += 1;
                    continue;
                }
                say(
                    o.dry_run,
                    format!("replace {} -> {}", link.display(), binary.display()),
                );
            }
            Ok(_) => {
                eprintln!(
                    "{} exists and is not a symlink; not touching it",
                    link.display()
                );
                left_alone += 1;
                continue;
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {
                say(
                    o.dry_run,
                    format!("link {} -> {}", link.display(), binary.display()),
                );
            }
            Err(e) => return Err(format!("{}: {e}", link.display())),
        }
        if !o.dry_run {
            // A new link beside the old one, renamed over it: never a moment without one.
            let tmp = dir.join(format!(".{name}.ocf-rs-{}", std::process::id()));
            let _ = fs::remove_file(&tmp);
            symlink(&binary, &tmp).map_err(|e| format!("cannot create {}: {e}", tmp.display()))?;
            fs::rename(&tmp, &link)
                .map_err(|e| format!("cannot rename to {}: {e}", link.display()))?;
        }
    }
    Ok(left_alone)
}

/// Our link: it points at this binary, or at some other `ocf-rs` (an older
/// install, another prefix). Anything else is the admin's.
fn is_ours(link: &Path, binary: &Path) -> bool {
    fs::read_link(link).is_ok_and(|t| t == binary || t.file_name().is_some_and(|f| f == "ocf-rs"))
}

fn uninstall(o: &Options, dir: &Path, binary: &Path, agents: &[&str]) -> Result<usize, String> {
    for name in agents {
        let link = dir.join(name);
        let is_link = fs::symlink_metadata(&link).is_ok_and(|m| m.file_type().is_symlink());
        if is_link && is_ours(&link, binary) {
            say(o.dry_run, format!("remove {}", link.display()));
            if !o.dry_run {
                fs::remove_file(&link)
                    .map_err(|e| format!("cannot remove {}: {e}", link.display()))?;
            }
        } else if link.exists() || is_link {
            println!("{} is not ours; left alone", link.display());
        }
    }
    if !o.dry_run && fs::read_dir(dir).is_ok_and(|mut d| d.next().is_none()) {
        let _ = fs::remove_dir(dir);
        println!("removed empty {}", dir.display());
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_options() {
        let o = parse(&["--prefix", "/opt/ocf", "--provider=acme", "--dry-run"]).unwrap();
        assert_eq!(o.prefix, PathBuf::from("/opt/ocf"));
        assert_eq!(o.provider, "acme");
        assert!(o.dry_run && !o.uninstall);
        assert!(parse(&["--provider", ".hidden"]).is_err());
        assert!(parse(&["--provider", "a/b"]).is_err());
        assert!(parse(&["--prefix", "rel"]).is_err());
        assert!(parse(&["--prefix"]).is_err());
        assert!(parse(&["--frobnicate"]).is_err());
    }
}

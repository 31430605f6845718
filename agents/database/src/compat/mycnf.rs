//! The options of some groups of a MySQL/MariaDB option file, as
//! my_print_defaults reads them: `[group]` headers, `key = value` or a
//! bare `key`, `#`/`;` comments, quoted values, `!include file` and
//! `!includedir dir` (its `*.cnf`, in name order). Option names are
//! normalised to dashes (`open_files_limit` is `open-files-limit`).

use std::fs;
use std::path::Path;

/// How deep `!include` may nest (a loop ends here).
const MAX_DEPTH: usize = 8;

/// The options of `groups` in `file` and what it includes, in file order;
/// a later one wins where it matters. A file that cannot be read adds
/// nothing (the server would say so itself).
pub fn options(file: &Path, groups: &[&str]) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    read(file, groups, 0, &mut out);
    out
}

fn read(file: &Path, groups: &[&str], depth: usize, out: &mut Vec<(String, Option<String>)>) {
    if depth > MAX_DEPTH {
        return;
    }
    // Root's configuration, reached through links as mysqld reads it
    // (Debian's my.cnf is an alternatives link), but never blocking on a
    // FIFO and bounded.
    let Ok(bytes) =
        fs::canonicalize(file).and_then(|real| ocf::files::read_regular(&real, 1 << 20, None))
    else {
        return;
    };
    let text = String::from_utf8_lossy(&bytes);
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(rest) = line.strip_prefix("!includedir") {
            let dir = rest.trim();
            let Ok(entries) = fs::read_dir(dir) else {
                continue;
            };
            let mut files: Vec<_> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "cnf"))
                .collect();
            files.sort();
            for f in files {
                read(&f, groups, depth + 1, out);
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("!include") {
            read(Path::new(rest.trim()), groups, depth + 1, out);
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim().replace('_', "-");
            inside = groups.iter().any(|g| g.replace('_', "-") == name);
            continue;
        }
        if !inside {
            continue;
        }
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k.trim(), Some(unquote(strip_comment(v.trim())))),
            None => (strip_comment(line), None),
        };
        out.push((key.trim().replace('_', "-"), value));
    }
}

/// A value's trailing ` # comment` (not inside quotes).
fn strip_comment(v: &str) -> &str {
    if v.starts_with('"') || v.starts_with('\'') {
        return v;
    }
    match v.find(" #") {
        Some(i) => v[..i].trim_end(),
        None => v,
    }
}

fn unquote(v: &str) -> String {
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|v| v.strip_suffix(q)) {
            return inner.to_string();
        }
    }
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_includes_and_names() {
        let dir = std::env::temp_dir().join(format!("i16db-mycnf-{}", std::process::id()));
        let conf = dir.join("conf.d");
        fs::create_dir_all(&conf).unwrap();
        let main = dir.join("my.cnf");
        fs::write(
            &main,
            format!(
                "[client]\nsocket=/x\n[mysqld_safe]\nnice = 5 # lower\n!includedir {}\n",
                conf.display()
            ),
        )
        .unwrap();
        fs::write(
            conf.join("b.cnf"),
            "[safe_mysqld]\nopen_files_limit=\"4096\"\n[mysqld]\nport=1\n",
        )
        .unwrap();
        fs::write(conf.join("a.cnf"), "[mysqld_safe]\nskip_log_error\n").unwrap();
        fs::write(conf.join("c.txt"), "[mysqld_safe]\nignored=1\n").unwrap();
        let got = options(&main, &["mysqld_safe", "safe_mysqld"]);
        assert_eq!(
            got,
            [
                ("nice".to_string(), Some("5".to_string())),
                ("skip-log-error".to_string(), None),
                ("open-files-limit".to_string(), Some("4096".to_string())),
            ]
        );
        // A file including itself ends at the depth limit.
        fs::write(
            &main,
            format!("!include {}\n[mysqld_safe]\nnice=1\n", main.display()),
        )
        .unwrap();
        assert_eq!(options(&main, &["mysqld_safe"]).len(), MAX_DEPTH + 1);
        fs::remove_dir_all(&dir).unwrap();
    }
}

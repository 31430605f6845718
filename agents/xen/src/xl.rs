//! Xen's `xl` toolstack: every call by argv under a deadline, and its output
//! parsed. `xl list NAME` gives the state flags (the fixed-width table of
//! xl_info.c); `xl list -l NAME` gives the configuration as JSON (vCPUs,
//! memory) for utilization.

use std::path::Path;

use ocf::Deadline;
use ocf::exec::{self, Cmd, ExecError, Output};

/// What `xl list` says about one domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Running or blocked: alive.
    Running,
    Paused,
    /// Shut down (the letter says why) but not yet destroyed.
    Shutdown(char),
    Crashed,
    Dying,
}

impl State {
    /// Parse the six state flags `rbps?d` of `xl list`.
    pub fn from_flags(flags: &str) -> Option<State> {
        let f: Vec<char> = flags.chars().collect();
        if f.len() != 6 {
            return None;
        }
        Some(if f[5] == 'd' {
            State::Dying
        } else if f[4] == 'c' {
            State::Crashed
        } else if f[3] == 's' {
            State::Shutdown(f[4])
        } else if f[2] == 'p' {
            State::Paused
        } else {
            State::Running
        })
    }

    /// Alive in the sense of the resource: it must not be started again.
    pub fn is_alive(self) -> bool {
        matches!(self, State::Running | State::Paused)
    }
}

/// The answer to "is this domain there?".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    Found {
        domid: u32,
        state: State,
    },
    Absent,
    /// No hypervisor on this node: nothing can be running here.
    NoHypervisor(String),
    /// xl failed or hung: we cannot tell.
    Unknown(String),
}

/// vCPUs, memory and UUID from `xl list -l`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Details {
    pub vcpus: u64,
    pub max_memkb: u64,
    pub uuid: Option<String>,
}

/// One row of the `xl list` table: (name, domid, state). The name is
/// whatever is left of the fixed-width line before its five last columns
/// (ID, Mem, VCPUs, State, Time), so a name with spaces, which xl accepts,
/// is read whole.
fn parse_row(line: &str) -> Option<(&str, u32, State)> {
    let mut cols = Vec::with_capacity(5);
    let mut rest = line.trim_end();
    for _ in 0..5 {
        let start = rest
            .char_indices()
            .rev()
            .find(|(_, c)| c.is_whitespace())
            .map(|(i, c)| i + c.len_utf8())?;
        cols.push(&rest[start..]);
        rest = rest[..start].trim_end();
    }
    // cols: Time, State, VCPUs, Mem, ID (reversed)
    let name = rest.trim_start();
    if name.is_empty() {
        return None;
    }
    Some((name, cols[4].parse().ok()?, State::from_flags(cols[1])?))
}

/// One row of `xl list` for `name`, if the table has it.
pub fn parse_list(stdout: &str, name: &str) -> Option<(u32, State)> {
    stdout.lines().find_map(|line| {
        let (n, domid, state) = parse_row(line)?;
        (n == name).then_some((domid, state))
    })
}

/// The guest domains (not Domain-0) that `xl list` shows alive.
pub fn parse_running(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(parse_row)
        .filter(|(name, _, state)| *name != "Domain-0" && state.is_alive())
        .map(|(name, _, _)| name.to_string())
        .collect()
}

/// `total_memory : N` (MiB) of `xl info`.
pub fn parse_total_memory(info: &str) -> Option<u64> {
    info.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "total_memory")
            .then(|| value.trim().parse().ok())
            .flatten()
    })
}

/// The `xl list -l` JSON entry for `name`.
pub fn parse_long(json: &str, name: &str) -> Result<Details, String> {
    let v: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("xl list -l: not JSON: {e}"))?;
    let entries = v.as_array().ok_or("xl list -l: not a JSON array")?;
    let entry = entries
        .iter()
        .find(|e| e["config"]["c_info"]["name"].as_str() == Some(name))
        .ok_or_else(|| format!("xl list -l: no domain {name}"))?;
    let b = &entry["config"]["b_info"];
    let num = |k: &str| {
        b[k].as_u64()
            .ok_or_else(|| format!("xl list -l: b_info.{k} missing"))
    };
    Ok(Details {
        vcpus: num("max_vcpus")?,
        max_memkb: num("max_memkb")?,
        uuid: entry["config"]["c_info"]["uuid"]
            .as_str()
            .filter(|u| !u.is_empty())
            .map(str::to_string),
    })
}

/// (name, UUID) of every domain in an `xl list -l` JSON array: the UUID
/// stays with a domain through `xl rename`, a reboot and a migration.
pub fn parse_identities(json: &str) -> Result<Vec<(String, String)>, String> {
    let v: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("xl list -l: not JSON: {e}"))?;
    let entries = v.as_array().ok_or("xl list -l: not a JSON array")?;
    Ok(entries
        .iter()
        .filter_map(|e| {
            let c = &e["config"]["c_info"];
            Some((
                c["name"].as_str()?.to_string(),
                c["uuid"].as_str()?.to_string(),
            ))
        })
        .collect())
}

/// Errors of `xl` that mean "no such domain".
fn is_absent(stderr: &str) -> bool {
    stderr.contains("invalid domain identifier") || stderr.contains("does not exist")
}

/// Errors of `xl` that mean "no Xen here at all".
fn is_no_hypervisor(stderr: &str) -> bool {
    stderr.contains("cannot init xl context")
        || stderr.contains("Can't find hypervisor information")
        || stderr.contains("Could not obtain handle on privileged command interface")
}

/// The `name = "..."` setting of an xl domain configuration file, as xl's
/// parser reads it: `#` starts a comment only outside quotes, `;` ends a
/// setting, and the value is unquoted (`name = "web#1"` is `web#1`).
pub fn config_name(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        settings(line).into_iter().find_map(|(key, value)| {
            (key == "name").then(|| {
                let v = value.as_str();
                v.strip_prefix('"')
                    .and_then(|s| s.strip_suffix('"'))
                    .or_else(|| v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))
                    .unwrap_or(v)
                    .to_string()
            })
        })
    })
}

/// The `key = value` settings of one config line, comments removed.
fn settings(line: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    let mut flush = |cur: &mut String| {
        if let Some((k, v)) = cur.split_once('=') {
            out.push((k.trim().to_string(), v.trim().to_string()));
        }
        cur.clear();
    };
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                cur.push(c);
            }
            (Some('"'), '\\') => {
                cur.push(c);
                cur.extend(chars.next());
            }
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                cur.push(c);
            }
            (None, '#') => break,
            (None, ';') => flush(&mut cur),
            (None, c) => cur.push(c),
        }
    }
    flush(&mut cur);
    out
}

/// The xl program (a path or a name on PATH).
#[derive(Clone, Debug)]
pub struct Xl {
    pub program: String,
}

impl Xl {
    fn run(&self, args: &[&str], dl: &Deadline) -> Result<Output, String> {
        exec::run(&Cmd::new(&self.program).args(args), dl).map_err(|e| match e {
            ExecError::Timeout { .. } => format!("{e} (xl is hung)"),
            other => other.to_string(),
        })
    }

    /// `xl list -- NAME`: after `--`, a name starting with `-` is a name to
    /// xl, never an option. One with a NUL or a newline is not asked about.
    pub fn lookup(&self, name: &str, dl: &Deadline) -> Lookup {
        if !crate::record::xl_arg_safe(name) {
            return Lookup::Unknown(format!("{name:?} cannot be passed to xl"));
        }
        match self.run(&["list", "--", name], dl) {
            Ok(out) if out.success() => match parse_list(&out.stdout_str(), name) {
                Some((domid, state)) => Lookup::Found { domid, state },
                None => Lookup::Unknown(format!("xl list {name}: unreadable output")),
            },
            Ok(out) if is_absent(&out.stderr_str()) => Lookup::Absent,
            Ok(out) if is_no_hypervisor(&out.stderr_str()) => {
                Lookup::NoHypervisor(format!("xl list: {}", out.describe()))
            }
            Ok(out) => Lookup::Unknown(format!("xl list {name}: {}", out.describe())),
            Err(e) => Lookup::Unknown(e),
        }
    }

    /// (name, UUID) of every domain here (`xl list -l`).
    pub fn identities(&self, dl: &Deadline) -> Result<Vec<(String, String)>, String> {
        let out = self.run(&["list", "-l"], dl)?;
        if !out.success() {
            return Err(format!("xl list -l: {}", out.describe()));
        }
        parse_identities(&out.stdout_str())
    }

    /// `xl list -l -- NAME`.
    pub fn details(&self, name: &str, dl: &Deadline) -> Result<Details, String> {
        safe(name)?;
        let out = self.run(&["list", "-l", "--", name], dl)?;
        if !out.success() {
            return Err(format!("xl list -l {name}: {}", out.describe()));
        }
        parse_long(&out.stdout_str(), name)
    }

    fn checked(&self, args: &[&str], dl: &Deadline) -> Result<(), String> {
        let out = self.run(args, dl)?;
        if out.success() {
            Ok(())
        } else {
            let shown: Vec<&str> = args.iter().copied().filter(|a| *a != "--").collect();
            Err(format!("xl {}: {}", shown.join(" "), out.describe()))
        }
    }

    /// `xl create XMFILE name="NAME" [memory=MIB]` (the name already
    /// validated: no quotes, no leading `-`; the file an absolute path).
    /// The overrides are xl's own `key=value` arguments: the file itself is
    /// never edited. No `--` here: `xl create` takes its first argument as
    /// the file only when it does not start with `-`.
    pub fn create(
        &self,
        xmfile: &Path,
        name: &str,
        memory_mib: Option<u64>,
        dl: &Deadline,
    ) -> Result<(), String> {
        safe(name)?;
        let file = xmfile.to_string_lossy();
        if !file.starts_with('/') {
            return Err(format!("xmfile {file} is not an absolute path"));
        }
        let name_arg = format!("name=\"{name}\"");
        let mut args = vec!["create", file.as_ref(), name_arg.as_str()];
        let memory_arg = memory_mib.map(|m| format!("memory={m}"));
        args.extend(memory_arg.as_deref());
        self.checked(&args, dl)
    }

    /// The guest domains running on this host (`xl list`).
    pub fn running_guests(&self, dl: &Deadline) -> Result<Vec<String>, String> {
        let out = self.run(&["list"], dl)?;
        if !out.success() {
            return Err(format!("xl list: {}", out.describe()));
        }
        Ok(parse_running(&out.stdout_str()))
    }

    /// The host's memory in MiB (`xl info`).
    pub fn total_memory(&self, dl: &Deadline) -> Result<u64, String> {
        let out = self.run(&["info"], dl)?;
        if !out.success() {
            return Err(format!("xl info: {}", out.describe()));
        }
        parse_total_memory(&out.stdout_str()).ok_or_else(|| "xl info: no total_memory".into())
    }

    /// `xl mem-set -- NAME <MIB>m`: the domain's balloon target.
    pub fn mem_set(&self, name: &str, mib: u64, dl: &Deadline) -> Result<(), String> {
        safe(name)?;
        self.checked(&["mem-set", "--", name, &format!("{mib}m")], dl)
    }

    /// A graceful shutdown request: `xl shutdown`, or the ACPI power button.
    pub fn shutdown(&self, name: &str, acpi: bool, dl: &Deadline) -> Result<(), String> {
        safe(name)?;
        if acpi {
            self.checked(&["trigger", "--", name, "power"], dl)
        } else {
            self.checked(&["shutdown", "--", name], dl)
        }
    }

    pub fn destroy(&self, name: &str, dl: &Deadline) -> Result<(), String> {
        safe(name)?;
        self.checked(&["destroy", "--", name], dl)
    }

    /// `xl migrate -- NAME HOST`. xl puts HOST into `exec ssh HOST xl
    /// migrate-receive` and runs that through a shell: only an IP address
    /// or a host name ([`migration_host`]) is ever passed.
    pub fn migrate(&self, name: &str, host: &str, dl: &Deadline) -> Result<(), String> {
        safe(name)?;
        migration_host(host)?;
        self.checked(&["migrate", "--", name, host], dl)
    }
}

/// Refuse a domain name that cannot be one argument (see
/// [`crate::record::xl_arg_safe`]).
fn safe(name: &str) -> Result<(), String> {
    if crate::record::xl_arg_safe(name) {
        Ok(())
    } else {
        Err(format!("domain name {name:?} cannot be passed to xl"))
    }
}

/// Is `host` something `xl migrate` may put on a shell command line: an
/// IPv4 or IPv6 address literal, or an RFC 1123 host name (labels of
/// letters, digits and inner hyphens, 1 to 63 characters each, 253 in all)?
/// Anything else (a space, `;`, `$`, a quote, a leading `-` that ssh would
/// read as an option such as `-oProxyCommand=...`) is refused, with a
/// reason that does not repeat the value.
pub fn migration_host(host: &str) -> Result<(), String> {
    if host.parse::<std::net::Ipv4Addr>().is_ok() || host.parse::<std::net::Ipv6Addr>().is_ok() {
        return Ok(());
    }
    if is_host_name(host) {
        Ok(())
    } else {
        Err("is neither an IP address nor a host name (letters, digits, '-' and '.' only)".into())
    }
}

/// An RFC 1123 host name (no trailing dot, no underscore).
pub fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b.len() <= 63
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
                && b[0] != b'-'
                && b[b.len() - 1] != b'-'
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "Name                                        ID   Mem VCPUs\tState\tTime(s)
Domain-0                                     0  1024     2     r-----      42.0
sentinel                                     7   512     1     -b----       3.5
web server                                  12   512     1     -b----       1.0
paused                                       8   512     1     --p---       0.1
preserved                                    9   512     1     ---s--       9.0
crashed                                     10   512     1     ---sc-       9.0
dying                                       11   512     1     -b---d       9.0
";

    #[test]
    fn running_guests_and_total_memory() {
        // A dying domain is about to give its memory back: not counted.
        assert_eq!(
            parse_running(TABLE),
            vec!["sentinel", "web server", "paused"]
        );
        let info = "host                   : node1\n\
                    total_memory           : 16077\n\
                    free_memory            : 12001\n";
        assert_eq!(parse_total_memory(info), Some(16077));
        assert_eq!(parse_total_memory("free_memory : 1\n"), None);
    }

    #[test]
    fn state_flags_and_rows() {
        assert_eq!(parse_list(TABLE, "sentinel"), Some((7, State::Running)));
        assert_eq!(
            parse_list(TABLE, "web server"),
            Some((12, State::Running)),
            "xl accepts names with spaces"
        );
        assert_eq!(parse_list(TABLE, "server"), None);
        assert_eq!(parse_list(TABLE, "paused"), Some((8, State::Paused)));
        assert_eq!(
            parse_list(TABLE, "preserved"),
            Some((9, State::Shutdown('-')))
        );
        assert_eq!(parse_list(TABLE, "crashed"), Some((10, State::Crashed)));
        assert_eq!(parse_list(TABLE, "dying"), Some((11, State::Dying)));
        assert_eq!(parse_list(TABLE, "Domain-0"), Some((0, State::Running)));
        assert_eq!(parse_list(TABLE, "sent"), None, "whole names only");
        assert_eq!(parse_list(TABLE, "Name"), None, "the header is no domain");
        assert_eq!(State::from_flags("r----"), None);
        assert!(State::Paused.is_alive() && !State::Shutdown('r').is_alive());
    }

    #[test]
    fn long_listing_json() {
        let json = r#"[
    {
        "domid": 7,
        "config": {
            "c_info": { "type": "pv", "name": "sentinel", "uuid": "x" },
            "b_info": { "max_vcpus": 2, "max_memkb": 524288, "target_memkb": 524288 }
        }
    }
]"#;
        assert_eq!(
            parse_long(json, "sentinel"),
            Ok(Details {
                vcpus: 2,
                max_memkb: 524288,
                uuid: Some("x".into()),
            })
        );
        assert_eq!(
            parse_identities(json),
            Ok(vec![("sentinel".to_string(), "x".to_string())])
        );
        assert!(parse_identities("nope").is_err());
        assert!(parse_long(json, "other").is_err());
        assert!(parse_long("(domain (domid 7))", "sentinel").is_err());
    }

    #[test]
    fn config_file_name() {
        let cfg = "# a PV guest\nkernel = \"/boot/vmlinuz\"\nname = \"sentinel\" # the name\nmemory = 512\n";
        assert_eq!(config_name(cfg).as_deref(), Some("sentinel"));
        assert_eq!(config_name("name='web1';\n").as_deref(), Some("web1"));
        assert_eq!(config_name("hostname = \"x\"\n"), None);
        assert_eq!(config_name("#name = \"x\"\n"), None);
        // xl's parser: '#' inside quotes is part of the value.
        assert_eq!(
            config_name("name = \"web#1\" # comment\n").as_deref(),
            Some("web#1")
        );
        assert_eq!(
            config_name("memory = 128; name = 'web server'\n").as_deref(),
            Some("web server")
        );
        assert_eq!(
            config_name("name = \"a\\\"b\"\n").as_deref(),
            Some("a\\\"b")
        );
    }

    #[test]
    fn migration_hosts_are_addresses_or_host_names_only() {
        for ok in [
            "node2",
            "node2-mig.example.com",
            "10.0.0.2",
            "fe80::1",
            "::ffff:192.0.2.1",
            "a",
            "0node",
        ] {
            assert!(migration_host(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "node2;touch /tmp/x",
            "-oProxyCommand=sh -c id",
            "-node2",
            "node2-",
            "node 2",
            "node2.",
            "$(id)",
            "`id`",
            "node2|id",
            "a..b",
            "[::1]",
            "fe80::1%eth0",
            "node_2",
            "user@node2",
            "node2\n",
            &"a".repeat(64),
        ] {
            assert!(migration_host(bad).is_err(), "{bad:?}");
        }
        let e = migration_host("x;reboot").unwrap_err();
        assert!(!e.contains("reboot"), "the value is not repeated: {e}");
    }

    #[test]
    fn hostile_names_and_hosts_never_reach_xl() {
        let xl = Xl {
            program: "/bin/false".into(),
        };
        let dl = Deadline::after(std::time::Duration::from_secs(5));
        assert!(matches!(xl.lookup("a\nb", &dl), Lookup::Unknown(_)));
        assert!(
            xl.destroy("", &dl)
                .unwrap_err()
                .contains("cannot be passed")
        );
        assert!(xl.migrate("vm1", "-oProxyCommand=id", &dl).is_err());
        assert!(
            xl.create(Path::new("rel.cfg"), "vm1", None, &dl)
                .unwrap_err()
                .contains("absolute")
        );
    }

    #[test]
    fn error_texts() {
        assert!(is_absent("vm1 is an invalid domain identifier (rc=-6)"));
        assert!(is_absent("Error: Domain 'vm1' does not exist."));
        assert!(is_no_hypervisor(
            "xencall: error: Could not obtain handle on privileged command interface: No such file or directory\nlibxl: error: cannot init xl context"
        ));
    }
}

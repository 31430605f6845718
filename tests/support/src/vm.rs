//! Helpers for the vm agent's tests: the machine's libvirtd (reused, or
//! started by hand), private libvirtd "hosts" in their own namespaces
//! (`tests/harness/vm-libvirtd.sh`), the tiny guest
//! (`tests/harness/tiny-guest.sh`), and domains named `vma-*` that are
//! destroyed and undefined on drop.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::{repo, require, sh};

fn harness(script: &str, args: &[&str]) -> (i32, String) {
    let p = repo().join("tests/harness").join(script);
    sh(p.to_str().unwrap(), args)
}

/// The machine's libvirtd answers on qemu:///system (started if needed).
pub fn system_libvirtd() -> &'static str {
    static UP: OnceLock<()> = OnceLock::new();
    UP.get_or_init(|| {
        require("libvirtd");
        require("virsh");
        let (code, out) = harness("vm-libvirtd.sh", &["system"]);
        assert_eq!(code, 0, "libvirtd did not come up:\n{out}");
    });
    "qemu:///system"
}

/// The directory holding the tiny guest's vmlinuz and initrd.gz (built once).
pub fn guest_dir() -> PathBuf {
    const DIR: &str = "/var/tmp/ocf-rs-guest";
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let (code, out) = harness("tiny-guest.sh", &[DIR]);
        assert_eq!(code, 0, "cannot build the tiny guest:\n{out}");
    });
    PathBuf::from(DIR)
}

/// What boots inside a test domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Guest {
    /// The tiny Linux guest: powers off on the ACPI power button.
    Linux,
    /// The tiny guest that powers itself off after N seconds.
    PowersOffAfter(u32),
    /// No OS at all (SeaBIOS only): ignores every shutdown request.
    Bare,
}

/// `virsh -c URI args...` (in `netns` when given): (code, output).
pub fn virsh(uri: &str, netns: Option<&str>, args: &[&str]) -> (i32, String) {
    let mut argv: Vec<&str> = Vec::new();
    if let Some(ns) = netns {
        argv.extend(["netns", "exec", ns, "virsh"]);
    }
    argv.extend(["-c", uri]);
    argv.extend_from_slice(args);
    if netns.is_some() {
        sh("ip", &argv)
    } else {
        sh("virsh", &argv)
    }
}

/// A test domain: its XML file, and cleanup on drop wherever it ended up.
pub struct Domain {
    pub name: String,
    pub xml: PathBuf,
    pub console: PathBuf,
    /// (uri, netns) pairs to clean up on.
    pub hosts: Vec<(String, Option<String>)>,
}

impl Domain {
    /// Write the XML of domain `name` (must start with `vma-`) into `dir`.
    pub fn new(dir: &Path, name: &str, guest: Guest, uri: &str) -> Domain {
        assert!(name.starts_with("vma-"), "test domains are named vma-*");
        let g = guest_dir();
        let console = dir.join(format!("{}.console", sanitize(name)));
        let os = match guest {
            Guest::Bare => {
                "<type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/>".to_string()
            }
            Guest::Linux | Guest::PowersOffAfter(_) => {
                let extra = match guest {
                    Guest::PowersOffAfter(n) => format!(" vma_poweroff={n}"),
                    _ => String::new(),
                };
                format!(
                    "<type arch='x86_64' machine='pc'>hvm</type>\
                     <kernel>{}/vmlinuz</kernel><initrd>{}/initrd.gz</initrd>\
                     <cmdline>console=ttyS0 quiet panic=-1{extra}</cmdline>",
                    g.display(),
                    g.display()
                )
            }
        };
        let xml_text = format!(
            "<domain type='qemu'>\n  <name>{}</name>\n  <memory unit='MiB'>96</memory>\n  \
             <vcpu>1</vcpu>\n  <os>{os}</os>\n  <features><acpi/></features>\n  \
             <on_poweroff>destroy</on_poweroff><on_reboot>destroy</on_reboot>\
             <on_crash>destroy</on_crash>\n  <devices>\n    \
             <emulator>/usr/bin/qemu-system-x86_64</emulator>\n    \
             <serial type='file'><source path='{}'/></serial>\n    \
             <memballoon model='none'/>\n  </devices>\n</domain>\n",
            escape(name),
            console.display()
        );
        let xml = dir.join(format!("{}.xml", sanitize(name)));
        fs::write(&xml, xml_text).unwrap();
        Domain {
            name: name.to_string(),
            xml,
            console,
            hosts: vec![(uri.to_string(), None)],
        }
    }

    pub fn xml_str(&self) -> &str {
        self.xml.to_str().unwrap()
    }

    /// What the guest wrote on its serial console so far.
    pub fn console(&self) -> String {
        fs::read_to_string(&self.console).unwrap_or_default()
    }

    /// `virsh domstate` on the first host ("" when undefined).
    pub fn state(&self) -> String {
        let (uri, ns) = &self.hosts[0];
        let (code, out) = virsh(uri, ns.as_deref(), &["domstate", &self.name]);
        if code == 0 {
            out.trim().to_string()
        } else {
            String::new()
        }
    }

    /// Is the domain defined on the first host?
    pub fn defined(&self) -> bool {
        let (uri, ns) = &self.hosts[0];
        virsh(uri, ns.as_deref(), &["dominfo", &self.name]).0 == 0
    }
}

impl Drop for Domain {
    fn drop(&mut self) {
        for (uri, ns) in &self.hosts {
            let _ = virsh(uri, ns.as_deref(), &["destroy", &self.name]);
            let _ = virsh(uri, ns.as_deref(), &["undefine", &self.name]);
        }
        let _ = fs::remove_file(&self.xml);
        let _ = fs::remove_file(&self.console);
    }
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// A private libvirtd "host" (`vma-<name>`), torn down on drop.
pub struct PrivateHost {
    pub name: String,
    pub uri: String,
    pub netns: Option<String>,
}

impl PrivateHost {
    /// Without `ip`: reachable from the host over a unix socket. With `ip`:
    /// in its own netns on the vma-hub bridge, listening on tcp.
    pub fn up(name: &str, ip: Option<&str>) -> PrivateHost {
        require("libvirtd");
        let mut args = vec!["up", name];
        if let Some(ip) = ip {
            args.push(ip);
        }
        let (code, out) = harness("vm-libvirtd.sh", &args);
        assert_eq!(code, 0, "private libvirtd {name} did not come up:\n{out}");
        PrivateHost {
            name: name.to_string(),
            uri: out.lines().last().unwrap().trim().to_string(),
            netns: ip.map(|_| format!("vma-{name}")),
        }
    }

    /// The PID of its libvirtd.
    pub fn libvirtd_pid(&self) -> i32 {
        let (_, out) = harness("vm-libvirtd.sh", &["pid", &self.name]);
        out.trim().parse().expect("libvirtd pid")
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: a signal to the daemon this test started.
        unsafe { libc::kill(self.libvirtd_pid(), sig) };
    }
}

impl Drop for PrivateHost {
    fn drop(&mut self) {
        let (code, out) = harness("vm-libvirtd.sh", &["down", &self.name]);
        if code != 0 {
            eprintln!("vm-libvirtd.sh down {} failed:\n{out}", self.name);
        }
    }
}

/// PIDs of QEMU processes whose command line names guest `name`.
pub fn qemu_pids(name: &str) -> Vec<i32> {
    let needle = format!("guest={}", name.replace(',', ",,"));
    fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                let s = String::from_utf8_lossy(&c);
                s.contains("qemu")
                    && s.split('\0')
                        .any(|a| a.starts_with(&needle) && a[needle.len()..].starts_with(','))
            })
        })
        .collect()
}

//! The tiny TCG guests of the VM scenarios (tests/harness/tiny-guest.sh):
//! their libvirt domain XML, and what their serial console says.

use std::fs;
use std::path::PathBuf;

use super::{repo, sh};

/// Where the guests' domain XML and consoles live while a cluster runs
/// (inside the harness's directory: `down` removes them).
pub const DIR: &str = "/var/tmp/e2e-cluster/guests";
/// The guest's kernel and initrd, shared with the vm agent's tests.
const IMAGE: &str = "/var/tmp/ocf-rs-guest";

/// Build (or reuse) the guest's kernel and initrd.
pub fn build_image() {
    let script = repo().join("tests/harness/tiny-guest.sh");
    let (code, out) = sh(script.to_str().unwrap(), &[IMAGE]);
    assert_eq!(code, 0, "tiny-guest.sh failed:\n{out}");
}

/// Write the domain XML of guest `name` (128 MiB, TCG, serial console to a
/// file every node appends to) with `disk` as its disk if given; returns the
/// XML's path.
pub fn domain(name: &str, disk: Option<&str>) -> PathBuf {
    fs::create_dir_all(DIR).unwrap();
    let disk_xml = disk
        .map(|d| {
            // cache='none': libvirt only live-migrates a shared disk without the host's cache
            format!(
                "    <disk type='block' device='disk'>\n      <driver name='qemu' type='raw' cache='none'/>\n      \
                 <source dev='{d}'/>\n      <target dev='vda' bus='virtio'/>\n    </disk>\n"
            )
        })
        .unwrap_or_default();
    let xml = format!(
        "<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{IMAGE}/vmlinuz</kernel>
    <initrd>{IMAGE}/initrd.gz</initrd>
    <cmdline>console=ttyS0 quiet panic=-1</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
{disk_xml}    <serial type='file'><source path='{console}' append='on'/></serial>
    <memballoon model='none'/>
  </devices>
</domain>
",
        console = console_path(name).display()
    );
    let path = PathBuf::from(DIR).join(format!("{name}.xml"));
    fs::write(&path, xml).unwrap();
    path
}

pub fn console_path(name: &str) -> PathBuf {
    PathBuf::from(DIR).join(format!("{name}.console"))
}

/// What the guest's console shows so far.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Console {
    /// How many times the guest booted.
    pub boots: usize,
    /// The guest's uptime in its last tick (seconds).
    pub uptime: f64,
    pub ticks: usize,
}

pub fn console(name: &str) -> Console {
    let text = fs::read_to_string(console_path(name)).unwrap_or_default();
    let mut c = Console::default();
    for line in text.lines() {
        if line.contains("GUEST-UP") {
            c.boots += 1;
        } else if let Some(rest) = line.trim().strip_prefix("GUEST-TICK ")
            && let Ok(u) = rest.trim().parse()
        {
            c.uptime = u;
            c.ticks += 1;
        }
    }
    c
}

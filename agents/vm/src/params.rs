//! The parameters of `ocf:rust:vm` (those of `ocf:heartbeat:VirtualDomain`,
//! and `xmfile` for the native Xen backend) and their syntax checks.

use ocf::ParamSpec;
use ocf::params::checks;

use crate::libvirt as lv;

pub static CONFIG: ParamSpec = ParamSpec::new(
    "config",
    "Domain XML file",
    "Absolute path to the libvirt domain XML of this virtual machine. The domain's \
     name is read from its name element. The file must exist on every node that \
     may run the VM; where it is missing, or no longer names the domain start \
     started, probe and stop go by what start recorded (name, UUID, hypervisor). \
     Give either config or xmfile.",
)
.unique()
.check(checks::absolute_path);

pub static XMFILE: ParamSpec = ParamSpec::new(
    "xmfile",
    "Xen xl configuration file (native Xen backend)",
    "Absolute path to an xl domain configuration file. Given instead of config, it \
     selects the native Xen backend: the domain is managed with xl (create, shutdown, \
     destroy, list, migrate) exactly as ocf:rust:xen does, with force_stop, \
     shutdown_mode=acpi, autoset_utilization_* and monitor_scripts honoured. For Xen \
     through libvirt, give config and hypervisor=xen:///system instead.",
)
.unique()
.check(checks::absolute_path);

pub static HYPERVISOR: ParamSpec = ParamSpec::new(
    "hypervisor",
    "Hypervisor URI",
    "The libvirt connection URI of the local hypervisor. Default: libvirt's own \
     default, as `virsh uri` answers it (LIBVIRT_DEFAULT_URI, then uri_default in \
     /etc/libvirt/libvirt.conf, then qemu:///system).",
)
.check(check_uri);

pub static FORCE_STOP: ParamSpec = ParamSpec::new(
    "force_stop",
    "Always force-stop",
    "Stop the domain with destroy (pulling the plug) instead of a graceful shutdown \
     first. Not allowed together with snapshot.",
)
.boolean()
.default("false");

pub static MIGRATION_TRANSPORT: ParamSpec = ParamSpec::new(
    "migration_transport",
    "Remote hypervisor transport",
    "The transport used to reach the target's hypervisor during a live migration \
     (qemu+TRANSPORT://TARGET/system). Empty: the transport of the hypervisor \
     URI, if any.",
)
.choice(&["ssh", "tcp", "tls", "libssh", "libssh2", "unix", "ext"]);

pub static MIGRATION_USER: ParamSpec = ParamSpec::new(
    "migration_user",
    "Remote hypervisor user",
    "The user name put into the target's hypervisor URI (user@target). Ignored when \
     remoteuri is set.",
)
.check(check_user);

pub static MIGRATION_DOWNTIME: ParamSpec = ParamSpec::new(
    "migration_downtime",
    "Maximum downtime of a live migration (ms)",
    "The longest the guest may be paused at the end of a live migration, in \
     milliseconds. 0 keeps the hypervisor's default.",
)
.integer(0, 3_600_000)
.default("0");

pub static MIGRATION_SPEED: ParamSpec = ParamSpec::new(
    "migration_speed",
    "Live migration bandwidth (MiB/s)",
    "Bandwidth limit of a live migration in MiB/s. 0 means no limit.",
)
.integer(0, 1_000_000)
.default("0");

pub static MIGRATION_NETWORK_SUFFIX: ParamSpec = ParamSpec::new(
    "migration_network_suffix",
    "Migration network host name suffix",
    "Appended to the first label of the target node's name to reach it on a \
     dedicated migration network: with suffix '-mig', node2.example.com becomes \
     node2-mig.example.com, in the remote hypervisor URI and the migration URI.",
)
.check(check_suffix);

pub static MIGRATEURI: ParamSpec = ParamSpec::new(
    "migrateuri",
    "Migration data URI",
    "The URI the migration data goes to (e.g. tcp://%n:49152). %n is replaced by the \
     target node's name, with migration_network_suffix applied unless remoteuri is set \
     (as VirtualDomain). Wins over --migrateuri in migrate_options. Default: chosen by \
     libvirt, or tcp://TARGET-WITH-SUFFIX:migrateport when migration_network_suffix is set.",
)
.check(check_no_space);

pub static MIGRATEPORT: ParamSpec = ParamSpec::new(
    "migrateport",
    "Port of the migration URI",
    "The port of the migration URI the agent builds when migration_network_suffix \
     is set (tcp://TARGET-WITH-SUFFIX:PORT). Unset: a random port of 49152-49215 on \
     every migration, as VirtualDomain. Not used with migrateuri, which names its own port.",
)
.integer(1, 65535);

pub static MIGRATE_OPTIONS: ParamSpec = ParamSpec::new(
    "migrate_options",
    "Extra migration options",
    "virsh migrate options for live migrations, separated by spaces, as VirtualDomain \
     passes them to virsh: each becomes the libvirt flag or typed parameter virsh would \
     send (--p2p, --compressed, --comp-methods xbzrle, --listen-address ADDR, \
     --bandwidth MiB, --migrateuri URI with %n for the target, ...). virsh's own options \
     (--verbose, --timeout N, --postcopy-after-precopy) are logged and ignored; --dname is \
     refused (the domain would be renamed on the target).",
)
.check(check_migrate_options);

pub static REMOTEURI: ParamSpec = ParamSpec::new(
    "remoteuri",
    "Target hypervisor URI",
    "The libvirt URI of the target's hypervisor for live migrations \
     (e.g. qemu+ssh://%n/system). %n is replaced by the target node's name. \
     Overrides migration_transport, migration_user and migration_network_suffix \
     for this URI.",
)
.check(check_no_space);

pub static AUTOSET_CPU: ParamSpec = ParamSpec::new(
    "autoset_utilization_cpu",
    "Set the cpu utilization",
    "Put the domain's number of vCPUs into the resource's 'cpu' utilization \
     attribute. Written only when the value changes.",
)
.boolean()
.default("true");

pub static AUTOSET_HV_MEMORY: ParamSpec = ParamSpec::new(
    "autoset_utilization_hv_memory",
    "Set the hv_memory utilization",
    "Put the domain's maximum memory in MiB into the resource's 'hv_memory' \
     utilization attribute. Written only when the value changes.",
)
.boolean()
.default("true");

pub static AUTOSET_HOST_MEMORY: ParamSpec = ParamSpec::new(
    "autoset_utilization_host_memory",
    "Set the host_memory utilization",
    "Put the domain's maximum memory in MiB into the resource's 'host_memory' \
     utilization attribute. Written only when the value changes.",
)
.boolean()
.default("true");

pub static UNSET_CPU: ParamSpec = ParamSpec::new(
    "unset_utilization_cpu",
    "Remove the cpu utilization",
    "With autoset_utilization_cpu off: remove the resource's 'cpu' utilization \
     attribute (one set by hand or by an earlier configuration). Removed once, \
     not on every monitor.",
)
.boolean()
.default("false");

pub static UNSET_HOST_MEMORY: ParamSpec = ParamSpec::new(
    "unset_utilization_host_memory",
    "Remove the host_memory utilization",
    "With autoset_utilization_host_memory off: remove the resource's 'host_memory' \
     utilization attribute. Removed once, not on every monitor.",
)
.boolean()
.default("false");

pub static UNSET_HV_MEMORY: ParamSpec = ParamSpec::new(
    "unset_utilization_hv_memory",
    "Remove the hv_memory utilization",
    "With autoset_utilization_hv_memory off: remove the resource's 'hv_memory' \
     utilization attribute. Removed once, not on every monitor.",
)
.boolean()
.default("false");

pub static SAVE_CONFIG_ON_STOP: ParamSpec = ParamSpec::new(
    "save_config_on_stop",
    "Save the configuration on stop",
    "Before stopping (and before a live migration), write the domain's persistent \
     XML, as libvirt holds it (with its VNC/SPICE passwords), back to the config file: \
     atomically, with the old file's owner and mode and never readable by others while \
     written. A config path that is a link keeps its link and its target is rewritten. \
     Nothing is saved (a warning, the stop goes on) when the file's directory, or the \
     link's, is not root's or is writable by others.",
)
.boolean()
.default("false");

pub static SYNC_CONFIG_ON_STOP: ParamSpec = ParamSpec::new(
    "sync_config_on_stop",
    "Save the configuration on stop and sync it with csync2",
    "Implies save_config_on_stop. When saving changed the config file, run \
     `csync2 -x FILE` so that every node gets it (csync2 must be installed and \
     set up; a failed sync is logged, the stop goes on).",
)
.boolean()
.default("false");

pub static SNAPSHOT: ParamSpec = ParamSpec::new(
    "snapshot",
    "Snapshot directory",
    "Directory where stop saves the domain's memory (DIR/NAME.state) instead of \
     shutting it down; the next start restores from it and removes it.",
)
.check(checks::absolute_path);

pub static SHUTDOWN_MODE: ParamSpec = ParamSpec::new(
    "shutdown_mode",
    "Graceful shutdown mode",
    "How a graceful stop asks the guest to shut down: one or more of acpi, agent, \
     initctl, signal, paravirt, separated by commas. Empty: the hypervisor's default.",
)
.check(check_shutdown_mode);

pub static START_RESOURCES: ParamSpec = ParamSpec::new(
    "start_resources",
    "Start networks and pools",
    "Start the libvirt virtual networks and storage pools the domain XML refers to \
     (interfaces of type network, disks of type volume) if they are not active.",
)
.boolean()
.default("false");

pub static BACKINGFILE: ParamSpec = ParamSpec::new(
    "backingfile",
    "Backing image (copy-on-write mode)",
    "Run the guest on a qcow2 overlay of this image, which is never written: start creates \
     the overlay next to the config file (web.xml -> web.qcow2; the domain XML must use it as \
     its disk) when it is missing, or on every start with stateless=true.",
)
.check(checks::absolute_path);

pub static STATELESS: ParamSpec = ParamSpec::new(
    "stateless",
    "Start from the backing image every time",
    "With backingfile: create a fresh overlay on every start, so that nothing the guest \
     wrote survives a restart. Without backingfile it is a configuration error.",
)
.boolean()
.default("false");

pub static COPYINDIRS: ParamSpec = ParamSpec::new(
    "copyindirs",
    "Directories copied into a fresh overlay",
    "Absolute paths, separated by spaces, copied into the guest's root directory with \
     libguestfs (`virt-copy-in -d NAME DIR... /`) whenever start makes a fresh overlay \
     from backingfile (always with stateless), before the domain boots, as VirtualDomain. \
     Needs virt-copy-in on the node.",
)
.check(check_dirs);

pub static MONITOR_SCRIPTS: ParamSpec = ParamSpec::new(
    "monitor_scripts",
    "Extra monitor programs",
    "Programs, separated by spaces (absolute paths, or names found on PATH, as \
     VirtualDomain runs them), run (without a shell or arguments) after every successful \
     monitor, each under the monitor's deadline. \
     A non-zero exit fails the monitor. Start and migrate_from wait until they pass.",
)
.check(check_scripts);

pub static RESPECT_GUEST_SHUTDOWN: ParamSpec = ParamSpec::new(
    "respect_guest_shutdown",
    "Leave a VM stopped when its guest shut down",
    "When a recurring monitor finds that the guest powered itself off cleanly (an \
     administrator shut it down from inside), set the resource's target-role to \
     Stopped through Pacemaker's tools, so the cluster stops it instead of starting \
     it again, and log that it did. A crash or a killed emulator is still recovered.",
)
.boolean()
.default("false");

pub static PARAMS: [ParamSpec; 29] = [
    CONFIG,
    XMFILE,
    HYPERVISOR,
    FORCE_STOP,
    MIGRATION_TRANSPORT,
    MIGRATION_USER,
    MIGRATION_DOWNTIME,
    MIGRATION_SPEED,
    MIGRATION_NETWORK_SUFFIX,
    MIGRATEURI,
    MIGRATEPORT,
    MIGRATE_OPTIONS,
    REMOTEURI,
    AUTOSET_CPU,
    AUTOSET_HOST_MEMORY,
    AUTOSET_HV_MEMORY,
    UNSET_CPU,
    UNSET_HOST_MEMORY,
    UNSET_HV_MEMORY,
    SAVE_CONFIG_ON_STOP,
    SYNC_CONFIG_ON_STOP,
    SNAPSHOT,
    SHUTDOWN_MODE,
    START_RESOURCES,
    BACKINGFILE,
    STATELESS,
    COPYINDIRS,
    MONITOR_SCRIPTS,
    RESPECT_GUEST_SHUTDOWN,
];

pub fn check_uri(v: &str) -> Result<(), String> {
    let Some((scheme, rest)) = v.split_once(':') else {
        return Err("must be a libvirt URI such as qemu:///system".into());
    };
    let scheme_ok = !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.');
    if !scheme_ok || !rest.starts_with('/') || v.chars().any(char::is_whitespace) {
        return Err("must be a libvirt URI such as qemu:///system".into());
    }
    Ok(())
}

fn check_user(v: &str) -> Result<(), String> {
    if v.chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        Ok(())
    } else {
        Err("must be a plain user name".into())
    }
}

fn check_suffix(v: &str) -> Result<(), String> {
    if v.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    {
        Ok(())
    } else {
        Err("may only hold letters, digits, '-' and '.'".into())
    }
}

fn check_no_space(v: &str) -> Result<(), String> {
    if v.chars().any(char::is_whitespace) {
        Err("must not contain spaces".into())
    } else {
        Ok(())
    }
}

fn check_migrate_options(v: &str) -> Result<(), String> {
    crate::migrate_options::parse(v).map(drop)
}

fn check_shutdown_mode(v: &str) -> Result<(), String> {
    parse_shutdown_mode(v).map(drop)
}

fn check_dirs(v: &str) -> Result<(), String> {
    for d in v.split_whitespace() {
        checks::absolute_path(d).map_err(|e| format!("{d:?} {e}"))?;
    }
    Ok(())
}

fn check_scripts(v: &str) -> Result<(), String> {
    for s in v.split_whitespace() {
        checks::program(s).map_err(|e| format!("{s:?} {e}"))?;
    }
    Ok(())
}

/// `acpi,agent` as libvirt shutdown flags.
pub fn parse_shutdown_mode(v: &str) -> Result<u32, String> {
    let mut flags = 0;
    for m in v.split(',').map(str::trim).filter(|m| !m.is_empty()) {
        flags |= match m {
            "acpi" => lv::SHUTDOWN_ACPI,
            "agent" => lv::SHUTDOWN_AGENT,
            "initctl" => lv::SHUTDOWN_INITCTL,
            "signal" => lv::SHUTDOWN_SIGNAL,
            "paravirt" => lv::SHUTDOWN_PARAVIRT,
            other => {
                return Err(format!(
                    "unknown mode {other:?} (use acpi, agent, initctl, signal, paravirt)"
                ));
            }
        };
    }
    Ok(flags)
}

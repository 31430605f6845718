//! The parameters of `ocf:rust:xen` (those of `ocf:heartbeat:Xen`) and
//! their syntax checks.

use ocf::ParamSpec;
use ocf::params::checks;

pub static XMFILE: ParamSpec = ParamSpec::new(
    "xmfile",
    "Xen domain configuration file",
    "Absolute path to the xl configuration file of the domain (the file given to \
     `xl create`). It must exist on every node that may run the domain.",
)
.required()
.unique()
.check(checks::absolute_path);

pub static NAME: ParamSpec = ParamSpec::new(
    "name",
    "Domain name",
    "Name of the domain. Default: the `name` setting in xmfile (read as xl reads it), \
     else the resource name. Letters, digits and . _ - + : @ only, not starting with -, at \
     most 64 characters: \
     start refuses any other name, while stop and probe still find a domain by it and by \
     what start recorded.",
)
.unique()
.check(check_domain_name);

pub static SHUTDOWN_TIMEOUT: ParamSpec = ParamSpec::new(
    "shutdown_timeout",
    "Seconds to wait for a graceful shutdown",
    "How long stop waits for the guest to shut down before it destroys it. 0 destroys at \
     once. Default: two thirds of the stop timeout. Whatever the value, stop keeps a third of \
     its timeout (at least 10 s where the timeout allows) for the destroy, so a stop never \
     outlives its timeout.",
)
.integer(0, 86400);

pub static SHUTDOWN_ACPI: ParamSpec = ParamSpec::new(
    "shutdown_acpi",
    "Shut down with the ACPI power button",
    "Ask the guest to shut down with `xl trigger <domain> power` (an ACPI power-button \
     event, for HVM guests without PV drivers) instead of `xl shutdown`.",
)
.boolean()
.default("false");

pub static NODE_IP_ATTRIBUTE: ParamSpec = ParamSpec::new(
    "node_ip_attribute",
    "Node attribute with the migration address",
    "Name of a node attribute that holds the address live migration sends the domain to; \
     migrate_to reads it for the target node (`crm_attribute --type nodes`). Default, and \
     when the target has no such attribute (a warning, as ocf:heartbeat:Xen): the target \
     node's name. Either must be an IP address or a host name: xl hands it to ssh through \
     a shell, so migrate_to refuses anything else.",
)
.check(check_attribute_name);

pub static AUTOSET_CPU: ParamSpec = ParamSpec::new(
    "autoset_utilization_cpu",
    "Set the cpu utilization from the domain",
    "Put the domain's vCPU count into the resource's utilization attribute `cpu` (for \
     placement-strategy=utilization). Written only when it changes.",
)
.boolean()
.default("false");

pub static AUTOSET_HV_MEMORY: ParamSpec = ParamSpec::new(
    "autoset_utilization_hv_memory",
    "Set the hv_memory utilization from the domain",
    "Put the domain's maximum memory in MiB into the resource's utilization attribute \
     `hv_memory`. Written only when it changes.",
)
.boolean()
.default("false");

pub static MONITOR_SCRIPTS: ParamSpec = ParamSpec::new(
    "monitor_scripts",
    "Extra checks of the guest",
    "Space-separated programs (absolute paths, or names found on PATH) run (without a \
     shell or arguments) on every monitor \
     while the domain runs; any failing makes the monitor fail. start and migrate_from wait \
     until they all pass. Each runs under the action's deadline.",
)
.check(check_scripts);

pub static ALLOW_MEM_MANAGEMENT: ParamSpec = ParamSpec::new(
    "allow_mem_management",
    "Share the host's memory between the domains",
    "On start, stop and migration, divide the host's memory (`xl info` total_memory) less \
     reserved_Dom0_memory evenly between the running guest domains: `xl mem-set` for each, \
     and the starting domain gets its share as `xl create ... memory=N` (the xmfile is not \
     edited, unlike ocf:heartbeat:Xen).",
)
.boolean()
.default("false");

pub static RESERVED_DOM0_MEMORY: ParamSpec = ParamSpec::new(
    "reserved_Dom0_memory",
    "Memory kept for Domain-0 (MiB)",
    "With allow_mem_management: the MiB of the host's memory left out of the guests' shares.",
)
.integer(0, 1 << 40)
.default("512");

pub static BINARY: ParamSpec = ParamSpec::new(
    "binary",
    "The xl program",
    "The xl toolstack program, found on PATH unless it is a path.",
)
.default("xl");

pub static PARAMS: [ParamSpec; 11] = [
    XMFILE,
    NAME,
    SHUTDOWN_TIMEOUT,
    SHUTDOWN_ACPI,
    NODE_IP_ATTRIBUTE,
    AUTOSET_CPU,
    AUTOSET_HV_MEMORY,
    MONITOR_SCRIPTS,
    ALLOW_MEM_MANAGEMENT,
    RESERVED_DOM0_MEMORY,
    BINARY,
];

pub fn check_domain_name(v: &str) -> Result<(), String> {
    if v.len() > 64 {
        return Err("must be at most 64 characters".into());
    }
    if !v
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-+:@".contains(&b))
    {
        return Err("may only contain letters, digits and . _ - + : @".into());
    }
    // Read as an option by any tool it reaches without `--` (our own xl
    // calls pass `--`): refused at the source, for start.
    if v.starts_with('-') {
        return Err("must not start with '-'".into());
    }
    Ok(())
}

fn check_attribute_name(v: &str) -> Result<(), String> {
    if v.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        Ok(())
    } else {
        Err("may only contain letters, digits and . _ -".into())
    }
}

fn check_scripts(v: &str) -> Result<(), String> {
    v.split_whitespace().try_for_each(checks::program)
}

//! The integration tests: one binary, one module per agent and per layer
//! (cluster_*: the one-node cluster, e2e_*: the multi-node scenarios,
//! conformance: side by side with the anchor agents, ocf_tester_*: ClusterLabs'
//! ocf-tester). What they share is the `support` crate (tests/support); the
//! simulators are in tests/sim, the cluster harnesses in tests/harness.

mod cluster_database;
mod cluster_drbd;
mod cluster_dummy;
mod cluster_filesystem;
mod cluster_ipaddr;
mod cluster_migrate;
mod cluster_pgsql;
mod cluster_vm;
mod cluster_xen;
mod compatibility;
mod conformance;
mod cookbook;
mod database;
mod database_hostile;
mod docs;
mod drbd;
mod dummy;
mod e2e_drbd;
mod e2e_migrate;
mod e2e_more;
mod e2e_service;
mod e2e_truth;
mod e2e_vm;
mod filesystem;
mod filesystem_hostile;
mod harness_lock;
mod install;
mod ipaddr;
mod man;
mod metadata;
mod mysql;
mod ocf_tester;
mod ocf_tester_database;
mod ocf_tester_drbd;
mod ocf_tester_ipaddr;
mod ocf_tester_pgsql;
mod ocf_tester_xen;
mod ocft;
mod pacemaker_tools;
mod package;
mod pgsql;
mod vm;
mod vm_hostile;
mod vm_xen;
mod xen;
mod xen_hostile;

//! ocf:<provider>:filesystem in a real one-node Corosync + Pacemaker
//! cluster, driven by pcs as a user would: `pcs resource create` mounts an
//! ext4 loop device, an unmount behind the cluster's back is noticed by the
//! monitor and recovered, a process sitting in the mount does not stop
//! `pcs resource disable` from unmounting it, and the resource ends Stopped.

use support::filesystem as fsa;

use std::time::Duration;

use fsa::{LoopDev, MountPoint, is_mounted};
use support::cluster::Cluster;
use support::{provider, system_install, wait_for};

#[test]
fn pcs_creates_and_disables_a_filesystem() {
    system_install();
    let lo = LoopDev::new("cluster", "ext4", 64, None);
    let mp = MountPoint::new("cluster");
    let c = Cluster::up();
    c.pcs(&[
        "resource",
        "create",
        "fsa-fs",
        &format!("ocf:{}:filesystem", provider()),
        &format!("device={}", lo.dev),
        &format!("directory={}", mp.s()),
        "fstype=ext4",
        "op",
        "monitor",
        "interval=5s",
        "timeout=20s",
        "op",
        "stop",
        "timeout=30s",
    ]);
    assert!(
        c.wait_role("fsa-fs", "Started", Duration::from_secs(30)),
        "{}",
        c.crm_mon()
    );
    assert!(is_mounted(&mp.0), "Pacemaker's start mounted it");
    println!("{}", c.crm_mon());

    // Unmounted behind the cluster's back: the next monitor says 7 and
    // Pacemaker mounts it again (fail-count 1).
    fsa::lazy_umount(&mp.0);
    assert!(!is_mounted(&mp.0));
    assert!(
        wait_for(Duration::from_secs(40), || c.fail_count("fsa-fs") == 1
            && is_mounted(&mp.0)),
        "no recovery:\n{}",
        c.crm_mon()
    );
    assert!(
        c.wait_role("fsa-fs", "Started", Duration::from_secs(30)),
        "{}",
        c.crm_mon()
    );
    c.pcs(&["resource", "cleanup", "fsa-fs"]);
    // The cleanup re-probes; wait until that is done and it is Started again.
    assert!(
        wait_for(Duration::from_secs(30), || c.fail_count("fsa-fs") == 0
            && c.resource("fsa-fs")
                .is_some_and(|r| r.role == "Started" && r.active)),
        "{}",
        c.crm_mon()
    );

    let mut holder = fsa::hold_cwd(&mp.0);
    c.pcs(&["resource", "disable", "fsa-fs"]);
    assert!(
        wait_for(Duration::from_secs(40), || !is_mounted(&mp.0)),
        "disable did not unmount it:\n{}",
        c.crm_mon()
    );
    assert!(
        c.wait_role("fsa-fs", "Stopped", Duration::from_secs(40)),
        "{}",
        c.crm_mon()
    );
    assert!(!is_mounted(&mp.0), "disable unmounted it");
    assert!(
        wait_for(Duration::from_secs(5), || holder.exited()),
        "the process in the mount was ended"
    );
    assert_eq!(c.fail_count("fsa-fs"), 0, "{}", c.crm_mon());
    c.pcs(&["resource", "delete", "fsa-fs"]);
}

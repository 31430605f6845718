//! The xl SIMULATOR fixture for the xen agent's tests (there is no Xen
//! hypervisor on the test machines): a simulated host is a state directory
//! plus a tiny `xl` wrapper that runs tests/sim/xl with XL_SIM_DIR set, so
//! ocf-tester and Pacemaker's executor (which pass no test environment)
//! reach the same simulated host through the agent's `binary` parameter.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::{Scratch, repo, sh};

/// One simulated Xen host.
pub struct SimHost {
    pub state: PathBuf,
    pub xl: PathBuf,
}

impl SimHost {
    /// A host named `name` under `root` (hosts under one root can migrate
    /// to each other by name).
    pub fn new(root: &Path, name: &str) -> SimHost {
        let state = root.join(name);
        fs::create_dir_all(&state).unwrap();
        let xl = root.join(format!("xl-{name}"));
        fs::write(
            &xl,
            format!(
                "#!/bin/sh\n# xl SIMULATOR host {name} (ocf-rs tests)\nXL_SIM_DIR={} XL_SIM_ROOT={} exec {} \"$@\"\n",
                state.display(),
                root.display(),
                repo().join("tests/sim/xl").display()
            ),
        )
        .unwrap();
        fs::set_permissions(&xl, fs::Permissions::from_mode(0o755)).unwrap();
        // Readable by nobody too (ocf-tester runs meta-data as nobody).
        let _ = fs::set_permissions(root, fs::Permissions::from_mode(0o755));
        SimHost { state, xl }
    }

    /// Run the simulated xl: (exit code, output).
    pub fn xl(&self, args: &[&str]) -> (i32, String) {
        sh(self.xl.to_str().unwrap(), args)
    }

    /// Is `dom` listed (alive or not)?
    pub fn has(&self, dom: &str) -> bool {
        self.xl(&["list", dom]).0 == 0
    }

    /// The `xl` calls made so far, one per line.
    pub fn calls(&self) -> String {
        fs::read_to_string(self.state.join("calls.log")).unwrap_or_default()
    }

    /// The `xl` calls made so far, each as its exact argv (argv.log).
    pub fn argv(&self) -> Vec<Vec<String>> {
        fs::read_to_string(self.state.join("argv.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| l.split('\x1f').map(str::to_string).collect())
            .collect()
    }

    pub fn set(&self, dom: &str, kv: &[&str]) {
        let mut args = vec!["sim-set", dom];
        args.extend_from_slice(kv);
        let (rc, out) = self.xl(&args);
        assert_eq!(rc, 0, "{out}");
    }

    pub fn touch(&self, flag: &str) {
        fs::write(self.state.join(flag), "").unwrap();
    }
}

/// An xl domain config file with `name`, 256 MiB, 2 vCPUs.
pub fn domain_config(dir: &Scratch, name: &str) -> PathBuf {
    let p = dir.path(&format!("{name}.cfg"));
    fs::write(
        &p,
        format!(
            "# PV guest for the xl simulator\nname = \"{name}\"\nkernel = \"/boot/vmlinuz-xen\"\nmemory = 256\nvcpus = 2\ndisk = [ 'phy:/dev/drbd0,xvda,w' ]\n"
        ),
    )
    .unwrap();
    p
}

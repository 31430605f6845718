//! ocf:rust:filesystem against ocf:heartbeat:Filesystem on real parts: loop
//! devices with ext4 (images under /var/tmp/fsa-*), mount points under a
//! base directory /mnt/fsa-conf-* that each side gets fresh, a tmpfs, FUSE
//! (bindfs) mounts. Weighted to stop and probe under odd configurations:
//! device links and nodes that vanish, a dead device, stacked copies,
//! directories renamed or retargeted, parameters changed while mounted.
//!
//! What a user checks, `observe()`: every mount under the base directory
//! and every mount of the fixture's device anywhere, with the per-side
//! names replaced (`X` for the unique part, `<loop>` for /dev/loopN).

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::runner::{Case, Fixture, Side, Step, probe, run, run_with};
use crate::cases;

use support::filesystem as fsa;

use fsa::LoopDev;

const AGENTS: (&str, &str) = ("heartbeat/Filesystem", "rust/filesystem");

/// How `running()` recognises the resource's mount.
enum Resource {
    /// The table lists this source (a device, the FUSE source directory).
    Source(String),
    /// A loop device whose backing file is this image (removed or not).
    Image(PathBuf),
    /// A bind: this source, anywhere but where the source itself is mounted.
    Bind(String, PathBuf),
}

pub struct Fs {
    /// Unique to this case, side and test process.
    uniq: String,
    /// Everything the case mounts lives under here.
    base: PathBuf,
    params: Vec<(String, String)>,
    resource: Resource,
    /// A device node the case removed, made again on drop.
    node: Option<fsa::RemovedNode>,
    /// A FUSE daemon the case started (killed on drop).
    daemon: Option<fsa::Proc>,
    /// Loop devices (detached on drop, after the mounts under `base`).
    loops: Vec<LoopDev>,
    /// Files and directories to remove at the end.
    scratch: Vec<PathBuf>,
}

impl Fs {
    fn new(tag: &str, side: Side) -> Fs {
        let uniq = format!("{tag}-{}-{}", side.label(), std::process::id());
        let base = PathBuf::from(format!("/mnt/fsa-conf-{uniq}"));
        let _ = fs::remove_dir_all(&base);
        fs::create_dir_all(&base).unwrap();
        Fs {
            uniq,
            base,
            params: Vec::new(),
            resource: Resource::Source(String::new()),
            node: None,
            daemon: None,
            loops: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// `base/rel` as a string.
    fn at(&self, rel: &str) -> String {
        self.base.join(rel).display().to_string()
    }

    fn set(&mut self, k: &str, v: &str) {
        self.params.retain(|(n, _)| n != k);
        self.params.push((k.to_string(), v.to_string()));
    }

    /// An ext4 loop device.
    fn new_loop(&mut self, tag: &str) -> String {
        let lo = LoopDev::new(&format!("conf-{tag}-{}", self.uniq), "ext4", 32, None);
        let dev = lo.dev.clone();
        self.loops.push(lo);
        dev
    }

    /// An ext4 loop device as the resource's device, mounted on `base/d`.
    fn ext4(tag: &str, side: Side) -> Fs {
        let mut f = Fs::new(tag, side);
        let dev = f.new_loop("a");
        let d = f.at("d");
        f.params = vec![
            ("device".into(), dev.clone()),
            ("directory".into(), d),
            ("fstype".into(), "ext4".into()),
        ];
        f.resource = Resource::Source(dev);
        f
    }

    fn dev(&self) -> &str {
        &self.loops[0].dev
    }

    fn param(&self, k: &str) -> String {
        self.params
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    fn mount(&self, argv: &[&str]) {
        let (code, out) = support::sh("mount", argv);
        assert_eq!(code, 0, "mount {argv:?}: {out}");
    }

    fn is_resource(&self, source: &str) -> bool {
        match &self.resource {
            Resource::Source(s) => source == s,
            Resource::Bind(..) => false,
            Resource::Image(img) => {
                let Some(name) = source.strip_prefix("/dev/") else {
                    return false;
                };
                fs::read_to_string(format!("/sys/block/{name}/loop/backing_file")).is_ok_and(|t| {
                    let t = t.trim_end_matches('\n');
                    Path::new(t.strip_suffix(" (deleted)").unwrap_or(t)) == img
                })
            }
        }
    }

    /// (mount point, fstype, source) of every mount under `base` or of the
    /// resource, in table order.
    fn mounts(&self) -> Vec<(PathBuf, String, String)> {
        let table = fs::read("/proc/self/mountinfo").unwrap_or_default();
        String::from_utf8_lossy(&table)
            .lines()
            .filter_map(|l| {
                let (left, right) = l.split_once(" - ")?;
                let dir = unescape(left.split(' ').nth(4)?);
                let mut r = right.split(' ');
                let fstype = r.next()?.to_string();
                let source = String::from_utf8_lossy(&decode(r.next()?)).into_owned();
                (dir.starts_with(&self.base) || self.is_resource(&source))
                    .then_some((dir, fstype, source))
            })
            .collect()
    }
}

impl Drop for Fs {
    fn drop(&mut self) {
        if let Some(n) = self.node.take() {
            n.restore();
        }
        let mut dirs: Vec<PathBuf> = self.mounts().into_iter().map(|(d, _, _)| d).collect();
        dirs.reverse();
        for d in dirs {
            fsa::lazy_umount(&d);
        }
        self.daemon.take();
        self.loops.clear();
        for p in &self.scratch {
            let _ = fs::remove_dir_all(p);
            let _ = fs::remove_file(p);
        }
        let _ = fs::remove_dir_all(&self.base);
    }
}

fn unescape(s: &str) -> PathBuf {
    PathBuf::from(std::ffi::OsStr::from_bytes(&decode(s)))
}

fn decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 4 <= b.len()
            && let Ok(v) =
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 4]).unwrap_or("x"), 8)
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

impl Fixture for Fs {
    fn params(&self) -> Vec<(String, String)> {
        self.params.clone()
    }

    fn observe(&self) -> Vec<String> {
        let neutral = |s: &str| -> String {
            let s = s.replace(&self.uniq, "X");
            match s.strip_prefix("/dev/loop") {
                Some(n) if n.bytes().all(|b| b.is_ascii_digit()) => "<loop>".into(),
                _ => s,
            }
        };
        self.mounts()
            .into_iter()
            .map(|(dir, fstype, source)| {
                format!(
                    "mounted {} on {} ({fstype})",
                    neutral(&source),
                    neutral(&dir.display().to_string())
                )
            })
            .collect()
    }

    fn running(&self) -> bool {
        self.mounts().iter().any(|(d, _, s)| match &self.resource {
            Resource::Bind(src, host) => s == src && d != host,
            _ => self.is_resource(s),
        })
    }
}

fn ext4(side: Side) -> Fs {
    Fs::ext4("life", side)
}

/// A monitor at `OCF_CHECK_LEVEL=level` (recurring).
fn monitor_at(level: &'static str) -> Step<Fs> {
    Step::Run {
        action: "monitor",
        set: Vec::new(),
        env: vec![("OCF_CHECK_LEVEL", level.to_string())],
    }
}

fn lifecycle() -> Case<Fs> {
    Case::new(
        "filesystem/lifecycle",
        "probe, start, start again, monitor at depths 0 and 10, stop, stop again, probe",
        AGENTS,
        ext4,
        vec![
            probe(),
            run("start"),
            run("start"),
            run("monitor"),
            monitor_at("10"),
            run("stop"),
            run("stop"),
            probe(),
        ],
    )
}

/// The device is given through a symlink (a /dev/disk/by-id link) that
/// udev removes while mounted: both still see and stop the mount.
fn device_link_removed() -> Case<Fs> {
    Case::new(
        "filesystem/device-link-removed",
        "device given through a symlink, removed while mounted; probe, monitor, stop",
        AGENTS,
        |side| {
            let mut f = Fs::ext4("devlink", side);
            let link = f.at("by-id-link");
            std::os::unix::fs::symlink(f.dev(), &link).unwrap();
            f.set("device", &link);
            f
        },
        vec![
            run("start"),
            Step::Do("remove the device link", |f: &mut Fs| {
                fs::remove_file(f.at("by-id-link")).unwrap();
            }),
            probe(),
            run("monitor"),
            monitor_at("10"),
            run("stop"),
            probe(),
        ],
    )
    .deviation(
        "with the device link gone but the device alive, ocf:heartbeat:Filesystem's depth 10 \
         fails (dd of the vanished path): a false alarm that makes Pacemaker restart a healthy \
         filesystem, whose start then fails for want of the link; ours reads the device the mount \
         is on (found through what start recorded) and answers 0",
        &[0, 0, 0, 0, 0, 0, 7],
    )
}

/// Copies of the device stacked on the directory (a bind of the directory
/// onto itself, a tmpfs, the device again): stop leaves nothing.
fn stacked_copies() -> Case<Fs> {
    Case::new(
        "filesystem/stacked-copies",
        "three copies of the device and a tmpfs stacked on the directory; stop",
        AGENTS,
        |side| Fs::ext4("stacked", side),
        vec![
            run("start"),
            Step::Do(
                "stack a bind, a tmpfs and the device again",
                |f: &mut Fs| {
                    let d = f.param("directory");
                    let t = format!("fsa-between-{}", f.uniq);
                    let dev = f.dev().to_string();
                    f.mount(&["--bind", &d, &d]);
                    f.mount(&["-t", "tmpfs", &t, &d]);
                    f.mount(&["-i", "-t", "ext4", &dev, &d]);
                },
            ),
            probe(),
            run("stop"),
            probe(),
        ],
    )
    .timeout_ms(20_000)
}

/// The device node goes away while mounted (a dead disk's node does):
/// depth 10 fails, and stop still unmounts.
fn device_node_gone() -> Case<Fs> {
    Case::new(
        "filesystem/device-node-gone",
        "the device node is removed while mounted; monitor at 0 and 10, probe, stop",
        AGENTS,
        |side| Fs::ext4("nodegone", side),
        vec![
            run("start"),
            Step::Do("remove the device node", |f: &mut Fs| {
                let dev = f.dev().to_string();
                f.node = Some(fsa::RemovedNode::remove(&dev));
            }),
            run("monitor"),
            monitor_at("10"),
            probe(),
            run("stop"),
            probe(),
        ],
    )
}

/// A device that dies under the mount: a loop device whose backing file is
/// on a FUSE mount (bindfs, `direct_io`: nothing served from a cache) whose
/// daemon is then killed, so every read of the device fails with an I/O
/// error. Depth 10 fails on both; stop unmounts.
fn dead_device() -> Case<Fs> {
    Case::new(
        "filesystem/dead-device",
        "the device's storage dies (its FUSE daemon killed); monitor at 0 and 10, stop",
        AGENTS,
        |side| {
            let mut f = Fs::new("dead", side);
            let src = PathBuf::from(format!("/var/tmp/fsa-conf-src-{}", f.uniq));
            fs::create_dir_all(&src).unwrap();
            f.scratch.push(src.clone());
            let store = f.at("store");
            fs::create_dir_all(&store).unwrap();
            let daemon = Command::new("bindfs")
                .args(["-f", "-o", "direct_io"])
                .arg(&src)
                .arg(&store)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("bindfs");
            f.daemon = Some(fsa::Proc(daemon));
            assert!(
                support::wait_for(Duration::from_secs(10), || fsa::is_mounted(Path::new(
                    &store
                ))),
                "bindfs did not mount"
            );
            let img = Path::new(&store).join("disk.img");
            fs::File::create(&img).unwrap().set_len(32 << 20).unwrap();
            let (code, out) = support::sh("losetup", &["-f", "--show", img.to_str().unwrap()]);
            assert_eq!(code, 0, "{out}");
            let dev = out.trim().to_string();
            f.loops.push(LoopDev {
                image: img,
                dev: dev.clone(),
            });
            assert_eq!(support::sh("mkfs.ext4", &["-q", "-F", &dev]).0, 0);
            f.params = vec![
                ("device".into(), dev.clone()),
                ("directory".into(), f.at("d")),
                ("fstype".into(), "ext4".into()),
            ];
            f.resource = Resource::Source(dev);
            f
        },
        vec![
            run("start"),
            monitor_at("10"),
            Step::Do("kill the FUSE daemon under the device", |f: &mut Fs| {
                if let Some(mut d) = f.daemon.take() {
                    let _ = d.0.kill();
                    let _ = d.0.wait();
                }
            }),
            run("monitor"),
            monitor_at("10"),
            run("stop"),
            probe(),
        ],
    )
}

/// A parameter value ours refuses (the anchor ignores it) while mounted:
/// the probe still sees the mount, stop unmounts it.
fn invalid_force_unmount() -> Case<Fs> {
    Case::new(
        "filesystem/invalid-force-unmount",
        "started, then force_unmount=maybe: probe, stop, probe",
        AGENTS,
        |side| Fs::ext4("badfu", side),
        vec![
            run("start"),
            run_with("probe", &[("force_unmount", "maybe")]),
            run_with("stop", &[("force_unmount", "maybe")]),
            run_with("probe", &[("force_unmount", "maybe")]),
        ],
    )
}

/// The device parameter removed while mounted: the anchor answers 6 to the
/// probe and to stop and leaves the filesystem mounted; ours stops what
/// start recorded.
fn device_unset() -> Case<Fs> {
    Case::new(
        "filesystem/device-unset",
        "started, then the device parameter is removed: probe, stop, probe",
        AGENTS,
        |side| Fs::ext4("nodev", side),
        vec![
            run("start"),
            run_with("probe", &[("device", "")]),
            run_with("stop", &[("device", "")]),
            run_with("probe", &[("device", "")]),
        ],
    )
    .deviation(
        "ocf:heartbeat:Filesystem answers 6 to the probe and to stop without `device` and leaves \
         the filesystem mounted (stop 6 gets the node fenced); ours probes 0, stops what start \
         recorded (0, unmounted), then probes 7",
        &[0, 0, 0, 7],
    )
}

/// Nothing was ever started and the device parameter is missing: nothing
/// of ours can run, so the probe answers 7 and stop 0; the anchor answers
/// 6 to both (a stop 6 gets the node fenced).
fn device_unset_never_started() -> Case<Fs> {
    Case::new(
        "filesystem/device-unset-never-started",
        "no device parameter and nothing started: probe, stop",
        AGENTS,
        |side| Fs::ext4("nodevnever", side),
        vec![
            run_with("probe", &[("device", "")]),
            run_with("stop", &[("device", "")]),
        ],
    )
    .deviation(
        "ocf:heartbeat:Filesystem answers 6 to the probe and to stop when `device` is unset; \
         with no record of a start here and nothing of ours mounted, ours probes 7 and stops 0",
        &[7, 0],
    )
}

/// A relative directory while mounted: the anchor looks for it, finds
/// nothing, stops 0 and leaves the filesystem mounted.
fn relative_directory() -> Case<Fs> {
    Case::new(
        "filesystem/relative-directory",
        "started, then directory=relative/dir: probe, stop, probe",
        AGENTS,
        |side| Fs::ext4("reldir", side),
        vec![
            run("start"),
            run_with("probe", &[("directory", "relative/dir")]),
            run_with("stop", &[("directory", "relative/dir")]),
            run_with("probe", &[("directory", "relative/dir")]),
        ],
    )
    .deviation(
        "ocf:heartbeat:Filesystem probes 7 and stops 0 with the filesystem still mounted; ours \
         probes 0 and unmounts what start recorded",
        &[0, 0, 0, 7],
    )
}

/// The mount point's parent directory is renamed while mounted.
fn directory_renamed() -> Case<Fs> {
    Case::new(
        "filesystem/directory-renamed",
        "the mount point's parent is renamed while mounted; probe, stop, probe",
        AGENTS,
        |side| {
            let mut f = Fs::ext4("renamed", side);
            let d = f.at("p/inner");
            f.set("directory", &d);
            f
        },
        vec![
            run("start"),
            Step::Do("rename the parent directory", |f: &mut Fs| {
                fs::rename(f.base.join("p"), f.base.join("q")).unwrap();
            }),
            probe(),
            run("stop"),
            probe(),
        ],
    )
    .deviation(
        "ocf:heartbeat:Filesystem looks for the configured path only: probe 7 and stop 0 with the \
         filesystem still mounted under the new name; ours finds it by the mount ID start \
         recorded (probe 0) and unmounts it",
        &[0, 0, 0, 0, 7],
    )
}

/// The directory is a symlink that is pointed elsewhere while mounted.
fn directory_link_retargeted() -> Case<Fs> {
    Case::new(
        "filesystem/directory-link-retargeted",
        "directory given through a symlink that is pointed elsewhere while mounted",
        AGENTS,
        |side| {
            let mut f = Fs::ext4("retarget", side);
            for d in ["real1", "real2"] {
                fs::create_dir_all(f.base.join(d)).unwrap();
            }
            std::os::unix::fs::symlink(f.base.join("real1"), f.base.join("link")).unwrap();
            let l = f.at("link");
            f.set("directory", &l);
            f
        },
        vec![
            run("start"),
            Step::Do("point the link at another directory", |f: &mut Fs| {
                fs::remove_file(f.base.join("link")).unwrap();
                std::os::unix::fs::symlink(f.base.join("real2"), f.base.join("link")).unwrap();
            }),
            probe(),
            run("stop"),
            probe(),
        ],
    )
    .deviation(
        "ocf:heartbeat:Filesystem resolves the link again and looks at the new target: probe 7, \
         stop 0 with the first directory still mounted; ours unmounts what start mounted",
        &[0, 0, 0, 0, 7],
    )
}

/// The directory parameter changed to another existing directory while
/// mounted (`pcs resource update`).
fn directory_changed() -> Case<Fs> {
    Case::new(
        "filesystem/directory-changed",
        "started on one directory, then probe and stop name another",
        AGENTS,
        |side| {
            let f = Fs::ext4("dirchg", side);
            fs::create_dir_all(f.base.join("d2")).unwrap();
            f
        },
        vec![
            run("start"),
            Step::Do("name another directory", |f: &mut Fs| {
                let d2 = f.at("d2");
                f.set("directory", &d2);
            }),
            probe(),
            run("stop"),
            probe(),
        ],
    )
    .deviation(
        "ocf:heartbeat:Filesystem probes 7 and stops 0 on the new directory with the old one \
         still mounted; ours sees and unmounts what start mounted",
        &[0, 0, 0, 0, 7],
    )
}

/// The device parameter changed to another valid device while mounted.
fn device_changed() -> Case<Fs> {
    Case::new(
        "filesystem/device-changed",
        "started from one device, then probe and stop name another",
        AGENTS,
        |side| {
            let mut f = Fs::ext4("devchg", side);
            f.new_loop("b");
            f
        },
        vec![
            run("start"),
            Step::Do("name the second device", |f: &mut Fs| {
                let b = f.loops[1].dev.clone();
                f.set("device", &b);
            }),
            probe(),
            run("stop"),
            probe(),
        ],
    )
}

/// The fstype parameter changed while mounted.
fn fstype_changed() -> Case<Fs> {
    Case::new(
        "filesystem/fstype-changed",
        "an ext4 mount, then probe, monitor and stop say xfs",
        AGENTS,
        |side| Fs::ext4("fstchg", side),
        vec![
            run("start"),
            run_with("probe", &[("fstype", "xfs")]),
            run_with("monitor", &[("fstype", "xfs")]),
            run_with("stop", &[("fstype", "xfs")]),
            run_with("probe", &[("fstype", "xfs")]),
        ],
    )
}

/// A bind mount whose source directory is removed while mounted.
fn bind_source_removed() -> Case<Fs> {
    Case::new(
        "filesystem/bind-source-removed",
        "a bind of a directory on a tmpfs; the directory is removed; probe, stop",
        AGENTS,
        |side| {
            let mut f = Fs::new("bindgone", side);
            let host = f.at("host");
            fs::create_dir_all(&host).unwrap();
            f.mount(&["-t", "tmpfs", &format!("fsa-host-{}", f.uniq), &host]);
            let src = f.at("host/data");
            fs::create_dir(&src).unwrap();
            f.params = vec![
                ("device".into(), src),
                ("directory".into(), f.at("d")),
                ("fstype".into(), "none".into()),
                ("options".into(), "bind".into()),
            ];
            f.resource = Resource::Bind(format!("fsa-host-{}", f.uniq), PathBuf::from(host));
            f
        },
        vec![
            run("start"),
            Step::Do("remove the bind source", |f: &mut Fs| {
                fs::remove_dir(f.base.join("host/data")).unwrap();
            }),
            probe(),
            run("monitor"),
            run("stop"),
            probe(),
        ],
    )
}

/// An image mounted with `options=loop`, removed while mounted.
fn loop_image_removed() -> Case<Fs> {
    Case::new(
        "filesystem/loop-image-removed",
        "an ext4 image mounted with options=loop is removed; probe, monitor 10, stop",
        AGENTS,
        |side| {
            let mut f = Fs::new("imggone", side);
            let img = PathBuf::from(format!("/var/tmp/fsa-conf-{}.img", f.uniq));
            fs::File::create(&img).unwrap().set_len(32 << 20).unwrap();
            assert_eq!(
                support::sh("mkfs.ext4", &["-q", "-F", img.to_str().unwrap()]).0,
                0
            );
            f.scratch.push(img.clone());
            f.params = vec![
                ("device".into(), img.display().to_string()),
                ("directory".into(), f.at("d")),
                ("fstype".into(), "ext4".into()),
                ("options".into(), "loop".into()),
            ];
            f.resource = Resource::Image(img);
            f
        },
        vec![
            run("start"),
            Step::Do("remove the image", |f: &mut Fs| {
                if let Resource::Image(img) = &f.resource {
                    fs::remove_file(img).unwrap();
                }
            }),
            probe(),
            monitor_at("10"),
            run("stop"),
            probe(),
        ],
    )
}

/// A FUSE mount (bindfs) of a directory given through a symlink: the
/// table lists an anonymous 0:NN device, type "fuse" and the resolved
/// directory, never what the configuration says (the class of btrfs's
/// anonymous devices and CIFS's `//srv/share`, which this machine cannot
/// mount). Ours used to answer 1 to the start with the filesystem left
/// mounted.
fn fuse_source_via_link() -> Case<Fs> {
    Case::new(
        "filesystem/fuse-source-via-link",
        "bindfs of a directory named through a symlink; the link removed; probe, stop",
        AGENTS,
        |side| {
            let mut f = Fs::new("fuselink", side);
            let src = f.at("src");
            fs::create_dir_all(&src).unwrap();
            std::os::unix::fs::symlink(&src, f.base.join("link")).unwrap();
            f.params = vec![
                ("device".into(), f.at("link")),
                ("directory".into(), f.at("d")),
                ("fstype".into(), "fuse.bindfs".into()),
            ];
            f.resource = Resource::Source(src);
            f
        },
        vec![
            probe(),
            run("start"),
            run("monitor"),
            Step::Do("remove the link", |f: &mut Fs| {
                fs::remove_file(f.base.join("link")).unwrap();
            }),
            probe(),
            run("stop"),
            probe(),
        ],
    )
}

/// Another filesystem already on the directory: the anchor reports it as
/// its own, "starts" without mounting and unmounts it at stop.
fn other_filesystem_on_directory() -> Case<Fs> {
    Case::new(
        "filesystem/other-fs-on-directory",
        "a foreign tmpfs on the directory: probe, start, monitor, stop, probe",
        AGENTS,
        |side| {
            let f = Fs::ext4("otherfs", side);
            let d = f.param("directory");
            fs::create_dir_all(&d).unwrap();
            f.mount(&["-t", "tmpfs", &format!("fsa-foreign-{}", f.uniq), &d]);
            f
        },
        vec![probe(), run("start"), run("monitor"), run("stop"), probe()],
    )
    .deviation(
        "ocf:heartbeat:Filesystem takes any filesystem on the directory for its own: probe 0, \
         start 0 without mounting the device, stop unmounts the foreign tmpfs; ours probes 7, \
         refuses the start (1), monitors 7 and leaves the tmpfs alone",
        &[7, 1, 7, 0, 7],
    )
}

/// A foreign tmpfs stacked on top of the mount: stop takes both away.
fn foreign_stacked_on_top() -> Case<Fs> {
    Case::new(
        "filesystem/foreign-on-top",
        "a tmpfs mounted on top of ours; probe, stop, probe",
        AGENTS,
        |side| Fs::ext4("ontop", side),
        vec![
            run("start"),
            Step::Do("mount a tmpfs on top", |f: &mut Fs| {
                let d = f.param("directory");
                f.mount(&["-t", "tmpfs", &format!("fsa-top-{}", f.uniq), &d]);
            }),
            probe(),
            run("stop"),
            probe(),
        ],
    )
}

cases!(
    lifecycle,
    device_link_removed,
    stacked_copies,
    device_node_gone,
    dead_device,
    invalid_force_unmount,
    device_unset,
    device_unset_never_started,
    relative_directory,
    directory_renamed,
    directory_link_retargeted,
    directory_changed,
    device_changed,
    fstype_changed,
    bind_source_removed,
    loop_image_removed,
    fuse_source_via_link,
    other_filesystem_on_directory,
    foreign_stacked_on_top,
);

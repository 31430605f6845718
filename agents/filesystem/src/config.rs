//! `Config`: what the parameters say, built by [`configure`] (syntax
//! only), and the lenient configuration a stop or probe still acts on when
//! the parameters do not validate.

use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use ocf::params::parse_bool;
use ocf::{Context, OcfError, OcfResult, ParamSpec, Params};

use crate::params::*;
use crate::record::{self, Recorded};
use crate::signals;

/// Types that are safe to clone (shared or per-node by nature).
pub const CLUSTER_SAFE: &[&str] = &[
    "nfs4",
    "nfs",
    "efs",
    "smbfs",
    "cifs",
    "smb3",
    "none",
    "gfs2",
    "glusterfs",
    "ceph",
    "ocfs2",
    "overlay",
    "overlayfs",
    "tmpfs",
    "cvfs",
    "lustre",
];

/// Network types: `umount -f` semantics (MNT_FORCE) help them in the kill phase.
pub const NETWORK: &[&str] = &["nfs", "nfs4", "cifs", "smbfs", "smb3", "glusterfs", "ceph"];

/// What `device` names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Device {
    /// An absolute path: a block device, or a bind mount's source.
    Path(PathBuf),
    Uuid(String),
    Label(String),
    /// Anything else mount understands: `host:/export`, `//server/share`, `tmpfs`.
    Source(String),
}

pub fn parse_device(v: &str) -> Device {
    let tag = |prefixes: &[&str]| {
        prefixes
            .iter()
            .find_map(|p| v.strip_prefix(p))
            .map(|s| s.trim().to_string())
    };
    if let Some(u) = tag(&["UUID=", "--uuid=", "-U ", "-U"]) {
        return Device::Uuid(u.trim_matches('"').to_string());
    }
    if let Some(l) = tag(&["LABEL=", "--label=", "-L ", "-L"]) {
        return Device::Label(l.trim_matches('"').to_string());
    }
    if v.starts_with('/') && !v.starts_with("//") {
        return Device::Path(PathBuf::from(v));
    }
    Device::Source(v.to_string())
}

/// `dir` without trailing or doubled slashes (no filesystem access).
pub fn normalize(dir: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in dir.components() {
        if let Component::Normal(n) = c {
            out.push(n);
        }
    }
    out
}

#[derive(Clone)]
pub struct Config {
    pub device: Device,
    pub device_text: String,
    pub directory: PathBuf,
    pub fstype: String,
    pub options: String,
    pub bind: bool,
    pub run_fsck: String,
    pub force_unmount: bool,
    pub term_signals: Vec<i32>,
    pub kill_signals: Vec<i32>,
    pub signal_delay: Duration,
    pub statusfile_prefix: String,
    pub fast_stop: bool,
}

/// `options` may hold a CIFS password: Debug shows it masked.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("device", &self.device)
            .field("directory", &self.directory)
            .field("fstype", &self.fstype)
            .field("options", &ocf::secret::redact(&self.options))
            .field("bind", &self.bind)
            .field("run_fsck", &self.run_fsck)
            .field("force_unmount", &self.force_unmount)
            .field("term_signals", &self.term_signals)
            .field("kill_signals", &self.kill_signals)
            .field("signal_delay", &self.signal_delay)
            .field("statusfile_prefix", &self.statusfile_prefix)
            .field("fast_stop", &self.fast_stop)
            .finish()
    }
}

/// Filesystem types mount.cifs mounts (it reads a password from PASSWD).
pub const CIFS: &[&str] = &["cifs", "smb3", "smbfs"];

/// For CIFS, take `password=`/`pass=` out of the option list: the list goes
/// on mount's command line, which any user can read in /proc/<pid>/cmdline
/// while mount runs (for as long as a dead server keeps it waiting), and
/// mount.cifs reads the same password from PASSWD in its environment,
/// which only root can read. A doubled comma is a comma inside the
/// password, as mount.cifs and the kernel read it. Other types keep their
/// options as they are: only mount.cifs is known to read PASSWD.
pub fn split_cifs_password(fstype: &str, options: &str) -> (String, Option<String>) {
    if !CIFS.contains(&fstype) {
        return (options.to_string(), None);
    }
    let b = options.as_bytes();
    let mut kept: Vec<&str> = Vec::new();
    let mut password = None;
    let mut i = 0;
    while i <= b.len() {
        let rest = &options[i..];
        let key_len = ["password=", "pass="]
            .iter()
            .find(|k| {
                rest.as_bytes()
                    .get(..k.len())
                    .is_some_and(|p| p.eq_ignore_ascii_case(k.as_bytes()))
            })
            .map(|k| k.len());
        if let Some(k) = key_len {
            // The value runs to the first single comma; ",," is a comma.
            let mut v = String::new();
            let mut j = i + k;
            while j < b.len() {
                if b[j] == b',' {
                    if b.get(j + 1) == Some(&b',') {
                        v.push(',');
                        j += 2;
                        continue;
                    }
                    break;
                }
                let c = rest[j - i..].chars().next().unwrap_or(' ');
                v.push(c);
                j += c.len_utf8();
            }
            if v.is_empty() {
                kept.push(&options[i..j]);
            } else {
                password = Some(v);
            }
            i = j + 1;
            continue;
        }
        let end = rest.find(',').map_or(b.len(), |n| i + n);
        if end > i {
            kept.push(&options[i..end]);
        }
        i = end + 1;
    }
    (kept.join(","), password)
}

impl Config {
    pub fn is_network(&self) -> bool {
        NETWORK.contains(&self.fstype.as_str())
    }
    /// A block device we can stat, O_DIRECT-read and fsck (not a bind source).
    pub fn is_block_kind(&self) -> bool {
        !self.bind
            && matches!(
                self.device,
                Device::Path(_) | Device::Uuid(_) | Device::Label(_)
            )
    }
}

/// The `Config` of validated parameters (syntax only); a clone of a local
/// filesystem is refused here unless `force_clones` is set.
pub fn configure(p: &Params, ctx: &Context) -> OcfResult<Config> {
    let device_text = p.string(&DEVICE).unwrap_or_default().to_string();
    let fstype = p.string(&FSTYPE).unwrap_or_default().to_string();
    let options = p.string(&OPTIONS).unwrap_or_default().to_string();
    let bind = options.split(',').any(|o| o == "bind" || o == "rbind");
    let device = parse_device(&device_text);
    if bind && !matches!(device, Device::Path(_)) {
        return Err(OcfError::configured(format!(
            "a bind mount needs an absolute source directory as 'device' (got {device_text:?})"
        )));
    }
    if let Device::Path(path) = &device
        && !bind
        && path
            .as_os_str()
            .as_bytes()
            .iter()
            .any(u8::is_ascii_whitespace)
    {
        return Err(OcfError::configured(format!(
            "parameter 'device' is a device path with whitespace in it (got {device_text:?}); only a bind source may contain spaces"
        )));
    }
    let sig = |s: &ParamSpec| signals::parse_signals(p.string(s).unwrap_or("")).unwrap_or_default();
    let cfg = Config {
        device,
        device_text,
        directory: normalize(Path::new(p.string(&DIRECTORY).unwrap_or("/"))),
        fstype,
        options,
        bind,
        run_fsck: p.string(&RUN_FSCK).unwrap_or("auto").to_string(),
        force_unmount: force_unmount(p.string(&FORCE_UNMOUNT).unwrap_or("true")).unwrap_or(true),
        term_signals: sig(&TERM_SIGNALS),
        kill_signals: sig(&KILL_SIGNALS),
        signal_delay: Duration::from_secs_f64(
            p.string(&SIGNAL_DELAY)
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(1.0),
        ),
        statusfile_prefix: p.string(&STATUSFILE_PREFIX).unwrap_or_default().to_string(),
        fast_stop: p.boolean(&FAST_STOP),
    };
    if ctx.clone_info().is_some() && !CLUSTER_SAFE.contains(&cfg.fstype.as_str()) {
        // With force_clones the warning comes at start, so a successful
        // validate-all stays silent.
        if !p.boolean(&FORCE_CLONES) {
            return Err(OcfError::configured(format!(
                "{} on {} is not cluster-aware and must not be cloned (set force_clones=true only if every instance mounts it read-only or on its own device)",
                cfg.fstype, cfg.device_text
            )));
        }
    }
    Ok(cfg)
}

/// The configuration a stop or probe can still act on when validation
/// failed: the raw device and directory (trimmed), defaults for whatever
/// does not validate. `None` when they cannot name a mount of ours.
pub fn lenient_config(ctx: &Context) -> Option<Config> {
    let raw = |name: &str| ctx.params.get(name).map(|v| v.trim().to_string());
    let directory = raw("directory").filter(|d| d.starts_with('/'))?;
    let device_text = raw("device").filter(|d| !d.is_empty())?;
    config_from(
        ctx,
        device_text,
        normalize(Path::new(&directory)),
        raw("fstype").unwrap_or_default(),
        raw("options").unwrap_or_default(),
    )
}

/// The configuration start ran with, on the directory it resolved then.
pub fn recorded_config(r: &Recorded, ctx: &Context) -> Option<Config> {
    config_from(
        ctx,
        r.device.clone(),
        r.dir.clone(),
        r.fstype.clone(),
        r.options.clone(),
    )
}

fn config_from(
    ctx: &Context,
    device_text: String,
    directory: PathBuf,
    fstype: String,
    options: String,
) -> Option<Config> {
    let raw = |name: &str| ctx.params.get(name).map(|v| v.trim().to_string());
    if directory == Path::new("/") {
        return None;
    }
    let bind = record::is_bind(&options);
    let device = parse_device(&device_text);
    if bind && !matches!(device, Device::Path(_)) {
        return None;
    }
    Some(Config {
        device,
        device_text,
        directory,
        fstype,
        options,
        bind,
        run_fsck: "no".into(),
        force_unmount: raw("force_unmount")
            .and_then(|v| force_unmount(&v))
            .unwrap_or(true),
        term_signals: raw("term_signals")
            .and_then(|v| signals::parse_signals(&v).ok())
            .unwrap_or_else(|| vec![signals::TERM]),
        kill_signals: raw("kill_signals")
            .and_then(|v| signals::parse_signals(&v).ok())
            .unwrap_or_else(|| vec![signals::KILL]),
        signal_delay: raw("signal_delay")
            .filter(|v| check_delay(v).is_ok())
            .and_then(|v| v.parse().ok())
            .map_or(Duration::from_secs(1), Duration::from_secs_f64),
        statusfile_prefix: raw("statusfile_prefix")
            .filter(|v| check_statusfile_prefix(v).is_ok())
            .unwrap_or_else(|| STATUSFILE_PREFIX.default.unwrap_or_default().to_string()),
        fast_stop: raw("fast_stop")
            .and_then(|v| parse_bool(&v))
            .unwrap_or(false),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ocf::Status;

    fn ctx(vars: &[(&str, &str)]) -> Context {
        Context::from_vars(
            "filesystem",
            "start",
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    pub(crate) fn configure(params: &[(&str, &str)], meta: &[(&str, &str)]) -> OcfResult<Config> {
        let mut vars: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (format!("OCF_RESKEY_{k}"), v.to_string()))
            .collect();
        vars.extend(
            meta.iter()
                .map(|(k, v)| (format!("OCF_RESKEY_CRM_meta_{k}"), v.to_string())),
        );
        let refs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let c = ctx(&refs);
        let p = Params::parse(&PARAMS, &c.params)?;
        super::configure(&p, &c)
    }

    pub(crate) const BASE: [(&str, &str); 3] = [
        ("device", "/dev/loop7"),
        ("directory", "/mnt/x/"),
        ("fstype", "ext4"),
    ];

    #[test]
    fn device_forms() {
        assert_eq!(parse_device("/dev/sdb1"), Device::Path("/dev/sdb1".into()));
        assert_eq!(parse_device("UUID=ab-cd"), Device::Uuid("ab-cd".into()));
        assert_eq!(parse_device("-U ab-cd"), Device::Uuid("ab-cd".into()));
        assert_eq!(parse_device("--uuid=ab"), Device::Uuid("ab".into()));
        assert_eq!(
            parse_device("LABEL=data disk"),
            Device::Label("data disk".into())
        );
        assert_eq!(parse_device("-L data"), Device::Label("data".into()));
        assert_eq!(parse_device("--label=x"), Device::Label("x".into()));
        assert_eq!(
            parse_device("srv:/export"),
            Device::Source("srv:/export".into())
        );
        assert_eq!(
            parse_device("//srv/share"),
            Device::Source("//srv/share".into())
        );
    }

    #[test]
    fn good_configuration() {
        let c = configure(&BASE, &[]).unwrap();
        assert_eq!(c.directory, PathBuf::from("/mnt/x"));
        assert_eq!(c.term_signals, [libc::SIGTERM]);
        assert_eq!(c.kill_signals, [libc::SIGKILL]);
        assert_eq!(c.signal_delay, Duration::from_secs(1));
        assert!(c.force_unmount && !c.bind && !c.fast_stop);
        let b = configure(
            &[
                ("device", "/srv/data"),
                ("directory", "/mnt//b"),
                ("fstype", "none"),
                ("options", "bind,ro"),
                ("force_unmount", "safe"),
            ],
            &[],
        )
        .unwrap();
        assert!(b.bind && b.force_unmount);
        let spaced = configure(
            &[
                ("device", "/srv/my data"),
                ("directory", "/mnt/b"),
                ("fstype", "none"),
                ("options", "bind"),
            ],
            &[],
        );
        assert!(
            spaced.is_ok(),
            "a bind source may contain spaces: {spaced:?}"
        );
        assert_eq!(b.directory, PathBuf::from("/mnt/b"));
    }

    #[test]
    fn bad_input_is_err_configured() {
        let cases: &[(&str, &str)] = &[
            ("directory", "relative/dir"),
            ("directory", "/"),
            ("directory", "//"),
            ("directory", "/mnt/../etc"),
            ("device", " /dev/loop7"),
            ("device", "/dev/loop7 "),
            ("device", "/dev/my disk"),
            ("device", "UUID="),
            ("options", "rw\nro"),
            ("fstype", "ext4;rm"),
            ("run_fsck", "sometimes"),
            ("force_unmount", "maybe"),
            ("term_signals", "TERM NOPE"),
            ("signal_delay", "-1"),
            ("statusfile_prefix", "/abs"),
            ("statusfile_prefix", "../up"),
            ("statusfile_prefix", "a/./b/"),
            ("directory", "/var/log"),
            ("directory", "/usr/"),
            ("directory", "/var/lib/pacemaker/cib"),
            ("directory", "/proc/sys"),
            ("directory", "/run/systemd/x"),
            ("directory", "/run"),
            ("directory", "/var/run/resource-agents"),
            ("directory", "/tmp"),
            ("directory", "/etc"),
        ];
        for (k, v) in cases {
            let mut params: Vec<(&str, &str)> =
                BASE.iter().copied().filter(|(n, _)| n != k).collect();
            params.push((k, v));
            let e = configure(&params, &[]).unwrap_err();
            assert_eq!(e.status, Status::ErrConfigured, "{k}={v:?}: {e}");
            assert!(e.reason.contains(k), "{k}: {}", e.reason);
        }
        let bind_uuid = configure(
            &[
                ("device", "UUID=x"),
                ("directory", "/mnt/b"),
                ("fstype", "none"),
                ("options", "bind"),
            ],
            &[],
        );
        assert_eq!(bind_uuid.unwrap_err().status, Status::ErrConfigured);
    }

    /// A CIFS password leaves the option list for PASSWD; a doubled comma is
    /// one comma of it; nothing else changes, and other types are untouched.
    #[test]
    fn a_cifs_password_moves_to_the_environment() {
        let s = |t: &str, o: &str| split_cifs_password(t, o);
        assert_eq!(
            s("cifs", "username=bob,password=s3cr:t,vers=3.0"),
            ("username=bob,vers=3.0".into(), Some("s3cr:t".into()))
        );
        assert_eq!(
            s("smb3", "PASS=a,,b,,,ro"),
            ("ro".into(), Some("a,b,".into()))
        );
        assert_eq!(s("cifs", "password=x"), (String::new(), Some("x".into())));
        assert_eq!(
            s("cifs", "credentials=/root/.smb,uid=0"),
            ("credentials=/root/.smb,uid=0".into(), None)
        );
        assert_eq!(s("cifs", "password=,ro"), ("password=,ro".into(), None));
        assert_eq!(s("cifs", "passwordx=1"), ("passwordx=1".into(), None));
        assert_eq!(
            s("cifs", "pässword=1,pass=é"),
            ("pässword=1".into(), Some("é".into()))
        );
        assert_eq!(
            s("ext4", "password=x,ro"),
            ("password=x,ro".into(), None),
            "only mount.cifs reads PASSWD"
        );
        assert_eq!(s("cifs", ""), (String::new(), None));
        assert_eq!(s("cifs", ",,ro,"), ("ro".into(), None));
    }

    /// A refused `options` value is not echoed, and Config's Debug masks it.
    #[test]
    fn options_never_show_a_password() {
        let mut p = BASE.to_vec();
        p.push(("options", "password=hunter2 "));
        let e = configure(&p, &[]).unwrap_err();
        assert!(!e.reason.contains("hunter2"), "{}", e.reason);
        let mut p = BASE.to_vec();
        p.push(("options", "ro,password=hunter2"));
        let c = configure(&p, &[]).unwrap();
        let dbg = format!("{c:?}");
        assert!(
            !dbg.contains("hunter2") && dbg.contains("ro,password=***"),
            "{dbg}"
        );
    }

    #[test]
    fn clones_of_local_filesystems_need_force_clones() {
        let e = configure(&BASE, &[("clone_max", "2")]).unwrap_err();
        assert_eq!(e.status, Status::ErrConfigured);
        assert!(e.reason.contains("not cluster-aware"), "{}", e.reason);
        let mut forced = BASE.to_vec();
        forced.push(("force_clones", "true"));
        assert!(configure(&forced, &[("clone_max", "2")]).is_ok());
        assert!(
            configure(
                &[
                    ("device", "srv:/e"),
                    ("directory", "/mnt/n"),
                    ("fstype", "nfs4")
                ],
                &[("clone_max", "2")]
            )
            .is_ok()
        );
    }
}

//! Logging the way `ocf_log` does, so our lines land where the shell agents'
//! lines land (ocf-shellfuncs `__ha_log` and `ha_debug`):
//!
//! * stderr is a terminal: `TAG: LEVEL: message` on stderr, nothing else;
//! * `HA_LOGFACILITY` (or `PCMK_LOGFACILITY`) names a facility (not `none`):
//!   syslog with ident `TAG`;
//! * `HA_LOGFILE`: appended as `DATE TAG:    LEVEL: message`;
//! * neither of the two: `DATE LEVEL: message` on stderr (pacemaker-execd
//!   logs the agent's stderr);
//! * `HA_DEBUGLOG`: debug lines (and, like the shell, the others) appended
//!   with the tag first.
//!
//! Debug lines exist only with `HA_debug` set and not 0. The tag is
//! `<agent>(<instance>)[<pid>]`. Dates use `HA_DATEFMT` (`%b %d %T `).

use std::ffi::CString;
use std::fs::OpenOptions;
use std::io::Write;
use std::sync::OnceLock;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Crit,
    Err,
    Warn,
    Info,
    Debug,
}

impl Level {
    /// The word ocf_log prints before the message.
    pub fn word(self) -> &'static str {
        match self {
            Level::Crit => "CRIT",
            Level::Err => "ERROR",
            Level::Warn => "WARNING",
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
        }
    }
    fn syslog_priority(self) -> libc::c_int {
        match self {
            Level::Crit => libc::LOG_CRIT,
            Level::Err => libc::LOG_ERR,
            Level::Warn => libc::LOG_WARNING,
            Level::Info => libc::LOG_INFO,
            Level::Debug => libc::LOG_DEBUG,
        }
    }
}

/// Where lines go, decided once from the environment.
#[derive(Clone, Debug, Default)]
pub struct Sinks {
    pub tag: String,
    pub tty: bool,
    pub facility: Option<libc::c_int>,
    pub logfile: Option<String>,
    pub debuglog: Option<String>,
    pub debug: bool,
    pub datefmt: String,
}

impl Sinks {
    /// Read the sinks from a variable lookup (the environment, or a test map).
    pub fn from_lookup(tag: String, tty: bool, var: impl Fn(&str) -> Option<String>) -> Sinks {
        let first = |names: &[&str]| names.iter().find_map(|n| var(n).filter(|v| !v.is_empty()));
        let facility =
            first(&["HA_LOGFACILITY", "PCMK_LOGFACILITY"]).and_then(|f| facility_code(&f));
        Sinks {
            tag: first(&["HA_LOGTAG"]).unwrap_or(tag),
            tty,
            facility,
            logfile: first(&["HA_LOGFILE", "PCMK_LOGFILE"]),
            debuglog: first(&["HA_DEBUGLOG", "PCMK_DEBUGLOG"]),
            debug: first(&["HA_debug"])
                .is_some_and(|v| v != "0" && crate::params::parse_bool(&v) != Some(false)),
            datefmt: first(&["HA_DATEFMT"]).unwrap_or_else(|| "%b %d %T ".to_string()),
        }
    }

    /// The lines each sink receives for one message (no I/O: testable).
    pub fn render(&self, level: Level, msg: &str, ignore_stderr: bool, date: &str) -> Rendered {
        let text = format!("{}: {}", level.word(), msg);
        let mut r = Rendered::default();
        if level == Level::Debug && !self.debug {
            return r;
        }
        if self.tty {
            if !ignore_stderr {
                r.stderr = Some(format!("{}: {}", self.tag, text));
            }
            return r;
        }
        if self.facility.is_some() {
            r.syslog = Some(text.clone());
        }
        if level != Level::Debug
            && let Some(f) = &self.logfile
        {
            r.files
                .push((f.clone(), format!("{date} {}:    {text}", self.tag)));
        }
        let stderr_fallback = if level == Level::Debug {
            self.facility.is_none() && self.debuglog.is_none()
        } else {
            self.facility.is_none() && self.logfile.is_none()
        };
        if stderr_fallback && !ignore_stderr {
            r.stderr = Some(format!("{date}{text}"));
        }
        if let Some(d) = &self.debuglog
            && (level == Level::Debug || self.logfile.as_deref() != Some(d.as_str()))
        {
            r.files
                .push((d.clone(), format!("{}:\t{date}{text}", self.tag)));
        }
        r
    }
}

/// What one message turns into, per sink.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rendered {
    pub stderr: Option<String>,
    pub syslog: Option<String>,
    pub files: Vec<(String, String)>,
}

fn facility_code(name: &str) -> Option<libc::c_int> {
    Some(match name.to_ascii_lowercase().as_str() {
        "none" => return None,
        "kern" => libc::LOG_KERN,
        "user" => libc::LOG_USER,
        "mail" => libc::LOG_MAIL,
        "daemon" => libc::LOG_DAEMON,
        "auth" => libc::LOG_AUTH,
        "syslog" => libc::LOG_SYSLOG,
        "lpr" => libc::LOG_LPR,
        "news" => libc::LOG_NEWS,
        "uucp" => libc::LOG_UUCP,
        "cron" => libc::LOG_CRON,
        "authpriv" => libc::LOG_AUTHPRIV,
        "ftp" => libc::LOG_FTP,
        "local0" => libc::LOG_LOCAL0,
        "local1" => libc::LOG_LOCAL1,
        "local2" => libc::LOG_LOCAL2,
        "local3" => libc::LOG_LOCAL3,
        "local4" => libc::LOG_LOCAL4,
        "local5" => libc::LOG_LOCAL5,
        "local6" => libc::LOG_LOCAL6,
        "local7" => libc::LOG_LOCAL7,
        _ => return None,
    })
}

static SINKS: OnceLock<Sinks> = OnceLock::new();

/// Set up the sinks for this process: `agent(instance)[pid]` as the tag.
/// Later calls are ignored. Logging before `init` uses the tag `ocf-rs`.
pub fn init(agent: &str, instance: &str) {
    let tag = format!("{agent}({instance})[{}]", std::process::id());
    let _ = SINKS.set(sinks_from_env(tag));
}

fn sinks_from_env(tag: String) -> Sinks {
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let s = Sinks::from_lookup(tag, tty, |n| std::env::var(n).ok());
    if let Some(fac) = s.facility {
        // openlog keeps the pointer: the ident must live for the whole process.
        let ident = CString::new(s.tag.replace('\0', "")).unwrap_or_default();
        let ident: &'static CString = Box::leak(Box::new(ident));
        // SAFETY: ident is a valid, leaked C string.
        unsafe { libc::openlog(ident.as_ptr(), 0, fac) };
    }
    s
}

fn sinks() -> &'static Sinks {
    SINKS.get_or_init(|| sinks_from_env(format!("ocf-rs[{}]", std::process::id())))
}

/// True when debug lines are written at all (skip expensive formatting otherwise).
pub fn debug_enabled() -> bool {
    sinks().debug
}

/// Log one message at `level`.
pub fn log(level: Level, msg: &str) {
    emit(level, msg, false);
}

fn emit(level: Level, msg: &str, ignore_stderr: bool) {
    let s = sinks();
    if level == Level::Debug && !s.debug {
        return;
    }
    let msg = crate::secret::redact(msg);
    let r = s.render(level, &msg, ignore_stderr, &date(&s.datefmt));
    if let Some(line) = r.stderr {
        write_fd2(&format!("{line}\n"));
    }
    if let Some(text) = r.syslog
        && let Ok(c) = CString::new(text.replace('\0', ""))
    {
        // SAFETY: "%s" with a valid C string.
        unsafe { libc::syslog(level.syslog_priority(), c"%s".as_ptr(), c.as_ptr()) };
    }
    for (path, line) in r.files {
        if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(&path) {
            let _ = f.write_all(format!("{line}\n").as_bytes());
        }
    }
}

/// Write straight to fd 2, bypassing std's stderr lock (the watchdog may run
/// while the main thread holds it).
fn write_fd2(s: &str) {
    let mut b = s.as_bytes();
    let stderr = std::io::stderr();
    let fd = std::os::fd::AsFd::as_fd(&stderr);
    while !b.is_empty() {
        match rustix::io::write(fd, b) {
            Ok(n) if n > 0 => b = &b[n..],
            _ => return,
        }
    }
}

/// `ocf_exit_reason`: the `ocf-exit-reason:` line on stderr, and the same
/// text as an ERROR to every other sink (not to stderr again).
pub fn exit_reason_raw(reason: &str) {
    let reason = crate::secret::redact(reason);
    write_fd2(&format!("{}\n", crate::exit::exit_reason_line(&reason)));
    emit(Level::Err, &reason, true);
}

fn date(fmt: &str) -> String {
    let Ok(cfmt) = CString::new(fmt) else {
        return String::new();
    };
    let mut buf = [0u8; 128];
    // SAFETY: time/localtime_r/strftime on valid, owned buffers.
    unsafe {
        let now = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&now, &mut tm).is_null() {
            return String::new();
        }
        let n = libc::strftime(buf.as_mut_ptr().cast(), buf.len(), cfmt.as_ptr(), &tm);
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}

#[macro_export]
macro_rules! crit { ($($t:tt)*) => { $crate::log::log($crate::log::Level::Crit, &format!($($t)*)) } }
#[macro_export]
macro_rules! err { ($($t:tt)*) => { $crate::log::log($crate::log::Level::Err, &format!($($t)*)) } }
#[macro_export]
macro_rules! warn { ($($t:tt)*) => { $crate::log::log($crate::log::Level::Warn, &format!($($t)*)) } }
#[macro_export]
macro_rules! info { ($($t:tt)*) => { $crate::log::log($crate::log::Level::Info, &format!($($t)*)) } }
#[macro_export]
macro_rules! debug {
    ($($t:tt)*) => {
        if $crate::log::debug_enabled() {
            $crate::log::log($crate::log::Level::Debug, &format!($($t)*))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn sinks(tty: bool, vars: &[(&str, &str)]) -> Sinks {
        let m: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Sinks::from_lookup("dummy(d1)[42]".into(), tty, |n| m.get(n).cloned())
    }

    #[test]
    fn stderr_only_when_nothing_else() {
        let r = sinks(false, &[]).render(Level::Info, "started", false, "Nov 25 10:00:00 ");
        assert_eq!(r.stderr.as_deref(), Some("Nov 25 10:00:00 INFO: started"));
        assert!(r.syslog.is_none() && r.files.is_empty());
    }

    #[test]
    fn tty_gets_the_tag_and_nothing_else() {
        let r = sinks(true, &[("HA_LOGFACILITY", "daemon")]).render(Level::Warn, "w", false, "D ");
        assert_eq!(r.stderr.as_deref(), Some("dummy(d1)[42]: WARNING: w"));
        assert!(r.syslog.is_none());
    }

    #[test]
    fn syslog_and_logfile_replace_stderr() {
        let s = sinks(
            false,
            &[("HA_LOGFACILITY", "local3"), ("HA_LOGFILE", "/tmp/ha.log")],
        );
        assert_eq!(s.facility, Some(libc::LOG_LOCAL3));
        let r = s.render(Level::Err, "boom", false, "D");
        assert_eq!(r.stderr, None);
        assert_eq!(r.syslog.as_deref(), Some("ERROR: boom"));
        assert_eq!(
            r.files,
            vec![(
                "/tmp/ha.log".to_string(),
                "D dummy(d1)[42]:    ERROR: boom".to_string()
            )]
        );
    }

    #[test]
    fn facility_none_means_no_syslog() {
        assert_eq!(sinks(false, &[("HA_LOGFACILITY", "none")]).facility, None);
        assert_eq!(
            sinks(false, &[("PCMK_LOGFACILITY", "daemon")]).facility,
            Some(libc::LOG_DAEMON)
        );
    }

    #[test]
    fn debug_needs_ha_debug_and_goes_to_debuglog() {
        assert!(
            sinks(false, &[])
                .render(Level::Debug, "x", false, "D ")
                .stderr
                .is_none()
        );
        assert!(
            sinks(false, &[("HA_debug", "0")])
                .render(Level::Debug, "x", false, "D ")
                .stderr
                .is_none()
        );
        let s = sinks(false, &[("HA_debug", "1"), ("HA_DEBUGLOG", "/tmp/dbg.log")]);
        let r = s.render(Level::Debug, "x", false, "D ");
        assert_eq!(
            r.files,
            vec![(
                "/tmp/dbg.log".to_string(),
                "dummy(d1)[42]:\tD DEBUG: x".to_string()
            )]
        );
        assert!(r.stderr.is_none());
        // Without a debug log, debug goes to stderr.
        let r = sinks(false, &[("HA_debug", "1")]).render(Level::Debug, "x", false, "D ");
        assert_eq!(r.stderr.as_deref(), Some("D DEBUG: x"));
    }

    #[test]
    fn exit_reason_is_not_printed_twice_on_stderr() {
        let r = sinks(false, &[]).render(Level::Err, "why", true, "D ");
        assert!(r.stderr.is_none());
    }

    #[test]
    fn date_format_works() {
        let d = date("%Y");
        assert_eq!(d.len(), 4, "{d}");
    }
}

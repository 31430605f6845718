//! What the unit tests of the modules share: contexts, a domain XML file,
//! configurations, and a scripted in-memory hypervisor for the start, stop
//! and monitor decisions (the real libvirt paths are in tests/it/vm.rs).

use std::cell::RefCell;
use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use ocf::{Agent, Context, Deadline, OcfResult, Params};

use crate::hypervisor::{
    DomState, DomainView, HvError, HvResult, Hypervisor, Migration, Shutoff, Size,
};
use crate::record::Target;
use crate::stop::stop_on;
use crate::{Config, INFO, LibvirtConfig, PARAMS, Vm};

pub(crate) fn ctx(action: &str, vars: &[(&str, &str)]) -> Context {
    Context::from_vars(
        "vm",
        action,
        vars.iter().map(|(k, v)| (k.to_string(), v.to_string())),
    )
}

pub(crate) fn configure(vars: &[(&str, &str)]) -> OcfResult<Config> {
    let c = ctx("start", vars);
    let p = Params::parse(&PARAMS, &c.params)?;
    Vm::configure(&p, &c)
}

pub(crate) struct TempXml(pub PathBuf);
impl TempXml {
    pub(crate) fn new(tag: &str, xml: &str) -> TempXml {
        let p = std::env::temp_dir().join(format!("vma-unit-{tag}-{}.xml", std::process::id()));
        fs::write(&p, xml).unwrap();
        TempXml(p)
    }
}
impl Drop for TempXml {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

pub(crate) const XML: &str = "<domain type='qemu'><name>vma-unit</name>\
    <uuid>11111111-2222-4333-8444-555555555555</uuid></domain>";

pub(crate) fn cfg_with(tag: &str, extra: &[(&str, &str)]) -> (TempXml, LibvirtConfig) {
    let t = TempXml::new(tag, XML);
    let mut vars = vec![("OCF_RESKEY_config", t.0.to_str().unwrap())];
    vars.extend_from_slice(extra);
    let cfg = libvirt(configure(&vars).unwrap());
    cfg.load_domain().unwrap();
    (t, cfg)
}

/// The libvirt configuration a `config=` configuration is.
pub(crate) fn libvirt(c: Config) -> LibvirtConfig {
    match c {
        Config::Libvirt(c) => c,
        other => panic!("not a libvirt configuration: {other:?}"),
    }
}

/// A scripted hypervisor: one domain whose behaviour the test chooses.
pub(crate) struct Fake {
    pub(crate) state: RefCell<Option<DomState>>,
    pub(crate) uuid: String,
    /// The guest honours a shutdown request.
    pub(crate) obeys_shutdown: bool,
    /// Every call fails as if libvirtd were down.
    pub(crate) unreachable: bool,
    pub(crate) calls: RefCell<Vec<String>>,
}

impl Fake {
    pub(crate) fn new(state: Option<DomState>) -> Fake {
        Fake {
            state: RefCell::new(state),
            uuid: "11111111-2222-4333-8444-555555555555".into(),
            obeys_shutdown: true,
            unreachable: false,
            calls: RefCell::new(Vec::new()),
        }
    }
    fn log(&self, c: &str) -> HvResult<()> {
        self.calls.borrow_mut().push(c.to_string());
        if self.unreachable {
            return Err(HvError::Unreachable("connection refused".into()));
        }
        Ok(())
    }
    pub(crate) fn called(&self, c: &str) -> bool {
        self.calls.borrow().iter().any(|x| x == c)
    }
}

impl Hypervisor for Fake {
    fn lookup(&self, _n: &str, _dl: &Deadline) -> HvResult<DomainView> {
        self.log("lookup")?;
        match *self.state.borrow() {
            None => Err(HvError::NoDomain),
            Some(s) => Ok(DomainView {
                state: s,
                uuid: self.uuid.clone(),
                persistent: true,
            }),
        }
    }
    fn lookup_uuid(&self, uuid: &str, dl: &Deadline) -> HvResult<(String, DomainView)> {
        let v = self.lookup("vma-unit", dl)?;
        if v.uuid.eq_ignore_ascii_case(uuid) {
            Ok(("vma-unit".into(), v))
        } else {
            Err(HvError::NoDomain)
        }
    }
    fn define(&self, _x: &str, _dl: &Deadline) -> HvResult<()> {
        self.log("define")?;
        if self.state.borrow().is_none() {
            *self.state.borrow_mut() = Some(DomState::ShutOff(Shutoff::Other(0)));
        }
        Ok(())
    }
    fn boot(&self, _n: &str, _dl: &Deadline) -> HvResult<()> {
        self.log("boot")?;
        *self.state.borrow_mut() = Some(DomState::Running);
        Ok(())
    }
    fn restore(&self, _p: &str, _dl: &Deadline) -> HvResult<()> {
        self.log("restore")
    }
    fn shutdown(&self, _n: &str, _m: u32, _dl: &Deadline) -> HvResult<()> {
        self.log("shutdown")?;
        if self.obeys_shutdown {
            *self.state.borrow_mut() = Some(DomState::ShutOff(Shutoff::GuestShutdown));
        }
        Ok(())
    }
    fn destroy(&self, _n: &str, _dl: &Deadline) -> HvResult<()> {
        self.log("destroy")?;
        *self.state.borrow_mut() = Some(DomState::ShutOff(Shutoff::Destroyed));
        Ok(())
    }
    fn undefine(&self, _n: &str, _dl: &Deadline) -> HvResult<()> {
        self.log("undefine")?;
        *self.state.borrow_mut() = None;
        Ok(())
    }
    fn save(&self, _n: &str, _p: &str, _dl: &Deadline) -> HvResult<()> {
        self.log("save")
    }
    fn config_xml(&self, _n: &str, _dl: &Deadline) -> HvResult<String> {
        self.log("config_xml")?;
        Ok(XML.into())
    }
    fn size(&self, _n: &str, _dl: &Deadline) -> HvResult<Size> {
        self.log("size")?;
        Ok(Size {
            vcpus: 2,
            memory_mib: 512,
        })
    }
    fn migrate(&self, _n: &str, _m: &Migration, _dl: &Deadline) -> HvResult<()> {
        self.log("migrate")
    }
    fn start_network(&self, _n: &str, _dl: &Deadline) -> HvResult<()> {
        self.log("start_network")
    }
    fn start_pool(&self, _n: &str, _dl: &Deadline) -> HvResult<()> {
        self.log("start_pool")
    }
}

/// Stop the configured domain as `Vm::stop` does.
pub(crate) fn stop_configured(
    hv: &Fake,
    cfg: &LibvirtConfig,
    dl: &Deadline,
    reserve: Duration,
) -> OcfResult<()> {
    let t = Target::named(&cfg.uri, cfg.name().unwrap());
    stop_on(hv, &t, &cfg.how(), dl, reserve)
}

#[test]
fn tables_are_sane() {
    ocf::metadata::check_info(&INFO).unwrap();
}

//! Targets: the devices a program may be placed on and the links between
//! them, as data. The compiler's placement and residency passes, its cost
//! model and the simulator read a target; `genie-runtime calibrate`
//! measures a device and a link and prints their entries.
//!
//! The file format (TOML, `version = 1`):
//!
//! ```toml
//! version = 1
//!
//! [[device]]
//! name = "dev0"            # how the plan and messages name it
//! kind = "cpu"             # cpu | cuda
//! at = "embedded"          # "embedded" (in the client's process) or a server URL
//! memory = 25769803776     # bytes it can hold
//! flops = 1.9e11           # f32 matrix-product rate, FLOP/s
//! bandwidth = 1.2e10       # memory read bandwidth, bytes/s
//! ops = ["sem.add", ...]   # ops it runs (absent: every op)
//!
//! [[link]]
//! from = "client"          # "client" or a device name
//! to = "dev0"
//! bandwidth = 1.25e9       # bytes/s, each way
//! latency = 2.0e-5         # seconds, one way
//! ```
//!
//! Every device is linked to the client; a missing `client` link of an
//! embedded device costs nothing, of a remote one it is an error. Unknown
//! keys are errors (a typo must not silently mean a default).

use std::collections::BTreeSet;
use std::fmt::Write;

pub const TARGET_VERSION: i64 = 1;

#[derive(Clone, Debug, PartialEq)]
pub struct TargetDevice {
    pub name: String,
    pub kind: crate::DeviceKind,
    /// `None`: embedded in the client's process; else the server's URL.
    pub at: Option<String>,
    pub memory: u64,
    pub flops: f64,
    pub bandwidth: f64,
    /// The ops it runs, by name; `None`: every op.
    pub ops: Option<BTreeSet<String>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    pub from: String,
    pub to: String,
    pub bandwidth: f64,
    pub latency: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub devices: Vec<TargetDevice>,
    pub links: Vec<Link>,
}

/// An embedded link: nothing crosses a network.
static FREE: Link = Link { from: String::new(), to: String::new(), bandwidth: f64::INFINITY, latency: 0.0 };

impl Default for Target {
    fn default() -> Self {
        Target::embedded_cpu()
    }
}

impl Target {
    /// One CPU in the client's process (the default): rates measured on a
    /// 2-core x86 server, see docs/benchmarks.md.
    pub fn embedded_cpu() -> Target {
        Target {
            devices: vec![TargetDevice {
                name: "dev0".into(),
                kind: crate::DeviceKind::Cpu,
                at: None,
                memory: 16 << 30,
                flops: 1.5e11,
                bandwidth: 1.0e10,
                ops: None,
            }],
            links: vec![],
        }
    }

    /// One CPU behind a server at `url`, over a link of the given rates.
    pub fn remote_cpu(url: &str, bandwidth: f64, latency: f64) -> Target {
        let mut t = Target::embedded_cpu();
        t.devices[0].at = Some(url.to_string());
        t.links.push(Link { from: "client".into(), to: "dev0".into(), bandwidth, latency });
        t
    }

    pub fn device(&self, name: &str) -> Option<&TargetDevice> {
        self.devices.iter().find(|d| d.name == name)
    }

    /// The link between `a` and `b` (either direction).
    pub fn link(&self, a: &str, b: &str) -> Option<&Link> {
        self.links.iter().find(|l| (l.from == a && l.to == b) || (l.from == b && l.to == a))
    }

    /// The client's link to device `name`: the declared one, or a free
    /// one for an embedded device.
    pub fn client_link(&self, name: &str) -> &Link {
        self.link("client", name).unwrap_or(&FREE)
    }

    /// Seconds to move `bytes` over `link` once.
    pub fn transfer_seconds(link: &Link, bytes: u64) -> f64 {
        link.latency + bytes as f64 / link.bandwidth
    }

    pub fn parse(text: &str) -> Result<Target, String> {
        let doc: toml::Table = text.parse().map_err(|e: toml::de::Error| format!("not a target file: {}", e.message()))?;
        let mut t = Target { devices: vec![], links: vec![] };
        for (k, v) in &doc {
            match k.as_str() {
                "version" => match v.as_integer() {
                    Some(TARGET_VERSION) => {}
                    Some(n) => return Err(format!("target version {n} is not readable by this Genie (version {TARGET_VERSION})")),
                    None => return Err("'version' must be an integer".into()),
                },
                "device" | "link" => {}
                other => return Err(format!("unknown key '{other}' (known: version, device, link)")),
            }
        }
        if !doc.contains_key("version") {
            return Err(format!("a target needs 'version = {TARGET_VERSION}'"));
        }
        for (i, d) in tables(&doc, "device")?.into_iter().enumerate() {
            let at = |k: &str| format!("device #{i}: {k}");
            let e = Entry { table: d, what: at("") };
            e.known(&["name", "kind", "at", "memory", "flops", "bandwidth", "ops"])?;
            let name = e.string("name")?.ok_or_else(|| at("needs a 'name'"))?;
            if name == "client" || t.device(&name).is_some() {
                return Err(at(&format!("the name '{name}' is taken")));
            }
            let kind = e.string("kind")?.ok_or_else(|| at("needs a 'kind' (cpu or cuda)"))?;
            let kind = crate::DeviceKind::from_name(&kind).ok_or_else(|| at(&format!("kind '{kind}' is not cpu or cuda")))?;
            let place = e.string("at")?.unwrap_or_else(|| "embedded".into());
            let ops = match d.get("ops") {
                None => None,
                Some(v) => Some(
                    v.as_array()
                        .ok_or_else(|| at("'ops' must be an array of op names"))?
                        .iter()
                        .map(|o| o.as_str().map(str::to_string).ok_or_else(|| at("'ops' must be an array of op names")))
                        .collect::<Result<BTreeSet<_>, _>>()?,
                ),
            };
            t.devices.push(TargetDevice {
                name,
                kind,
                at: (place != "embedded").then_some(place),
                memory: e.positive("memory")?.map_or(16u64 << 30, |m| m as u64),
                flops: e.positive("flops")?.unwrap_or(1.0e11),
                bandwidth: e.positive("bandwidth")?.unwrap_or(1.0e10),
                ops,
            });
        }
        if t.devices.is_empty() {
            return Err("a target needs at least one [[device]]".into());
        }
        for (i, l) in tables(&doc, "link")?.into_iter().enumerate() {
            let at = |k: &str| format!("link #{i}: {k}");
            let e = Entry { table: l, what: at("") };
            e.known(&["from", "to", "bandwidth", "latency"])?;
            let end = |k: &str| -> Result<String, String> {
                let n = e.string(k)?.ok_or_else(|| at(&format!("needs '{k}'")))?;
                if n != "client" && t.device(&n).is_none() {
                    return Err(at(&format!("'{k}' names '{n}', which is neither 'client' nor a device")));
                }
                Ok(n)
            };
            let (from, to) = (end("from")?, end("to")?);
            let bandwidth = e.positive("bandwidth")?.ok_or_else(|| at("needs 'bandwidth' (bytes/s)"))?;
            let latency = e.number("latency")?.ok_or_else(|| at("needs 'latency' (seconds)"))?;
            if latency < 0.0 {
                return Err(at("'latency' must not be negative"));
            }
            t.links.push(Link { from, to, bandwidth, latency });
        }
        for d in &t.devices {
            if d.at.is_some() && t.link("client", &d.name).is_none() {
                return Err(format!("device '{}' is remote but no link joins it to the client", d.name));
            }
        }
        Ok(t)
    }

    /// The target as a file (what [`Target::parse`] reads back).
    pub fn to_toml(&self) -> String {
        let mut s = format!("version = {TARGET_VERSION}\n");
        for d in &self.devices {
            s.push('\n');
            s.push_str(&d.to_toml());
        }
        for l in &self.links {
            s.push('\n');
            s.push_str(&l.to_toml());
        }
        s
    }
}

impl TargetDevice {
    /// This device's `[[device]]` entry.
    pub fn to_toml(&self) -> String {
        let mut s = String::from("[[device]]\n");
        let _ = writeln!(s, "name = {}", quote(&self.name));
        let _ = writeln!(s, "kind = \"{}\"", self.kind.name());
        let _ = writeln!(s, "at = {}", quote(self.at.as_deref().unwrap_or("embedded")));
        let _ = writeln!(s, "memory = {}", self.memory);
        let _ = writeln!(s, "flops = {:e}", self.flops);
        let _ = writeln!(s, "bandwidth = {:e}", self.bandwidth);
        if let Some(ops) = &self.ops {
            let list: Vec<String> = ops.iter().map(|o| quote(o)).collect();
            let _ = writeln!(s, "ops = [{}]", list.join(", "));
        }
        s
    }
}

impl Link {
    /// This link's `[[link]]` entry.
    pub fn to_toml(&self) -> String {
        format!("[[link]]\nfrom = {}\nto = {}\nbandwidth = {:e}\nlatency = {:e}\n", quote(&self.from), quote(&self.to), self.bandwidth, self.latency)
    }
}

fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn tables<'a>(doc: &'a toml::Table, key: &str) -> Result<Vec<&'a toml::Table>, String> {
    match doc.get(key) {
        None => Ok(vec![]),
        Some(toml::Value::Array(items)) => items.iter().map(|v| v.as_table().ok_or_else(|| format!("each [[{key}]] must be a table"))).collect(),
        Some(_) => Err(format!("'{key}' must be written [[{key}]]")),
    }
}

struct Entry<'a> {
    table: &'a toml::Table,
    what: String,
}

impl Entry<'_> {
    fn known(&self, keys: &[&str]) -> Result<(), String> {
        match self.table.keys().find(|k| !keys.contains(&k.as_str())) {
            Some(k) => Err(format!("{}unknown key '{k}' (known: {})", self.what, keys.join(", "))),
            None => Ok(()),
        }
    }

    fn string(&self, k: &str) -> Result<Option<String>, String> {
        match self.table.get(k) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("{}'{k}' must be a string", self.what)),
        }
    }

    fn number(&self, k: &str) -> Result<Option<f64>, String> {
        match self.table.get(k) {
            None => Ok(None),
            Some(toml::Value::Integer(i)) => Ok(Some(*i as f64)),
            Some(toml::Value::Float(f)) if f.is_finite() => Ok(Some(*f)),
            Some(_) => Err(format!("{}'{k}' must be a finite number", self.what)),
        }
    }

    fn positive(&self, k: &str) -> Result<Option<f64>, String> {
        match self.number(k)? {
            Some(v) if v <= 0.0 => Err(format!("{}'{k}' must be positive", self.what)),
            v => Ok(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POOL: &str = r#"
version = 1

[[device]]
name = "gpu0"
kind = "cuda"
at = "tcp://10.0.0.1:7400"
memory = 150000000000
flops = 6.7e13
bandwidth = 4.8e12

[[device]]
name = "cpu1"
kind = "cpu"
at = "tcp://10.0.0.2:7400"
ops = ["sem.add", "sem.mm"]

[[link]]
from = "client"
to = "gpu0"
bandwidth = 5e10
latency = 5e-6

[[link]]
from = "client"
to = "cpu1"
bandwidth = 1.25e9
latency = 2e-5

[[link]]
from = "gpu0"
to = "cpu1"
bandwidth = 1.25e10
latency = 1e-5
"#;

    #[test]
    fn parses_prints_and_reads_back() {
        let t = Target::parse(POOL).unwrap();
        assert_eq!(t.devices.len(), 2);
        assert_eq!(t.devices[0].kind, crate::DeviceKind::Cuda);
        assert_eq!(t.devices[1].memory, 16 << 30, "defaults apply");
        assert_eq!(t.link("cpu1", "gpu0").unwrap().bandwidth, 1.25e10);
        assert!(t.devices[1].ops.as_ref().unwrap().contains("sem.mm"));
        assert_eq!(Target::parse(&t.to_toml()).unwrap(), t);
        let e = Target::embedded_cpu();
        assert_eq!(Target::parse(&e.to_toml()).unwrap(), e);
        assert_eq!(e.client_link("dev0").latency, 0.0);
    }

    #[test]
    fn errors_name_the_entry_and_the_key() {
        let cases = [
            ("[[device]]\nname = \"a\"\nkind = \"cpu\"\n", "a target needs 'version = 1'"),
            ("version = 2\n", "target version 2 is not readable by this Genie (version 1)"),
            ("version = 1\n", "a target needs at least one [[device]]"),
            ("version = 1\n[[device]]\nname = \"a\"\nkind = \"tpu\"\n", "device #0: kind 'tpu' is not cpu or cuda"),
            ("version = 1\n[[device]]\nname = \"a\"\nkind = \"cpu\"\nflop = 3\n", "device #0: unknown key 'flop'"),
            ("version = 1\n[[device]]\nname = \"a\"\nkind = \"cpu\"\nmemory = -1\n", "device #0: 'memory' must be positive"),
            ("version = 1\n[[device]]\nname = \"a\"\nkind = \"cpu\"\nat = \"tcp://h:1\"\n", "device 'a' is remote but no link joins it to the client"),
            ("version = 1\n[[device]]\nname = \"a\"\nkind = \"cpu\"\n[[link]]\nfrom = \"client\"\nto = \"b\"\nbandwidth = 1\nlatency = 0\n", "link #0: 'to' names 'b'"),
            ("version = 1\n[[device]]\nname = \"client\"\nkind = \"cpu\"\n", "device #0: the name 'client' is taken"),
            ("version = [", "not a target file"),
        ];
        for (text, want) in cases {
            let e = Target::parse(text).unwrap_err();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }
}

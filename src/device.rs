//! Compute devices: `cpu` (default), `cuda:N` (feature `cuda`), `wgpu:N` (feature `wgpu`).
//! One `--device` flag / `SN9_DEVICE` everywhere.

use std::fmt;
use std::str::FromStr;

use anyhow::Result;

use crate::error::user;

/// A device as the user names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceSpec {
    Cpu,
    Cuda(usize),
    Wgpu(usize),
}

impl FromStr for DeviceSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        let (kind, index) = match s.split_once(':') {
            Some((k, i)) => {
                let i = i
                    .parse::<usize>()
                    .map_err(|_| format!("device index `{i}` is not a number"))?;
                (k.to_string(), i)
            }
            None => (s.clone(), 0),
        };
        match kind.as_str() {
            "cpu" => Ok(DeviceSpec::Cpu),
            "cuda" => Ok(DeviceSpec::Cuda(index)),
            "wgpu" => Ok(DeviceSpec::Wgpu(index)),
            _ => Err(format!("unknown device `{s}`; use cpu, cuda:N or wgpu:N")),
        }
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceSpec::Cpu => write!(f, "cpu"),
            DeviceSpec::Cuda(i) => write!(f, "cuda:{i}"),
            DeviceSpec::Wgpu(i) => write!(f, "wgpu:{i}"),
        }
    }
}

/// Backends compiled into this binary.
/// Memory the machine can still give: `MemAvailable + SwapFree` of `/proc/meminfo` (Linux);
/// `None` where that is unknown.
pub fn host_memory_available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(name))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib.saturating_mul(1024))
    };
    Some(field("MemAvailable:")?.saturating_add(field("SwapFree:").unwrap_or(0)))
}

/// Refuses work that needs `bytes` of host memory when the machine has less available: a clear
/// error before anything is allocated, instead of the process aborting on allocation failure.
pub fn check_host_memory(bytes: u64, what: &str) -> Result<()> {
    if let Some(avail) = host_memory_available()
        && bytes > avail
    {
        return Err(crate::error::user(format!(
            "{what} need {} of memory, this machine has {} available; use a machine (or GPU, \
             --device) with more memory, or a smaller model",
            crate::output::human_bytes(bytes),
            crate::output::human_bytes(avail)
        )));
    }
    Ok(())
}

pub fn compiled_backends() -> Vec<&'static str> {
    let mut v = vec!["cpu"];
    if cfg!(feature = "cuda") {
        v.push("cuda");
    }
    if cfg!(feature = "wgpu") {
        v.push("wgpu");
    }
    v
}

/// Checks that the device's backend is compiled in, with an error that says how to get it.
pub fn ensure_available(d: DeviceSpec) -> Result<()> {
    let (name, on) = match d {
        DeviceSpec::Cpu => return Ok(()),
        DeviceSpec::Cuda(_) => ("cuda", cfg!(feature = "cuda")),
        DeviceSpec::Wgpu(_) => ("wgpu", cfg!(feature = "wgpu")),
    };
    if on {
        Ok(())
    } else {
        Err(user(format!(
            "device {d}: this sn9 was built without the `{name}` feature; rebuild with \
             `cargo build --release --features {name}` (see the README), or use --device cpu"
        )))
    }
}

/// Work that runs on any burn backend; [`dispatch`] picks the backend from a [`DeviceSpec`].
pub trait BackendTask {
    type Output;
    fn run<B: burn::prelude::Backend>(self, device: B::Device) -> Result<Self::Output>;
}

/// Work that runs on several devices of one burn backend (data-parallel training).
pub trait MultiDeviceTask {
    type Output;
    fn run<B: burn::prelude::Backend>(self, devices: Vec<B::Device>) -> Result<Self::Output>;
}

struct One<T>(T);

impl<T: BackendTask> MultiDeviceTask for One<T> {
    type Output = T::Output;
    fn run<B: burn::prelude::Backend>(self, devices: Vec<B::Device>) -> Result<T::Output> {
        let d = devices.into_iter().next().expect("one device");
        self.0.run::<B>(d)
    }
}

/// Runs `task` on the backend of `d` (cpu: burn-flex; cuda: burn-cuda; wgpu: burn-wgpu).
pub fn dispatch<T: BackendTask>(d: DeviceSpec, task: T) -> Result<T::Output> {
    dispatch_many(&[d], One(task))
}

/// Parses a comma-separated device list (`cuda:0,cuda:1`); all of one kind.
pub fn parse_list(s: &str) -> Result<Vec<DeviceSpec>> {
    let v: Vec<DeviceSpec> = s
        .split(',')
        .map(|d| d.parse::<DeviceSpec>().map_err(user))
        .collect::<Result<_>>()?;
    let kind = |d: &DeviceSpec| std::mem::discriminant(d);
    if v.iter().any(|d| kind(d) != kind(&v[0])) {
        return Err(user(format!(
            "devices `{s}` mix backends; list devices of one kind (e.g. cuda:0,cuda:1)"
        )));
    }
    Ok(v)
}

/// Runs `task` on the devices `ds` (non-empty, one backend).
pub fn dispatch_many<T: MultiDeviceTask>(ds: &[DeviceSpec], task: T) -> Result<T::Output> {
    let first = *ds.first().ok_or_else(|| user("no device given"))?;
    ensure_available(first)?;
    match first {
        DeviceSpec::Cpu => task.run::<burn::backend::Flex>(
            ds.iter().map(|_| burn::backend::flex::FlexDevice).collect(),
        ),
        #[cfg(feature = "cuda")]
        DeviceSpec::Cuda(_) => task.run::<burn::backend::Cuda>(
            ds.iter()
                .map(|d| match d {
                    DeviceSpec::Cuda(i) => burn::backend::cuda::CudaDevice { index: *i },
                    _ => unreachable!("parse_list keeps one kind"),
                })
                .collect(),
        ),
        #[cfg(feature = "wgpu")]
        DeviceSpec::Wgpu(_) => task.run::<burn::backend::Wgpu>(
            ds.iter()
                .map(|d| match d {
                    DeviceSpec::Wgpu(i) => burn::backend::wgpu::WgpuDevice::DiscreteGpu(*i),
                    _ => unreachable!("parse_list keeps one kind"),
                })
                .collect(),
        ),
        #[allow(unreachable_patterns)]
        _ => unreachable!("ensure_available refused {first}"),
    }
}

struct ArangeSum;

impl BackendTask for ArangeSum {
    type Output = f64;
    fn run<B: burn::prelude::Backend>(self, device: B::Device) -> Result<f64> {
        use burn::prelude::*;
        let t = Tensor::<B, 1, Int>::arange(0..1024, &device).float();
        Ok(t.sum().into_scalar().elem::<f64>())
    }
}

/// Runs a small reduction on the device and returns its result (`Σ 0..1024 = 523776`), proving
/// the backend initialises and computes.
pub fn smoke_test(d: DeviceSpec) -> Result<f64> {
    dispatch(d, ArangeSum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert_eq!("cpu".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cpu);
        assert_eq!("CUDA:1".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cuda(1));
        assert_eq!("wgpu".parse::<DeviceSpec>().unwrap(), DeviceSpec::Wgpu(0));
        assert!("tpu:0".parse::<DeviceSpec>().is_err());
        assert!("cuda:x".parse::<DeviceSpec>().is_err());
    }

    #[test]
    fn cpu_smoke() {
        assert_eq!(smoke_test(DeviceSpec::Cpu).unwrap(), 523776.0);
    }
}

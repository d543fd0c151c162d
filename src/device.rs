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

/// The peak resident memory so far of this process or of the largest of its finished workers
/// (`sn9 eval` evaluates in a worker process), by `getrusage`'s `ru_maxrss`; `None` where the
/// platform does not say.
pub fn peak_host_memory() -> Option<u64> {
    let peak = |who| {
        let mut u = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: getrusage fills the struct it is given; RUSAGE_SELF/CHILDREN are valid.
        if unsafe { libc::getrusage(who, u.as_mut_ptr()) } != 0 {
            return None;
        }
        // SAFETY: initialised by the successful call above.
        let kib = unsafe { u.assume_init() }.ru_maxrss;
        // Linux reports KiB; macOS reports bytes.
        let scale = if cfg!(target_os = "macos") { 1 } else { 1024 };
        u64::try_from(kib).ok().map(|k| k * scale)
    };
    match (peak(libc::RUSAGE_SELF), peak(libc::RUSAGE_CHILDREN)) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
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

/// sn9's cache directory: `$SN9_CACHE_DIR`, else `$XDG_CACHE_HOME/sn9`, else `~/.cache/sn9`.
pub fn cache_dir() -> std::path::PathBuf {
    use std::path::PathBuf;
    if let Some(p) = std::env::var_os("SN9_CACHE_DIR") {
        return PathBuf::from(p);
    }
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"))
        .join("sn9")
}

/// Settles the GPU runtime's (CubeCL's) settings before its first use: its kernel autotune
/// results are kept in `cache_dir()/cubecl` instead of CubeCL's default, the `target/` folder of
/// whatever Cargo project encloses the working directory. A `cubecl.toml` and the `CUBECL_*`
/// variables (e.g. `CUBECL_AUTOTUNE_LEVEL=minimal`) still apply.
#[cfg(any(feature = "cuda", feature = "wgpu"))]
fn configure_gpu_runtime() {
    use cubecl::config::{CubeClRuntimeConfig, RuntimeConfig, cache::CacheConfig};
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let mut c = CubeClRuntimeConfig::from_current_dir().override_from_env();
        if matches!(c.autotune.cache, CacheConfig::Target) {
            c.autotune.cache = CacheConfig::File(cache_dir().join("cubecl"));
        }
        // `set` panics once the settings were read; nothing in sn9 reads them before this.
        let unset = CubeClRuntimeConfig::storage().lock().is_none();
        if unset {
            CubeClRuntimeConfig::set(c);
        }
    });
}

/// Makes glibc keep freed memory for reuse instead of handing it back to the kernel, once per
/// process, before CPU work.
///
/// burn's CPU backend allocates a fresh buffer for every op. glibc serves blocks above its mmap
/// threshold (at most 32 MiB) with `mmap` and unmaps them on free, so each large activation
/// (a `[512, V]` chunk of logits, attention scores) faults in and zeroes its pages again on every
/// op: 8–13% of `sn9 eval`'s samples were page faults. Served from the heap and never trimmed,
/// those blocks are reused: the evaluation forward runs 12–20% faster
/// (bench/results/eval.md). The process keeps its peak memory until it exits, which CPU
/// commands reach anyway; `sn9 validate` runs each evaluation in its own process.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: mallopt changes allocator parameters under the allocator's own lock;
            // no memory is touched.
            unsafe {
                libc::mallopt(libc::M_MMAP_MAX, 0);
                libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
            }
        });
    }
}

/// Runs `task` on the devices `ds` (non-empty, one backend).
pub fn dispatch_many<T: MultiDeviceTask>(ds: &[DeviceSpec], task: T) -> Result<T::Output> {
    let first = *ds.first().ok_or_else(|| user("no device given"))?;
    ensure_available(first)?;
    #[cfg(any(feature = "cuda", feature = "wgpu"))]
    if first != DeviceSpec::Cpu {
        configure_gpu_runtime();
    }
    if first == DeviceSpec::Cpu {
        keep_freed_memory();
    }
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
                    DeviceSpec::Wgpu(i) => wgpu_adapters::device(*i),
                    _ => unreachable!("parse_list keeps one kind"),
                })
                .collect::<Result<_>>()?,
        ),
        #[allow(unreachable_patterns)]
        _ => unreachable!("ensure_available refused {first}"),
    }
}

/// `wgpu:N` is the N-th adapter of the platform's graphics API (Vulkan; Metal on macOS), best
/// kind first (discrete, integrated, virtual GPU, then CPU implementations such as Mesa's
/// lavapipe), in the driver's order within a kind. burn selects adapters by kind and index
/// within the kind and panics when none matches; this maps the user's index onto that and says
/// what exists instead.
#[cfg(feature = "wgpu")]
pub mod wgpu_adapters {
    use anyhow::Result;
    use burn::backend::wgpu::WgpuDevice;

    /// One adapter: its place in burn's selection and what the driver says about it.
    #[derive(Debug, Clone)]
    pub struct Adapter {
        pub device: WgpuDevice,
        pub name: String,
        pub kind: &'static str,
        pub driver: String,
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        loop {
            if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
            std::thread::yield_now();
        }
    }

    /// Every adapter in `wgpu:N` order.
    pub fn list() -> Vec<Adapter> {
        let backend = if cfg!(target_os = "macos") {
            wgpu::Backends::METAL
        } else {
            wgpu::Backends::VULKAN
        };
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends: backend,
            ..wgpu::InstanceDescriptor::new_without_display_handle()
        });
        let infos: Vec<wgpu::AdapterInfo> = block_on(instance.enumerate_adapters(backend))
            .into_iter()
            .map(|a| a.get_info())
            .collect();
        use wgpu::DeviceType as T;
        let mut out = Vec::new();
        for (kind, name) in [
            (T::DiscreteGpu, "discrete GPU"),
            (T::IntegratedGpu, "integrated GPU"),
            (T::VirtualGpu, "virtual GPU"),
            (T::Cpu, "CPU"),
        ] {
            for (k, info) in infos.iter().filter(|i| i.device_type == kind).enumerate() {
                let device = match kind {
                    T::DiscreteGpu => WgpuDevice::DiscreteGpu(k),
                    T::IntegratedGpu => WgpuDevice::IntegratedGpu(k),
                    T::VirtualGpu => WgpuDevice::VirtualGpu(k),
                    _ if k == 0 => WgpuDevice::Cpu,
                    _ => continue, // burn reaches only the first CPU adapter
                };
                out.push(Adapter {
                    device,
                    name: info.name.clone(),
                    kind: name,
                    driver: format!("{} {}", info.driver, info.driver_info)
                        .trim()
                        .to_string(),
                });
            }
        }
        out
    }

    /// The adapter `wgpu:index`, or an error listing what exists.
    pub fn adapter(index: usize) -> Result<Adapter> {
        let all = list();
        all.get(index).cloned().ok_or_else(|| {
            let have = if all.is_empty() {
                "no wgpu adapter at all: install a Vulkan driver (on Debian/Ubuntu \
                 `apt-get install mesa-vulkan-drivers libvulkan1` gives the CPU one, lavapipe)"
                    .to_string()
            } else {
                let names: Vec<String> = all
                    .iter()
                    .enumerate()
                    .map(|(i, a)| format!("wgpu:{i} {} ({})", a.name, a.kind))
                    .collect();
                format!("the adapters are {}", names.join(", "))
            };
            crate::error::user(format!("device wgpu:{index} does not exist; {have}"))
        })
    }

    /// burn's device for `wgpu:index`.
    pub fn device(index: usize) -> Result<WgpuDevice> {
        Ok(adapter(index)?.device)
    }
}

/// What the device is, in words (`llvmpipe (LLVM 15.0.6, 256 bits), CPU, llvmpipe Mesa 22.3.6`);
/// `cpu` for the host.
pub fn describe(d: DeviceSpec) -> Result<String> {
    ensure_available(d)?;
    match d {
        DeviceSpec::Cpu => Ok(format!(
            "host CPU, {} threads",
            std::thread::available_parallelism().map_or(1, |n| n.get())
        )),
        #[cfg(feature = "wgpu")]
        DeviceSpec::Wgpu(i) => {
            let a = wgpu_adapters::adapter(i)?;
            Ok(format!("{}, {}, {}", a.name, a.kind, a.driver))
        }
        #[allow(unreachable_patterns)]
        _ => Ok(d.to_string()),
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

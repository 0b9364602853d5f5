//! The hardware abstraction layer: what the interpreter needs from a device.
//!
//! In the spirit of IREE's HAL, a handful of traits:
//! - [`Device`]: resolves the kernel of each call once, at load (the loaded
//!   kernels of a stream are the device's *executable*), and moves tensors
//!   between the host and its memory;
//! - [`Allocator`]: device memory, counted, refusing rather than aborting
//!   when a request cannot be met (the plan's buffer table comes from it);
//! - [`Queue`]: runs a device's work in stream order and says when it is done.
//!
//! The interpreter ([`crate::Executable`]) is device-neutral: it walks each
//! device's instruction stream and only talks to these traits. The CPU
//! backend ([`Cpu`]) runs kernels inline on the calling thread (which fans
//! out to rayon); every backend passes the conformance suite
//! (`runtime/tests/conformance.rs`).

use crate::kernels::{self, Ctx, Kernel, SymEnv};
use crate::tensor::{Storage, Tensor, Value};
use genie_plan::{AttrDict, DeviceKind, Op, Type};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A device a plan's stream runs on.
pub trait Device: Send + Sync {
    fn kind(&self) -> DeviceKind;
    /// How messages name it ("cpu", "cuda:0").
    fn name(&self) -> String;
    /// The kernel running `op` with `attrs`, or why this device cannot:
    /// asked once per call at load, so a plan the device cannot run is
    /// refused before anything runs.
    fn kernel(&self, op: Op, attrs: &AttrDict) -> Result<Kernel, String>;
    fn allocator(&self) -> &dyn Allocator;
    fn queue(&self) -> &dyn Queue;
    /// A host tensor (input, constant) as this device's kernels read it.
    fn import(&self, t: Tensor) -> Result<Tensor, String>;
    /// A tensor of this device's as the host reads it.
    fn export(&self, t: Tensor) -> Result<Tensor, String>;
    /// An upper bound on the memory the kernel of `op` allocates for one
    /// call beyond its results (copies, compute-type temporaries, im2col),
    /// from the types of its operands and results with the symbols of
    /// `env`: what [`crate::Executable::memory_needed`] adds on top of the
    /// live values. The default is the CPU kernels' bound.
    fn scratch(&self, op: Op, attrs: &AttrDict, operands: &[&Type], results: &[&Type], env: &SymEnv) -> u64 {
        crate::memory::cpu_scratch(op, attrs, operands, results, env)
    }
}

/// Device memory.
pub trait Allocator: Send + Sync {
    /// `bytes` of fresh, writable memory; an error (never an abort) when
    /// the device cannot provide them.
    fn allocate(&self, bytes: usize) -> Result<Storage, String>;
    /// Bytes this allocator handed out that are still alive.
    fn in_use(&self) -> u64;
}

/// Work on one device, in order.
pub trait Queue: Send + Sync {
    /// Runs (or enqueues) one kernel call after everything dispatched before.
    fn dispatch(&self, kernel: Kernel, ctx: &Ctx, args: &[Value]) -> Result<Vec<Value>, String>;
    /// Waits until everything dispatched has finished.
    fn finish(&self) -> Result<(), String>;
}

/// The host CPU: kernels from [`kernels::kernel_with`], tensors stay where
/// they are (no copies), memory from the process heap.
#[derive(Default)]
pub struct Cpu {
    allocator: HeapAllocator,
}

impl Cpu {
    /// The process's CPU device, shared by every executable.
    pub fn shared() -> Arc<Cpu> {
        static CPU: std::sync::OnceLock<Arc<Cpu>> = std::sync::OnceLock::new();
        CPU.get_or_init(|| Arc::new(Cpu::default())).clone()
    }
}

impl Device for Cpu {
    fn kind(&self) -> DeviceKind {
        DeviceKind::Cpu
    }

    fn name(&self) -> String {
        "cpu".into()
    }

    fn kernel(&self, op: Op, attrs: &AttrDict) -> Result<Kernel, String> {
        kernels::kernel_with(op, attrs)
    }

    fn allocator(&self) -> &dyn Allocator {
        &self.allocator
    }

    fn queue(&self) -> &dyn Queue {
        &InlineQueue
    }

    fn import(&self, t: Tensor) -> Result<Tensor, String> {
        Ok(t)
    }

    fn export(&self, t: Tensor) -> Result<Tensor, String> {
        Ok(t)
    }
}

/// Host memory, counted while alive.
#[derive(Default)]
pub struct HeapAllocator {
    in_use: Arc<AtomicU64>,
}

/// Gives the bytes back to the account when the storage is dropped.
struct Counted {
    bytes: u64,
    account: Arc<AtomicU64>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.account.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

impl Allocator for HeapAllocator {
    fn allocate(&self, bytes: usize) -> Result<Storage, String> {
        let storage = Storage::alloc(bytes)?;
        self.in_use.fetch_add(bytes as u64, Ordering::Relaxed);
        Ok(storage.with_guard(Box::new(Counted { bytes: bytes as u64, account: self.in_use.clone() })))
    }

    fn in_use(&self) -> u64 {
        self.in_use.load(Ordering::Relaxed)
    }
}

/// Runs each kernel on the calling thread, at once.
pub struct InlineQueue;

impl Queue for InlineQueue {
    fn dispatch(&self, kernel: Kernel, ctx: &Ctx, args: &[Value]) -> Result<Vec<Value>, String> {
        kernel(ctx, args)
    }

    fn finish(&self) -> Result<(), String> {
        Ok(())
    }
}

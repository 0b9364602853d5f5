//! The embedded runtime's Python face: `Executable`, and tensor exchange
//! with torch without copies.
//!
//! Inputs and constants are read in place: the runtime borrows the torch
//! tensor's memory (data pointer, shape, strides) and holds a reference to
//! the tensor until it is done with it. Outputs go back through DLPack: torch
//! wraps the runtime's buffer and frees it through the DLPack deleter.

use crate::ir_error;
use genie_ir::DType;
use genie_runtime::{Storage, Tensor, Value};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyFloat, PyInt};
use std::ffi::{c_void, CStr};
use std::sync::Arc;

/// A loaded plan on the embedded CPU runtime.
///
/// Inputs are torch CPU tensors (read in place, any strides) or Python
/// numbers/None; outputs are torch tensors that own runtime memory.
#[pyclass(module = "genie", name = "Executable")]
pub struct Executable {
    inner: genie_runtime::Executable,
}

pub(crate) fn torch_dtype(name: &str) -> Option<DType> {
    Some(match name {
        "torch.float32" => DType::F32,
        "torch.float64" => DType::F64,
        "torch.float16" => DType::F16,
        "torch.bfloat16" => DType::BF16,
        "torch.int64" => DType::I64,
        "torch.int32" => DType::I32,
        "torch.int16" => DType::I16,
        "torch.int8" => DType::I8,
        "torch.uint8" => DType::U8,
        "torch.bool" => DType::I1,
        _ => return None,
    })
}

/// The runtime type of a `torch.dtype` object: compared by identity with
/// torch's dtype singletons (no string formatting on the call path).
fn dtype_of(dtype: &Bound<'_, PyAny>) -> PyResult<DType> {
    static KNOWN: PyOnceLock<Vec<(Py<PyAny>, DType)>> = PyOnceLock::new();
    let py = dtype.py();
    let known = KNOWN.get_or_try_init(py, || -> PyResult<_> {
        let torch = py.import("torch")?;
        let names = ["float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool"];
        names.iter().map(|n| Ok((torch.getattr(*n)?.unbind(), torch_dtype(&format!("torch.{n}")).expect("listed above")))).collect()
    })?;
    if let Some((_, d)) = known.iter().find(|(o, _)| o.as_ptr() == dtype.as_ptr()) {
        return Ok(*d);
    }
    let name = dtype.str()?.to_string();
    torch_dtype(&name).ok_or_else(|| ir_error(format!("the CPU backend does not support {name} tensors")))
}

/// A torch CPU tensor as a runtime tensor over the same memory.
pub(crate) fn borrow_tensor(obj: &Bound<'_, PyAny>) -> PyResult<Tensor> {
    let dtype = dtype_of(&obj.getattr("dtype")?)?;
    if !obj.getattr("is_cpu")?.extract::<bool>()? {
        let device = obj.getattr("device")?.str()?.to_string();
        return Err(ir_error(format!("the embedded CPU runtime takes CPU tensors; got one on {device}")));
    }
    let shape: Vec<usize> = obj.getattr("shape")?.extract()?;
    let strides: Vec<usize> = obj.call_method0("stride")?.extract()?;
    let ptr = obj.call_method0("data_ptr")?.extract::<usize>()? as *const u8;
    let extent = if shape.contains(&0) { 0 } else { shape.iter().zip(&strides).map(|(&n, &s)| (n - 1) * s).sum::<usize>() + 1 };
    // A tensor over one of the runtime's append buffers (a KV cache this
    // runtime returned) is that buffer again, so the next append can be in
    // place.
    if let Some(own) = genie_runtime::append::own_storage(ptr) {
        let off = ptr as usize - own.as_ptr() as usize;
        if off.is_multiple_of(dtype.byte_size()) {
            return Tensor::from_storage(own, dtype, shape, strides, off / dtype.byte_size()).map_err(ir_error);
        }
    }
    let owner: Py<PyAny> = obj.clone().unbind();
    // SAFETY: torch keeps the tensor's memory alive while `owner` holds a
    // reference, and the extent covers exactly the elements the view reaches.
    // Nothing writes it during a run: the call blocks its caller.
    let storage = unsafe { Storage::external(ptr, extent * dtype.byte_size(), Box::new(owner)) };
    Tensor::from_storage(Arc::new(storage), dtype, shape, strides, 0).map_err(ir_error)
}

fn to_value(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    if obj.is_none() {
        return Ok(Value::None);
    }
    if let Ok(b) = obj.downcast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    // Type checks, not protocols: a 0-d tensor also converts to int/float.
    if obj.downcast::<PyInt>().is_ok() {
        return Ok(Value::Int(obj.extract()?));
    }
    if obj.downcast::<PyFloat>().is_ok() {
        return Ok(Value::Float(obj.extract()?));
    }
    if obj.hasattr("data_ptr")? {
        return borrow_tensor(obj).map(Value::Tensor);
    }
    Err(ir_error(format!("expected a torch tensor or a Python number, got {}", obj.get_type().name()?)))
}

// ----- DLPack (v0.8 ABI) -------------------------------------------------------------

#[repr(C)]
struct DLDevice {
    device_type: i32,
    device_id: i32,
}

#[repr(C)]
struct DLDataType {
    code: u8,
    bits: u8,
    lanes: u16,
}

#[repr(C)]
struct DLTensor {
    data: *mut c_void,
    device: DLDevice,
    ndim: i32,
    dtype: DLDataType,
    shape: *mut i64,
    strides: *mut i64,
    byte_offset: u64,
}

#[repr(C)]
struct DLManagedTensor {
    dl_tensor: DLTensor,
    manager_ctx: *mut c_void,
    deleter: Option<unsafe extern "C" fn(*mut DLManagedTensor)>,
}

/// Owns what a DLPack tensor points into.
struct Exported {
    _tensor: Tensor,
    shape: Vec<i64>,
    strides: Vec<i64>,
    managed: DLManagedTensor,
}

const DLTENSOR: &CStr = c"dltensor";
const KDL_CPU: i32 = 1;

fn dl_dtype(d: DType) -> DLDataType {
    let (code, bits) = match d {
        DType::I64 => (0, 64),
        DType::I32 => (0, 32),
        DType::I16 => (0, 16),
        DType::I8 => (0, 8),
        DType::U8 => (1, 8),
        DType::F64 => (2, 64),
        DType::F32 => (2, 32),
        DType::F16 => (2, 16),
        DType::BF16 => (4, 16),
        DType::I1 => (6, 8),
    };
    DLDataType { code, bits, lanes: 1 }
}

unsafe extern "C" fn delete_exported(m: *mut DLManagedTensor) {
    // SAFETY: `manager_ctx` is the `Exported` box this tensor was made from,
    // and DLPack calls the deleter exactly once. Dropping it touches no
    // Python object (runtime outputs own plain memory), so no GIL is needed.
    unsafe { drop(Box::from_raw((*m).manager_ctx.cast::<Exported>())) }
}

unsafe extern "C" fn capsule_destructor(capsule: *mut ffi::PyObject) {
    // A capsule torch consumed is renamed "used_dltensor" and torch owns the
    // tensor; one never consumed still names "dltensor" and is freed here.
    // SAFETY: called by Python with a live capsule.
    unsafe {
        if ffi::PyCapsule_IsValid(capsule, DLTENSOR.as_ptr()) == 1 {
            let m = ffi::PyCapsule_GetPointer(capsule, DLTENSOR.as_ptr()).cast::<DLManagedTensor>();
            if let Some(deleter) = (*m).deleter {
                deleter(m);
            }
        }
    }
}

/// A runtime tensor as a torch tensor over the same memory.
pub(crate) fn export_tensor(py: Python<'_>, t: Tensor) -> PyResult<Py<PyAny>> {
    static FROM_DLPACK: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    // torch.from_dlpack's C entry: the Python wrapper only dispatches on
    // the argument's type, and this is always a capsule.
    let from_dlpack = FROM_DLPACK.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
        let c = py.import("torch._C")?;
        Ok(match c.getattr("_from_dlpack") {
            Ok(f) => f,
            Err(_) => py.import("torch.utils.dlpack")?.getattr("from_dlpack")?,
        }
        .unbind())
    })?;
    let size = t.dtype().byte_size();
    let data = t.storage().as_ptr().wrapping_add(t.offset() * size) as *mut c_void;
    let mut ex = Box::new(Exported {
        shape: t.shape.iter().map(|&n| n as i64).collect(),
        strides: t.strides().iter().map(|&s| s as i64).collect(),
        managed: DLManagedTensor {
            dl_tensor: DLTensor {
                data,
                device: DLDevice { device_type: KDL_CPU, device_id: 0 },
                ndim: t.shape.len() as i32,
                dtype: dl_dtype(t.dtype()),
                shape: std::ptr::null_mut(),
                strides: std::ptr::null_mut(),
                byte_offset: 0,
            },
            manager_ctx: std::ptr::null_mut(),
            deleter: Some(delete_exported),
        },
        _tensor: t,
    });
    ex.managed.dl_tensor.shape = ex.shape.as_mut_ptr();
    ex.managed.dl_tensor.strides = ex.strides.as_mut_ptr();
    let raw = Box::into_raw(ex);
    // SAFETY: `raw` is a live box; the managed tensor inside it points at the
    // box's own shape/stride vectors and at storage the box keeps alive.
    let capsule = unsafe {
        (*raw).managed.manager_ctx = raw.cast();
        let m: *mut DLManagedTensor = &mut (*raw).managed;
        let cap = ffi::PyCapsule_New(m.cast(), DLTENSOR.as_ptr(), Some(capsule_destructor));
        if cap.is_null() {
            drop(Box::from_raw(raw));
            return Err(PyErr::fetch(py));
        }
        Bound::from_owned_ptr(py, cap)
    };
    Ok(from_dlpack.bind(py).call1((capsule,))?.unbind())
}

fn from_value(py: Python<'_>, v: Value) -> PyResult<Py<PyAny>> {
    Ok(match v {
        Value::None => py.None(),
        Value::Bool(b) => b.into_pyobject(py)?.to_owned().into_any().unbind(),
        Value::Int(i) => i.into_pyobject(py)?.into_any().unbind(),
        Value::Float(f) => f.into_pyobject(py)?.into_any().unbind(),
        Value::Tensor(t) => export_tensor(py, t)?,
    })
}

#[pymethods]
impl Executable {
    /// Decode, verify and load plan bytecode. Raises `IRError` for a bad plan
    /// or an op the CPU backend cannot run yet.
    #[new]
    fn new(plan: &[u8]) -> PyResult<Self> {
        let plan = genie_plan::decode(plan).map_err(ir_error)?;
        genie_runtime::Executable::load(plan).map(|inner| Executable { inner }).map_err(ir_error)
    }

    /// Handles of the plan's `dense_resource` constants.
    fn constants(&self) -> Vec<String> {
        let mut v: Vec<String> = self.inner.constant_handles().map(|(h, _)| h.to_string()).collect();
        v.sort();
        v
    }

    /// Bind constant `handle` to a torch tensor, read in place from now on.
    fn bind(&mut self, handle: &str, tensor: &Bound<'_, PyAny>) -> PyResult<()> {
        let t = borrow_tensor(tensor)?;
        self.inner.bind(handle, t).map_err(ir_error)
    }

    /// Turn per-op timing on or off (off drops what was recorded).
    fn set_profiling(&mut self, on: bool) {
        self.inner.set_profiling(on);
    }

    /// Per op: `(name, calls, seconds)`, slowest first (empty unless profiling).
    fn profile(&self) -> Vec<(String, u64, f64)> {
        self.inner.profile().into_iter().map(|(k, n, t)| (k, n, t.as_secs_f64())).collect()
    }

    /// Run with `inputs` (a list); returns the outputs as a list.
    fn run(&self, py: Python<'_>, inputs: Vec<Bound<'_, PyAny>>) -> PyResult<Vec<Py<PyAny>>> {
        let values = inputs.iter().enumerate().map(|(i, v)| to_value(v).map_err(|e| ir_error(format!("input #{i}: {}", e.value(py))))).collect::<PyResult<Vec<_>>>()?;
        let outs = py.detach(|| self.inner.run(values)).map_err(ir_error)?;
        outs.into_iter().map(|v| from_value(py, v)).collect()
    }
}

/// Run matrix products on the BLAS inside `library` (an already loaded
/// shared library such as PyTorch's `libtorch_cpu.so`) instead of OpenBLAS.
#[pyfunction]
pub fn use_host_blas(library: &str) -> PyResult<()> {
    genie_runtime::linalg::use_host_blas(library).map_err(ir_error)
}

/// The BLAS matrix products run on: "host" or "openblas".
#[pyfunction]
pub fn blas_provider() -> &'static str {
    genie_runtime::linalg::blas_provider()
}

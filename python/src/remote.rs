//! The remote runtime's client, for `python/genie/remote.py`.
//!
//! A thin layer over `genie_remote::client::Client`: torch tensors are sent
//! straight from their memory (contiguous ones without a copy) and received
//! straight into buffers torch then owns through DLPack. Network waits
//! release the GIL.

use crate::runtime::{borrow_tensor, export_tensor};
use genie_remote::client::{Client, RemoteError as WireError};
use genie_remote::protocol::{Arg, Hash, Out, Slot, TensorMeta};
use genie_runtime::Tensor;
use pyo3::create_exception;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyTuple};
use std::time::Duration;

create_exception!(
    genie,
    RemoteError,
    PyRuntimeError,
    "A remote runtime server refused a request or could not be reached.\n\n\
     `code` names the server's reason (e.g. 'out of memory', 'unknown handle'),\n\
     or is None when the connection itself failed."
);

fn remote_error(e: WireError) -> PyErr {
    let err = RemoteError::new_err(e.to_string());
    Python::attach(|py| {
        let _ = err.value(py).setattr("code", e.code.map(|c| c.name()));
    });
    err
}

fn to_hash(b: &[u8]) -> PyResult<Hash> {
    b.try_into().map_err(|_| RemoteError::new_err(format!("a content hash is 32 bytes, got {}", b.len())))
}

/// A connection (one session) to `genie-runtime serve`.
#[pyclass(module = "genie", name = "RemoteClient")]
pub struct RemoteClient {
    inner: Option<Client>,
}

impl RemoteClient {
    fn client(&mut self) -> PyResult<&mut Client> {
        self.inner.as_mut().ok_or_else(|| RemoteError::new_err("the connection is closed"))
    }
}

fn dtype_name(m: &TensorMeta) -> String {
    format!("{}", m.dtype)
}

#[pymethods]
impl RemoteClient {
    /// Connect to `url` (`tcp://host:port`, `host:port`, `tls://host:port`
    /// or `unix:///path`).
    /// `tls_ca`: PEM certificates to trust for `tls://` addresses.
    #[new]
    /// `resume`: seconds a broken connection is retried, taking the same
    /// session back, before a call fails (0: never).
    /// `deadline`: seconds the server may take over a run before it stops
    /// it (`None` or 0: no deadline).
    #[pyo3(signature = (url, token=None, timeout=30.0, progress=true, tls_ca=None, resume=30.0, deadline=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(py: Python<'_>, url: &str, token: Option<&str>, timeout: f64, progress: bool, tls_ca: Option<&str>, resume: f64, deadline: Option<f64>) -> PyResult<Self> {
        let token = token.unwrap_or("").as_bytes().to_vec();
        let mut c = py.detach(|| Client::connect_with(url, &token, Duration::from_secs_f64(timeout.max(0.001)), tls_ca)).map_err(remote_error)?;
        c.progress = progress;
        c.resume_window = Duration::from_secs_f64(resume.max(0.0));
        c.deadline = deadline.filter(|&d| d > 0.0).map(Duration::from_secs_f64);
        Ok(RemoteClient { inner: Some(c) })
    }

    #[getter]
    fn session(&mut self) -> PyResult<u64> {
        Ok(self.client()?.session)
    }

    fn ping(&mut self, py: Python<'_>) -> PyResult<()> {
        let c = self.client()?;
        py.detach(|| c.ping()).map_err(remote_error)
    }

    /// Which of these content hashes the server holds.
    fn has(&mut self, py: Python<'_>, hashes: Vec<Vec<u8>>) -> PyResult<Vec<bool>> {
        let hashes = hashes.iter().map(|h| to_hash(h)).collect::<PyResult<Vec<_>>>()?;
        let c = self.client()?;
        py.detach(|| c.has(hashes)).map_err(remote_error)
    }

    fn put_plan(&mut self, py: Python<'_>, hash: &[u8], plan: &[u8]) -> PyResult<()> {
        let hash = to_hash(hash)?;
        let c = self.client()?;
        py.detach(|| c.put_plan(hash, plan)).map_err(remote_error)
    }

    /// Upload a shared tensor (read in place) under its content hash.
    fn put_tensor(&mut self, py: Python<'_>, hash: &[u8], tensor: &Bound<'_, PyAny>) -> PyResult<()> {
        let hash = to_hash(hash)?;
        let t = borrow_tensor(tensor)?;
        let c = self.client()?;
        py.detach(|| c.put_tensor(hash, &t)).map_err(remote_error)
    }

    /// Load plan `plan_hash` with shared tensors bound: `binds` holds
    /// `(input index or constant name, tensor hash, possession)` as
    /// `tensor_identity` gives them (the server's copy of a tensor this
    /// session did not upload is bound on proof that it holds the bytes).
    /// Returns the plan's id.
    fn load(&mut self, py: Python<'_>, plan_hash: &[u8], binds: Vec<(Bound<'_, PyAny>, Vec<u8>, Vec<u8>)>) -> PyResult<u32> {
        let plan = to_hash(plan_hash)?;
        let mut b = Vec::with_capacity(binds.len());
        for (slot, h, possession) in binds {
            let slot = if let Ok(i) = slot.extract::<u32>() { Slot::Input(i) } else { Slot::Constant(slot.extract::<String>()?) };
            b.push((slot, to_hash(&h)?, to_hash(&possession)?));
        }
        let c = self.client()?;
        py.detach(|| c.load_proving(plan, b)).map_err(remote_error)
    }

    /// Run loaded plan `exec`. `args` are the unbound inputs: None, bools,
    /// ints, floats, torch tensors (sent), or `("handle", n)` for a tensor
    /// the session keeps. `ret[i]` says whether output i comes back; the
    /// others come back as `("remote", handle, dtype, shape)`.
    fn run(&mut self, py: Python<'_>, exec: u32, args: Vec<Bound<'_, PyAny>>, ret: Vec<bool>, release: Vec<u64>) -> PyResult<Vec<Py<PyAny>>> {
        let mut wire = Vec::with_capacity(args.len());
        let mut data: Vec<Tensor> = vec![];
        for (i, a) in args.iter().enumerate() {
            wire.push(if a.is_none() {
                Arg::None
            } else if let Ok(b) = a.downcast::<PyBool>() {
                Arg::Bool(b.is_true())
            } else if a.downcast::<PyInt>().is_ok() {
                Arg::Int(a.extract()?)
            } else if a.downcast::<PyFloat>().is_ok() {
                Arg::Float(a.extract()?)
            } else if let Ok(t) = a.downcast::<PyTuple>() {
                Arg::Handle(t.get_item(1)?.extract()?)
            } else {
                let t = borrow_tensor(a).map_err(|e| RemoteError::new_err(format!("argument #{i}: {}", e.value(py))))?;
                let t = if t.is_contiguous() { t } else { t.contiguous() };
                let meta = TensorMeta { dtype: t.dtype(), shape: t.shape.clone() };
                data.push(t);
                Arg::Tensor(meta)
            });
        }
        let c = self.client()?;
        let (outs, returned, _) = py.detach(|| c.run(exec, wire, &data, ret, release)).map_err(remote_error)?;
        drop(data);
        let mut returned = returned.into_iter();
        outs.into_iter()
            .map(|o| {
                Ok(match o {
                    Out::None => py.None(),
                    Out::Bool(b) => b.into_pyobject(py)?.to_owned().into_any().unbind(),
                    Out::Int(i) => i.into_pyobject(py)?.into_any().unbind(),
                    Out::Float(f) => f.into_pyobject(py)?.into_any().unbind(),
                    Out::Kept(h, m) => ("remote", h, dtype_name(&m), m.shape.clone()).into_pyobject(py)?.into_any().unbind(),
                    Out::Tensor(_) => export_tensor(py, returned.next().ok_or_else(|| RemoteError::new_err("reply is missing tensor data"))?)?,
                })
            })
            .collect()
    }

    fn fetch(&mut self, py: Python<'_>, handle: u64) -> PyResult<Py<PyAny>> {
        let c = self.client()?;
        let t = py.detach(|| c.fetch(handle)).map_err(remote_error)?;
        export_tensor(py, t)
    }

    fn release(&mut self, py: Python<'_>, handles: Vec<u64>) -> PyResult<()> {
        let c = self.client()?;
        py.detach(|| c.release(handles)).map_err(remote_error)
    }

    /// Cumulative counters for this connection.
    fn stats<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let c = self.client()?;
        let (s, resumes) = (c.stats, c.resumes);
        let d = PyDict::new(py);
        d.set_item("resumes", resumes)?;
        d.set_item("bytes_sent", s.bytes_sent)?;
        d.set_item("bytes_received", s.bytes_received)?;
        d.set_item("round_trips", s.round_trips)?;
        d.set_item("upload_bytes", s.upload_bytes)?;
        d.set_item("shm_bytes", s.shm_bytes)?;
        d.set_item("wire_seconds", s.wire_time.as_secs_f64())?;
        d.set_item("server_seconds", s.server_time.as_secs_f64())?;
        Ok(d)
    }

    /// `(wire seconds, server seconds)` of the last request.
    fn last_timing(&mut self) -> PyResult<(f64, f64)> {
        let s = self.client()?.stats;
        Ok((s.last_wire.as_secs_f64(), s.last_server.as_secs_f64()))
    }

    fn close(&mut self) {
        self.inner = None;
    }
}

/// The content hash the server names a shared tensor by.
#[pyfunction]
pub fn tensor_hash<'py>(py: Python<'py>, tensor: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let t = borrow_tensor(tensor)?;
    let h = py.detach(|| genie_remote::protocol::tensor_hash(&t));
    Ok(PyBytes::new(py, &h))
}

/// `(content hash, possession value)` of a tensor: the name it is shared
/// under, and the second hash that proves holding it (never sent).
#[pyfunction]
pub fn tensor_identity<'py>(py: Python<'py>, tensor: &Bound<'py, PyAny>) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyBytes>)> {
    let t = borrow_tensor(tensor)?;
    let (h, p) = py.detach(|| genie_remote::protocol::tensor_identity(&t));
    Ok((PyBytes::new(py, &h), PyBytes::new(py, &p)))
}

/// The content hash of plan bytecode.
#[pyfunction]
pub fn plan_hash<'py>(py: Python<'py>, plan: &[u8]) -> Bound<'py, PyBytes> {
    PyBytes::new(py, &genie_remote::protocol::hash_bytes(&[plan]))
}

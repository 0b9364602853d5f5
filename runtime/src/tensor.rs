//! Host tensors: contiguous, row-major, one `Vec` per element type.
//!
//! The CPU backend holds f32, f64, i64, i32 and bool; f16, bf16 and the
//! narrower integers are not supported yet and are reported at the boundary.

use genie_ir::DType;

#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I64(Vec<i64>),
    I32(Vec<i32>),
    Bool(Vec<bool>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Data,
}

/// A runtime value: what a plan value holds while the plan runs.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Tensor(Tensor),
    Int(i64),
    Float(f64),
    Bool(bool),
    None,
}

pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Row-major strides of a contiguous tensor.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

impl Tensor {
    pub fn dtype(&self) -> DType {
        match self.data {
            Data::F32(_) => DType::F32,
            Data::F64(_) => DType::F64,
            Data::I64(_) => DType::I64,
            Data::I32(_) => DType::I32,
            Data::Bool(_) => DType::I1,
        }
    }

    pub fn numel(&self) -> usize {
        numel(&self.shape)
    }

    pub fn zeros(shape: Vec<usize>, dtype: DType) -> Result<Tensor, String> {
        let n = numel(&shape);
        Tensor::from_f64(shape, dtype, vec![0.0; n])
    }

    /// Builds a tensor of `dtype` from f64 values (the generic compute path).
    pub fn from_f64(shape: Vec<usize>, dtype: DType, v: Vec<f64>) -> Result<Tensor, String> {
        let data = match dtype {
            DType::F32 => Data::F32(v.into_iter().map(|x| x as f32).collect()),
            DType::F64 => Data::F64(v),
            DType::I64 => Data::I64(v.into_iter().map(|x| x as i64).collect()),
            DType::I32 => Data::I32(v.into_iter().map(|x| x as i32).collect()),
            DType::I1 => Data::Bool(v.into_iter().map(|x| x != 0.0).collect()),
            d => return Err(unsupported_dtype(d)),
        };
        Ok(Tensor { shape, data })
    }

    /// Every element as f64 (exact for the supported types up to 2^53).
    pub fn to_f64(&self) -> Vec<f64> {
        match &self.data {
            Data::F32(v) => v.iter().map(|&x| x as f64).collect(),
            Data::F64(v) => v.clone(),
            Data::I64(v) => v.iter().map(|&x| x as f64).collect(),
            Data::I32(v) => v.iter().map(|&x| x as f64).collect(),
            Data::Bool(v) => v.iter().map(|&x| if x { 1.0 } else { 0.0 }).collect(),
        }
    }

    pub fn to_i64(&self) -> Vec<i64> {
        match &self.data {
            Data::I64(v) => v.clone(),
            Data::I32(v) => v.iter().map(|&x| i64::from(x)).collect(),
            Data::Bool(v) => v.iter().map(|&x| i64::from(x)).collect(),
            Data::F32(v) => v.iter().map(|&x| x as i64).collect(),
            Data::F64(v) => v.iter().map(|&x| x as i64).collect(),
        }
    }

    /// Same data, another shape (the element count must match).
    pub fn reshaped(mut self, shape: Vec<usize>) -> Result<Tensor, String> {
        if numel(&shape) != self.numel() {
            return Err(format!("cannot view {:?} ({} elements) as {:?}", self.shape, self.numel(), shape));
        }
        self.shape = shape;
        Ok(self)
    }

    /// Gathers elements by source index (the backbone of permute, expand,
    /// slice and friends), keeping the element type.
    pub fn gather(&self, shape: Vec<usize>, index: impl Iterator<Item = usize>) -> Tensor {
        let data = match &self.data {
            Data::F32(v) => Data::F32(index.map(|i| v[i]).collect()),
            Data::F64(v) => Data::F64(index.map(|i| v[i]).collect()),
            Data::I64(v) => Data::I64(index.map(|i| v[i]).collect()),
            Data::I32(v) => Data::I32(index.map(|i| v[i]).collect()),
            Data::Bool(v) => Data::Bool(index.map(|i| v[i]).collect()),
        };
        Tensor { shape, data }
    }

    /// Raw little-endian bytes (bools as one byte each).
    pub fn to_bytes(&self) -> Vec<u8> {
        match &self.data {
            Data::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Data::F64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Data::I64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Data::I32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Data::Bool(v) => v.iter().map(|&x| u8::from(x)).collect(),
        }
    }

    pub fn from_bytes(dtype: DType, shape: Vec<usize>, bytes: &[u8]) -> Result<Tensor, String> {
        let n = numel(&shape);
        let want = n * dtype.byte_size();
        if bytes.len() != want {
            return Err(format!("a {dtype} tensor of shape {shape:?} needs {want} bytes, got {}", bytes.len()));
        }
        let data = match dtype {
            DType::F32 => Data::F32(bytes.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4"))).collect()),
            DType::F64 => Data::F64(bytes.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("8"))).collect()),
            DType::I64 => Data::I64(bytes.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().expect("8"))).collect()),
            DType::I32 => Data::I32(bytes.chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().expect("4"))).collect()),
            DType::I1 => Data::Bool(bytes.iter().map(|&b| b != 0).collect()),
            d => return Err(unsupported_dtype(d)),
        };
        Ok(Tensor { shape, data })
    }
}

pub fn unsupported_dtype(d: DType) -> String {
    format!("the CPU backend does not support {d} tensors yet (f32, f64, i64, i32 and bool are supported)")
}

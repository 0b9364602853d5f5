//! What the server holds between requests, shared by all sessions: plans
//! and shared tensors (weights, constants) by content hash, loaded
//! executables, and the memory account every session draws on.
//!
//! Only verified bytes enter it: a tensor's content hash is checked as it
//! is uploaded, so what one session uploads can never change what another
//! computes, and a wrong upload under a hash never blocks the right one.
//!
//! Shared tensors nobody uses (no loaded plan binds them) are evicted least
//! recently used first when a reservation would pass the memory limit.
//! Session tensors (KV caches, kept outputs) are never evicted: a request
//! that needs more memory than is left gets an out-of-memory error instead.

use crate::protocol::{hash_bytes, hex, ErrorCode, Hash};
use genie_plan::Plan;
use genie_runtime::{Executable, Tensor};
use std::collections::HashMap;
use std::sync::{Arc, Weak};

pub type Refusal = (ErrorCode, String);

struct Shared {
    tensor: Tensor,
    bytes: u64,
    last_use: u64,
}

pub struct Store {
    pub limit: u64,
    used: u64,
    tick: u64,
    plans: HashMap<Hash, Arc<Plan>>,
    tensors: HashMap<Hash, Shared>,
    /// Loaded plans by (plan, constant bindings): clients of one model share one.
    execs: HashMap<Hash, Weak<Executable>>,
    pub evictions: u64,
}

pub fn tensor_bytes(t: &Tensor) -> u64 {
    (t.numel() * t.dtype().byte_size()) as u64
}

impl Store {
    pub fn new(limit: u64) -> Store {
        Store { limit, used: 0, tick: 0, plans: HashMap::new(), tensors: HashMap::new(), execs: HashMap::new(), evictions: 0 }
    }

    pub fn used(&self) -> u64 {
        self.used
    }

    pub fn counts(&self) -> (usize, usize) {
        (self.plans.len(), self.tensors.len())
    }

    /// Takes `bytes` from the account, evicting unused shared tensors if
    /// needed; refuses (naming `what`) when even that is not enough.
    pub fn reserve(&mut self, bytes: u64, what: &str) -> Result<(), Refusal> {
        if self.used.saturating_add(bytes) > self.limit {
            self.evict(self.used.saturating_add(bytes) - self.limit);
        }
        if self.used.saturating_add(bytes) > self.limit {
            return Err((
                ErrorCode::OutOfMemory,
                format!("{what} needs {bytes} bytes; {} of the {} byte limit are in use by tensors that cannot be evicted", self.used, self.limit),
            ));
        }
        self.used += bytes;
        Ok(())
    }

    pub fn release(&mut self, bytes: u64) {
        self.used = self.used.saturating_sub(bytes);
    }

    fn evict(&mut self, mut need: u64) {
        let mut idle: Vec<(u64, Hash)> = self
            .tensors
            .iter()
            // Only the store holds the storage: no loaded plan binds it.
            .filter(|(_, s)| Arc::strong_count(s.tensor.storage()) == 1)
            .map(|(h, s)| (s.last_use, *h))
            .collect();
        idle.sort_unstable();
        for (_, h) in idle {
            if need == 0 {
                break;
            }
            if let Some(s) = self.tensors.remove(&h) {
                tracing::info!(hash = %hex(&h), bytes = s.bytes, "evicting unused shared tensor");
                self.used = self.used.saturating_sub(s.bytes);
                need = need.saturating_sub(s.bytes);
                self.evictions += 1;
            }
        }
    }

    pub fn has(&self, h: &Hash) -> bool {
        self.plans.contains_key(h) || self.tensors.contains_key(h)
    }

    /// Stores plan bytecode after checking its hash and verifying it.
    pub fn put_plan(&mut self, hash: Hash, bytes: &[u8]) -> Result<(), Refusal> {
        if hash_bytes(&[bytes]) != hash {
            return Err((ErrorCode::Malformed, format!("plan bytes do not hash to {}", hex(&hash))));
        }
        if self.plans.contains_key(&hash) {
            return Ok(());
        }
        let plan = genie_plan::decode(bytes).map_err(|e| (ErrorCode::BadPlan, format!("plan {}: {e}", &hex(&hash)[..16])))?;
        self.reserve(bytes.len() as u64, "the plan")?;
        self.plans.insert(hash, Arc::new(plan));
        Ok(())
    }

    /// Stores a shared tensor whose bytes were already reserved and whose
    /// content hash the caller checked (see `hash_matches`).
    pub fn put_tensor(&mut self, hash: Hash, t: Tensor) {
        let bytes = tensor_bytes(&t);
        if self.tensors.contains_key(&hash) {
            self.release(bytes);
            return;
        }
        self.tick += 1;
        self.tensors.insert(hash, Shared { tensor: t, bytes, last_use: self.tick });
    }

    pub fn plan(&self, h: &Hash) -> Result<Arc<Plan>, Refusal> {
        self.plans.get(h).cloned().ok_or_else(|| (ErrorCode::Missing, format!("plan {} was not uploaded (or the server restarted)", hex(h))))
    }

    /// A shared tensor (verified when it was stored).
    pub fn tensor(&mut self, h: &Hash) -> Result<Tensor, Refusal> {
        self.tick += 1;
        let tick = self.tick;
        let s = self.tensors.get_mut(h).ok_or_else(|| (ErrorCode::Missing, format!("shared tensor {} was not uploaded (or was evicted)", hex(h))))?;
        s.last_use = tick;
        Ok(s.tensor.clone())
    }

    pub fn exec(&mut self, key: &Hash) -> Option<Arc<Executable>> {
        self.execs.retain(|_, w| w.strong_count() > 0);
        self.execs.get(key).and_then(Weak::upgrade)
    }

    pub fn insert_exec(&mut self, key: Hash, e: &Arc<Executable>) {
        self.execs.insert(key, Arc::downgrade(e));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::tensor_hash;

    #[test]
    fn lru_evicts_unbound_tensors_only() {
        let mut s = Store::new(100);
        let a = Tensor::from_vec(vec![10], vec![1f32; 10]).unwrap(); // 40 bytes
        let b = Tensor::from_vec(vec![10], vec![2f32; 10]).unwrap();
        let (ha, hb) = (tensor_hash(&a), tensor_hash(&b));
        s.reserve(40, "a").unwrap();
        s.put_tensor(ha, a);
        s.reserve(40, "b").unwrap();
        s.put_tensor(hb, b);
        // `a` is bound somewhere (held outside the store): only `b` can go.
        let held = s.tensor(&ha).unwrap();
        s.reserve(50, "c").unwrap();
        assert!(s.has(&ha) && !s.has(&hb));
        assert_eq!(s.evictions, 1);
        // Nothing left to evict: a clear refusal.
        let (code, msg) = s.reserve(50, "d").unwrap_err();
        assert_eq!(code, ErrorCode::OutOfMemory);
        assert!(msg.contains("d needs 50 bytes"), "{msg}");
        drop(held);
    }

    #[test]
    fn plans_are_checked_against_their_hash_and_verified() {
        let mut s = Store::new(1000);
        assert!(s.put_plan([0; 32], b"not a plan").unwrap_err().1.contains("do not hash"));
        let h = hash_bytes(&[b"not a plan"]);
        assert_eq!(s.put_plan(h, b"not a plan").unwrap_err().0, ErrorCode::BadPlan);
        assert_eq!(s.used(), 0);
    }
}

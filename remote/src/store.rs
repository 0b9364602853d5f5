//! What the server holds between requests, shared by all sessions: plans
//! and shared tensors (weights, constants) by content hash, loaded
//! executables, and the memory account every session draws on.
//!
//! Only verified bytes enter it: a tensor's content hash is checked as it
//! is uploaded, so what one session uploads can never change what another
//! computes, and a wrong upload under a hash never blocks the right one.
//!
//! Shared tensors nobody uses (no loaded plan binds them) and plans nobody
//! has loaded (no session holds an executable made from them) are evicted
//! least recently used first when a reservation would pass the memory limit.
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
    /// Its possession value (`protocol::tensor_identity`): what a session
    /// that did not upload it must prove it knows.
    possession: Hash,
    bytes: u64,
    last_use: u64,
}

struct StoredPlan {
    plan: Arc<Plan>,
    bytes: u64,
    last_use: u64,
    /// The executables loaded from it; it is evictable once all are gone.
    loaded: Vec<Weak<Executable>>,
}

pub struct Store {
    pub limit: u64,
    used: u64,
    tick: u64,
    plans: HashMap<Hash, StoredPlan>,
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
                format!("{what} needs {bytes} bytes; {} of the {} byte limit are held by what cannot be evicted (session tensors, loaded plans and their weights)", self.used, self.limit),
            ));
        }
        self.used += bytes;
        Ok(())
    }

    pub fn release(&mut self, bytes: u64) {
        self.used = self.used.saturating_sub(bytes);
    }

    fn evict(&mut self, mut need: u64) {
        // Only the store holds the storage: no loaded plan binds it.
        let tensors = self.tensors.iter().filter(|(_, s)| Arc::strong_count(s.tensor.storage()) == 1).map(|(h, s)| (s.last_use, false, *h));
        let plans = self.plans.iter().filter(|(_, p)| p.loaded.iter().all(|w| w.strong_count() == 0)).map(|(h, p)| (p.last_use, true, *h));
        let mut idle: Vec<(u64, bool, Hash)> = tensors.chain(plans).collect();
        idle.sort_unstable();
        for (_, is_plan, h) in idle {
            if need == 0 {
                break;
            }
            let bytes = if is_plan { self.plans.remove(&h).map(|p| p.bytes) } else { self.tensors.remove(&h).map(|s| s.bytes) };
            if let Some(bytes) = bytes {
                tracing::info!(hash = %hex(&h), bytes, what = if is_plan { "plan" } else { "shared tensor" }, "evicting an unused upload");
                self.used = self.used.saturating_sub(bytes);
                need = need.saturating_sub(bytes);
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
        self.tick += 1;
        self.plans.insert(hash, StoredPlan { plan: Arc::new(plan), bytes: bytes.len() as u64, last_use: self.tick, loaded: vec![] });
        Ok(())
    }

    /// Stores a shared tensor whose bytes were already reserved and whose
    /// content hash the caller checked (see `hash_matches`).
    pub fn put_tensor(&mut self, hash: Hash, possession: Hash, t: Tensor) {
        let bytes = tensor_bytes(&t);
        if self.tensors.contains_key(&hash) {
            self.release(bytes);
            return;
        }
        self.tick += 1;
        self.tensors.insert(hash, Shared { tensor: t, possession, bytes, last_use: self.tick });
    }

    pub fn plan(&mut self, h: &Hash) -> Result<Arc<Plan>, Refusal> {
        self.tick += 1;
        let tick = self.tick;
        let p = self.plans.get_mut(h).ok_or_else(|| (ErrorCode::Missing, format!("plan {} was not uploaded (or was evicted, or the server restarted)", hex(h))))?;
        p.last_use = tick;
        Ok(p.plan.clone())
    }

    /// A shared tensor (verified when it was stored) and its possession value.
    pub fn tensor(&mut self, h: &Hash) -> Result<(Tensor, Hash), Refusal> {
        self.tick += 1;
        let tick = self.tick;
        let s = self.tensors.get_mut(h).ok_or_else(|| (ErrorCode::Missing, format!("shared tensor {} was not uploaded (or was evicted)", hex(h))))?;
        s.last_use = tick;
        Ok((s.tensor.clone(), s.possession))
    }

    pub fn exec(&mut self, key: &Hash) -> Option<Arc<Executable>> {
        self.execs.retain(|_, w| w.strong_count() > 0);
        self.execs.get(key).and_then(Weak::upgrade)
    }

    /// Caches executable `e` (made from plan `plan`) under `key`.
    pub fn insert_exec(&mut self, key: Hash, plan: &Hash, e: &Arc<Executable>) {
        if let Some(p) = self.plans.get_mut(plan) {
            p.loaded.retain(|w| w.strong_count() > 0);
            p.loaded.push(Arc::downgrade(e));
        }
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
        s.put_tensor(ha, [1; 32], a);
        s.reserve(40, "b").unwrap();
        s.put_tensor(hb, [2; 32], b);
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

    fn tiny_plan(name: &str) -> Vec<u8> {
        use genie_plan::{AttrDict, Builder, DType, DeviceKind, Dim, Op, Role, Type};
        let mut b = Builder::new(name);
        let d = b.device("dev0", DeviceKind::Cpu);
        let ty = Type::tensor(vec![Dim::Static(4)], DType::F32);
        let x = b.input(d, &ty, Role::Input);
        let y = b.call(d, Op::Neg, &[x], &AttrDict::new(), &[ty])[0];
        b.output(y, false);
        genie_plan::encode(&b.finish().unwrap())
    }

    #[test]
    fn plans_nobody_loaded_are_evicted_loaded_ones_stay() {
        let (a, b) = (tiny_plan("a"), tiny_plan("b"));
        let (ha, hb) = (hash_bytes(&[&a]), hash_bytes(&[&b]));
        let mut s = Store::new((a.len() + b.len()) as u64);
        s.put_plan(ha, &a).unwrap();
        s.put_plan(hb, &b).unwrap();
        // `a` is loaded by a session; `b` was uploaded and left.
        let exe = Arc::new(Executable::load((*s.plan(&ha).unwrap()).clone()).unwrap());
        s.insert_exec([9; 32], &ha, &exe);
        s.reserve(b.len() as u64, "a tensor").unwrap();
        assert!(s.has(&ha) && !s.has(&hb));
        assert_eq!(s.evictions, 1);
        // While loaded, `a` cannot go; once its last executable is gone, it can.
        assert_eq!(s.reserve(a.len() as u64, "more").unwrap_err().0, ErrorCode::OutOfMemory);
        drop(exe);
        s.reserve(a.len() as u64, "more").unwrap();
        assert!(!s.has(&ha), "a plan whose executables are gone is evictable");
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

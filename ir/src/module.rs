//! IR storage: a module owns arenas of ops, values, blocks and regions, linked
//! by typed indices (no `Rc<RefCell>` webs). Ops in a block form a doubly
//! linked list so insertion and erasure are O(1); values keep their use lists
//! so use-def queries and replace-all-uses are direct.

use crate::attrs::{AttrDict, Attribute};
use crate::diagnostics::{Diagnostic, Severity, SrcPos};
use crate::dialects::OpDef;
use crate::location::Location;
use crate::types::Type;

macro_rules! entity {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u32);
        impl $name {
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}

entity!(/// An operation.
    OpId);
entity!(/// An SSA value: an op result or a block argument.
    ValueId);
entity!(/// A block: arguments and an ordered list of ops.
    BlockId);
entity!(/// A region: the blocks nested under an op.
    RegionId);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueDef {
    Result { op: OpId, index: u32 },
    BlockArg { block: BlockId, index: u32 },
}

/// One use of a value: operand `operand` of `op`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Use {
    pub op: OpId,
    pub operand: u32,
}

/// Operand and result lists stored inline for the common small counts.
pub type ValueList<const N: usize> = smallvec::SmallVec<[ValueId; N]>;

#[derive(Clone, Debug)]
pub struct OpData {
    pub def: &'static OpDef,
    pub operands: ValueList<4>,
    pub results: ValueList<2>,
    pub attrs: AttrDict,
    pub regions: Vec<RegionId>,
    /// Where in the PyTorch program this op came from.
    pub loc: Location,
    /// Where in the IR text it was parsed from, for diagnostics.
    pub src: Option<SrcPos>,
    parent: Option<BlockId>,
    prev: Option<OpId>,
    next: Option<OpId>,
    erased: bool,
}

impl OpData {
    pub fn name(&self) -> &'static str {
        self.def.name
    }

    pub fn attr(&self, name: &str) -> Option<&Attribute> {
        self.attrs.get(name)
    }

    pub fn parent_block(&self) -> Option<BlockId> {
        self.parent
    }
}

#[derive(Clone, Debug)]
struct ValueData {
    ty: Type,
    def: ValueDef,
    uses: Vec<Use>,
}

#[derive(Clone, Debug, Default)]
struct BlockData {
    args: Vec<ValueId>,
    first: Option<OpId>,
    last: Option<OpId>,
    region: Option<RegionId>,
}

#[derive(Clone, Debug, Default)]
struct RegionData {
    blocks: Vec<BlockId>,
    parent: Option<OpId>,
}

/// A module: attributes plus a top-level block of ops (functions, device and
/// resident-state declarations).
#[derive(Clone, Debug)]
pub struct Module {
    pub name: Option<String>,
    pub attrs: AttrDict,
    /// Name of the file the module was parsed from (for diagnostics).
    pub file: String,
    pub src: Option<SrcPos>,
    ops: Vec<OpData>,
    values: Vec<ValueData>,
    blocks: Vec<BlockData>,
    regions: Vec<RegionData>,
    body: BlockId,
}

impl Module {
    pub fn new(name: Option<&str>) -> Module {
        Module {
            name: name.map(str::to_string),
            attrs: AttrDict::new(),
            file: "<builder>".to_string(),
            src: None,
            ops: Vec::new(),
            values: Vec::new(),
            blocks: vec![BlockData::default()],
            regions: Vec::new(),
            body: BlockId(0),
        }
    }

    /// The top-level block.
    pub fn body(&self) -> BlockId {
        self.body
    }

    // ----- queries -------------------------------------------------------

    pub fn op(&self, op: OpId) -> &OpData {
        &self.ops[op.index()]
    }

    pub fn op_mut(&mut self, op: OpId) -> &mut OpData {
        &mut self.ops[op.index()]
    }

    pub fn is_erased(&self, op: OpId) -> bool {
        self.ops[op.index()].erased
    }

    pub fn value_type(&self, v: ValueId) -> &Type {
        &self.values[v.index()].ty
    }

    pub fn set_value_type(&mut self, v: ValueId, ty: Type) {
        self.values[v.index()].ty = ty;
    }

    pub fn value_def(&self, v: ValueId) -> ValueDef {
        self.values[v.index()].def
    }

    /// The op defining `v`, or `None` for a block argument.
    pub fn defining_op(&self, v: ValueId) -> Option<OpId> {
        match self.value_def(v) {
            ValueDef::Result { op, .. } => Some(op),
            ValueDef::BlockArg { .. } => None,
        }
    }

    pub fn uses(&self, v: ValueId) -> &[Use] {
        &self.values[v.index()].uses
    }

    pub fn has_uses(&self, v: ValueId) -> bool {
        !self.values[v.index()].uses.is_empty()
    }

    pub fn block_args(&self, b: BlockId) -> &[ValueId] {
        &self.blocks[b.index()].args
    }

    pub fn region_blocks(&self, r: RegionId) -> &[BlockId] {
        &self.regions[r.index()].blocks
    }

    pub fn region_parent(&self, r: RegionId) -> Option<OpId> {
        self.regions[r.index()].parent
    }

    pub fn block_region(&self, b: BlockId) -> Option<RegionId> {
        self.blocks[b.index()].region
    }

    /// The op whose region holds `b` (`None` for the module body).
    pub fn block_parent_op(&self, b: BlockId) -> Option<OpId> {
        self.block_region(b).and_then(|r| self.region_parent(r))
    }

    pub fn first_op(&self, b: BlockId) -> Option<OpId> {
        self.blocks[b.index()].first
    }

    pub fn last_op(&self, b: BlockId) -> Option<OpId> {
        self.blocks[b.index()].last
    }

    pub fn next_op(&self, op: OpId) -> Option<OpId> {
        self.ops[op.index()].next
    }

    /// Ops of a block in order. Collects first, so the caller may edit the
    /// block while iterating.
    pub fn block_ops(&self, b: BlockId) -> Vec<OpId> {
        let mut out = Vec::new();
        let mut cur = self.blocks[b.index()].first;
        while let Some(op) = cur {
            out.push(op);
            cur = self.ops[op.index()].next;
        }
        out
    }

    /// Every live op, pre-order (an op before the ops of its regions).
    pub fn walk(&self) -> Vec<OpId> {
        let mut out = Vec::new();
        self.walk_block(self.body, &mut out);
        out
    }

    /// Live ops of `b` and everything nested in them, pre-order.
    pub fn walk_block(&self, b: BlockId, out: &mut Vec<OpId>) {
        let mut cur = self.blocks[b.index()].first;
        while let Some(op) = cur {
            out.push(op);
            for &r in &self.ops[op.index()].regions {
                for &nb in &self.regions[r.index()].blocks {
                    self.walk_block(nb, out);
                }
            }
            cur = self.ops[op.index()].next;
        }
    }

    /// Number of values ever created (ids are below this).
    pub fn num_values(&self) -> usize {
        self.values.len()
    }

    pub fn num_ops(&self) -> usize {
        self.ops.iter().filter(|o| !o.erased).count()
    }

    /// `func.func` ops at the top level.
    pub fn functions(&self) -> Vec<OpId> {
        self.block_ops(self.body).into_iter().filter(|&op| self.op(op).name() == "func.func").collect()
    }

    /// The function named `name`.
    pub fn function(&self, name: &str) -> Option<OpId> {
        self.functions().into_iter().find(|&f| self.symbol_name(f) == Some(name))
    }

    /// `sym_name` of a symbol-defining op.
    pub fn symbol_name(&self, op: OpId) -> Option<&str> {
        self.op(op).attr("sym_name").and_then(Attribute::as_str)
    }

    /// Entry block of the first region of `op` (a function body).
    pub fn entry_block(&self, op: OpId) -> Option<BlockId> {
        let r = *self.op(op).regions.first()?;
        self.region_blocks(r).first().copied()
    }

    /// Symbol ranges from the module attribute `genie.symbols = {s0 = [lo, hi]}`.
    pub fn symbol_range(&self, sym: u32) -> Option<(i64, i64)> {
        let Some(Attribute::Dict(d)) = self.attrs.get(crate::SYMBOLS_ATTR) else { return None };
        let r = d.get(&format!("s{sym}"))?.as_int_array()?;
        match r.as_slice() {
            [lo, hi] => Some((*lo, *hi)),
            _ => None,
        }
    }

    /// A diagnostic about `op`: `'sem.mm' op <msg> [at module 'h.0' (x.py:3)]`,
    /// positioned at the op's place in the IR text when it came from text.
    pub fn op_diagnostic(&self, op: OpId, severity: Severity, msg: &str) -> Diagnostic {
        let data = self.op(op);
        let mut message = format!("'{}' op {msg}", data.name());
        if !data.loc.is_unknown() {
            message.push_str(&format!(" [at {}]", data.loc));
        }
        Diagnostic { severity, file: self.file.clone(), pos: data.src, message }
    }

    // ----- construction --------------------------------------------------

    fn new_value(&mut self, ty: Type, def: ValueDef) -> ValueId {
        let id = ValueId(self.values.len() as u32);
        self.values.push(ValueData { ty, def, uses: Vec::new() });
        id
    }

    /// Creates a detached op; place it with [`Module::append_op`] or
    /// [`Module::insert_op_before`].
    pub fn create_op(
        &mut self,
        def: &'static OpDef,
        operands: impl Into<ValueList<4>>,
        result_types: Vec<Type>,
        attrs: AttrDict,
        loc: Location,
    ) -> OpId {
        let operands: ValueList<4> = operands.into();
        let id = OpId(self.ops.len() as u32);
        for (i, &v) in operands.iter().enumerate() {
            self.values[v.index()].uses.push(Use { op: id, operand: i as u32 });
        }
        let results = result_types
            .into_iter()
            .enumerate()
            .map(|(i, ty)| self.new_value(ty, ValueDef::Result { op: id, index: i as u32 }))
            .collect();
        self.ops.push(OpData {
            def,
            operands,
            results,
            attrs,
            regions: Vec::new(),
            loc,
            src: None,
            parent: None,
            prev: None,
            next: None,
            erased: false,
        });
        id
    }

    /// Gives an op created without results its result values.
    pub fn set_results(&mut self, op: OpId, types: Vec<Type>) -> ValueList<2> {
        debug_assert!(self.ops[op.index()].results.is_empty(), "op already has results");
        let results: ValueList<2> = types
            .into_iter()
            .enumerate()
            .map(|(i, ty)| self.new_value(ty, ValueDef::Result { op, index: i as u32 }))
            .collect();
        self.ops[op.index()].results = results.clone();
        results
    }

    /// Adds an empty region with one empty block to `op`; returns the block.
    pub fn add_region(&mut self, op: OpId) -> BlockId {
        let r = RegionId(self.regions.len() as u32);
        let b = BlockId(self.blocks.len() as u32);
        self.regions.push(RegionData { blocks: vec![b], parent: Some(op) });
        self.blocks.push(BlockData { region: Some(r), ..BlockData::default() });
        self.ops[op.index()].regions.push(r);
        b
    }

    pub fn add_block_arg(&mut self, b: BlockId, ty: Type) -> ValueId {
        let index = self.blocks[b.index()].args.len() as u32;
        let v = self.new_value(ty, ValueDef::BlockArg { block: b, index });
        self.blocks[b.index()].args.push(v);
        v
    }

    pub fn append_op(&mut self, b: BlockId, op: OpId) {
        debug_assert!(self.ops[op.index()].parent.is_none(), "op is already in a block");
        let last = self.blocks[b.index()].last;
        {
            let o = &mut self.ops[op.index()];
            o.parent = Some(b);
            o.prev = last;
            o.next = None;
        }
        match last {
            Some(l) => self.ops[l.index()].next = Some(op),
            None => self.blocks[b.index()].first = Some(op),
        }
        self.blocks[b.index()].last = Some(op);
    }

    pub fn insert_op_before(&mut self, anchor: OpId, op: OpId) {
        let b = self.ops[anchor.index()].parent.expect("anchor op is not in a block");
        let prev = self.ops[anchor.index()].prev;
        {
            let o = &mut self.ops[op.index()];
            o.parent = Some(b);
            o.prev = prev;
            o.next = Some(anchor);
        }
        self.ops[anchor.index()].prev = Some(op);
        match prev {
            Some(p) => self.ops[p.index()].next = Some(op),
            None => self.blocks[b.index()].first = Some(op),
        }
    }

    fn unlink(&mut self, op: OpId) {
        let (parent, prev, next) = {
            let o = &self.ops[op.index()];
            (o.parent, o.prev, o.next)
        };
        let Some(b) = parent else { return };
        match prev {
            Some(p) => self.ops[p.index()].next = next,
            None => self.blocks[b.index()].first = next,
        }
        match next {
            Some(n) => self.ops[n.index()].prev = prev,
            None => self.blocks[b.index()].last = prev,
        }
        let o = &mut self.ops[op.index()];
        o.parent = None;
        o.prev = None;
        o.next = None;
    }

    // ----- editing -------------------------------------------------------

    /// Points operand `index` of `op` at `v`, keeping use lists right.
    pub fn set_operand(&mut self, op: OpId, index: usize, v: ValueId) {
        let old = self.ops[op.index()].operands[index];
        self.remove_use(old, op, index as u32);
        self.ops[op.index()].operands[index] = v;
        self.values[v.index()].uses.push(Use { op, operand: index as u32 });
    }

    fn remove_use(&mut self, v: ValueId, op: OpId, operand: u32) {
        let uses = &mut self.values[v.index()].uses;
        if let Some(i) = uses.iter().position(|u| u.op == op && u.operand == operand) {
            uses.swap_remove(i);
        }
    }

    /// Makes every use of `old` use `new` instead.
    pub fn replace_all_uses(&mut self, old: ValueId, new: ValueId) {
        if old == new {
            return;
        }
        let uses = std::mem::take(&mut self.values[old.index()].uses);
        for u in &uses {
            self.ops[u.op.index()].operands[u.operand as usize] = new;
        }
        self.values[new.index()].uses.extend(uses);
    }

    /// Erases `op` and everything nested in it. Its results must be unused
    /// (outside the erased ops themselves).
    pub fn erase_op(&mut self, op: OpId) {
        let mut nested = Vec::new();
        for &r in &self.ops[op.index()].regions.clone() {
            for &b in &self.regions[r.index()].blocks.clone() {
                self.walk_block(b, &mut nested);
            }
        }
        // Drop operand uses first so nested results become unused.
        for &o in nested.iter().chain(std::iter::once(&op)) {
            let operands = std::mem::take(&mut self.ops[o.index()].operands);
            for (i, v) in operands.into_iter().enumerate() {
                self.remove_use(v, o, i as u32);
            }
        }
        for &o in nested.iter().rev().chain(std::iter::once(&op)) {
            debug_assert!(
                self.ops[o.index()].results.iter().all(|&r| self.values[r.index()].uses.is_empty()),
                "erasing {} whose results are still used",
                self.ops[o.index()].name()
            );
            self.unlink(o);
            self.ops[o.index()].erased = true;
        }
    }
}

/// Inserts ops at the end of a block, or before an anchor op.
pub struct Builder<'m> {
    pub module: &'m mut Module,
    block: BlockId,
    before: Option<OpId>,
    pub loc: Location,
}

impl<'m> Builder<'m> {
    pub fn at_end(module: &'m mut Module, block: BlockId) -> Self {
        Builder { module, block, before: None, loc: Location::Unknown }
    }

    pub fn before(module: &'m mut Module, anchor: OpId) -> Self {
        let block = module.op(anchor).parent.expect("anchor op is not in a block");
        Builder { module, block, before: Some(anchor), loc: Location::Unknown }
    }

    /// Builds an op by name. Panics on an unregistered name: builders are
    /// driven by code, where an unknown op is a programming error.
    pub fn op(&mut self, name: &str, operands: &[ValueId], result_types: Vec<Type>, attrs: AttrDict) -> OpId {
        let def = crate::dialects::lookup(name).unwrap_or_else(|| panic!("unregistered op '{name}'"));
        let op = self.module.create_op(def, operands.to_vec(), result_types, attrs, self.loc.clone());
        match self.before {
            Some(anchor) => self.module.insert_op_before(anchor, op),
            None => self.module.append_op(self.block, op),
        }
        op
    }

    /// Builds a single-result op and returns its result.
    pub fn value(&mut self, name: &str, operands: &[ValueId], ty: Type, attrs: AttrDict) -> ValueId {
        let op = self.op(name, operands, vec![ty], attrs);
        self.module.op(op).results[0]
    }

    /// Appends `func.func @name(inputs) -> results` to the module body and
    /// returns it with its entry block.
    pub fn function(module: &mut Module, name: &str, inputs: Vec<Type>, results: Vec<Type>) -> (OpId, BlockId) {
        let mut attrs = AttrDict::new();
        attrs.set("sym_name", Attribute::String(name.to_string()));
        attrs.set("function_type", Attribute::ty(Type::Function(inputs.clone(), results)));
        let def = crate::dialects::lookup("func.func").expect("func.func is registered");
        let f = module.create_op(def, vec![], vec![], attrs, Location::Unknown);
        let body = module.body();
        module.append_op(body, f);
        let entry = module.add_region(f);
        for ty in inputs {
            module.add_block_arg(entry, ty);
        }
        (f, entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::DType;

    fn t(shape: &[i64]) -> Type {
        Type::Tensor(crate::types::TensorType::of_static(shape, DType::F32))
    }

    #[test]
    fn use_lists_follow_edits() {
        let mut m = Module::new(Some("m"));
        let (_f, entry) = Builder::function(&mut m, "f", vec![t(&[4]), t(&[4])], vec![t(&[4])]);
        let (a, b) = (m.block_args(entry)[0], m.block_args(entry)[1]);
        let mut bld = Builder::at_end(&mut m, entry);
        let x = bld.value("sem.add", &[a, b], t(&[4]), AttrDict::new());
        let y = bld.value("sem.mul", &[x, x], t(&[4]), AttrDict::new());
        bld.op("func.return", &[y], vec![], AttrDict::new());
        assert_eq!(m.uses(x).len(), 2);
        m.replace_all_uses(x, a);
        assert!(!m.has_uses(x));
        assert_eq!(m.uses(a).len(), 3);
        let add = m.defining_op(x).unwrap();
        m.erase_op(add);
        assert_eq!(m.uses(a).len(), 2);
        assert_eq!(m.uses(b).len(), 0);
        let names: Vec<_> = m.block_ops(entry).iter().map(|&o| m.op(o).name()).collect();
        assert_eq!(names, ["sem.mul", "func.return"]);
    }

    #[test]
    fn insert_before_keeps_order() {
        let mut m = Module::new(None);
        let (_f, entry) = Builder::function(&mut m, "f", vec![t(&[2])], vec![t(&[2])]);
        let a = m.block_args(entry)[0];
        let ret = Builder::at_end(&mut m, entry).op("func.return", &[a], vec![], AttrDict::new());
        let n = Builder::before(&mut m, ret).value("sem.neg", &[a], t(&[2]), AttrDict::new());
        m.set_operand(ret, 0, n);
        let names: Vec<_> = m.block_ops(entry).iter().map(|&o| m.op(o).name()).collect();
        assert_eq!(names, ["sem.neg", "func.return"]);
        assert_eq!(m.uses(a).len(), 1);
    }
}

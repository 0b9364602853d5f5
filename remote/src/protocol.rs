//! The wire protocol between Genie clients and `genie-runtime serve`.
//!
//! Every message is one frame:
//!
//! ```text
//! header (24 bytes, little endian)
//!   magic "GN" | kind u8 | flags u8 | meta_len u32 | payload_len u64 | request id u64
//! meta     meta_len bytes: the message's fields (LEB128 varints, hashes, strings)
//! payload  payload_len bytes: the raw data of the tensors the meta describes, in order
//! ```
//!
//! Tensor data never goes through the meta: a sender writes it straight from
//! tensor memory (vectored IO) and a receiver reads it straight into the
//! tensor's own buffer, so neither side copies a payload.
//!
//! A connection starts with `Hello` (protocol version, feature bits, auth
//! token); the server answers `Welcome` or an `Error` and closes. Request ids
//! are chosen by the client; the server remembers the last responses of a
//! session, so a retried `Run`, `Load` or `Release` is applied once. Since
//! 1.1 the welcome carries a resume secret: a client whose connection drops
//! says hello again with its session id and that secret and gets the same
//! session back (its tensors and loaded plans) within the server's grace
//! period, then resends what had no reply under the same request id.
//! Since 1.2 a run may carry a deadline, and a client waiting for a reply
//! may send `Cancel` with the same request id: the server stops the run
//! between two instructions and answers `DeadlineExceeded` or `Cancelled`.

use genie_plan::DType;
use std::fmt;

pub const MAGIC: [u8; 2] = *b"GN";
pub const HEADER_LEN: usize = 24;
/// Major versions must match; a client may be an older minor than the server.
pub const VERSION_MAJOR: u16 = 1;
pub const VERSION_MINOR: u16 = 2;
/// The longest meta section anyone may send (shapes, handles, names).
pub const MAX_META: u32 = 1 << 20;
/// What the hello carries before auth so a stranger cannot make us read more.
pub const MAX_HELLO_META: u32 = 4096;
/// Feature bits exchanged in the handshake.
pub const FEATURE_UNIX_SOCKET: u64 = 1;
pub const FEATURE_RDMA: u64 = 1 << 1;
/// Same-host payloads in sealed shared memory (see `shm`).
pub const FEATURE_SHM: u64 = 1 << 2;
/// Header flag: the payload is in the shared-memory segment passed with
/// the frame, not on the stream.
pub const FLAG_SHM: u8 = 1;

/// Marks a TCP socket a thin stream: request and reply traffic, a few
/// packets in flight. Linux then retransmits a lost packet on a linear
/// schedule instead of doubling the timeout each time, so a call stalled
/// by a partition goes on within a fraction of a second of the link
/// healing, not after seconds of backoff.
pub fn thin_stream(fd: i32) {
    #[cfg(target_os = "linux")]
    {
        let on: libc::c_int = 1;
        // SAFETY: a socket descriptor and an int option of its size; a
        // failure (not TCP, an old kernel) leaves the default, harmlessly.
        unsafe { libc::setsockopt(fd, libc::IPPROTO_TCP, libc::TCP_THIN_LINEAR_TIMEOUTS, (&on as *const libc::c_int).cast(), std::mem::size_of::<libc::c_int>() as libc::socklen_t) };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = fd;
}

/// A 32-byte content hash (BLAKE3) naming a plan or a shared tensor.
pub type Hash = [u8; 32];

pub fn hash_bytes(parts: &[&[u8]]) -> Hash {
    let mut h = blake3::Hasher::new();
    for p in parts {
        h.update(p);
    }
    *h.finalize().as_bytes()
}

/// The content hash of a tensor: dtype, shape and row-major bytes.
pub fn tensor_hash(t: &genie_runtime::Tensor) -> Hash {
    let c = t.contiguous();
    let prefix = tensor_hash_prefix(&TensorMeta { dtype: t.dtype(), shape: t.shape.clone() });
    hash_bytes(&[&prefix, c.contiguous_bytes().expect("contiguous() makes a contiguous tensor")])
}

/// A tensor's content hash and its possession value: more output of the
/// same hash, which never crosses the wire or appears in a log, so that
/// knowing a tensor's name is not knowing it (see [`bind_proof`]).
pub fn tensor_identity(t: &genie_runtime::Tensor) -> (Hash, Hash) {
    let c = t.contiguous();
    let bytes = c.contiguous_bytes().expect("contiguous() makes a contiguous tensor");
    // A weight of megabytes hashes on all cores (once per process).
    identity_of(&TensorMeta { dtype: t.dtype(), shape: t.shape.clone() }, bytes, bytes.len() >= 4 << 20)
}

/// [`tensor_identity`] of `bytes` laid out as `meta`; `parallel` hashes on
/// all cores (rayon). One pass: the content hash is the first 32 bytes of
/// BLAKE3's output, the possession value the next 32 of the same extended
/// output, which the first 32 do not reveal (BLAKE3's output is a PRF of
/// its input: any stretch of it says nothing about another).
pub fn identity_of(meta: &TensorMeta, bytes: &[u8], parallel: bool) -> (Hash, Hash) {
    let mut h = blake3::Hasher::new();
    h.update(&tensor_hash_prefix(meta));
    if parallel {
        h.update_rayon(bytes);
    } else {
        h.update(bytes);
    }
    let mut out = [0u8; 64];
    h.finalize_xof().fill(&mut out);
    let (content, possession) = out.split_at(32);
    (content.try_into().expect("32 bytes"), possession.try_into().expect("32 bytes"))
}

const PROOF_CONTEXT: &str = "genie 2026-12 bind proof v1";

/// What a session presents to bind a shared tensor it did not upload: a
/// MAC of the tensor's content hash and possession value under a key only
/// this session and the server know (derived from its resume secret). It
/// proves the session holds the bytes; a hash seen in a log proves nothing,
/// and another session's proof is worthless here.
pub fn bind_proof(session_secret: &Hash, content: &Hash, possession: &Hash) -> Hash {
    let key = blake3::derive_key(PROOF_CONTEXT, session_secret);
    let mut h = blake3::Hasher::new_keyed(&key);
    h.update(content);
    h.update(possession);
    *h.finalize().as_bytes()
}

/// What a tensor's content hash covers before its data: dtype and shape.
pub fn tensor_hash_prefix(m: &TensorMeta) -> Vec<u8> {
    let mut p = m.dtype.to_string().into_bytes();
    p.extend(m.shape.iter().flat_map(|&n| (n as u64).to_le_bytes()));
    p
}

pub fn hex(h: &Hash) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

/// What went wrong, as both sides name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum ErrorCode {
    Malformed = 1,
    Version = 2,
    Auth = 3,
    UnknownHandle = 4,
    BadPlan = 5,
    OutOfMemory = 6,
    Execution = 7,
    Missing = 8,
    ShuttingDown = 9,
    /// The run's deadline passed (1.2); it was stopped.
    DeadlineExceeded = 10,
    /// The client cancelled the run (1.2); it was stopped.
    Cancelled = 11,
}

impl ErrorCode {
    fn from_u16(v: u16) -> ErrorCode {
        match v {
            2 => ErrorCode::Version,
            3 => ErrorCode::Auth,
            4 => ErrorCode::UnknownHandle,
            5 => ErrorCode::BadPlan,
            6 => ErrorCode::OutOfMemory,
            7 => ErrorCode::Execution,
            8 => ErrorCode::Missing,
            9 => ErrorCode::ShuttingDown,
            10 => ErrorCode::DeadlineExceeded,
            11 => ErrorCode::Cancelled,
            _ => ErrorCode::Malformed,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::Malformed => "malformed request",
            ErrorCode::Version => "protocol version mismatch",
            ErrorCode::Auth => "authentication failed",
            ErrorCode::UnknownHandle => "unknown handle",
            ErrorCode::BadPlan => "bad plan",
            ErrorCode::OutOfMemory => "out of memory",
            ErrorCode::Execution => "execution failed",
            ErrorCode::Missing => "missing upload",
            ErrorCode::ShuttingDown => "server shutting down",
            ErrorCode::DeadlineExceeded => "deadline exceeded",
            ErrorCode::Cancelled => "cancelled",
        }
    }
}

/// A decoding failure: what was being read and where.
#[derive(Debug, Clone, PartialEq)]
pub struct ProtoError(pub String);

impl fmt::Display for ProtoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

type Result<T> = std::result::Result<T, ProtoError>;

fn err<T>(msg: impl Into<String>) -> Result<T> {
    Err(ProtoError(msg.into()))
}

/// Dtype and shape of a tensor on the wire; its data is `bytes()` long.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorMeta {
    pub dtype: DType,
    pub shape: Vec<usize>,
}

impl TensorMeta {
    pub fn bytes(&self) -> Option<u64> {
        self.shape.iter().try_fold(self.dtype.byte_size() as u64, |acc, &n| acc.checked_mul(n as u64))
    }
}

const DTYPES: [DType; 10] = [DType::F32, DType::F64, DType::F16, DType::BF16, DType::I64, DType::I32, DType::I16, DType::I8, DType::U8, DType::I1];

fn dtype_code(d: DType) -> u8 {
    DTYPES.iter().position(|&x| x == d).expect("every IR dtype has a wire code") as u8
}

/// Where a bound tensor goes in a loaded plan: a plan input (weights) or a
/// `dense_resource` constant.
#[derive(Clone, Debug, PartialEq)]
pub enum Slot {
    Input(u32),
    Constant(String),
}

/// One argument of a `Run`, for the plan inputs not bound at load.
#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A tensor kept on the server by an earlier call of this session.
    Handle(u64),
    /// A tensor sent with the request (its data is in the payload).
    Tensor(TensorMeta),
}

/// One output of a `Run`.
#[derive(Clone, Debug, PartialEq)]
pub enum Out {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// Kept on the server under this handle.
    Kept(u64, TensorMeta),
    /// Returned; its data is in the payload.
    Tensor(TensorMeta),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Msg {
    /// `resume`: a session to take back (its id and resume secret); 1.1.
    Hello { major: u16, minor: u16, features: u64, token: Vec<u8>, client: String, resume: Option<(u64, Hash)> },
    /// `resume`: the secret that takes this session back after a drop (1.1;
    /// sent to 1.1 clients only). A resumed session comes back with the
    /// secret the hello presented; a new one with a new secret.
    Welcome { major: u16, minor: u16, features: u64, session: u64, max_payload: u64, resume: Option<Hash> },
    Error { code: ErrorCode, message: String },
    Ping,
    Pong,
    /// Which of these plans/tensors does the server hold?
    Has { hashes: Vec<Hash> },
    HasReply { present: Vec<bool> },
    /// Plan bytecode (payload: one u8 tensor) named by its hash.
    PutPlan { hash: Hash, len: u64 },
    /// A shared, content-addressed tensor (weights, constants).
    PutTensor { hash: Hash, meta: TensorMeta },
    Ok,
    /// Load a plan for this session with shared tensors bound to slots.
    /// `proofs` (1.1): one per bind, [`bind_proof`] of the tensor this
    /// session did not upload itself; empty from a 1.0 client.
    Load { plan: Hash, binds: Vec<(Slot, Hash)>, proofs: Vec<Hash> },
    Loaded { exec: u32 },
    /// Run a loaded plan; `ret[i]` says whether output i comes back (else
    /// it stays as a session tensor); `release` frees handles first.
    /// `deadline_ms` (1.2): the run is stopped if it has not finished this
    /// long after the server read the request (queueing included).
    Run { exec: u32, args: Vec<Arg>, ret: Vec<bool>, release: Vec<u64>, deadline_ms: Option<u64> },
    /// `server_micros`: time the server spent running the plan.
    Result { outs: Vec<Out>, server_micros: u64 },
    Fetch { handle: u64 },
    Data { meta: TensorMeta },
    Release { handles: Vec<u64> },
    /// Sent by the server every [`KEEPALIVE`] while a request is being
    /// served (1.1): the reply is coming, the link is up.
    Working,
    /// Stop the run this frame's request id names (1.2), sent while
    /// waiting for its reply; the reply says how it ended.
    Cancel,
}

/// How often a server says it is still working on a request (1.1).
pub const KEEPALIVE: std::time::Duration = std::time::Duration::from_secs(1);
/// How long a 1.1 client waits without a byte before it takes the link
/// for broken and resumes its session on a new connection.
pub const LIVENESS: std::time::Duration = std::time::Duration::from_secs(4);

impl Msg {
    pub fn kind(&self) -> u8 {
        match self {
            Msg::Hello { .. } => 1,
            Msg::Welcome { .. } => 2,
            Msg::Error { .. } => 3,
            Msg::Ping => 4,
            Msg::Pong => 5,
            Msg::Has { .. } => 6,
            Msg::HasReply { .. } => 7,
            Msg::PutPlan { .. } => 8,
            Msg::PutTensor { .. } => 9,
            Msg::Ok => 10,
            Msg::Load { .. } => 11,
            Msg::Loaded { .. } => 12,
            Msg::Run { .. } => 13,
            Msg::Result { .. } => 14,
            Msg::Fetch { .. } => 15,
            Msg::Data { .. } => 16,
            Msg::Release { .. } => 17,
            Msg::Working => 18,
            Msg::Cancel => 19,
        }
    }

    pub fn name(&self) -> &'static str {
        kind_name(self.kind())
    }

    /// The tensors whose data follows in the payload, in order.
    pub fn payload(&self) -> Vec<TensorMeta> {
        match self {
            Msg::PutPlan { len, .. } => vec![TensorMeta { dtype: DType::U8, shape: vec![*len as usize] }],
            Msg::PutTensor { meta, .. } | Msg::Data { meta } => vec![meta.clone()],
            Msg::Run { args, .. } => args.iter().filter_map(|a| if let Arg::Tensor(m) = a { Some(m.clone()) } else { None }).collect(),
            Msg::Result { outs, .. } => outs.iter().filter_map(|o| if let Out::Tensor(m) = o { Some(m.clone()) } else { None }).collect(),
            _ => vec![],
        }
    }

    pub fn encode_meta(&self) -> Vec<u8> {
        let mut w = Writer(Vec::with_capacity(64));
        match self {
            Msg::Hello { major, minor, features, token, client, resume } => {
                w.u16(*major);
                w.u16(*minor);
                w.varint(*features);
                w.bytes(token);
                w.bytes(client.as_bytes());
                if let Some((session, secret)) = resume {
                    w.varint(*session);
                    w.0.extend_from_slice(secret);
                }
            }
            Msg::Welcome { major, minor, features, session, max_payload, resume } => {
                w.u16(*major);
                w.u16(*minor);
                w.varint(*features);
                w.varint(*session);
                w.varint(*max_payload);
                if let Some(secret) = resume {
                    w.0.extend_from_slice(secret);
                }
            }
            Msg::Error { code, message } => {
                w.u16(*code as u16);
                w.bytes(message.as_bytes());
            }
            Msg::Ping | Msg::Pong | Msg::Ok | Msg::Working | Msg::Cancel => {}
            Msg::Has { hashes } => {
                w.varint(hashes.len() as u64);
                hashes.iter().for_each(|h| w.0.extend_from_slice(h));
            }
            Msg::HasReply { present } => w.bits(present),
            Msg::PutPlan { hash, len } => {
                w.0.extend_from_slice(hash);
                w.varint(*len);
            }
            Msg::PutTensor { hash, meta } => {
                w.0.extend_from_slice(hash);
                w.meta(meta);
            }
            Msg::Load { plan, binds, proofs } => {
                w.0.extend_from_slice(plan);
                w.varint(binds.len() as u64);
                for (slot, hash) in binds {
                    match slot {
                        Slot::Input(i) => {
                            w.u8(0);
                            w.varint(*i as u64);
                        }
                        Slot::Constant(name) => {
                            w.u8(1);
                            w.bytes(name.as_bytes());
                        }
                    }
                    w.0.extend_from_slice(hash);
                }
                proofs.iter().for_each(|p| w.0.extend_from_slice(p));
            }
            Msg::Loaded { exec } => w.varint(*exec as u64),
            Msg::Run { exec, args, ret, release, deadline_ms } => {
                w.varint(*exec as u64);
                w.varint(args.len() as u64);
                for a in args {
                    match a {
                        Arg::None => w.u8(0),
                        Arg::Bool(b) => {
                            w.u8(1);
                            w.u8(*b as u8);
                        }
                        Arg::Int(i) => {
                            w.u8(2);
                            w.zigzag(*i);
                        }
                        Arg::Float(f) => {
                            w.u8(3);
                            w.0.extend_from_slice(&f.to_le_bytes());
                        }
                        Arg::Handle(h) => {
                            w.u8(4);
                            w.varint(*h);
                        }
                        Arg::Tensor(m) => {
                            w.u8(5);
                            w.meta(m);
                        }
                    }
                }
                w.bits(ret);
                w.varint(release.len() as u64);
                release.iter().for_each(|&h| w.varint(h));
                if let Some(ms) = deadline_ms {
                    w.varint(*ms);
                }
            }
            Msg::Result { outs, server_micros } => {
                w.varint(*server_micros);
                w.varint(outs.len() as u64);
                for o in outs {
                    match o {
                        Out::None => w.u8(0),
                        Out::Bool(b) => {
                            w.u8(1);
                            w.u8(*b as u8);
                        }
                        Out::Int(i) => {
                            w.u8(2);
                            w.zigzag(*i);
                        }
                        Out::Float(f) => {
                            w.u8(3);
                            w.0.extend_from_slice(&f.to_le_bytes());
                        }
                        Out::Kept(h, m) => {
                            w.u8(4);
                            w.varint(*h);
                            w.meta(m);
                        }
                        Out::Tensor(m) => {
                            w.u8(5);
                            w.meta(m);
                        }
                    }
                }
            }
            Msg::Fetch { handle } => w.varint(*handle),
            Msg::Data { meta } => w.meta(meta),
            Msg::Release { handles } => {
                w.varint(handles.len() as u64);
                handles.iter().for_each(|&h| w.varint(h));
            }
        }
        w.0
    }

    /// Decodes the meta of a frame of `kind`; rejects trailing bytes.
    pub fn decode_meta(kind: u8, meta: &[u8]) -> Result<Msg> {
        let mut r = Reader { buf: meta, pos: 0, what: kind_name(kind) };
        let msg = match kind {
            // Fields a later minor added are read only when present.
            1 => Msg::Hello {
                major: r.u16()?,
                minor: r.u16()?,
                features: r.varint()?,
                token: r.bytes()?.to_vec(),
                client: r.string()?,
                resume: if r.at_end() { None } else { Some((r.varint()?, r.hash()?)) },
            },
            2 => Msg::Welcome {
                major: r.u16()?,
                minor: r.u16()?,
                features: r.varint()?,
                session: r.varint()?,
                max_payload: r.varint()?,
                resume: if r.at_end() { None } else { Some(r.hash()?) },
            },
            3 => Msg::Error { code: ErrorCode::from_u16(r.u16()?), message: r.string()? },
            4 => Msg::Ping,
            5 => Msg::Pong,
            6 => {
                let n = r.count(32)?;
                Msg::Has { hashes: (0..n).map(|_| r.hash()).collect::<Result<_>>()? }
            }
            7 => Msg::HasReply { present: r.bits()? },
            8 => Msg::PutPlan { hash: r.hash()?, len: r.varint()? },
            9 => Msg::PutTensor { hash: r.hash()?, meta: r.meta()? },
            10 => Msg::Ok,
            11 => {
                let plan = r.hash()?;
                let n = r.count(34)?;
                let mut binds = Vec::with_capacity(n);
                for _ in 0..n {
                    let slot = match r.u8()? {
                        0 => Slot::Input(u32::try_from(r.varint()?).map_err(|_| ProtoError("load: input index out of range".into()))?),
                        1 => Slot::Constant(r.string()?),
                        t => return err(format!("load: unknown slot tag {t}")),
                    };
                    binds.push((slot, r.hash()?));
                }
                let proofs = if r.at_end() { vec![] } else { (0..n).map(|_| r.hash()).collect::<Result<_>>()? };
                Msg::Load { plan, binds, proofs }
            }
            12 => Msg::Loaded { exec: r.u32_varint()? },
            13 => {
                let exec = r.u32_varint()?;
                let n = r.count(1)?;
                let mut args = Vec::with_capacity(n);
                for i in 0..n {
                    args.push(match r.u8()? {
                        0 => Arg::None,
                        1 => Arg::Bool(r.u8()? != 0),
                        2 => Arg::Int(r.zigzag()?),
                        3 => Arg::Float(r.f64()?),
                        4 => Arg::Handle(r.varint()?),
                        5 => Arg::Tensor(r.meta()?),
                        t => return err(format!("run: argument {i} has unknown tag {t}")),
                    });
                }
                let ret = r.bits()?;
                let n = r.count(1)?;
                let release = (0..n).map(|_| r.varint()).collect::<Result<_>>()?;
                let deadline_ms = if r.at_end() { None } else { Some(r.varint()?) };
                Msg::Run { exec, args, ret, release, deadline_ms }
            }
            14 => {
                let server_micros = r.varint()?;
                let n = r.count(1)?;
                let mut outs = Vec::with_capacity(n);
                for i in 0..n {
                    outs.push(match r.u8()? {
                        0 => Out::None,
                        1 => Out::Bool(r.u8()? != 0),
                        2 => Out::Int(r.zigzag()?),
                        3 => Out::Float(r.f64()?),
                        4 => Out::Kept(r.varint()?, r.meta()?),
                        5 => Out::Tensor(r.meta()?),
                        t => return err(format!("result: output {i} has unknown tag {t}")),
                    });
                }
                Msg::Result { outs, server_micros }
            }
            15 => Msg::Fetch { handle: r.varint()? },
            16 => Msg::Data { meta: r.meta()? },
            17 => {
                let n = r.count(1)?;
                Msg::Release { handles: (0..n).map(|_| r.varint()).collect::<Result<_>>()? }
            }
            18 => Msg::Working,
            19 => Msg::Cancel,
            k => return err(format!("unknown message kind {k}")),
        };
        if r.pos != meta.len() {
            return err(format!("{}: {} unexpected bytes after the fields", r.what, meta.len() - r.pos));
        }
        Ok(msg)
    }
}

pub fn kind_name(kind: u8) -> &'static str {
    match kind {
        1 => "hello",
        2 => "welcome",
        3 => "error",
        4 => "ping",
        5 => "pong",
        6 => "has",
        7 => "has-reply",
        8 => "put-plan",
        9 => "put-tensor",
        10 => "ok",
        11 => "load",
        12 => "loaded",
        13 => "run",
        14 => "result",
        15 => "fetch",
        16 => "data",
        17 => "release",
        18 => "working",
        19 => "cancel",
        _ => "unknown",
    }
}

/// A frame header as read off the wire, checked for shape but not yet for
/// limits (those depend on the receiver's state).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Header {
    pub kind: u8,
    /// `FLAG_SHM` or 0.
    pub flags: u8,
    pub meta_len: u32,
    pub payload_len: u64,
    pub request: u64,
}

impl Header {
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..2].copy_from_slice(&MAGIC);
        b[2] = self.kind;
        b[3] = self.flags;
        b[4..8].copy_from_slice(&self.meta_len.to_le_bytes());
        b[8..16].copy_from_slice(&self.payload_len.to_le_bytes());
        b[16..24].copy_from_slice(&self.request.to_le_bytes());
        b
    }

    pub fn decode(b: &[u8; HEADER_LEN]) -> Result<Header> {
        if b[0..2] != MAGIC {
            return err(format!("bad frame magic {:02x}{:02x} (not a Genie client or server?)", b[0], b[1]));
        }
        if kind_name(b[2]) == "unknown" {
            return err(format!("unknown message kind {}", b[2]));
        }
        if b[3] & !FLAG_SHM != 0 {
            return err(format!("unknown frame flags {:#x}", b[3]));
        }
        Ok(Header {
            kind: b[2],
            flags: b[3],
            meta_len: u32::from_le_bytes(b[4..8].try_into().unwrap()),
            payload_len: u64::from_le_bytes(b[8..16].try_into().unwrap()),
            request: u64::from_le_bytes(b[16..24].try_into().unwrap()),
        })
    }
}

/// Checks a decoded message's payload against the header: the tensors the
/// meta announces must fill the payload exactly.
pub fn check_payload(msg: &Msg, payload_len: u64) -> Result<Vec<TensorMeta>> {
    let metas = msg.payload();
    let mut total: u64 = 0;
    for m in &metas {
        let b = m.bytes().ok_or_else(|| ProtoError(format!("{}: tensor of shape {:?} is too large", msg.name(), m.shape)))?;
        total = total.checked_add(b).ok_or_else(|| ProtoError(format!("{}: payload size overflows", msg.name())))?;
    }
    if total != payload_len {
        return err(format!("{}: the meta describes {total} payload bytes but the frame carries {payload_len}", msg.name()));
    }
    Ok(metas)
}

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }
    fn zigzag(&mut self, v: i64) {
        self.varint(((v << 1) ^ (v >> 63)) as u64);
    }
    fn bytes(&mut self, b: &[u8]) {
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
    }
    fn bits(&mut self, bits: &[bool]) {
        self.varint(bits.len() as u64);
        for chunk in bits.chunks(8) {
            self.0.push(chunk.iter().enumerate().fold(0u8, |acc, (i, &b)| acc | ((b as u8) << i)));
        }
    }
    fn meta(&mut self, m: &TensorMeta) {
        self.u8(dtype_code(m.dtype));
        self.varint(m.shape.len() as u64);
        m.shape.iter().for_each(|&n| self.varint(n as u64));
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn at_end(&self) -> bool {
        self.pos == self.buf.len()
    }
    fn take(&mut self, n: usize, field: &str) -> Result<&'a [u8]> {
        if self.buf.len() - self.pos < n {
            return err(format!("{}: truncated meta: {field} needs {n} bytes at offset {}, {} left", self.what, self.pos, self.buf.len() - self.pos));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1, "a byte")?[0])
    }
    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.take(2, "a u16")?.try_into().unwrap()))
    }
    fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_le_bytes(self.take(8, "an f64")?.try_into().unwrap()))
    }
    fn varint(&mut self) -> Result<u64> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let b = self.u8()?;
            if i == 9 && b > 1 {
                return err(format!("{}: varint at offset {} overflows 64 bits", self.what, self.pos));
            }
            v |= ((b & 0x7f) as u64) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        err(format!("{}: varint at offset {} is too long", self.what, self.pos))
    }
    fn u32_varint(&mut self) -> Result<u32> {
        let v = self.varint()?;
        u32::try_from(v).map_err(|_| ProtoError(format!("{}: {v} does not fit 32 bits", self.what)))
    }
    fn zigzag(&mut self) -> Result<i64> {
        let v = self.varint()?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }
    /// A count of items each at least `min_size` bytes long, checked against
    /// what is left so a hostile count cannot make us allocate.
    fn count(&mut self, min_size: usize) -> Result<usize> {
        let n = self.varint()?;
        let left = (self.buf.len() - self.pos) as u64;
        if n.saturating_mul(min_size as u64) > left {
            return err(format!("{}: count {n} at offset {} exceeds the {left} bytes left", self.what, self.pos));
        }
        Ok(n as usize)
    }
    fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.count(1)?;
        self.take(n, "a byte string")
    }
    fn string(&mut self) -> Result<String> {
        let b = self.bytes()?;
        String::from_utf8(b.to_vec()).map_err(|_| ProtoError(format!("{}: string is not UTF-8", self.what)))
    }
    fn hash(&mut self) -> Result<Hash> {
        Ok(self.take(32, "a hash")?.try_into().unwrap())
    }
    fn bits(&mut self) -> Result<Vec<bool>> {
        let n = self.varint()?;
        let nbytes = n.div_ceil(8);
        if nbytes > (self.buf.len() - self.pos) as u64 {
            return err(format!("{}: bit set of {n} at offset {} is truncated", self.what, self.pos));
        }
        let raw = self.take(nbytes as usize, "a bit set")?;
        Ok((0..n as usize).map(|i| raw[i / 8] >> (i % 8) & 1 == 1).collect())
    }
    fn meta(&mut self) -> Result<TensorMeta> {
        let code = self.u8()?;
        let dtype = *DTYPES.get(code as usize).ok_or_else(|| ProtoError(format!("{}: unknown dtype code {code}", self.what)))?;
        let rank = self.varint()?;
        if rank > 16 {
            return err(format!("{}: tensor rank {rank} exceeds 16", self.what));
        }
        let shape = (0..rank).map(|_| self.varint().map(|n| n as usize)).collect::<Result<Vec<_>>>()?;
        let m = TensorMeta { dtype, shape };
        if m.bytes().is_none() {
            return err(format!("{}: tensor of shape {:?} overflows", self.what, m.shape));
        }
        Ok(m)
    }
}

/// Constant-time comparison of secrets (the auth token): the time taken
/// depends on the lengths only, never on where the bytes differ.
pub fn secrets_equal(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() ^ b.len()) as u64;
    let n = a.len().max(b.len());
    for i in 0..n {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= (x ^ y) as u64;
    }
    // Keep the compiler from turning the loop into an early exit.
    std::hint::black_box(diff) == 0
}

/// What the fuzz target and the property test run on any bytes: the first
/// 24 as a frame header, the rest as the meta of every message kind, and
/// each decoded message against a payload length taken from the header.
/// Decoders return errors for bad input; a panic is the bug.
pub fn fuzz_one(data: &[u8]) {
    let (head, meta) = data.split_at(data.len().min(HEADER_LEN));
    let payload_len = match head.try_into().map(Header::decode) {
        Ok(Ok(h)) => h.payload_len,
        _ => meta.len() as u64,
    };
    for kind in 0..=u8::MAX.min(32) {
        if let Ok(m) = Msg::decode_meta(kind, meta) {
            // What decodes encodes to bytes that decode to the same
            // message (compared as bytes: a float may be NaN), and its
            // payload check answers either way.
            let bytes = m.encode_meta();
            let again = Msg::decode_meta(kind, &bytes).unwrap_or_else(|e| panic!("kind {kind}: re-encoded meta does not decode: {e}"));
            assert_eq!(again.encode_meta(), bytes, "kind {kind}");
            let _ = check_payload(&m, payload_len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(m: Msg) {
        roundtrip_with_tail(m, None)
    }

    /// `m` roundtrips, and every strict prefix is rejected with an error,
    /// never a panic — except the one that ends where `without` (`m` less
    /// the fields a later minor version added) ends, which decodes to it.
    fn roundtrip_with_tail(m: Msg, without: Option<Msg>) {
        let meta = m.encode_meta();
        assert_eq!(Msg::decode_meta(m.kind(), &meta).unwrap(), m);
        let short = without.as_ref().map(|w| w.encode_meta().len());
        for cut in 0..meta.len() {
            let r = Msg::decode_meta(m.kind(), &meta[..cut]);
            if Some(cut) == short {
                assert_eq!(r.as_ref().ok(), without.as_ref(), "{} prefix {cut}", m.name());
            } else {
                assert!(r.is_err(), "{} prefix {cut}", m.name());
            }
        }
    }

    #[test]
    fn a_tensors_identity_is_its_content_hash_and_a_second_secret_one() {
        let t = genie_runtime::Tensor::from_vec(vec![3, 700], (0..2100).map(|i| i as f32).collect()).unwrap();
        let (content, possession) = tensor_identity(&t);
        assert_eq!(content, tensor_hash(&t));
        assert_ne!(possession, content);
        let meta = TensorMeta { dtype: t.dtype(), shape: t.shape.clone() };
        assert_eq!(identity_of(&meta, t.contiguous_bytes().unwrap(), true), (content, possession), "parallel and serial agree");
        // A proof binds the session: another secret gives another proof.
        assert_ne!(bind_proof(&[1; 32], &content, &possession), bind_proof(&[2; 32], &content, &possession));
    }

    #[test]
    fn messages_roundtrip_and_prefixes_fail() {
        let t = TensorMeta { dtype: DType::F32, shape: vec![2, 300, 1] };
        roundtrip(Msg::Hello { major: 1, minor: 0, features: 3, token: b"secret".to_vec(), client: "py".into(), resume: None });
        roundtrip_with_tail(
            Msg::Hello { major: 1, minor: 1, features: 3, token: vec![], client: "py".into(), resume: Some((7, [9; 32])) },
            Some(Msg::Hello { major: 1, minor: 1, features: 3, token: vec![], client: "py".into(), resume: None }),
        );
        roundtrip(Msg::Welcome { major: 1, minor: 0, features: 1, session: 99, max_payload: 1 << 40, resume: None });
        roundtrip_with_tail(
            Msg::Welcome { major: 1, minor: 1, features: 1, session: 99, max_payload: 1 << 40, resume: Some([3; 32]) },
            Some(Msg::Welcome { major: 1, minor: 1, features: 1, session: 99, max_payload: 1 << 40, resume: None }),
        );
        roundtrip(Msg::Error { code: ErrorCode::OutOfMemory, message: "too big".into() });
        roundtrip(Msg::Has { hashes: vec![[7; 32], [9; 32]] });
        roundtrip(Msg::HasReply { present: vec![true, false, true, true, false, false, false, false, true] });
        roundtrip(Msg::PutPlan { hash: [1; 32], len: 12345 });
        roundtrip(Msg::PutTensor { hash: [2; 32], meta: t.clone() });
        let binds = vec![(Slot::Input(4), [5; 32]), (Slot::Constant("_tensor_constant0".into()), [6; 32])];
        roundtrip(Msg::Load { plan: [3; 32], binds: binds.clone(), proofs: vec![] });
        roundtrip_with_tail(Msg::Load { plan: [3; 32], binds: binds.clone(), proofs: vec![[7; 32], [8; 32]] }, Some(Msg::Load { plan: [3; 32], binds, proofs: vec![] }));
        roundtrip(Msg::Loaded { exec: 7 });
        let args = vec![Arg::None, Arg::Bool(true), Arg::Int(-5), Arg::Float(0.5), Arg::Handle(300), Arg::Tensor(t.clone())];
        roundtrip(Msg::Run { exec: 2, args: args.clone(), ret: vec![true, false], release: vec![1, 2, 1000], deadline_ms: None });
        roundtrip_with_tail(
            Msg::Run { exec: 2, args: args.clone(), ret: vec![true, false], release: vec![1, 2, 1000], deadline_ms: Some(1500) },
            Some(Msg::Run { exec: 2, args, ret: vec![true, false], release: vec![1, 2, 1000], deadline_ms: None }),
        );
        roundtrip(Msg::Cancel);
        roundtrip(Msg::Result { outs: vec![Out::None, Out::Int(i64::MIN), Out::Kept(8, t.clone()), Out::Tensor(t.clone()), Out::Float(-1.0), Out::Bool(false)], server_micros: 1234 });
        roundtrip(Msg::Fetch { handle: 5 });
        roundtrip(Msg::Data { meta: t });
        roundtrip(Msg::Release { handles: vec![3, 4] });
    }

    #[test]
    fn hostile_meta_is_rejected() {
        // A count far beyond the bytes present.
        assert!(Msg::decode_meta(6, &[0xff, 0xff, 0xff, 0x0f]).unwrap_err().0.contains("exceeds"));
        // A ten-byte varint overflowing 64 bits.
        assert!(Msg::decode_meta(15, &[0xff; 10]).is_err());
        // Trailing garbage.
        assert!(Msg::decode_meta(15, &[1, 0]).unwrap_err().0.contains("unexpected bytes"));
        // A shape whose size overflows.
        let mut m = vec![0u8, 3];
        for _ in 0..3 {
            m.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
        }
        assert!(Msg::decode_meta(16, &m).unwrap_err().0.contains("overflows"));
        assert!(Msg::decode_meta(200, &[]).is_err());
    }

    #[test]
    fn headers_check_magic_kind_and_flags() {
        let h = Header { kind: 13, flags: FLAG_SHM, meta_len: 10, payload_len: 1 << 33, request: 42 };
        assert_eq!(Header::decode(&h.encode()).unwrap(), h);
        let mut b = h.encode();
        b[0] = b'X';
        assert!(Header::decode(&b).unwrap_err().0.contains("magic"));
        let mut b = h.encode();
        b[2] = 99;
        assert!(Header::decode(&b).is_err());
        let mut b = h.encode();
        b[3] = 0x80;
        assert!(Header::decode(&b).unwrap_err().0.contains("flags"));
    }

    #[test]
    fn payload_must_match_meta() {
        let m = Msg::PutTensor { hash: [0; 32], meta: TensorMeta { dtype: DType::F32, shape: vec![4] } };
        assert!(check_payload(&m, 16).is_ok());
        assert!(check_payload(&m, 15).is_err());
    }

    #[test]
    fn secret_comparison() {
        assert!(secrets_equal(b"abc", b"abc"));
        assert!(!secrets_equal(b"abc", b"abd"));
        assert!(!secrets_equal(b"abc", b"abcd"));
        assert!(!secrets_equal(b"", b"x"));
    }
}

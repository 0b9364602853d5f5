//! Shared-memory payloads for clients on the server's host (Unix sockets).
//!
//! Instead of streaming tensor bytes through the socket, the client copies
//! them once into a sealed memfd and passes its descriptor with the frame
//! (SCM_RIGHTS). The server maps it read-only and uses the mapping as the
//! tensors' storage: one copy in total, the client's memcpy.
//!
//! The seals (no write, no shrink, no grow) are what make this safe: once
//! sealed, the client cannot change the bytes the server verified or ran on,
//! nor truncate them under the mapping. The server refuses an unsealed one.

use std::io::{self, IoSlice};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Tensors start at multiples of this inside a segment.
pub const ALIGN: usize = 64;

const SEALS: libc::c_int = libc::F_SEAL_WRITE | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_SEAL;

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Where each of `sizes` starts in a segment, and the segment's length.
pub fn layout(sizes: impl Iterator<Item = usize>) -> (Vec<usize>, usize) {
    let mut offsets = vec![];
    let mut end = 0usize;
    for n in sizes {
        let at = end.div_ceil(ALIGN) * ALIGN;
        offsets.push(at);
        end = at + n;
    }
    (offsets, end)
}

/// A sealed memfd holding `parts` at the offsets of [`layout`].
pub fn sealed_segment(parts: &[&[u8]]) -> io::Result<OwnedFd> {
    let (offsets, len) = layout(parts.iter().map(|p| p.len()));
    // SAFETY: plain system calls on a descriptor this function owns, with
    // buffers that outlive each call.
    unsafe {
        let fd = cvt(libc::memfd_create(c"genie-payload".as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING))?;
        let fd = OwnedFd::from_raw_fd(fd);
        cvt(libc::ftruncate(fd.as_raw_fd(), len.max(1) as libc::off_t))?;
        // pwrite, not mmap + memcpy: the kernel fills each new page straight
        // from the source instead of zeroing it first (one pass, not two).
        for (part, &at) in parts.iter().zip(&offsets) {
            let mut done = 0usize;
            while done < part.len() {
                let n = libc::pwrite(fd.as_raw_fd(), part[done..].as_ptr().cast(), part.len() - done, (at + done) as libc::off_t);
                if n < 0 {
                    let e = io::Error::last_os_error();
                    if e.kind() == io::ErrorKind::Interrupted {
                        continue;
                    }
                    return Err(e);
                }
                done += n as usize;
            }
        }
        cvt(libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, SEALS))?;
        Ok(fd)
    }
}

/// A read-only mapping of a sealed segment; unmapped when dropped.
#[derive(Debug)]
pub struct Mapping {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the mapping is read-only and sealed against writes, so every
// thread sees the same immutable bytes.
unsafe impl Send for Mapping {}
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps `fd` after checking it is sealed and holds at least `need` bytes.
    pub fn map_sealed(fd: &OwnedFd, need: usize) -> Result<Mapping, String> {
        // SAFETY: fcntl/fstat/mmap on a descriptor we own; the result is
        // checked before use and the mapping is only read.
        unsafe {
            let seals = libc::fcntl(fd.as_raw_fd(), libc::F_GET_SEALS);
            let want = libc::F_SEAL_WRITE | libc::F_SEAL_SHRINK;
            if seals < 0 || seals & want != want {
                return Err("the shared-memory payload is not sealed against writes and shrinking".into());
            }
            let mut st: libc::stat = std::mem::zeroed();
            if libc::fstat(fd.as_raw_fd(), &mut st) < 0 {
                return Err(format!("fstat on the payload descriptor: {}", io::Error::last_os_error()));
            }
            let size = st.st_size as usize;
            if size < need {
                return Err(format!("the shared-memory payload holds {size} bytes; the frame needs {need}"));
            }
            if size == 0 {
                return Ok(Mapping { ptr: std::ptr::NonNull::dangling().as_ptr(), len: 0 });
            }
            let p = libc::mmap(std::ptr::null_mut(), size, libc::PROT_READ, libc::MAP_SHARED | libc::MAP_POPULATE, fd.as_raw_fd(), 0);
            if p == libc::MAP_FAILED {
                return Err(format!("mapping the payload: {}", io::Error::last_os_error()));
            }
            Ok(Mapping { ptr: p.cast(), len: size })
        }
    }

    pub fn as_ptr(&self) -> *const u8 {
        self.ptr
    }

    pub fn bytes(&self, at: usize, n: usize) -> &[u8] {
        assert!(at + n <= self.len, "a read past the mapping");
        if n == 0 {
            return &[];
        }
        // SAFETY: in bounds (checked above) of a live read-only mapping.
        unsafe { std::slice::from_raw_parts(self.ptr.add(at), n) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        if self.len > 0 {
            // SAFETY: unmapping exactly what map_sealed mapped, once.
            unsafe { libc::munmap(self.ptr.cast(), self.len) };
        }
    }
}

/// `sendmsg` of `bufs` with `fd` attached (SCM_RIGHTS); returns bytes sent.
pub fn send_with_fd(sock: RawFd, bufs: &[IoSlice<'_>], fd: RawFd) -> io::Result<usize> {
    // SAFETY: the control buffer is sized with CMSG_SPACE for one fd and
    // aligned for cmsghdr; every pointer handed to sendmsg outlives the call.
    unsafe {
        let mut control = [0u64; 4];
        let space = libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) as usize;
        assert!(space <= std::mem::size_of_val(&control));
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
        msg.msg_iovlen = bufs.len() as _;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
        let c = libc::CMSG_FIRSTHDR(&msg);
        (*c).cmsg_level = libc::SOL_SOCKET;
        (*c).cmsg_type = libc::SCM_RIGHTS;
        (*c).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<RawFd>(), fd);
        loop {
            let n = libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL);
            if n >= 0 {
                return Ok(n as usize);
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

/// `recvmsg` into `buf`, collecting any descriptors passed with the bytes.
pub fn recv_with_fds(sock: RawFd, buf: &mut [u8], fds: &mut Vec<OwnedFd>) -> io::Result<usize> {
    // SAFETY: recvmsg writes at most buf.len() bytes and at most the control
    // buffer's size; received descriptors are taken into OwnedFds at once
    // (MSG_CMSG_CLOEXEC), so none leaks.
    unsafe {
        let mut control = [0u64; 16];
        let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        let n = libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC | libc::MSG_DONTWAIT);
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(c);
                let count = ((*c).cmsg_len as usize - (data as usize - c as usize)) / std::mem::size_of::<RawFd>();
                for i in 0..count {
                    fds.push(OwnedFd::from_raw_fd(std::ptr::read_unaligned(data.cast::<RawFd>().add(i))));
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
        Ok(n as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_segments_map_and_unsealed_ones_are_refused() {
        let a = [1u8; 10];
        let b = [2u8; 100];
        let fd = sealed_segment(&[&a, &b]).unwrap();
        let (offsets, len) = layout([10usize, 100].into_iter());
        assert_eq!(offsets, vec![0, 64]);
        let m = Mapping::map_sealed(&fd, len).unwrap();
        assert_eq!(m.bytes(0, 10), &a);
        assert_eq!(m.bytes(64, 100), &b[..]);
        assert!(Mapping::map_sealed(&fd, len + 4096).unwrap_err().contains("needs"));
        // An unsealed memfd: refused.
        // SAFETY: a fresh descriptor taken into an OwnedFd at once.
        let raw = unsafe { OwnedFd::from_raw_fd(libc::memfd_create(c"t".as_ptr(), libc::MFD_CLOEXEC)) };
        assert!(Mapping::map_sealed(&raw, 0).unwrap_err().contains("not sealed"));
    }

    #[test]
    fn descriptors_travel_with_bytes() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let fd = sealed_segment(&[b"hello"]).unwrap();
        send_with_fd(a.as_raw_fd(), &[IoSlice::new(b"frame")], fd.as_raw_fd()).unwrap();
        let mut buf = [0u8; 16];
        let mut fds = vec![];
        let n = recv_with_fds(b.as_raw_fd(), &mut buf, &mut fds).unwrap();
        assert_eq!(&buf[..n], b"frame");
        assert_eq!(fds.len(), 1);
        let m = Mapping::map_sealed(&fds[0], 5).unwrap();
        assert_eq!(m.bytes(0, 5), b"hello");
    }
}

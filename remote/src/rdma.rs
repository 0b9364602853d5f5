//! RDMA (ibverbs) transport: discovery only.
//!
//! With the `rdma` cargo feature, `rdma://host:port` looks for an RDMA
//! device (`/sys/class/infiniband`) and for `libibverbs` at run time. The
//! RDMA data path itself is not written yet, so every `rdma://` address
//! falls back to TCP with a logged reason; this module says which one.
//! Without the feature the reason is that the build left RDMA out.

/// Why `rdma://` falls back to TCP on this host and build.
pub fn unavailable_reason() -> String {
    #[cfg(feature = "rdma")]
    {
        discover()
    }
    #[cfg(not(feature = "rdma"))]
    {
        "this build has no RDMA support (build genie-remote with --features rdma)".to_string()
    }
}

#[cfg(feature = "rdma")]
fn discover() -> String {
    let devices: Vec<String> = std::fs::read_dir("/sys/class/infiniband")
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    if devices.is_empty() {
        return "no RDMA device found (/sys/class/infiniband is empty or missing)".to_string();
    }
    if !libibverbs_present() {
        return format!("RDMA devices {devices:?} found but libibverbs.so.1 cannot be loaded");
    }
    format!("RDMA devices {devices:?} found, but the RDMA data path is not implemented in this version")
}

#[cfg(feature = "rdma")]
fn libibverbs_present() -> bool {
    extern "C" {
        fn dlopen(filename: *const std::ffi::c_char, flags: std::ffi::c_int) -> *mut std::ffi::c_void;
    }
    const RTLD_LAZY: std::ffi::c_int = 1;
    // SAFETY: a NUL-terminated literal; the handle is only checked for null
    // (the library stays loaded, which is harmless).
    unsafe { !dlopen(c"libibverbs.so.1".as_ptr(), RTLD_LAZY).is_null() }
}

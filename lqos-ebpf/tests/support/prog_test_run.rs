//! BPF_PROG_TEST_RUN: runs a loaded program on a crafted frame. Shared by the privileged
//! tests (`tests/test_run.rs`) and the per-packet bench (`benches/per_packet.rs`, which
//! includes this file by path).

use std::mem::size_of;

const BPF_PROG_TEST_RUN: libc::c_long = 10;

/// The `test` member of `union bpf_attr`.
#[repr(C)]
#[derive(Default)]
struct TestRunAttr {
    prog_fd: u32,
    retval: u32,
    data_size_in: u32,
    data_size_out: u32,
    data_in: u64,
    data_out: u64,
    repeat: u32,
    duration: u32,
    ctx_size_in: u32,
    ctx_size_out: u32,
    ctx_in: u64,
    ctx_out: u64,
    flags: u32,
    cpu: u32,
    batch_size: u32,
    pad: u32,
}

/// Runs `fd` `repeat` times on `data` with context `ctx` (read, and written back from
/// ctx_out); returns (retval of the last run, mean ns per run).
pub fn test_run(fd: i32, data: &[u8], ctx: &mut [u8], repeat: u32) -> (u32, u32) {
    let mut out = vec![0u8; data.len() + 512];
    let ctx_in = ctx.to_vec();
    let mut attr = TestRunAttr {
        prog_fd: fd as u32,
        data_size_in: data.len() as u32,
        data_size_out: out.len() as u32,
        data_in: data.as_ptr() as u64,
        data_out: out.as_mut_ptr() as u64,
        repeat,
        ctx_size_in: ctx_in.len() as u32,
        ctx_size_out: ctx.len() as u32,
        ctx_in: ctx_in.as_ptr() as u64,
        ctx_out: ctx.as_mut_ptr() as u64,
        ..TestRunAttr::default()
    };
    // SAFETY: every pointer in attr refers to a live buffer of the stated size.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_TEST_RUN,
            &mut attr,
            size_of::<TestRunAttr>(),
        )
    };
    assert_eq!(
        rc,
        0,
        "BPF_PROG_TEST_RUN: {}",
        std::io::Error::last_os_error()
    );
    (attr.retval, attr.duration)
}

//! Privileged: a map pinned by an older lqos with another layout (the 16-byte lqos_ip_info)
//! does not make loading fail: the pin is replaced. Needs root and PANICS otherwise.

mod support;

use std::{ffi::CString, mem::size_of, os::fd::FromRawFd, path::PathBuf};

use lqos_ebpf::*;

const BPF_MAP_CREATE: libc::c_long = 0;
const BPF_OBJ_PIN: libc::c_long = 6;
const BPF_MAP_TYPE_LPM_TRIE: u32 = 11;
const BPF_F_NO_PREALLOC: u32 = 1;

/// Removes the test's pin directory (and the maps' pins) even when the test panics.
struct Pins(PathBuf);

impl Drop for Pins {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            eprintln!("cleanup {}: {e}", self.0.display());
        }
    }
}

/// Creates an LPM trie like the IP map of lqos before the circuit index (value 16 bytes) and
/// pins it at `path`.
fn pin_old_ip_map(path: &std::path::Path) {
    #[repr(C)]
    #[derive(Default)]
    struct Create {
        map_type: u32,
        key_size: u32,
        value_size: u32,
        max_entries: u32,
        map_flags: u32,
        rest: [u32; 27],
    }
    let mut create = Create {
        map_type: BPF_MAP_TYPE_LPM_TRIE,
        key_size: 20,
        value_size: 16,
        max_entries: 16,
        map_flags: BPF_F_NO_PREALLOC,
        ..Create::default()
    };
    // SAFETY: a valid bpf_attr prefix of the stated size.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_MAP_CREATE,
            &mut create,
            size_of::<Create>(),
        )
    };
    assert!(
        fd >= 0,
        "BPF_MAP_CREATE: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: the kernel just returned this fd; the OwnedFd closes it.
    let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) };
    let c_path = CString::new(path.as_os_str().as_encoded_bytes()).expect("path");
    #[repr(C)]
    struct Pin {
        pathname: u64,
        bpf_fd: u32,
        file_flags: u32,
    }
    let mut pin = Pin {
        pathname: c_path.as_ptr() as u64,
        bpf_fd: std::os::fd::AsRawFd::as_raw_fd(&fd) as u32,
        file_flags: 0,
    };
    // SAFETY: a valid bpf_attr prefix; the path outlives the call.
    let rc = unsafe { libc::syscall(libc::SYS_bpf, BPF_OBJ_PIN, &mut pin, size_of::<Pin>()) };
    assert_eq!(rc, 0, "BPF_OBJ_PIN: {}", std::io::Error::last_os_error());
}

#[test]
fn an_old_ip_map_pin_is_replaced_and_the_programs_load() {
    support::require_root();
    let pins = Pins(PathBuf::from(format!(
        "/sys/fs/bpf/lqos-pins-{}",
        std::process::id()
    )));
    std::fs::create_dir_all(&pins.0).expect("pin dir");
    pin_old_ip_map(&pins.0.join(MAP_IP));
    let mut sizes = MapSizes::for_this_machine().expect("sizes");
    sizes.flows = 64;
    sizes.circuits = 16;

    let stale = replace_stale_pins(&sizes, &pins.0).expect("check pins");
    assert_eq!(
        stale,
        vec![StalePin {
            name: MAP_IP.to_owned(),
            reason: "value size 16, this lqos needs 20".to_owned()
        }]
    );
    assert!(!pins.0.join(MAP_IP).exists(), "stale pin removed");

    // Again with the old pin in place: load() replaces it itself, and the programs verify.
    pin_old_ip_map(&pins.0.join(MAP_IP));
    let mut ebpf = load(&sizes, &pins.0).expect("load over a stale pin");
    support::dataplane::xdp(&mut ebpf)
        .load()
        .expect("XDP verifies");
    support::dataplane::tc_egress(&mut ebpf)
        .load()
        .expect("TC verifies");
    drop(ebpf);
    // Every pin now matches: nothing to replace, the maps are reused.
    assert_eq!(replace_stale_pins(&sizes, &pins.0).expect("check"), vec![]);
    // A different flow-table size replaces the flow table only.
    sizes.flows = 128;
    let stale = replace_stale_pins(&sizes, &pins.0).expect("check");
    assert_eq!(
        stale,
        vec![StalePin {
            name: MAP_FLOWS.to_owned(),
            reason: "max_entries 64, this lqos needs 128".to_owned()
        }]
    );
    // Zero-sized maps are refused with a clear error.
    sizes.circuits = 0;
    assert!(matches!(
        load(&sizes, &pins.0),
        Err(LoadError::ZeroSize { map: MAP_RTT })
    ));
}

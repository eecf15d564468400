//! Batch access to maps (`BPF_MAP_LOOKUP_BATCH`, `BPF_MAP_DELETE_BATCH`): aya 0.13 has none,
//! and reading 100k flows one `BPF_MAP_GET_NEXT_KEY` + `BPF_MAP_LOOKUP_ELEM` pair at a time
//! costs two syscalls per entry. A batch call copies up to `chunk` entries in one syscall.
//!
//! Semantics (kernel 5.6+): the kernel walks the map from an opaque position (`in_batch`,
//! none for the start) and returns the next position (`out_batch`); hash maps copy whole
//! buckets, so a chunk smaller than a bucket fails with `ENOSPC` (the chunk is then doubled
//! and the call retried from the same position); the last call ends with `ENOENT`, with the
//! entries it still copied. A walk is not a snapshot: entries inserted or deleted while it
//! runs may be missed (never duplicated within one walk of a hash map, which proceeds bucket by
//! bucket). Per-CPU maps return one value per possible CPU, each padded to 8 bytes: use
//! [`lookup_batch_per_cpu`] for them (or aya's `PerCpuArray::get` for a single index).

use std::{
    io,
    mem::size_of,
    os::fd::{AsFd, AsRawFd},
};

use aya::{
    maps::{MapData, MapError, MapType},
    Pod,
};

/// `enum bpf_cmd` values.
const BPF_MAP_LOOKUP_BATCH: libc::c_long = 24;
const BPF_MAP_DELETE_BATCH: libc::c_long = 27;

/// The `batch` member of `union bpf_attr`.
#[repr(C)]
#[derive(Default)]
struct BatchAttr {
    in_batch: u64,
    out_batch: u64,
    keys: u64,
    values: u64,
    count: u32,
    map_fd: u32,
    elem_flags: u64,
    flags: u64,
}

/// Why a batch operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("cannot read the map's definition")]
    Info(#[source] MapError),
    #[error("the map's {what} is {map} bytes but the Rust type has {rust}")]
    Size {
        what: &'static str,
        map: u32,
        rust: usize,
    },
    #[error("a per-CPU map needs lookup_batch_per_cpu (and a plain map lookup_batch)")]
    PerCpu,
    #[error("the chunk size must be at least 1")]
    ZeroChunk,
    #[error("cannot count the possible CPUs from {path}")]
    PossibleCpus {
        path: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("{op} failed")]
    Syscall {
        op: &'static str,
        #[source]
        source: io::Error,
    },
}

fn is_per_cpu(t: MapType) -> bool {
    matches!(
        t,
        MapType::PerCpuArray | MapType::PerCpuHash | MapType::LruPerCpuHash
    )
}

/// Checks the key and value sizes; returns (value bytes per entry, per CPU or not).
fn check<K, V>(map: &MapData, per_cpu: bool) -> Result<(u32, u32), BatchError> {
    let info = map.info().map_err(BatchError::Info)?;
    let map_type = info.map_type().map_err(BatchError::Info)?;
    if is_per_cpu(map_type) != per_cpu {
        return Err(BatchError::PerCpu);
    }
    if info.key_size() as usize != size_of::<K>() {
        return Err(BatchError::Size {
            what: "key",
            map: info.key_size(),
            rust: size_of::<K>(),
        });
    }
    if info.value_size() as usize != size_of::<V>() {
        return Err(BatchError::Size {
            what: "value",
            map: info.value_size(),
            rust: size_of::<V>(),
        });
    }
    Ok((info.value_size(), info.max_entries()))
}

fn bpf(cmd: libc::c_long, attr: &mut BatchAttr) -> io::Result<()> {
    // SAFETY: attr is a valid `union bpf_attr` prefix whose pointers the caller made refer to
    // live buffers of the sizes the kernel will use (count entries of key/value size, a
    // position buffer of at least max(key size, 4) bytes).
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut BatchAttr,
            size_of::<BatchAttr>(),
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The walk shared by both lookups: calls `each(keys, values, n)` with the raw buffers of
/// every chunk the kernel filled. `stride` is the bytes of one entry's value(s).
fn walk(
    map: &MapData,
    key_size: usize,
    stride: usize,
    max_entries: u32,
    chunk: u32,
    mut each: impl FnMut(&[u8], &[u8], usize),
) -> Result<(), BatchError> {
    if chunk == 0 {
        return Err(BatchError::ZeroChunk);
    }
    let fd = map.fd().as_fd().as_raw_fd();
    // Positions: a u32 bucket index for hash maps, a key for the others; u64s for alignment.
    let pos_words = key_size.max(4).div_ceil(8);
    let (mut pos_in, mut pos_out) = (vec![0u64; pos_words], vec![0u64; pos_words]);
    let mut started = false;
    let mut chunk = chunk;
    let (mut keys, mut values) = (Vec::new(), Vec::new());
    loop {
        keys.resize(chunk as usize * key_size, 0u8);
        values.resize(chunk as usize * stride, 0u8);
        let mut attr = BatchAttr {
            in_batch: if started { pos_in.as_ptr() as u64 } else { 0 },
            out_batch: pos_out.as_mut_ptr() as u64,
            keys: keys.as_mut_ptr() as u64,
            values: values.as_mut_ptr() as u64,
            count: chunk,
            map_fd: fd as u32,
            ..BatchAttr::default()
        };
        let result = bpf(BPF_MAP_LOOKUP_BATCH, &mut attr);
        let n = (attr.count.min(chunk)) as usize;
        match result {
            Ok(()) => {
                each(&keys, &values, n);
                std::mem::swap(&mut pos_in, &mut pos_out);
                started = true;
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                each(&keys, &values, n);
                return Ok(());
            }
            // A bucket holds more entries than the chunk: a bigger chunk, same position.
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) && chunk < max_entries.max(1) => {
                chunk = chunk.saturating_mul(2).min(max_entries.max(1));
            }
            Err(source) => {
                return Err(BatchError::Syscall {
                    op: "BPF_MAP_LOOKUP_BATCH",
                    source,
                })
            }
        }
    }
}

fn read<T: Pod>(buf: &[u8], index: usize, stride: usize) -> T {
    let at = index * stride;
    assert!(at + size_of::<T>() <= buf.len(), "batch buffer overrun");
    // SAFETY: in bounds (checked above); T is Pod (any bit pattern valid), read unaligned.
    unsafe { std::ptr::read_unaligned(buf.as_ptr().add(at).cast::<T>()) }
}

/// Clears `out` and fills it with every entry of `map` (a plain, not per-CPU, hash or
/// array), `chunk` entries per syscall (grown when a hash bucket does not fit).
pub fn lookup_batch<K: Pod, V: Pod>(
    map: &MapData,
    chunk: u32,
    out: &mut Vec<(K, V)>,
) -> Result<(), BatchError> {
    let (value_size, max_entries) = check::<K, V>(map, false)?;
    out.clear();
    let key_size = size_of::<K>();
    walk(
        map,
        key_size,
        value_size as usize,
        max_entries,
        chunk,
        |keys, values, n| {
            for i in 0..n {
                out.push((
                    read(keys, i, key_size),
                    read(values, i, value_size as usize),
                ));
            }
        },
    )
}

/// Every entry of a per-CPU `map` (PERCPU_ARRAY, PERCPU_HASH), `chunk` entries per syscall:
/// calls `each(key, values)` with one value per possible CPU (in CPU order).
pub fn lookup_batch_per_cpu<K: Pod, V: Pod>(
    map: &MapData,
    chunk: u32,
    mut each: impl FnMut(K, &[V]),
) -> Result<(), BatchError> {
    let (value_size, max_entries) = check::<K, V>(map, true)?;
    let cpus =
        aya::util::nr_cpus().map_err(|(path, source)| BatchError::PossibleCpus { path, source })?;
    // The kernel pads each CPU's value to 8 bytes.
    let per_cpu = (value_size as usize).div_ceil(8) * 8;
    let key_size = size_of::<K>();
    let mut row: Vec<V> = Vec::with_capacity(cpus);
    walk(
        map,
        key_size,
        per_cpu * cpus,
        max_entries,
        chunk,
        |keys, values, n| {
            for i in 0..n {
                row.clear();
                let base = &values[i * per_cpu * cpus..(i + 1) * per_cpu * cpus];
                row.extend((0..cpus).map(|cpu| read::<V>(base, cpu, per_cpu)));
                each(read(keys, i, key_size), &row);
            }
        },
    )
}

/// Deletes `keys` from `map` in one syscall (more when some are missing: a missing key stops
/// the kernel's batch, so it is skipped and the rest deleted). Returns how many were deleted.
pub fn delete_batch<K: Pod>(map: &MapData, keys: &[K]) -> Result<u32, BatchError> {
    let info = map.info().map_err(BatchError::Info)?;
    if info.key_size() as usize != size_of::<K>() {
        return Err(BatchError::Size {
            what: "key",
            map: info.key_size(),
            rust: size_of::<K>(),
        });
    }
    let fd = map.fd().as_fd().as_raw_fd();
    let mut deleted = 0u32;
    let mut rest = keys;
    while !rest.is_empty() {
        let count = u32::try_from(rest.len()).unwrap_or(u32::MAX);
        let mut attr = BatchAttr {
            keys: rest.as_ptr() as u64,
            count,
            map_fd: fd as u32,
            ..BatchAttr::default()
        };
        let result = bpf(BPF_MAP_DELETE_BATCH, &mut attr);
        let done = attr.count.min(count);
        deleted += done;
        match result {
            Ok(()) => rest = &rest[done as usize..],
            // Key `done` is not in the map: skip it.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                rest = &rest[(done as usize + 1).min(rest.len())..]
            }
            Err(source) => {
                return Err(BatchError::Syscall {
                    op: "BPF_MAP_DELETE_BATCH",
                    source,
                })
            }
        }
    }
    Ok(deleted)
}

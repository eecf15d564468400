//! Fuzz targets: one function per parser an outsider can reach, each driving the real parsing
//! and validation code with arbitrary bytes. A target returns normally for every input; a
//! panic (or an abort, or a hang) is a bug in lqos.
//!
//! `src/bin/afl.rs` runs them under AFL++ (`scripts/fuzz.sh`); `tests/replay.rs` replays the
//! committed corpus (`corpus/<target>/`) and the regression inputs (`regressions/<target>/`)
//! through the same functions in the normal test suite. docs/reliability.md has the figures.

use ipnet::IpNet;
use lqos_config::{Config, InputTexts, Inputs, IpRanges};
use lqos_plan::{IpMapping, QueuePlan, TcOp};
use lqosd::apply::{Kernel, LeafHandles, MapFailure, TcFailure};
use std::hint::black_box;
use std::path::Path;
use std::sync::OnceLock;

mod integrations;
pub use integrations::{
    integrations, rendered as integration_files, SEPARATOR as INTEGRATION_BODY_SEPARATOR,
    SOURCES as INTEGRATION_SOURCES,
};

/// A fuzz target: its name (the corpus directory) and its function.
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]),
}

/// Every target, in the order `scripts/fuzz.sh` runs them.
pub const TARGETS: &[Target] = &[
    Target {
        name: "shaped_devices",
        run: shaped_devices,
    },
    Target {
        name: "network_json",
        run: network_json,
    },
    Target {
        name: "overrides",
        run: overrides,
    },
    Target {
        name: "lqos_conf",
        run: lqos_conf,
    },
    Target {
        name: "bus_frames",
        run: bus_frames,
    },
    Target {
        name: "bus_messages",
        run: bus_messages,
    },
    Target {
        name: "webui_bodies",
        run: webui_bodies,
    },
    Target {
        name: "integrations",
        run: integrations,
    },
];

/// The target called `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// The example inputs of etc/: the fixed files around the one a target fuzzes.
const ETC_CONF: &str = include_str!("../../etc/lqos.conf");
const ETC_CSV: &str = include_str!("../../etc/ShapedDevices.csv");
const ETC_NETWORK: &str = include_str!("../../etc/network.json");
const ETC_OVERRIDES: &str = include_str!("../../etc/lqos_overrides.json");

/// etc/lqos.conf, parsed once: the planner's settings and the IP ranges.
fn etc_config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(
        || match Config::parse(ETC_CONF, "etc/lqos.conf", Path::new("/etc/lqos")) {
            (Some(c), _) => c,
            (None, d) => panic!("etc/lqos.conf does not parse: {d:?}"),
        },
    )
}

/// The inputs validated as `lqos-scheduler` validates them, then planned as it plans them
/// when they pass: a row or node that validation lets through must not break the planner.
fn validate_and_plan(texts: &InputTexts) {
    let config = etc_config();
    let (inputs, _diagnostics) = lqos_config::parse_inputs(texts, &config.ip_ranges);
    if let Some(inputs) = inputs {
        plan(&inputs, config);
    }
}

fn plan(inputs: &Inputs, config: &Config) {
    for queues in [1, 3] {
        let opts = lqos_scheduler::plan::AssignOptions {
            binpacking: queues == 3,
            rebalance: false,
        };
        if let Ok(planned) = lqos_scheduler::plan::plan(inputs, config, queues, None, opts) {
            lqos_plan::render_tc(&planned.plan);
            apply_plan(&planned.plan);
        }
    }
}

/// ShapedDevices.csv (bytes, as read from disk or `[http_import]`) with etc/'s network.json
/// and overrides.
pub fn shaped_devices(data: &[u8]) {
    validate_and_plan(&InputTexts {
        shaped_devices: data,
        network: ETC_NETWORK,
        overrides: Some(ETC_OVERRIDES),
    });
}

/// network.json with etc/'s ShapedDevices.csv and overrides. lqos reads it as UTF-8 text (a
/// file that is not is refused as unreadable before parsing).
pub fn network_json(data: &[u8]) {
    let Ok(network) = std::str::from_utf8(data) else {
        return;
    };
    validate_and_plan(&InputTexts {
        shaped_devices: ETC_CSV.as_bytes(),
        network,
        overrides: Some(ETC_OVERRIDES),
    });
}

/// lqos_overrides.json with etc/'s ShapedDevices.csv and network.json.
pub fn overrides(data: &[u8]) {
    let Ok(overrides) = std::str::from_utf8(data) else {
        return;
    };
    validate_and_plan(&InputTexts {
        shaped_devices: ETC_CSV.as_bytes(),
        network: ETC_NETWORK,
        overrides: Some(overrides),
    });
}

/// lqos.conf, parsed and validated as lqosd and lqos-scheduler load it; a config that passes
/// then plans etc/'s inputs (its interfaces, queues and SQM settings shape the plan).
pub fn lqos_conf(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // As Config::load: a config with a rejected key is not used.
    let (config, diagnostics) = Config::parse(text, "lqos.conf", Path::new("/etc/lqos"));
    let Some(config) = config.filter(|_| !diagnostics.rejects()) else {
        return;
    };
    let texts = InputTexts {
        shaped_devices: ETC_CSV.as_bytes(),
        network: ETC_NETWORK,
        overrides: Some(ETC_OVERRIDES),
    };
    let (inputs, _) = lqos_config::parse_inputs(&texts, &config.ip_ranges);
    if let Some(inputs) = inputs {
        plan(&inputs, &config);
    }
}

/// A current-thread Tokio runtime with the timer, as the bus code needs (one per thread:
/// AFL's persistent loop reuses it).
fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        match tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => panic!("cannot build a Tokio runtime: {e}"),
        }
    })
}

/// Everything a bus peer sends on one connection: frame headers and payloads as lqosd's
/// server reads them (first byte even) or as a client reads lqosd's answers (odd), with a
/// small frame limit so that length checks are reached.
pub fn bus_frames(data: &[u8]) {
    let Some((&mode, stream)) = data.split_first() else {
        return;
    };
    let as_server = mode % 2 == 0;
    let max_len = if mode & 2 == 0 { 4096 } else { 64 };
    let _ = runtime().block_on(lqos_bus::frame::decode_stream(stream, as_server, max_len));
}

/// One message payload: as a request to lqosd (first byte even) or a response to a client
/// (odd). A decoded plan goes through what lqosd does with it before the kernel: the
/// applier (diff, steps, leaf handles, rollback) against a kernel that takes everything, and
/// the address index the WebUI and the bus look prefixes up in.
pub fn bus_messages(data: &[u8]) {
    let Some((&mode, payload)) = data.split_first() else {
        return;
    };
    if mode % 2 == 1 {
        let _ = lqos_bus::decode_response(payload);
        return;
    }
    let Ok(request) = lqos_bus::decode_request(payload) else {
        return;
    };
    // lqosd refuses a plan whose text would not stay within its `tc -batch` lines before it
    // goes further (its other checks compare with the live interfaces).
    let plan = match request {
        lqos_bus::Request::SubmitPlan { plan, .. } => plan,
        // A delta is patched onto the live plan (here the empty one) first.
        lqos_bus::Request::SubmitDelta { delta, .. } => {
            match delta.patch(&lqosd::apply::empty_plan()) {
                Ok((plan, _)) => plan,
                Err(_) => return,
            }
        }
        _ => return,
    };
    if lqosd::apply::unsafe_text(&plan).is_empty() {
        apply_plan(&plan);
    }
}

fn apply_plan(plan: &QueuePlan) {
    use lqosd::apply::{apply, empty_plan, plan_hash};
    let mut kernel = TakesAll;
    let mut handles = LeafHandles::default();
    let empty = empty_plan();
    plan_hash(plan);
    if apply(&mut kernel, &empty, plan, None, 1 << 20, &mut handles).is_ok() {
        let _ = apply(&mut kernel, plan, &empty, None, 1 << 20, &mut handles);
    }
    let index = lqosd::prefix_index::PrefixIndex::new(&plan.mappings);
    for m in plan.mappings.iter().take(8) {
        index.lookup(m.prefix.addr());
    }
}

/// A kernel that accepts every operation, rendering each as lqosd renders it for `tc -batch`
/// and keying each mapping as the eBPF map is keyed.
struct TakesAll;

impl Kernel for TakesAll {
    /// Each operation must be exactly one `tc -batch` line: text that spilled onto a second
    /// line would run a `tc` command of the sender's choosing as root.
    fn run_tc(&mut self, ops: &[TcOp]) -> Result<(), TcFailure> {
        for op in ops {
            let line = op.to_string();
            assert!(
                !line.contains(['\n', '\r', '\\', '"', '\'', '#']),
                "a tc -batch line that is not one command: {line:?}"
            );
        }
        Ok(())
    }

    fn upsert_mappings(&mut self, mappings: &[IpMapping]) -> Result<(), MapFailure> {
        for m in mappings {
            black_box((
                lqos_ebpf::LqosIpKey::from_net(m.prefix),
                m.download.as_u32(),
                m.upload.as_u32(),
            ));
        }
        Ok(())
    }

    fn remove_mappings(&mut self, prefixes: &[IpNet]) -> Result<(), MapFailure> {
        for p in prefixes {
            black_box(lqos_ebpf::LqosIpKey::from_net(*p));
        }
        Ok(())
    }
}

/// The WebUI's JSON bodies as their handlers decode and check them: the first byte picks
/// adding a circuit, replacing circuit "1001" (which etc/ShapedDevices.csv has), or logging in.
/// A circuit edit is spliced into etc/ShapedDevices.csv and validated with etc/'s other
/// inputs, as the handler does before it writes anything.
pub fn webui_bodies(data: &[u8]) {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let texts = InputTexts {
        shaped_devices: ETC_CSV.as_bytes(),
        network: ETC_NETWORK,
        overrides: Some(ETC_OVERRIDES),
    };
    let ranges: &IpRanges = &etc_config().ip_ranges;
    let _ = match mode % 3 {
        0 => lqosd::web::check_edit_body(body, None, "", &texts, ranges),
        1 => lqosd::web::check_edit_body(body, Some("1001"), "", &texts, ranges),
        _ => lqosd::web::decode_credentials(body),
    };
}

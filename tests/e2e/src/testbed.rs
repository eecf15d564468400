//! A shaper test bed with real traffic: an "internet" host, the shaper (its two interfaces
//! bridged) running the real lqosd, and a "subscribers" host carrying many addresses, each in
//! its own network namespace. Measures with iperf3.
//!
//! ```text
//!  inet ns            shaper ns (br0)              subs ns
//!  eth0 <---veth---> lqi  [XDP, TC, mq/HTB]  lqn <---veth---> eth0
//!  100.64.0.1/16     to_internet        to_network           100.64.1.N/16 ...
//!  fd00:64::1/64                                             fd00:64::N, fd00:65::/64 on-link
//! ```

use crate::{bin_path, run_output, NetNs, TestDir};
use anyhow::{bail, ensure, Context, Result};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The address of the Internet host.
pub const INET_V4: &str = "100.64.0.1";
pub const INET_V6: &str = "fd00:64::1";

pub struct Testbed {
    pub inet: NetNs,
    pub shaper: NetNs,
    pub subs: NetNs,
    /// On a stick: the namespace of the VLAN switch between the hosts and the shaper.
    pub switch: Option<NetNs>,
    /// The interface section of lqos.conf.
    interfaces: String,
    pub dir: TestDir,
    pub bpffs: PathBuf,
    lqosd: Option<Child>,
    scheduler: Option<Child>,
    port: std::sync::atomic::AtomicU16,
    /// Given to lqosd as `NOTIFY_SOCKET` (with a 1 s `WATCHDOG_USEC`) when set.
    pub notify_socket: Option<PathBuf>,
    options: Options,
    /// Extra environment of lqosd and the scheduler (`LD_PRELOAD` of libfaketime, ...).
    pub env: Vec<(String, String)>,
    /// Lines added to lqos.conf's `[queues]` table by [`Testbed::write_inputs`].
    pub queues_conf: String,
}

/// How a test bed differs from the usual one.
#[derive(Debug, Clone)]
pub struct Options {
    /// Tx queues of the shaper's veths.
    pub queues: u32,
    /// Leave tx checksum offload on the hosts' senders (veth's default). Off by default, so
    /// that lqosd runs native XDP (`xdp_mode = "native"`), the path real NICs take; on, lqosd
    /// keeps its default `xdp_mode` (generic on veth).
    pub checksum_offload: bool,
    /// `[lqosd] bpf_pin_dir`; by default a directory on the test's own bpffs.
    pub pin_dir: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            queues: 2,
            checksum_offload: false,
            pin_dir: None,
        }
    }
}

impl Testbed {
    /// Builds the namespaces, links and bridge, and a private bpffs for lqosd's pins.
    pub fn new(label: &str) -> Result<Testbed> {
        Self::with(label, Options::default())
    }

    /// [`Testbed::new`] with `options`.
    pub fn with(label: &str, options: Options) -> Result<Testbed> {
        let dir = TestDir::new(label)?;
        let bpffs = private_bpffs(&dir)?;
        let (inet, shaper, subs) = (NetNs::new()?, NetNs::new()?, NetNs::new()?);
        shaper.add_veth_to("lqi", &inet, "eth0", options.queues)?;
        shaper.add_veth_to("lqn", &subs, "eth0", options.queues)?;
        shaper.run("ip", &["link", "add", "br0", "type", "bridge"])?;
        for dev in ["lqi", "lqn"] {
            shaper.run("ip", &["link", "set", dev, "master", "br0"])?;
            shaper.set_up(dev)?;
        }
        shaper.set_up("br0")?;
        for (ns, v4, v6) in [
            (&inet, "100.64.0.1/16", "fd00:64::1/64"),
            (&subs, "100.64.0.2/16", "fd00:64::2/64"),
        ] {
            // Software checksums on the senders: native XDP into a cpumap drops veth's
            // CHECKSUM_PARTIAL state (see lqos-ebpf's crate docs); real NICs don't need this.
            if !options.checksum_offload {
                ns.run("ethtool", &["-K", "eth0", "tx", "off"])?;
            }
            ns.run("ip", &["addr", "add", v4, "dev", "eth0"])?;
            ns.run("ip", &["-6", "addr", "add", v6, "dev", "eth0", "nodad"])?;
            ns.set_up("eth0")?;
        }
        // The subscribers' second IPv6 /64 is on the same link.
        inet.run("ip", &["-6", "route", "add", "fd00:65::/64", "dev", "eth0"])?;
        subs.run("ip", &["-6", "route", "add", "fd00:64::/64", "dev", "eth0"])?;
        let interfaces = "[bridge]\nto_internet = \"lqi\"\nto_network = \"lqn\"\n".to_owned();
        Ok(Testbed {
            inet,
            shaper,
            subs,
            switch: None,
            interfaces,
            dir,
            bpffs,
            lqosd: None,
            scheduler: None,
            notify_socket: None,
            env: Vec::new(),
            queues_conf: String::new(),
            port: std::sync::atomic::AtomicU16::new(0),
            options,
        })
    }

    /// The on-a-stick variant: the shaper has one interface `lqs` (2 tx queues: one per
    /// direction), a trunk carrying VLAN 100 (Internet) and 200 (subscribers) from a switch
    /// namespace whose access ports lead to the two hosts. The switch is made of TC programs
    /// (`lqos_ebpf::TEST_SWITCH_OBJECT`): this kernel has no 802.1Q devices.
    ///
    /// ```text
    ///  inet eth0 <-> ti [switch: tag 100] tt <==trunk==> lqs (shaper, one interface)
    ///  subs eth0 <-> ts [switch: tag 200]
    /// ```
    pub fn on_a_stick(label: &str) -> Result<Testbed> {
        let dir = TestDir::new(label)?;
        let bpffs = private_bpffs(&dir)?;
        let (inet, shaper, subs, switch) =
            (NetNs::new()?, NetNs::new()?, NetNs::new()?, NetNs::new()?);
        switch.add_veth_to("ti", &inet, "eth0", 1)?;
        switch.add_veth_to("ts", &subs, "eth0", 1)?;
        switch.add_veth_to("tt", &shaper, "lqs", 2)?;
        // Tags travel in the frames (not as offload metadata), as on a real trunk, so the
        // shaper's XDP program sees them.
        switch.run("ethtool", &["-K", "tt", "txvlan", "off"])?;
        shaper.run("ethtool", &["-K", "lqs", "txvlan", "off"])?;
        for dev in ["ti", "ts", "tt"] {
            switch.set_up(dev)?;
        }
        shaper.set_up("lqs")?;
        for (ns, v4) in [(&inet, "100.64.0.1/16"), (&subs, "100.64.0.2/16")] {
            ns.run("ethtool", &["-K", "eth0", "tx", "off"])?;
            ns.run("ip", &["addr", "add", v4, "dev", "eth0"])?;
            ns.set_up("eth0")?;
        }
        let pins = bpffs.join("switch");
        let ns_name = switch.name().to_owned();
        crate::in_namespace(&ns_name, move || attach_switch(&pins))?;
        let interfaces =
            "[single_interface]\ninterface = \"lqs\"\ninternet_vlan = 100\nnetwork_vlan = 200\n"
                .to_owned();
        Ok(Testbed {
            inet,
            shaper,
            subs,
            switch: Some(switch),
            interfaces,
            dir,
            bpffs,
            lqosd: None,
            scheduler: None,
            notify_socket: None,
            env: Vec::new(),
            queues_conf: String::new(),
            port: std::sync::atomic::AtomicU16::new(0),
            options: Options::default(),
        })
    }

    /// Gives the subscriber host one more address (`100.64.1.7/16` style or IPv6 `/64`).
    pub fn add_subscriber_addr(&self, cidr: &str) -> Result<()> {
        let mut args = vec!["addr", "add", cidr, "dev", "eth0"];
        if cidr.contains(':') {
            args.push("nodad");
        }
        self.subs.run("ip", &args).map(drop)
    }

    /// Writes lqos.conf (bridge lqi/lqn, pfifo leaves: this kernel has no CAKE), network.json
    /// and ShapedDevices.csv; `extra` is appended to lqos.conf.
    pub fn write_inputs(
        &self,
        network_json: &str,
        shaped_devices_csv: &str,
        extra: &str,
    ) -> Result<PathBuf> {
        let d = self.dir.path().display();
        let pins = self
            .options
            .pin_dir
            .clone()
            .unwrap_or_else(|| self.bpffs.join("pins"));
        let xdp_mode = if self.options.checksum_offload {
            ""
        } else {
            "xdp_mode = \"native\"\n"
        };
        let conf = format!(
            "lqos_directory = \"{d}\"\nstate_directory = \"{d}/state\"\n\
             {}\
             [queues]\ndefault_sqm = \"pfifo\"\ndownlink_bandwidth_mbps = 2000\nuplink_bandwidth_mbps = 2000\n\
             generated_pn_download_mbps = 2000\ngenerated_pn_upload_mbps = 2000\n{}\
             [lqosd]\nbus_socket = \"{d}/bus\"\nbpf_pin_dir = \"{}\"\n{xdp_mode}{extra}",
            self.interfaces,
            self.queues_conf,
            pins.display()
        );
        self.dir.write("network.json", network_json)?;
        self.dir.write("ShapedDevices.csv", shaped_devices_csv)?;
        self.dir.write("lqos.conf", conf)
    }

    pub fn config(&self) -> PathBuf {
        self.dir.join("lqos.conf")
    }

    /// Starts lqosd in the shaper namespace and waits until its bus answers.
    pub fn start_lqosd(&mut self) -> Result<()> {
        self.spawn_lqosd()?;
        self.wait_for_bus(Duration::from_secs(20))
    }

    /// Starts lqosd in the shaper namespace without waiting for it.
    pub fn spawn_lqosd(&mut self) -> Result<()> {
        ensure!(self.lqosd.is_none(), "lqosd already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("lqosd.log"))?;
        let mut cmd = self.shaper.command(
            bin_path("lqosd").to_str().context("path")?,
            &["--config", self.config().to_str().context("path")?],
        );
        cmd.env("RUST_LOG", "info")
            .env_remove("NOTIFY_SOCKET")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        if let Some(sock) = &self.notify_socket {
            cmd.env("NOTIFY_SOCKET", sock)
                .env("WATCHDOG_USEC", "1000000");
        }
        self.lqosd = Some(cmd.spawn().context("cannot start lqosd")?);
        Ok(())
    }

    /// Waits until lqosd's bus answers (lqosd binds it once the saved plan is live).
    pub fn wait_for_bus(&mut self, limit: Duration) -> Result<()> {
        let socket = self.dir.join("bus");
        let deadline = Instant::now() + limit;
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            if let Some(child) = self.lqosd.as_mut() {
                if let Some(status) = child.try_wait()? {
                    self.lqosd = None;
                    bail!("lqosd exited at startup ({status}):\n{}", self.lqosd_log());
                }
            }
            ensure!(
                Instant::now() < deadline,
                "lqosd's bus did not answer within {limit:?}:\n{}",
                self.lqosd_log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// Sends SIGTERM and waits for lqosd to exit; its exit status must be success.
    pub fn stop_lqosd(&mut self) -> Result<()> {
        let mut child = self.lqosd.take().context("lqosd is not running")?;
        let pid = child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status()?;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait()? {
                ensure!(
                    status.success(),
                    "lqosd exited with {status}:\n{}",
                    self.lqosd_log()
                );
                return Ok(());
            }
            ensure!(
                Instant::now() < deadline,
                "lqosd did not stop within 20 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL for lqosd (a crash); waits until it is gone.
    pub fn kill_lqosd(&mut self) -> Result<()> {
        let mut child = self.lqosd.take().context("lqosd is not running")?;
        child.kill()?;
        child.wait()?;
        Ok(())
    }

    /// Starts `lqos-scheduler run` (the service) in the shaper namespace; its log goes to
    /// `scheduler.log`. Stopped (SIGKILL) when the test bed drops.
    pub fn start_scheduler_service(&mut self) -> Result<()> {
        ensure!(self.scheduler.is_none(), "the scheduler is already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("scheduler.log"))?;
        let config = self.config();
        let mut cmd = self.shaper.command(
            bin_path("lqos-scheduler").to_str().context("path")?,
            &["--config", config.to_str().context("path")?, "run"],
        );
        cmd.env("RUST_LOG", "info")
            .env_remove("NOTIFY_SOCKET")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        self.scheduler = Some(cmd.spawn().context("cannot start lqos-scheduler run")?);
        Ok(())
    }

    /// SIGKILL for the scheduler service (a crash).
    pub fn kill_scheduler(&mut self) -> Result<()> {
        let mut child = self
            .scheduler
            .take()
            .context("the scheduler is not running")?;
        child.kill()?;
        child.wait()?;
        Ok(())
    }

    /// The scheduler service's pid (for SIGSTOP/SIGCONT), while it runs.
    pub fn scheduler_pid(&self) -> Option<u32> {
        self.scheduler.as_ref().map(Child::id)
    }

    pub fn scheduler_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("scheduler.log")).unwrap_or_default()
    }

    /// Waits until lqosd's log holds `n` "plan applied" lines.
    pub fn wait_for_applies(&self, n: usize, timeout: Duration) -> Result<()> {
        let applied = crate::bed::wait_until(timeout, || {
            Ok(self.lqosd_log().matches("plan applied").count() >= n)
        })?;
        ensure!(
            applied,
            "lqosd applied fewer than {n} plans within {timeout:?}:\n{}\n--- scheduler ---\n{}",
            self.lqosd_log(),
            self.scheduler_log()
        );
        Ok(())
    }

    pub fn lqosd_pid(&self) -> Option<u32> {
        self.lqosd.as_ref().map(Child::id)
    }

    pub fn lqosd_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("lqosd.log")).unwrap_or_default()
    }

    /// `lqos-scheduler refresh` in the shaper namespace; fails unless it succeeds. Returns stderr.
    pub fn refresh(&self) -> Result<String> {
        let out = self.scheduler(&["refresh"])?;
        ensure!(
            out.status.success(),
            "refresh failed:\n{}\n--- lqosd ---\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.lqosd_log()
        );
        Ok(String::from_utf8_lossy(&out.stderr).into_owned())
    }

    pub fn scheduler(&self, args: &[&str]) -> Result<std::process::Output> {
        let config = self.config();
        let mut full = vec!["--config", config.to_str().context("path")?];
        full.extend_from_slice(args);
        let mut cmd = self
            .shaper
            .command(bin_path("lqos-scheduler").to_str().context("path")?, &full);
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        run_output(&mut cmd, None)
    }

    fn next_port(&self) -> u16 {
        5201 + self.port.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// Starts an iperf3 flow of `secs` seconds between the Internet host and `sub_addr`:
    /// download (Internet -> subscriber) or, with `upload`, subscriber -> Internet.
    pub fn start_flow(&self, sub_addr: &str, upload: bool, secs: u32) -> Result<Flow> {
        let port = self.next_port().to_string();
        let server = self
            .subs
            .command("iperf3", &["-s", "-1", "-B", sub_addr, "-p", &port])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        // Wait for the server to listen.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let ss = self
                .subs
                .run("ss", &["-Hltn", "sport", "=", &format!(":{port}")])?;
            if !ss.trim().is_empty() {
                break;
            }
            ensure!(
                Instant::now() < deadline,
                "iperf3 server on {sub_addr}:{port} did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let t = secs.to_string();
        let mut args = vec![
            "-c", sub_addr, "-p", &port, "-t", &t, "-O", "1", "-J", "-i", "0.5",
        ];
        if upload {
            // The server (the subscriber) sends.
            args.push("-R");
        }
        let client = self
            .inet
            .command("iperf3", &args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        Ok(Flow {
            server,
            client: Some(client),
            what: format!("{} {sub_addr}", if upload { "upload" } else { "download" }),
        })
    }

    /// One flow of 4 s (after a 1 s warm-up); its throughput.
    pub fn measure(&self, sub_addr: &str, upload: bool) -> Result<Throughput> {
        self.start_flow(sub_addr, upload, 4)?.finish()
    }

    /// Wire Mbit/s of a flow expected to run at `plan_mbps`. A run more than 5% off is
    /// measured again, at most three runs in all, and the last figure is returned for the
    /// caller to assert: a busy CI machine can starve one 4 s run, but a shaper that is
    /// wrong is wrong every time. Every off run is printed.
    pub fn measure_plan(&self, sub_addr: &str, upload: bool, plan_mbps: f64) -> Result<f64> {
        let mut mbps = 0.0;
        for attempt in 1..=3 {
            mbps = self.measure(sub_addr, upload)?.wire_mbps();
            if crate::bed::within(mbps, plan_mbps, 0.05) {
                break;
            }
            let way = if upload { "upload" } else { "download" };
            eprintln!(
                "{sub_addr} {way}: run {attempt} measured {mbps:.2} Mbit/s, plan {plan_mbps}"
            );
        }
        Ok(mbps)
    }
}

impl Drop for Testbed {
    fn drop(&mut self) {
        for mut child in [self.scheduler.take(), self.lqosd.take()]
            .into_iter()
            .flatten()
        {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("--- lqosd log ---\n{}", self.lqosd_log());
        }
        // The pinned links and maps go with the bpffs; the namespaces go with their own drops.
        let _ = Command::new("umount").arg("-l").arg(&self.bpffs).status();
    }
}

/// A bpffs of the test's own at `dir/bpf` (unmounted by the owner when it drops): pins made
/// there are visible to every process of the test, whatever mount namespace `ip netns exec`
/// gives it, and vanish with the test.
pub fn private_bpffs(dir: &TestDir) -> Result<PathBuf> {
    let bpffs = dir.mkdir("bpf")?;
    let mounted = Command::new("mount")
        .args(["-t", "bpf", "bpf"])
        .arg(&bpffs)
        .status()?;
    ensure!(
        mounted.success(),
        "cannot mount a bpffs at {}",
        bpffs.display()
    );
    Ok(bpffs)
}

/// Loads the test switch in the current namespace, attaches it to `ti`, `ts` (access) and
/// `tt` (trunk), and pins its links under `pins` so it outlives this thread.
fn attach_switch(pins: &std::path::Path) -> Result<()> {
    use aya::programs::{links::FdLink, SchedClassifier, TcAttachType};
    let mut ebpf =
        aya::Ebpf::load(lqos_ebpf::TEST_SWITCH_OBJECT).context("load the test switch")?;
    let cfg = lqos_ebpf::LqosTestSwitchCfg {
        ifindex_trunk: crate::ifindex("tt")?,
        ifindex_internet: crate::ifindex("ti")?,
        ifindex_subscribers: crate::ifindex("ts")?,
        internet_vlan: 100,
        network_vlan: 200,
    };
    let mut map: aya::maps::Array<_, lqos_ebpf::LqosTestSwitchCfg> =
        aya::maps::Array::try_from(ebpf.map_mut("sw_cfg").context("sw_cfg")?)?;
    map.set(0, cfg, 0)?;
    std::fs::create_dir_all(pins)?;
    for (prog, devs) in [("sw_access", &["ti", "ts"][..]), ("sw_trunk", &["tt"][..])] {
        let p: &mut SchedClassifier = ebpf.program_mut(prog).context("program")?.try_into()?;
        lqos_ebpf::load_program(|| p.load())?;
        for dev in devs {
            let id = p.attach(dev, TcAttachType::Ingress)?;
            let link = FdLink::try_from(p.take_link(id)?)?;
            link.pin(pins.join(format!("{prog}_{dev}")))?;
        }
    }
    Ok(())
}

/// A running iperf3 measurement.
pub struct Flow {
    server: Child,
    client: Option<Child>,
    what: String,
}

/// What iperf3 measured: the mean and every 0.5 s interval, in bit/s of TCP payload.
#[derive(Debug, Clone)]
pub struct Throughput {
    pub mean_bps: f64,
    pub intervals_bps: Vec<f64>,
}

/// Bytes on the wire per byte of TCP payload for full-size segments (1448 B of payload in a
/// 1514 B Ethernet frame, with timestamps): HTB meters the frames, iperf3 the payload.
pub const WIRE_PER_PAYLOAD: f64 = 1514.0 / 1448.0;

impl Throughput {
    /// The rate on the wire (what HTB's ceilings limit), in Mbit/s.
    pub fn wire_mbps(&self) -> f64 {
        self.mean_bps * WIRE_PER_PAYLOAD / 1e6
    }
}

impl Flow {
    /// Whether the client has exited (its result is ready for [`Flow::finish`]).
    pub fn done(&mut self) -> bool {
        self.client
            .as_mut()
            .is_none_or(|c| c.try_wait().ok().flatten().is_some())
    }

    pub fn finish(mut self) -> Result<Throughput> {
        let out = self
            .client
            .take()
            .context("flow already finished")?
            .wait_with_output()?;
        let _ = self.server.kill();
        let _ = self.server.wait();
        ensure!(
            out.status.success(),
            "iperf3 {} failed: {}{}",
            self.what,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).context("iperf3 JSON")?;
        let mean_bps = v["end"]["sum_received"]["bits_per_second"]
            .as_f64()
            .context("no end.sum_received")?;
        let intervals_bps = v["intervals"]
            .as_array()
            .context("no intervals")?
            .iter()
            .filter(|i| i["sum"]["omitted"].as_bool() != Some(true))
            .filter_map(|i| i["sum"]["bits_per_second"].as_f64())
            .collect();
        Ok(Throughput {
            mean_bps,
            intervals_bps,
        })
    }
}

impl Drop for Flow {
    fn drop(&mut self) {
        if let Some(mut client) = self.client.take() {
            let _ = client.kill();
            let _ = client.wait();
        }
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// A ShapedDevices.csv row (LibreQoS column order).
pub fn device_row(
    circuit: &str,
    parent: &str,
    ipv4: &str,
    ipv6: &str,
    down_mbps: f64,
    up_mbps: f64,
) -> String {
    format!("{circuit},{circuit},{circuit}-dev,{circuit}-dev,{parent},,,,\"{ipv4}\",\"{ipv6}\",1,1,{down_mbps},{up_mbps},\n")
}

/// The header of ShapedDevices.csv.
pub const CSV_HEADER: &str = "Circuit ID,Circuit Name,Device ID,Device Name,Parent Node,Parent Node ID,Anchor Node ID,MAC,IPv4,IPv6,Download Min Mbps,Upload Min Mbps,Download Max Mbps,Upload Max Mbps,Comment\n";

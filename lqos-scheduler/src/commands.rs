//! The CLI's commands: load once, validate, plan, print. Diagnostics and the summary go to
//! stderr; `refresh --dry-run` prints the plan (tc -batch text, then IP mappings) to stdout.

use anyhow::Context;
use lqos_config::{Config, Diagnostics, Loaded, Severity};
use lqos_plan::{render_mappings, write_tc, QueuePlan, MAPPINGS_HEADER};
use lqos_scheduler::cli::RefreshArgs;
use lqos_scheduler::plan::{
    self, queue_layout, AssignOptions, InputsOnly, Machine, Planned, QueueLayout, ThisMachine,
};
use lqos_scheduler::state;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Everything a run found, loaded and planned, with timings.
struct Run {
    /// Held until the refresh is done (submitted, state saved).
    _refresh_lock: Option<lqos_scheduler::service::lock::InstanceLock>,
    config: Config,
    loaded: Loaded,
    layout: QueueLayout,
    planned: Planned,
    notes: Diagnostics,
    load_time: Duration,
    plan_time: Duration,
    /// The last plan lqosd applied from this state directory, read while the inputs are
    /// parsed and planned (refreshes that apply only).
    base: Option<std::thread::JoinHandle<Option<state::Submitted>>>,
}

/// Where a refresh takes its inputs from.
enum Source<'a> {
    /// `lqos_directory` (after the integrations, when they run); only `share` when given
    /// (`refresh --local` on a fleet box).
    Local { share: Option<Vec<String>> },
    /// A fleet publication unpacked in `dir`: only `share` is planned.
    Snapshot { dir: &'a Path, share: Vec<String> },
}

/// Loads the config and inputs and plans. `Err(code)` after printing why when it cannot.
fn load_and_plan(
    config_path: &Path,
    machine: &dyn Machine,
    dry_run: bool,
    rebalance: bool,
    debug: bool,
    integrations: bool,
    import_now: bool,
) -> anyhow::Result<Result<Run, ExitCode>> {
    load_and_plan_from(
        config_path,
        machine,
        (dry_run, rebalance, debug, integrations, import_now),
        &Source::Local { share: None },
    )
}

fn load_and_plan_from(
    config_path: &Path,
    machine: &dyn Machine,
    (dry_run, rebalance, debug, integrations, import_now): (bool, bool, bool, bool, bool),
    source: &Source,
) -> anyhow::Result<Result<Run, ExitCode>> {
    let started = Instant::now();
    let (mut config, mut notes) = match Config::load(config_path) {
        Ok(c) => c,
        Err(lqos_config::ConfigError::Invalid { diagnostics, .. }) => {
            print_diagnostics(&diagnostics, debug);
            eprintln!("lqos.conf rejected: nothing planned");
            return Ok(Err(ExitCode::FAILURE));
        }
        Err(e) => return Err(e).context("loading the configuration"),
    };
    let dry_run = dry_run || config.queues.dry_run;
    let snapshot = matches!(source, Source::Snapshot { .. });
    // A refresh that applies waits for any other to finish first (a dry run changes no state).
    let refresh_lock = if (integrations || snapshot) && !dry_run {
        match lqos_scheduler::service::lock::acquire_refresh(
            &config.state_directory,
            Duration::from_secs(30 * 60),
        ) {
            Ok(l) => Some(l),
            Err(e) => {
                eprintln!("error: {:#}", anyhow::Error::from(e));
                return Ok(Err(ExitCode::FAILURE));
            }
        }
    } else {
        None
    };
    let base = (integrations && !dry_run).then(|| {
        let dir = config.state_directory.clone();
        std::thread::spawn(move || state::load_submitted(&dir))
    });
    if integrations {
        progress(1, "integrations");
        for line in lqos_scheduler::imports::run(&config, import_now) {
            eprintln!("{line}");
        }
    }
    progress(2, "validating inputs");
    let (loaded, share) = match source {
        Source::Local { share } => (lqos_scheduler::steady::load_steady(&config), share.as_ref()),
        Source::Snapshot { dir, share } => {
            // Written whole (renamed into place) by the fleet service: no need to wait.
            config.lqos_directory = dir.to_path_buf();
            (lqos_config::load_inputs(&config), Some(share))
        }
    };
    let loaded = loaded.map(|l| match share {
        None => l,
        Some(share) => {
            let shared = lqos_config::share::take_share(l.inputs, share);
            for unknown in &shared.unknown {
                if unknown.starts_with(lqos_config::share::RULE_PREFIX) {
                    eprintln!("warning: fleet share: the rule {unknown} matches no top-level node of network.json (nothing planned for it)");
                } else {
                    eprintln!("warning: fleet share: {unknown} is not a top-level node of network.json (nothing planned for it)");
                }
            }
            Loaded {
                inputs: shared.inputs,
                diagnostics: l.diagnostics,
            }
        }
    });
    let loaded = match loaded {
        Ok(l) => l,
        Err(rejected) => {
            print_diagnostics(&notes, debug);
            print_diagnostics(&rejected.diagnostics, debug);
            eprintln!("{rejected}");
            return Ok(Err(ExitCode::FAILURE));
        }
    };
    let load_time = started.elapsed();
    let started = Instant::now();
    let previous = state::load(&config.state_directory, &mut notes);
    let opts = AssignOptions {
        binpacking: config.queues.use_binpacking,
        rebalance,
    };
    progress(3, "planning");
    let planned = queue_layout(&config, machine, dry_run).and_then(|layout| {
        plan::plan(
            &loaded.inputs,
            &config,
            layout.queues,
            previous.as_ref(),
            opts,
        )
        .map(|p| (layout, p))
    });
    let (layout, planned) = match planned {
        Ok(p) => p,
        Err(e) => {
            print_diagnostics(&notes, debug);
            print_diagnostics(&loaded.diagnostics, debug);
            eprintln!("error: {e} [nothing applied]");
            return Ok(Err(ExitCode::FAILURE));
        }
    };
    if let Some(warning) = &layout.warning {
        notes.push(
            lqos_config::Diagnostic::new(
                Severity::Warning,
                "lqos.conf",
                lqos_config::Location::Key("queues.override_available_queues".into()),
                warning.clone(),
            )
            .value(
                config
                    .queues
                    .override_available_queues
                    .unwrap_or(0)
                    .to_string(),
            ),
        );
    }
    Ok(Ok(Run {
        _refresh_lock: refresh_lock,
        config,
        loaded,
        layout,
        planned,
        notes,
        load_time,
        plan_time: started.elapsed(),
        base,
    }))
}

/// `lqos-scheduler validate`.
pub fn validate(config_path: &Path, debug: bool) -> anyhow::Result<ExitCode> {
    let run = match load_and_plan(config_path, &InputsOnly, true, false, debug, false, false)? {
        Ok(r) => r,
        Err(code) => return Ok(code),
    };
    let all = [&run.notes, &run.loaded.diagnostics, &run.planned.notes];
    for d in all {
        print_diagnostics(d, debug);
    }
    let errors: usize = all.iter().map(|d| d.count(Severity::Quarantine)).sum();
    let warnings: usize = all.iter().map(|d| d.count(Severity::Warning)).sum();
    let slow = slow_build_warning(&run);
    let i = &run.loaded.inputs;
    eprintln!(
        "{}: {} circuits valid, {} quarantined, {} errors, {} warnings",
        if errors == 0 { "valid" } else { "INVALID" },
        i.circuits.len(),
        i.quarantined.len(),
        errors,
        warnings + usize::from(slow)
    );
    Ok(if errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `lqos-scheduler refresh [--dry-run]`.
pub fn refresh(config_path: &Path, args: &RefreshArgs) -> anyhow::Result<ExitCode> {
    if let Some(file) = &args.publish_to {
        return crate::fleet_jobs::publish_to(config_path, file, args.debug);
    }
    let fence = crate::fleet_jobs::parse_fence(args.fence.as_deref())?;
    let share: Vec<String> = args
        .share
        .as_deref()
        .map(|s| {
            s.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let source = match &args.from_snapshot {
        Some(dir) => Source::Snapshot { dir, share },
        None if args.local => Source::Local {
            share: crate::fleet_jobs::local_share(config_path),
        },
        None => Source::Local { share: None },
    };
    if !args.dry_run && !args.local && args.from_snapshot.is_none() {
        if let Ok((c, _)) = Config::load(config_path) {
            if c.fleet.is_some() && !c.queues.dry_run {
                eprintln!("error: this box is part of a fleet ([fleet] in lqos.conf): its plans come from the fleet's leader. Use `lqos-scheduler refresh --local` to apply the local inputs without etcd (explicit local mode; the next publication replaces it), or --dry-run to look");
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    let integrations = args.from_snapshot.is_none();
    let run = match load_and_plan_from(
        config_path,
        &ThisMachine,
        (
            args.dry_run,
            args.rebalance,
            args.debug,
            integrations,
            args.import_now,
        ),
        &source,
    )? {
        Ok(r) => r,
        Err(code) => return Ok(code),
    };
    for d in [&run.notes, &run.loaded.diagnostics, &run.planned.notes] {
        print_diagnostics(d, args.debug);
    }
    if !(args.dry_run || run.config.queues.dry_run) {
        print_summary(&run, None, args.debug);
        if args.local && run.config.fleet.is_some() {
            crate::fleet_jobs::raise_local_mode(&run.config);
        }
        let mut run = run;
        let done = submit(&mut run, fence);
        // As below: the process ends here, no need to free the plans one allocation at a time.
        std::mem::forget(run);
        return done;
    }
    let started = Instant::now();
    // The tc text streams to stdout while the mappings render on the other core.
    let plan = &run.planned.plan;
    let written = std::thread::scope(|s| {
        let mappings = s.spawn(|| render_mappings(plan));
        let mut out = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
        write_tc(plan, &mut out)?;
        writeln!(out, "{MAPPINGS_HEADER}")?;
        let mappings = mappings
            .join()
            .map_err(|_| std::io::Error::other("rendering the IP mappings failed"))?;
        out.write_all(mappings.as_bytes())?;
        out.flush()
    });
    let render_time = started.elapsed();
    match written {
        Ok(()) => {}
        // A closed pipe (`| head`) is the reader's choice, not a failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        Err(e) => return Err(e).context("writing the plan to stdout"),
    }
    print_summary(&run, Some(render_time), args.debug);
    save_preview(&run, None);
    // The process ends here: freeing ~10^6 small allocations one by one would add ~0.1 s at
    // 100k circuits for nothing.
    std::mem::forget(run);
    Ok(ExitCode::SUCCESS)
}

/// How long lqosd may take to apply a plan (a full build of 100k circuits takes minutes on
/// kernels whose class creation is quadratic; see docs/benchmarks.md).
const APPLY_TIMEOUT: Duration = Duration::from_secs(900);

/// Sends the plan to lqosd and reports what it did; saves the class ids once they are live.
/// Steps of a refresh, for [`progress`].
const STEPS: u8 = 4;

/// `progress: N/STEPS what` on stderr: the service reads these lines while the refresh runs
/// and reports them (step and percent) to lqosd.
fn progress(step: u8, what: &str) {
    eprintln!(
        "{} {step}/{STEPS} {what}",
        lqos_scheduler::service::job::PROGRESS_PREFIX
    );
}

fn submit(run: &mut Run, fence: Option<lqos_bus::Fence>) -> anyhow::Result<ExitCode> {
    progress(4, "applying through lqosd");
    let socket = &run.config.lqosd.bus_socket;
    // A generation that grows with every refresh, across scheduler restarts: the wall clock,
    // but always past the live one (lqosd ignores older generations, and the clock may have
    // been stepped back).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_micros() as u64);
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let base = run.base.take().and_then(|b| b.join().ok().flatten());
    let plan = &run.planned.plan;
    let handed = runtime.block_on(hand_over(socket, plan, base.as_ref(), fence, now));
    let (sent_delta, response) = handed.map_err(|e| {
        anyhow::anyhow!(
            "cannot hand the plan to lqosd at {} (is lqosd running? `systemctl status lqosd`): {}",
            socket.display(),
            e.chain()
        )
    })?;
    let took = started.elapsed().as_secs_f64() * 1e3;
    // A whole plan is hashed after its answer (6 ms at 100k circuits).
    let hash = (sent_delta.as_ref()).map_or_else(|| lqos_plan::plan_hash(plan), |d| d.result_hash);
    match response {
        lqos_bus::Response::Applied {
            generation,
            summary: s,
        } => {
            save_state(run, generation, hash, base.as_ref(), sent_delta.as_ref());
            eprintln!(
                "applied generation {generation} in {took:.0} ms (lqosd {} ms): classes +{} ~{} -{}, IP mappings +{} ~{} -{}",
                s.duration_ms, s.classes_added, s.classes_changed, s.classes_removed,
                s.mappings_added, s.mappings_changed, s.mappings_removed
            );
            Ok(ExitCode::SUCCESS)
        }
        lqos_bus::Response::Unchanged { generation } => {
            save_state(run, generation, hash, base.as_ref(), None);
            eprintln!("unchanged: generation {generation} stays live ({took:.0} ms)");
            Ok(ExitCode::SUCCESS)
        }
        lqos_bus::Response::Rejected { reasons } => {
            for r in &reasons {
                eprintln!("lqosd rejected the plan: {r}");
            }
            eprintln!("nothing changed: the previous plan stays live");
            Ok(ExitCode::FAILURE)
        }
        other => anyhow::bail!("unexpected answer from lqosd: {other:?}"),
    }
}

/// Hands `plan` to lqosd: as a delta against `base` when lqosd's live plan is that base,
/// else whole (always whole with a fleet `fence`). `now`: the wall clock in microseconds, the
/// generation unless lqosd's is past it. With the answer comes the delta when one was
/// applied (it carries the plan's hash, computed in the pass that compares the plans).
async fn hand_over(
    socket: &std::path::Path,
    plan: &lqos_plan::QueuePlan,
    base: Option<&state::Submitted>,
    fence: Option<lqos_bus::Fence>,
    now: u64,
) -> Result<(Option<lqos_plan::PlanDelta>, lqos_bus::Response), lqos_bus::BusError> {
    let connect = || lqos_bus::Client::connect(socket, Duration::from_secs(5));
    let mut client = connect().await?;
    let (live, live_hash) = match client.request(&lqos_bus::Request::Status).await? {
        lqos_bus::Response::Status(s) => (s.applied_generation.unwrap_or(0), s.plan_hash),
        _ => (0, None),
    };
    let generation = now.max(live.saturating_add(1));
    let full = || match fence {
        None => lqos_bus::Request::SubmitPlan {
            generation,
            plan: plan.clone(),
        },
        Some(fence) => lqos_bus::Request::SubmitFencedPlan {
            generation,
            plan: plan.clone(),
            fence: Some(fence),
        },
    };
    // A fleet box's plan goes whole: lqosd checks its fence before anything else.
    if fence.is_some() {
        return Ok((
            None,
            client.request_with_timeout(&full(), APPLY_TIMEOUT).await?,
        ));
    }
    let delta = match base_for(base, live, live_hash.as_deref()) {
        Ok(base) => lqos_plan::PlanDelta::against(live, base.hash, &base.plan, plan),
        Err(why) => {
            eprintln!("sending the full plan: {why}");
            return Ok((
                None,
                client.request_with_timeout(&full(), APPLY_TIMEOUT).await?,
            ));
        }
    };
    let bytes = postcard::to_stdvec(&delta).map_or(0, |b| b.len());
    let elements = delta.new_elements();
    let answer = client
        .request_with_timeout(
            &lqos_bus::Request::SubmitDelta {
                generation,
                delta: delta.clone(),
            },
            APPLY_TIMEOUT,
        )
        .await?;
    // An lqosd without deltas answers Error (unknown request) and may close: ask afresh.
    if lqos_bus::is_base_mismatch(&answer) || matches!(answer, lqos_bus::Response::Error { .. }) {
        eprintln!(
            "lqosd refused the delta against generation {live} ({}): sending the full plan",
            refusal(&answer)
        );
        let answer = connect()
            .await?
            .request_with_timeout(&full(), APPLY_TIMEOUT)
            .await?;
        return Ok((None, answer));
    }
    eprintln!(
            "sent a delta of {bytes} bytes ({elements} new classes and mappings) against generation {live}"
        );
    Ok((Some(delta), answer))
}

/// The saved plan when it is exactly lqosd's live one (generation and hash), or why not.
fn base_for<'a>(
    base: Option<&'a state::Submitted>,
    live: u64,
    live_hash: Option<&str>,
) -> Result<&'a state::Submitted, String> {
    let Some(base) = base else {
        return Err(format!(
            "no plan applied from this state directory is kept ({})",
            state::SUBMITTED_PLAN_FILE
        ));
    };
    if live == 0 {
        return Err("lqosd has no live plan".into());
    }
    let hash = format!("{:016x}", base.hash);
    if (base.generation, Some(hash.as_str())) != (live, live_hash) {
        return Err(format!(
            "lqosd's live plan is generation {live} (hash {}), the last applied from here is generation {} (hash {hash})",
            live_hash.unwrap_or("none"),
            base.generation
        ));
    }
    Ok(base)
}

/// Why lqosd refused a delta, in one line.
fn refusal(answer: &lqos_bus::Response) -> String {
    match answer {
        lqos_bus::Response::Rejected { reasons } => reasons.join("; "),
        lqos_bus::Response::Error { message } => message.clone(),
        other => format!("{other:?}"),
    }
}

/// Saves the class ids once they are live, and the plan lqosd now holds (as `generation`)
/// as the base of the next delta.
///
/// `kept`: the plan kept before this refresh; `delta`: what lqosd applied to it, which then
/// joins the kept plan's journal instead of the whole plan being written again. Nothing is
/// written when the kept plan is already the live one (an unchanged refresh).
fn save_state(
    run: &Run,
    generation: u64,
    hash: u64,
    kept: Option<&state::Submitted>,
    delta: Option<&lqos_plan::PlanDelta>,
) {
    let dir = &run.config.state_directory;
    if let Err(e) = state::save(dir, &run.planned.state) {
        eprintln!(
            "warning: cannot save class ids in {} ({e}): the next refresh may renumber classes",
            dir.display()
        );
    }
    let unchanged = kept.is_some_and(|k| (k.generation, k.hash) == (generation, hash));
    // A failed append falls back to the whole plan.
    let journaled = !unchanged
        && kept.zip(delta).is_some_and(|(k, d)| {
            state::save_submitted_delta(dir, k, generation, d).unwrap_or(false)
        });
    let saved = if unchanged || journaled {
        Ok(())
    } else {
        state::save_submitted(dir, generation, hash, &run.planned.plan)
    };
    if let Err(e) = saved {
        eprintln!(
            "warning: cannot keep the applied plan in {} ({e}): the next refresh sends the full plan",
            dir.display()
        );
    }
    save_preview(run, Some(generation));
}

/// Writes what `refresh --rebalance` would move (for the WebUI's CPU Weights page) and says
/// how much in the summary; `generation`: the plan lqosd applied (`None`: a dry run).
fn save_preview(run: &Run, generation: Option<u64>) {
    let mut preview = run.planned.preview.clone();
    preview.generation = generation;
    preview.dry_run = generation.is_none();
    preview.written_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    eprintln!(
        "rebalance preview: `refresh --rebalance` would move {} of {} top-level entries",
        preview.moves_total, preview.entries
    );
    let dir = &run.config.state_directory;
    // A dry run on a live shaper must not replace the preview of the plan that is live.
    if generation.is_none()
        && lqos_plan::RebalancePreview::load(dir).is_ok_and(|p| p.generation.is_some())
    {
        eprintln!(
            "rebalance preview not written: {} describes the applied plan",
            lqos_plan::REBALANCE_PREVIEW_FILE
        );
        return;
    }
    if let Err(e) = preview.save(dir) {
        eprintln!(
            "warning: cannot write {} in {} ({e}): the WebUI shows no rebalance preview",
            lqos_plan::REBALANCE_PREVIEW_FILE,
            dir.display()
        );
    }
}

fn print_diagnostics(d: &Diagnostics, debug: bool) {
    let mut err = std::io::stderr().lock();
    for item in d.iter().filter(|i| debug || i.severity != Severity::Info) {
        let _ = writeln!(err, "{item}");
    }
}

/// Prints a warning when rebuilding the plan from nothing would take long; whether it did.
fn slow_build_warning(run: &Run) -> bool {
    let advice = lqos_scheduler::plan::cost::slow_build_advice(
        &run.planned.plan,
        run.config.queues.lazy.mode,
    );
    if let Some(a) = &advice {
        eprintln!("warning: {a}");
    }
    advice.is_some()
}

fn classes_per_queue(plan: &QueuePlan, dir: lqos_plan::Direction) -> Vec<usize> {
    plan.interfaces
        .iter()
        .flat_map(|i| &i.htbs)
        .filter(|q| q.direction == dir)
        .map(|q| q.classes.len())
        .collect()
}

fn print_summary(run: &Run, render: Option<Duration>, debug: bool) {
    let i = &run.loaded.inputs;
    let p = &run.planned.plan;
    let devices: usize = i.circuits.iter().map(|c| c.devices.len()).sum();
    let count = |s: Severity| -> usize {
        [&run.notes, &run.loaded.diagnostics, &run.planned.notes]
            .iter()
            .map(|d| d.count(s))
            .sum()
    };
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    eprintln!(
        "plan: {} circuits ({} devices, {} prefixes mapped); {} quarantined; {} warnings; {} planner notes{}",
        i.circuits.len(),
        devices,
        p.mappings.len(),
        i.quarantined.len(),
        count(Severity::Warning),
        count(Severity::Info),
        if debug { "" } else { " (--debug shows them)" }
    );
    eprintln!("queues: {} per direction ({})", p.queues, run.layout.how);
    eprintln!(
        "classes per queue: download {:?}, upload {:?}",
        classes_per_queue(p, lqos_plan::Direction::Download),
        classes_per_queue(p, lqos_plan::Direction::Upload)
    );
    if !i.quarantined.is_empty() {
        let shown: Vec<&str> = i.quarantined.iter().take(10).map(String::as_str).collect();
        eprintln!(
            "quarantined circuits (not shaped): {}{}",
            shown.join(", "),
            if i.quarantined.len() > 10 {
                ", ..."
            } else {
                ""
            }
        );
    }
    slow_build_warning(run);
    let render = render.map_or(String::new(), |r| format!(", render {:.1} ms", ms(r)));
    eprintln!(
        "timings: read+validate {:.1} ms, plan {:.1} ms{render}",
        ms(run.load_time),
        ms(run.plan_time)
    );
}

/// `lqos-scheduler integration test NAME`: fetch and map, print what would be imported,
/// write nothing.
pub fn integration_test(config_path: &Path, name: &str, rows: usize) -> anyhow::Result<ExitCode> {
    let (config, _) =
        Config::load(config_path).with_context(|| format!("loading {}", config_path.display()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let started = Instant::now();
    let (import, rendered) = match runtime.block_on(lqos_integrations::dry_run(&config, name)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("integration {name} failed: {}", e.report().trim_end());
            return Ok(ExitCode::FAILURE);
        }
    };
    let took = started.elapsed().as_millis();
    let csv = String::from_utf8_lossy(&rendered.shaped_devices_csv);
    let top: Vec<String> = serde_json::from_str::<serde_json::Value>(&rendered.network_json)
        .ok()
        .and_then(|v| v.as_object().map(|o| o.keys().cloned().collect()))
        .unwrap_or_default();
    println!("{name}: fetched and mapped in {took} ms; nothing was written");
    println!(
        "network.json: {} nodes ({} at the top level: {})",
        import.nodes.len(),
        top.len(),
        top.join(", ")
    );
    println!(
        "ShapedDevices.csv: {} circuits, {} device rows",
        rendered.circuits.get(name).copied().unwrap_or(0),
        csv.lines().count().saturating_sub(1)
    );
    let overrides = std::fs::read_to_string(config.overrides_path()).ok();
    let texts = lqos_config::InputTexts {
        shaped_devices: &rendered.shaped_devices_csv,
        network: &rendered.network_json,
        overrides: overrides.as_deref(),
    };
    let (inputs, diags) = lqos_config::parse_inputs(&texts, &config.ip_ranges);
    match inputs {
        Some(i) => println!(
            "validation: ok ({} circuits valid, {} quarantined)",
            i.circuits.len(),
            i.quarantined.len()
        ),
        None => println!("validation: REJECTED (the scheduler would keep the last good files)"),
    }
    for d in diags.iter().filter(|d| d.severity != Severity::Info) {
        println!("  {d}");
    }
    let all: Vec<&lqos_integrations::RecordIssue> =
        import.issues.iter().chain(&rendered.issues).collect();
    let skipped: Vec<_> = all.iter().filter(|i| i.skipped).collect();
    println!("skipped records ({}):", skipped.len());
    for i in &skipped {
        println!("  {i}");
    }
    let notes: Vec<_> = all.iter().filter(|i| !i.skipped).collect();
    println!("notes ({}):", notes.len());
    for i in &notes {
        println!("  {i}");
    }
    println!("first {rows} rows of ShapedDevices.csv:");
    for line in csv.lines().take(rows + 1) {
        println!("  {line}");
    }
    Ok(ExitCode::SUCCESS)
}

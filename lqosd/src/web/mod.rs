//! The WebUI on `webserver_listen` (default `:::9123`): the page (embedded from `webui/`), a
//! JSON API under `/api/`, live updates as Server-Sent Events, `/health` and `/metrics`.
//! [`router`] builds it from a [`WebState`], so it is tested without a socket; docs/webui.md
//! is the contract.

mod asns;
mod assets;
mod auth;
pub mod catalog;
mod circuits;
mod cpu;
mod cpu_live;
mod dashboard;
mod edit;
mod error;
mod geo_cache;
mod geo_data;
mod integrations;
mod listener;
pub mod live;
mod metrics;
mod metrics_telemetry;
mod reports;
pub mod sessions;
pub mod setup_token;
mod sitemap;
mod telemetry;
pub mod telemetry_picture;
pub mod users;

pub use auth::decode_credentials;
pub use edit::check_edit_body;

use crate::shared::Shared;
use axum::body::Bytes;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use catalog::Catalog;
use live::{History, LiveView};
use lqos_config::Config;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

pub use error::ApiError;
pub use listener::Timeouts;

/// Everything the handlers read; cheap to clone.
#[derive(Clone)]
pub struct WebState {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    config: Config,
    config_path: PathBuf,
    catalog: RwLock<Arc<Catalog>>,
    /// What the input files looked like when the catalog was read.
    stamps: std::sync::Mutex<Vec<lqos_config::FileStamp>>,
    live: RwLock<Arc<LiveView>>,
    /// The dashboard's JSON, rendered once per second for every request and event: with the
    /// history (the page's first load) and without (live events).
    dashboard: RwLock<(Bytes, Bytes)>,
    history: History,
    /// The CPU pages' live picture, kept while someone looks at them.
    cpu: cpu_live::CpuCache,
    /// The flow telemetry's per-second picture (dashboard, tree roll-ups).
    telemetry: RwLock<Arc<telemetry_picture::TelemetryPicture>>,
    users: users::UserStore,
    /// The first-run setup token's file (see [`setup_token`]).
    setup_token: PathBuf,
    sessions: sessions::Sessions,
    limiter: sessions::LoginLimiter,
    /// One circuit edit at a time (read, check, write of ShapedDevices.csv).
    edits: tokio::sync::Mutex<()>,
    /// Password checks running at once, at most (each takes 19 MiB and tens of ms).
    hashing: Arc<tokio::sync::Semaphore>,
    /// The geo pages' data files and cached answers (ASN Analysis, Flow Globe, Site Map, About).
    geo: geo_cache::GeoState,
}

impl WebState {
    /// Loads the catalog from the operator's files (empty, with the reason logged, when they
    /// are rejected: the WebUI still shows status and issues).
    pub fn new(shared: Arc<Shared>, config: Config, config_path: PathBuf) -> Self {
        let stamps = input_stamps(&config);
        let catalog = Catalog::load(&config).unwrap_or_else(|e| {
            tracing::warn!(
                "WebUI: {e}; circuits and the tree stay empty until the files are fixed"
            );
            Catalog::default()
        });
        let users = users::UserStore::new(config.web_users_path());
        let setup_token = setup_token::path(&config.state_directory);
        let geo = geo_cache::GeoState::new(&config.geo);
        announce_setup_token(&setup_token, users.users().is_empty());
        let state = WebState {
            inner: Arc::new(Inner {
                shared,
                config,
                config_path,
                catalog: RwLock::new(Arc::new(catalog)),
                stamps: std::sync::Mutex::new(stamps),
                live: RwLock::new(Arc::new(LiveView::default())),
                dashboard: RwLock::new((Bytes::new(), Bytes::new())),
                history: History::default(),
                cpu: cpu_live::CpuCache::default(),
                telemetry: RwLock::new(Arc::default()),
                users,
                setup_token,
                sessions: sessions::Sessions::default(),
                limiter: sessions::LoginLimiter::default(),
                edits: tokio::sync::Mutex::new(()),
                hashing: Arc::new(tokio::sync::Semaphore::new(2)),
                geo,
            }),
        };
        state.refresh_live();
        if state.inner.shared.telemetry.passes_finished() > 0 {
            state.refresh_telemetry();
        }
        state
    }

    fn catalog(&self) -> Arc<Catalog> {
        self.inner
            .catalog
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set_catalog(&self, c: Catalog) {
        *self
            .inner
            .catalog
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Arc::new(c);
    }

    fn live(&self) -> Arc<LiveView> {
        self.inner
            .live
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Recomputes the live picture from the latest sample (every second, and in tests).
    pub fn refresh_live(&self) {
        let shared = &self.inner.shared;
        let view = LiveView::compute(self.catalog(), &shared.index(), shared.sample());
        self.inner.history.record(&view);
        self.inner
            .cpu
            .tick(shared.layout(), &shared.index(), shared.sample());
        *self.inner.live.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(view);
        // With a flow reader, the picture follows its passes instead (`serve`).
        if self.inner.shared.telemetry.passes_finished() == 0 {
            self.refresh_telemetry();
        }
        let rendered = dashboard::render_dashboard(self);
        *self
            .inner
            .dashboard
            .write()
            .unwrap_or_else(|p| p.into_inner()) = rendered;
    }

    /// Recomputes the telemetry picture: after each flow pass, or with
    /// [`refresh_live`](Self::refresh_live) while no flow reader has run.
    pub fn refresh_telemetry(&self) {
        let prev = self.telemetry_picture();
        let picture = telemetry_picture::TelemetryPicture::compute(
            self.live().catalog.clone(),
            &self.inner.shared.telemetry,
            &prev,
        );
        *self
            .inner
            .telemetry
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Arc::new(picture);
    }

    fn telemetry_picture(&self) -> Arc<telemetry_picture::TelemetryPicture> {
        self.inner
            .telemetry
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The dashboard's JSON as of the last second (with or without the history).
    fn dashboard(&self, with_history: bool) -> Bytes {
        let d = self
            .inner
            .dashboard
            .read()
            .unwrap_or_else(|p| p.into_inner());
        if with_history {
            d.0.clone()
        } else {
            d.1.clone()
        }
    }

    /// Rereads the operator's files if they changed since they were last read.
    fn reload_if_changed(&self) {
        let stamps = input_stamps(&self.inner.config);
        {
            let mut seen = self.inner.stamps.lock().unwrap_or_else(|p| p.into_inner());
            if *seen == stamps {
                return;
            }
            *seen = stamps;
        }
        self.reload();
    }

    /// Rereads the operator's files now (the last good catalog stays if they are rejected).
    fn reload(&self) {
        match Catalog::load(&self.inner.config) {
            Ok(c) => {
                tracing::info!(circuits = c.circuits.len(), "WebUI: inputs reloaded");
                self.set_catalog(c);
            }
            Err(e) => tracing::warn!("WebUI: {e}; showing the last good inputs"),
        }
    }

    /// Once a user exists (added with `lqosd user add` while lqosd runs), the setup token
    /// has no use left: remove it.
    fn drop_setup_token_if_users(&self) {
        if self.inner.users.users().is_empty() || !self.inner.setup_token.exists() {
            return;
        }
        match setup_token::remove(&self.inner.setup_token) {
            Ok(_) => tracing::info!("WebUI: a user exists; the first-run setup token is removed"),
            Err(e) => tracing::error!(error = %e, "WebUI: cannot remove the setup token"),
        }
    }

    /// After lqosd itself wrote an input file: read it once, now, and not again on the next
    /// look for changes.
    fn reload_after_write(&self) {
        *self.inner.stamps.lock().unwrap_or_else(|p| p.into_inner()) =
            input_stamps(&self.inner.config);
        self.reload();
    }
}

/// At start: with no users, makes (or keeps) the first-run setup token and says where it is;
/// with users, removes a leftover one.
fn announce_setup_token(path: &std::path::Path, no_users: bool) {
    match setup_token::prepare(path, no_users) {
        Ok(Some(token)) => tracing::warn!(
            "WebUI first run: no user yet. Create the first admin in the WebUI with the setup token {token} (also in {}, readable by root only), or on the shaper with `lqosd user add NAME`",
            path.display()
        ),
        Ok(None) => {}
        Err(e) => tracing::error!(
            error = %e,
            "WebUI first run: no setup token, so the page cannot create the first admin; use `lqosd user add NAME`"
        ),
    }
}

fn input_stamps(config: &Config) -> Vec<lqos_config::FileStamp> {
    [
        config.shaped_devices_path(),
        config.network_json_path(),
        config.overrides_path(),
    ]
    .iter()
    .map(|p| lqos_config::file_stamp(p))
    .collect()
}

/// The whole site.
pub fn router(state: WebState) -> Router {
    let csp = content_security_policy(&state.inner.config.geo);
    let api = Router::new()
        .route("/session", get(auth::session))
        .route("/setup", post(auth::setup))
        .route("/login", post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/dashboard", get(dashboard::dashboard))
        .route("/live", get(dashboard::live))
        .route("/tree", get(circuits::tree))
        .route("/circuits", get(circuits::circuits).post(edit::create))
        .route(
            "/circuits/{id}",
            get(circuits::circuit)
                .put(edit::replace)
                .delete(edit::remove),
        )
        .route("/cpu/tree", get(cpu::tree))
        .route("/cpu/weights", get(cpu::weights))
        .route(
            "/circuits/{id}/telemetry",
            get(telemetry::circuit_telemetry),
        )
        .route("/circuits/{id}/flows", get(telemetry::circuit_flows))
        .route("/unknown", get(reports::unknown))
        .route("/unknown.csv", get(reports::unknown_csv))
        .route("/scheduler", get(reports::scheduler))
        .route("/scheduler/refresh", post(reports::refresh))
        .route("/issues", get(reports::issues))
        .route("/issues/{id}/ack", post(reports::ack))
        .route("/config/{file}", get(reports::config_file))
        .route("/integrations", get(integrations::list))
        .route(
            "/integrations/{name}",
            axum::routing::put(integrations::save),
        )
        .route("/asns", get(asns::list))
        .route("/asns/{asn}", get(asns::detail))
        .route("/asn-search", get(asns::search))
        .route("/geo/countries", get(asns::countries))
        .route("/geo/world", get(geo_data::world))
        .route("/geo/centroids", get(geo_data::centroids))
        .route("/geo/licenses/{name}", get(geo_data::license))
        .route("/sitemap", get(sitemap::sitemap))
        .route("/about", get(geo_data::about))
        .route("/integrations/{name}/test", post(integrations::test))
        .route(
            "/integrations/{name}/import",
            post(integrations::import_now),
        )
        .fallback(|| async {
            ApiError::NotFound("no such API route (docs/webui.md lists them)".into())
        })
        .method_not_allowed_fallback(|| async {
            ApiError::BadRequest {
                status: axum::http::StatusCode::METHOD_NOT_ALLOWED,
                message: "this route does not take that method (docs/webui.md lists them)".into(),
            }
        })
        // Every body the API takes is a few hundred bytes; nothing needs more than this.
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024));
    Router::new()
        .route("/", get(assets::index))
        .route("/assets/{*path}", get(assets::file))
        .route("/health", get(dashboard::health))
        .route("/metrics", get(metrics::metrics))
        .nest("/api", api)
        .layer(axum::middleware::map_response(move |r| {
            security_headers(r, csp.clone())
        }))
        .with_state(state)
}

/// The page's security policy: lqosd only, plus `[geo] tile_url`'s origin for images when
/// an operator set one (the site map's street tiles).
fn content_security_policy(geo: &lqos_config::geo::Geo) -> HeaderValue {
    let tiles = geo
        .tile_origin()
        .map(|o| format!(" {o}"))
        .unwrap_or_default();
    HeaderValue::from_str(&format!(
        "default-src 'self'; img-src 'self' data:{tiles}; frame-ancestors 'none'"
    ))
    .unwrap_or_else(|_| {
        HeaderValue::from_static("default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
    })
}

async fn security_headers(mut r: Response, csp: HeaderValue) -> Response {
    let h = r.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, csp);
    let set = [
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
    ];
    for (k, v) in set {
        h.insert(k, HeaderValue::from_static(v));
    }
    r
}

/// Serves the WebUI on `listen` until `shutdown` (see [`serve_on`]).
pub async fn serve(
    state: WebState,
    listen: &str,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    use anyhow::Context;
    let addr = lqos_config::config::parse_listen(listen)
        .map_err(|e| anyhow::anyhow!("webserver_listen = {listen:?}: {e}"))?
        .context("webserver_listen is empty: no WebUI")?;
    let listener = bind(addr).with_context(|| format!("WebUI: cannot listen on {listen}"))?;
    tracing::info!(%addr, "WebUI listening");
    serve_on(state, listener, Timeouts::default(), shutdown).await;
    Ok(())
}

/// Serves the WebUI on `listener` until `shutdown`, with the background task that keeps its
/// picture live (every second) and its inputs current (looked at every 2 s).
pub async fn serve_on(
    state: WebState,
    listener: tokio::net::TcpListener,
    timeouts: Timeouts,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let ticker = state.clone();
    let live = tokio::spawn(async move {
        let mut tick = tokio::time::interval(crate::throughput::INTERVAL);
        let mut n = 0u64;
        loop {
            tick.tick().await;
            n += 1;
            let s = ticker.clone();
            let check = n.is_multiple_of(2);
            let done = tokio::task::spawn_blocking(move || {
                if check {
                    s.reload_if_changed();
                    s.drop_setup_token_if_users();
                }
                s.refresh_live();
            });
            if let Err(e) = done.await {
                tracing::error!(error = %e, "WebUI: refreshing the live picture failed");
            }
        }
    });
    // The telemetry picture right after each flow pass, while the flow reader is idle.
    let after_passes = state.clone();
    let pictures = tokio::spawn(async move {
        let mut passes = after_passes.inner.shared.telemetry.subscribe_passes();
        while passes.changed().await.is_ok() {
            let s = after_passes.clone();
            if let Err(e) = tokio::task::spawn_blocking(move || s.refresh_telemetry()).await {
                tracing::error!(error = %e, "WebUI: refreshing the telemetry picture failed");
            }
        }
    });
    let listener = listener::CappedListener::new(listener, listener::MAX_CONNECTIONS);
    listener::serve(listener, router(state), timeouts, shutdown).await;
    live.abort();
    pictures.abort();
}

/// A listener; on `[::]` it takes IPv4 too (dual stack), whatever the sysctl says.
fn bind(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv6() {
        let s = tokio::net::TcpSocket::new_v6()?;
        socket2::SockRef::from(&s).set_only_v6(false)?;
        s
    } else {
        tokio::net::TcpSocket::new_v4()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

#[cfg(test)]
mod tests;

//! Logging in and out, the first-run admin, and the extractors that guard every route:
//! [`Viewer`] (any logged-in user), [`Csrf`] (plus the session's CSRF token) and [`Admin`]
//! (plus the admin role).

use super::error::{ApiError, JsonBody};
use super::setup_token;
use super::users::{self, Role, User};
use super::WebState;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::{header, request::Parts, Extensions, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use std::time::Instant;
use subtle::ConstantTimeEq;

pub const COOKIE: &str = "lqos_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

#[derive(Debug, Serialize)]
pub struct SessionInfo {
    setup_required: bool,
    /// While `setup_required`: the file on the shaper that holds the setup token.
    #[serde(skip_serializing_if = "Option::is_none")]
    setup_token_file: Option<String>,
    /// lqos.conf's `node_name` and lqosd's version, for the top bar.
    node_name: String,
    version: &'static str,
    user: Option<UserInfo>,
    csrf: Option<String>,
}

#[derive(Debug, Serialize)]
struct UserInfo {
    username: String,
    role: Role,
}

#[derive(Deserialize)]
pub struct Credentials {
    username: String,
    password: String,
}

/// The first-run form: the first admin, and the token lqosd wrote on the shaper.
#[derive(Deserialize)]
pub struct Setup {
    username: String,
    password: String,
    #[serde(default)]
    token: String,
}

/// A `POST /api/login` or `/api/setup` body decoded as those handlers decode it
/// ([`Credentials`], [`Setup`]): the user name, or the error the client would get. For
/// lqos-fuzz.
pub fn decode_credentials(body: &[u8]) -> Result<String, String> {
    let login = JsonBody::<Credentials>::from_bytes(body).map(|c| c.username);
    let setup = JsonBody::<Setup>::from_bytes(body).map(|s| s.username);
    match (login, setup) {
        (Ok(name), _) | (_, Ok(name)) => Ok(name),
        (Err(e), Err(_)) => Err(e.to_string()),
    }
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_owned())
}

/// A cross-site request says so in `Origin`; same-origin (or no Origin, as from curl) passes.
fn same_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    let (Some(origin), Some(host)) = (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) else {
        return Ok(());
    };
    let origin_host = origin.split_once("://").map_or(origin, |(_, h)| h);
    if origin_host == host {
        Ok(())
    } else {
        Err(ApiError::Forbidden("cross-origin request refused".into()))
    }
}

/// Any logged-in user, with the role the users file gives it now.
pub struct Viewer {
    pub user: User,
    pub csrf: String,
    token: String,
}

impl FromRequestParts<WebState> for Viewer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, ApiError> {
        let token = cookie_token(&parts.headers).ok_or(ApiError::Unauthorized)?;
        Viewer::of(state, token)
    }
}

impl Viewer {
    /// The session of cookie `token`, if it is still good: not expired, not logged out, its
    /// user still there with the password the session was opened with (removing a user, or
    /// giving it a new password, ends its sessions).
    pub fn of(state: &WebState, token: String) -> Result<Viewer, ApiError> {
        let session = state
            .inner
            .sessions
            .get(&token)
            .ok_or(ApiError::Unauthorized)?;
        let user = state
            .inner
            .users
            .find(&session.username)
            .filter(|u| super::sessions::fingerprint(&u.password_hash) == session.password);
        let Some(user) = user else {
            state.inner.sessions.remove(&token);
            return Err(ApiError::Unauthorized);
        };
        Ok(Viewer {
            user,
            csrf: session.csrf,
            token,
        })
    }

    /// Whether the session is still good (long-lived streams ask every second).
    pub fn still_valid(&self, state: &WebState) -> bool {
        Viewer::of(state, self.token.clone()).is_ok()
    }
}

/// A logged-in user's state-changing request, with the session's CSRF token.
pub struct Csrf(pub Viewer);

impl FromRequestParts<WebState> for Csrf {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, ApiError> {
        let viewer = Viewer::from_request_parts(parts, state).await?;
        same_origin(&parts.headers)?;
        let sent = parts
            .headers
            .get(CSRF_HEADER)
            .map_or(&[][..], |v| v.as_bytes());
        if !bool::from(sent.ct_eq(viewer.csrf.as_bytes())) {
            return Err(ApiError::Forbidden(
                "missing or wrong X-CSRF-Token header (GET /api/session gives the token)".into(),
            ));
        }
        Ok(Csrf(viewer))
    }
}

/// An admin's state-changing request.
pub struct Admin(pub Viewer);

impl FromRequestParts<WebState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, ApiError> {
        let Csrf(viewer) = Csrf::from_request_parts(parts, state).await?;
        if viewer.user.role != Role::Admin {
            return Err(ApiError::Forbidden(
                "read-only users cannot change anything".into(),
            ));
        }
        Ok(Admin(viewer))
    }
}

fn info(state: &WebState, user: Option<&User>, csrf: Option<String>) -> SessionInfo {
    let setup_required = state.inner.users.users().is_empty();
    SessionInfo {
        setup_required,
        setup_token_file: setup_required.then(|| state.inner.setup_token.display().to_string()),
        node_name: state.inner.config.node_name.clone(),
        version: env!("CARGO_PKG_VERSION"),
        user: user.map(|u| UserInfo {
            username: u.username.clone(),
            role: u.role,
        }),
        csrf,
    }
}

/// `GET /api/session`: who is logged in, and whether the first admin must be created.
pub async fn session(
    State(state): State<WebState>,
    viewer: Result<Viewer, ApiError>,
) -> Json<SessionInfo> {
    match viewer {
        Ok(v) => Json(info(&state, Some(&v.user), Some(v.csrf))),
        Err(_) => Json(info(&state, None, None)),
    }
}

fn logged_in(state: &WebState, user: &User) -> Response {
    let (token, session) = state.inner.sessions.create(user);
    let cookie = format!(
        "{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        super::sessions::SESSION_LIFETIME.as_secs()
    );
    let mut r = Json(info(state, Some(user), Some(session.csrf))).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

const FIRST_EXISTS: &str =
    "the first admin exists already: log in (lqosd user add creates more users)";

/// `POST /api/setup`: the first admin, only while there is no user at all, and only with the
/// setup token lqosd wrote to its state directory (and log). Attempts are rate-limited per
/// client address like logins; the token is consumed (its file removed) on success.
pub async fn setup(
    State(state): State<WebState>,
    headers: HeaderMap,
    extensions: Extensions,
    JsonBody(c): JsonBody<Setup>,
) -> Result<Response, ApiError> {
    same_origin(&headers)?;
    if !state.inner.users.users().is_empty() {
        return Err(ApiError::Conflict(FIRST_EXISTS.into()));
    }
    let client = client_addr(&extensions);
    let keys = vec![format!("setup-{}", client_key(client))];
    let limiter = &state.inner.limiter;
    let begun = Instant::now();
    limiter.begin(&keys, begun).map_err(ApiError::RateLimited)?;
    let token_file = state.inner.setup_token.clone();
    let checked = setup_token::check(&token_file, &c.token)
        .map_err(|e| ApiError::internal("reading the setup token", e))?;
    let client_text = client.map_or_else(|| "unknown".to_owned(), |a| a.to_string());
    match checked {
        setup_token::Check::Right => {}
        setup_token::Check::Wrong => {
            tracing::warn!(client = %client_text, "WebUI: first-run setup with a wrong token");
            return Err(ApiError::Forbidden(format!(
                "missing or wrong setup token: copy it from {} on the shaper (lqosd also logged it at start)",
                token_file.display()
            )
            .into()));
        }
        setup_token::Check::NoFile => {
            return Err(ApiError::Forbidden(format!(
                "there is no setup token ({} is missing): restart lqosd to make one, or add the admin on the shaper with lqosd user add",
                token_file.display()
            )
            .into()));
        }
    }
    let path = state.inner.users.path().to_owned();
    let name = c.username.clone();
    tokio::task::spawn_blocking(move || {
        users::add_first_admin(&path, &name, &c.password)?;
        // Used: nobody may create another first admin with it.
        if let Err(e) = setup_token::remove(&token_file) {
            tracing::error!(error = %e, "WebUI: cannot remove the used setup token");
        }
        Ok::<_, users::UserError>(())
    })
    .await
    .map_err(|e| ApiError::internal("creating the admin", e))?
    .map_err(|e| match e {
        users::UserError::BadName(_) | users::UserError::ShortPassword => {
            ApiError::invalid(e.to_string())
        }
        users::UserError::Exists(_) | users::UserError::NotFirst => {
            ApiError::Conflict(FIRST_EXISTS.into())
        }
        other => ApiError::internal("saving the users file", other),
    })?;
    limiter.succeeded(&keys, begun);
    state.inner.users.reload();
    let user = state.inner.users.find(&c.username).ok_or_else(|| {
        ApiError::internal("reading the users file back", "the new admin is missing")
    })?;
    tracing::info!(user = %user.username, client = %client_text, "WebUI: first admin created; the setup token is used up");
    Ok((StatusCode::OK, logged_in(&state, &user)).into_response())
}

fn client_addr(extensions: &Extensions) -> Option<std::net::IpAddr> {
    extensions
        .get::<ConnectInfo<super::listener::ClientAddr>>()
        .map(|ci| ci.0 .0.ip())
}

/// `POST /api/login`.
pub async fn login(
    State(state): State<WebState>,
    headers: HeaderMap,
    extensions: Extensions,
    JsonBody(c): JsonBody<Credentials>,
) -> Result<Response, ApiError> {
    same_origin(&headers)?;
    let client = client_addr(&extensions);
    // No such name can exist: refused before it costs a hash or a limiter entry.
    if c.username.is_empty() || c.username.len() > users::MAX_NAME {
        return Err(ApiError::BadCredentials);
    }
    let keys = vec![client_key(client), format!("user:{}", c.username)];
    let limiter = &state.inner.limiter;
    let begun = Instant::now();
    limiter.begin(&keys, begun).map_err(ApiError::RateLimited)?;
    // Argon2 takes 19 MiB and tens of ms: a few at a time, whatever the number of clients.
    let Ok(permit) = state.inner.hashing.clone().try_acquire_owned() else {
        return Err(ApiError::RateLimited(1));
    };
    let s = state.clone();
    let name = c.username.clone();
    let user = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        s.inner.users.verify(&name, &c.password)
    })
    .await
    .map_err(|e| ApiError::internal("checking the password", e))?;
    let client = client.map_or_else(|| "unknown".to_owned(), |a| a.to_string());
    match user {
        Some(user) => {
            limiter.succeeded(&keys, begun);
            tracing::info!(user = %user.username, %client, "WebUI: login");
            Ok(logged_in(&state, &user))
        }
        None => {
            tracing::warn!(user = %c.username, %client, "WebUI: failed login");
            Err(ApiError::BadCredentials)
        }
    }
}

/// The rate limit's key for a client: its address, or its /64 for IPv6 (one subscriber line
/// or host usually holds a whole /64).
pub(super) fn client_key(addr: Option<std::net::IpAddr>) -> String {
    match addr {
        Some(std::net::IpAddr::V6(a)) if a.to_ipv4_mapped().is_none() => {
            let s = a.segments();
            format!("ip:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Some(std::net::IpAddr::V6(a)) => format!(
            "ip:{}",
            a.to_ipv4_mapped()
                .map_or(a.to_string(), |v4| v4.to_string())
        ),
        Some(a) => format!("ip:{a}"),
        None => "ip:unknown".to_owned(),
    }
}

/// `POST /api/logout`.
pub async fn logout(State(state): State<WebState>, Csrf(v): Csrf) -> Response {
    state.inner.sessions.remove(&v.token);
    let mut r = StatusCode::NO_CONTENT.into_response();
    let expired = format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    if let Ok(v) = HeaderValue::from_str(&expired) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

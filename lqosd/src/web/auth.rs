//! Logging in and out, the first-run admin, and the extractors that guard every route:
//! [`Viewer`] (any logged-in user), [`Csrf`] (plus the session's CSRF token) and [`Admin`]
//! (plus the admin role).

use super::error::{ApiError, JsonBody};
use super::users::{self, Role, User};
use super::WebState;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::{header, request::Parts, Extensions, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::time::Instant;

pub const COOKIE: &str = "lqos_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

#[derive(Debug, Serialize)]
pub struct SessionInfo {
    setup_required: bool,
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
        Err(ApiError::Forbidden("cross-origin request refused"))
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
        let session = state
            .inner
            .sessions
            .get(&token)
            .ok_or(ApiError::Unauthorized)?;
        let Some(user) = state.inner.users.find(&session.username) else {
            state.inner.sessions.remove(&token);
            return Err(ApiError::Unauthorized);
        };
        Ok(Viewer {
            user,
            csrf: session.csrf,
            token,
        })
    }
}

/// A logged-in user's state-changing request, with the session's CSRF token.
pub struct Csrf(pub Viewer);

impl FromRequestParts<WebState> for Csrf {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, ApiError> {
        let viewer = Viewer::from_request_parts(parts, state).await?;
        same_origin(&parts.headers)?;
        let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        if sent != Some(viewer.csrf.as_str()) {
            return Err(ApiError::Forbidden(
                "missing or wrong X-CSRF-Token header (GET /api/session gives the token)",
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
                "read-only users cannot change anything",
            ));
        }
        Ok(Admin(viewer))
    }
}

fn info(state: &WebState, user: Option<&User>, csrf: Option<String>) -> SessionInfo {
    SessionInfo {
        setup_required: state.inner.users.users().is_empty(),
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
    let (token, session) = state.inner.sessions.create(&user.username);
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

/// `POST /api/setup`: the first admin, only while there is no user at all.
pub async fn setup(
    State(state): State<WebState>,
    headers: HeaderMap,
    JsonBody(c): JsonBody<Credentials>,
) -> Result<Response, ApiError> {
    same_origin(&headers)?;
    if !state.inner.users.users().is_empty() {
        return Err(ApiError::Conflict(
            "the first admin exists already: log in (lqosd user add creates more users)".into(),
        ));
    }
    let path = state.inner.users.path().to_owned();
    let name = c.username.clone();
    tokio::task::spawn_blocking(move || users::add(&path, &name, &c.password, Role::Admin))
        .await
        .map_err(|e| ApiError::internal("creating the admin", e))?
        .map_err(|e| match e {
            users::UserError::BadName(_) | users::UserError::ShortPassword => {
                ApiError::invalid(e.to_string())
            }
            users::UserError::Exists(_) => ApiError::Conflict(e.to_string()),
            other => ApiError::internal("saving the users file", other),
        })?;
    state.inner.users.reload();
    let user = state.inner.users.find(&c.username).ok_or_else(|| {
        ApiError::internal("reading the users file back", "the new admin is missing")
    })?;
    tracing::info!(user = %user.username, "WebUI: first admin created");
    Ok((StatusCode::OK, logged_in(&state, &user)).into_response())
}

/// `POST /api/login`.
pub async fn login(
    State(state): State<WebState>,
    headers: HeaderMap,
    extensions: Extensions,
    JsonBody(c): JsonBody<Credentials>,
) -> Result<Response, ApiError> {
    same_origin(&headers)?;
    let client = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |ci| ci.0.ip().to_string());
    let keys = vec![format!("ip:{client}"), format!("user:{}", c.username)];
    let limiter = &state.inner.limiter;
    limiter
        .check(&keys, Instant::now())
        .map_err(ApiError::RateLimited)?;
    let s = state.clone();
    let name = c.username.clone();
    let user = tokio::task::spawn_blocking(move || s.inner.users.verify(&name, &c.password))
        .await
        .map_err(|e| ApiError::internal("checking the password", e))?;
    match user {
        Some(user) => {
            limiter.succeeded(&keys);
            tracing::info!(user = %user.username, %client, "WebUI: login");
            Ok(logged_in(&state, &user))
        }
        None => {
            limiter.failed(&keys, Instant::now());
            tracing::warn!(user = %c.username, %client, "WebUI: failed login");
            Err(ApiError::BadCredentials)
        }
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

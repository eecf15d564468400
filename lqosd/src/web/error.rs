//! Errors of the WebUI's API: a clear message for the client as JSON, the cause in the log.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("not logged in (or the session ended): log in again")]
    Unauthorized,
    #[error("wrong user name or password")]
    BadCredentials,
    #[error("{0}")]
    Forbidden(std::borrow::Cow<'static, str>),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// 422; `problems` lists every finding (file, line, value, what was expected).
    #[error("{message}")]
    Invalid {
        message: String,
        problems: Vec<String>,
    },
    /// A body or query that could not be read (its status: 400, 413, 415, 422).
    #[error("{message}")]
    BadRequest { status: StatusCode, message: String },
    #[error("too many failed attempts: try again in {0} s")]
    RateLimited(u64),
    /// Something failed on the server; the client gets `context`, the log gets the cause.
    #[error("{context}")]
    Internal {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl ApiError {
    pub fn internal(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        ApiError::Internal {
            context: context.into(),
            source: source.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::Invalid {
            message: message.into(),
            problems: Vec::new(),
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized | ApiError::BadCredentials => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::BadRequest { status, .. } => *status,
            ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut body = serde_json::json!({ "error": self.to_string() });
        match &self {
            ApiError::Invalid { problems, .. } if !problems.is_empty() => {
                body["problems"] = serde_json::json!(problems);
            }
            ApiError::Internal { context, source } => {
                tracing::error!(error = %source, "WebUI: {context}");
                body["error"] = format!("{context} (lqosd's log has the cause)").into();
            }
            _ => {}
        }
        let mut r = (status, Json(body)).into_response();
        if let ApiError::RateLimited(secs) = self {
            if let Ok(v) = secs.to_string().parse() {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        r
    }
}

/// A JSON body whose rejection is an [`ApiError`] (JSON, with axum's reason).
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        Json::<T>::from_request(req, state)
            .await
            .map(|Json(v)| JsonBody(v))
            .map_err(json_rejection)
    }
}

impl<T: DeserializeOwned> JsonBody<T> {
    /// Decodes a body as the extractor does once the content type is checked.
    pub fn from_bytes(body: &[u8]) -> Result<T, ApiError> {
        Json::<T>::from_bytes(body)
            .map(|Json(v)| v)
            .map_err(json_rejection)
    }
}

fn json_rejection(r: JsonRejection) -> ApiError {
    match r {
        r @ JsonRejection::MissingJsonContentType(_) => ApiError::BadRequest {
            status: r.status(),
            message: "expected a JSON body with Content-Type: application/json".into(),
        },
        r => ApiError::BadRequest {
            status: r.status(),
            message: r.body_text(),
        },
    }
}

/// A query string whose rejection is an [`ApiError`].
pub struct QueryArgs<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryArgs<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(QueryArgs(v)),
            Err(r) => Err(ApiError::BadRequest {
                status: StatusCode::BAD_REQUEST,
                message: match r {
                    QueryRejection::FailedToDeserializeQueryString(e) => e.body_text(),
                    other => other.body_text(),
                },
            }),
        }
    }
}

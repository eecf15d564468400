//! VISP's authentication: a token from the token URL (four `x-visp-*` headers), sent raw in
//! `authorization` with every GraphQL query. A query refused with 401/403 fetches a new
//! token once per run and is repeated; a second refusal fails the run clearly.

use crate::graphql;
use crate::http::{parse_json, Http, HttpError};
use lqos_config::integrations::Visp;
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Mutex;

#[derive(Debug, Deserialize)]
struct TokenAnswer {
    token: String,
    #[serde(default)]
    payload: Option<TokenPayload>,
}

#[derive(Debug, Deserialize)]
struct TokenPayload {
    #[serde(default, rename = "ispId")]
    isp_id: Vec<i64>,
}

/// Why a VISP query failed.
#[derive(Debug, thiserror::Error)]
pub enum VispError {
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("VISP refused a freshly fetched token too (the token was fetched again after a 401 in this run): {cause}")]
    TokenRefused {
        #[source]
        cause: HttpError,
    },
}

impl VispError {
    /// The whole run must stop (the credentials are refused); other errors of one
    /// per-customer query cost only that customer.
    pub fn is_auth(&self) -> bool {
        match self {
            VispError::TokenRefused { .. } => true,
            VispError::Http(e) => refused(e),
        }
    }
}

fn refused(e: &HttpError) -> bool {
    matches!(
        e,
        HttpError::Status {
            status: 401 | 403,
            ..
        }
    )
}

/// The token of a run and how many times it was fetched.
struct Token {
    value: String,
    generation: u32,
}

pub struct Session<'a> {
    http: &'a Http,
    s: &'a Visp,
    token: Mutex<Token>,
    /// The ISP id: `isp_id` in the table, else the first `ispId` of the token.
    pub isp_id: Option<i64>,
}

async fn fetch_token(http: &Http, s: &Visp) -> Result<(String, Option<i64>), HttpError> {
    let headers = [
        ("x-visp-client-id", s.client_id.as_str()),
        ("x-visp-client-secret", s.client_secret.as_str()),
        ("x-visp-username", s.username.as_str()),
        ("x-visp-password", s.password.as_str()),
    ];
    let bytes = http.get(&s.token_url, &headers, None).await?;
    let t: TokenAnswer = parse_json(&s.token_url, &bytes)?;
    let isp = t.payload.and_then(|p| p.isp_id.first().copied());
    Ok((t.token, isp))
}

impl<'a> Session<'a> {
    /// Fetches the run's first token.
    pub async fn open(http: &'a Http, s: &'a Visp) -> Result<Session<'a>, HttpError> {
        let (value, token_isp) = fetch_token(http, s).await?;
        Ok(Session {
            http,
            s,
            token: Mutex::new(Token {
                value,
                generation: 0,
            }),
            isp_id: s.isp_id.or(token_isp),
        })
    }

    /// Runs a GraphQL query; on 401/403 fetches a new token (once per run) and repeats it.
    pub async fn query(&self, op: &str, query: &str, vars: Value) -> Result<Value, VispError> {
        let (token, generation) = {
            let t = self.token.lock().await;
            (t.value.clone(), t.generation)
        };
        let first = match self.send(&token, op, query, vars.clone()).await {
            Err(e) if refused(&e) => e,
            other => return Ok(other?),
        };
        let token = {
            let mut t = self.token.lock().await;
            if t.generation == generation {
                if t.generation > 0 {
                    // Sent with the token fetched again in this run, and refused again.
                    return Err(VispError::TokenRefused { cause: first });
                }
                tracing::info!(error = %first, "VISP refused the token: fetching a new one");
                t.value = fetch_token(self.http, self.s).await?.0;
                t.generation += 1;
            }
            t.value.clone()
        };
        self.send(&token, op, query, vars)
            .await
            .map_err(|e| match e {
                e if refused(&e) => VispError::TokenRefused { cause: e },
                e => VispError::Http(e),
            })
    }

    async fn send(
        &self,
        token: &str,
        op: &str,
        query: &str,
        vars: Value,
    ) -> Result<Value, HttpError> {
        let headers = [
            ("authorization", token),
            ("x-visp-client-id", self.s.client_id.as_str()),
            ("x-visp-client-secret", self.s.client_secret.as_str()),
        ];
        graphql::query(
            self.http,
            &self.s.graphql_url,
            &headers,
            Some(op),
            query,
            vars,
        )
        .await
    }
}

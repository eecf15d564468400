//! GraphQL over the shared HTTP client: `{"query", "variables"}` POSTed, `errors` and a
//! missing `data` reported with a preview. Queries are reads, so they are retried.

use crate::http::{parse_json, Body, Http, HttpError};
use serde_json::{json, Value};

/// Runs `query` and returns its `data` object.
pub async fn query(
    http: &Http,
    url: &str,
    headers: &[(&str, &str)],
    operation: Option<&str>,
    query: &str,
    variables: Value,
) -> Result<Value, HttpError> {
    let mut body = json!({"query": query, "variables": variables});
    if let Some(op) = operation {
        body["operationName"] = json!(op);
    }
    let bytes = http.post(url, headers, &Body::Json(&body), true).await?;
    let mut v: Value = parse_json(url, &bytes)?;
    if let Some(errors) = v.get("errors").filter(|e| !e.is_null()) {
        let mut text = errors.to_string();
        text.truncate(300);
        return Err(HttpError::Json {
            url: url.to_owned(),
            detail: format!("GraphQL errors: {text}"),
        });
    }
    match v.get_mut("data").map(Value::take) {
        Some(d) if !d.is_null() => Ok(d),
        _ => Err(HttpError::Json {
            url: url.to_owned(),
            detail: "the answer has no `data`".into(),
        }),
    }
}

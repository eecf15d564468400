//! Secrets out of lqos.conf, for the WebUI and support bundles: the values of keys that name a
//! token, password, secret, key, licence, credential or auth (at any depth, inline tables too),
//! and user names, passwords and query strings inside URLs. Comments and layout stay.

/// `conf` with every secret replaced by `hidden`; `None` when it does not parse as TOML (its
/// secrets could not be told apart, so it must not be shown).
pub fn redact_secrets(conf: &str, hidden: &str) -> Option<String> {
    let mut doc = conf.parse::<toml_edit::DocumentMut>().ok()?;
    redact_table(doc.as_table_mut(), hidden);
    Some(doc.to_string())
}

fn secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "token",
        "pass",
        "secret",
        "key",
        "licen",
        "credential",
        "auth",
    ]
    .iter()
    .any(|s| k.contains(s))
}

/// `https://user:pw@host/path?apikey=x` -> `https://host/path?<hidden>`; `None` when the
/// value is no URL or has nothing to hide.
fn redact_url(v: &str, hidden: &str) -> Option<String> {
    let (scheme, rest) = v.split_once("://")?;
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let host = authority.rsplit_once('@').map(|(_, host)| host);
    let (path, query) = match path.split_once('?') {
        Some((p, _)) => (p, true),
        None => (path, false),
    };
    (host.is_some() || query).then(|| {
        let q = if query {
            format!("?{hidden}")
        } else {
            String::new()
        };
        format!("{scheme}://{}{path}{q}", host.unwrap_or(authority))
    })
}

fn replace_keeping_decor(v: &mut toml_edit::Value, with: &str) {
    let decor = v.decor().clone();
    *v = toml_edit::Value::from(with);
    *v.decor_mut() = decor;
}

fn redact_value(key: &str, v: &mut toml_edit::Value, hidden: &str) {
    use toml_edit::Value;
    match v {
        Value::InlineTable(t) => {
            for (k, v) in t.iter_mut() {
                redact_value(&k, v, hidden);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|v| redact_value(key, v, hidden)),
        _ if secret_key(key) => replace_keeping_decor(v, hidden),
        Value::String(s) => {
            if let Some(clean) = redact_url(s.value(), hidden) {
                replace_keeping_decor(v, &clean);
            }
        }
        _ => {}
    }
}

fn redact_table(t: &mut toml_edit::Table, hidden: &str) {
    for (key, item) in t.iter_mut() {
        let key = key.get().to_owned();
        match item {
            toml_edit::Item::Value(v) => redact_value(&key, v, hidden),
            toml_edit::Item::Table(t) => redact_table(t, hidden),
            toml_edit::Item::ArrayOfTables(a) => a.iter_mut().for_each(|t| redact_table(t, hidden)),
            toml_edit::Item::None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HIDDEN: &str = "(hidden)";

    #[test]
    fn secrets_are_hidden_wherever_they_are() {
        let conf = "# the CRM\n[http_import]\nshaped_devices_url = \"https://ops:pw@crm.example/export?apikey=abc\" # nightly\nnetwork_url = \"https://crm.example/net.json\"\nbearer_token = \"s3cr3t\"\nsplynx = { api_key = \"k1\", api_secret = \"k2\", url = \"https://s.example\" }\nnotes = \"\"\"\nmulti\nline\"\"\"\n[long_term_stats]\nlicense_key = \"L-123\"\n[[extra]]\npassword = 1234\n";
        let out = redact_secrets(conf, HIDDEN).expect("parses");
        for secret in [
            "s3cr3t",
            "k1",
            "k2",
            "L-123",
            "1234",
            "ops:pw",
            "apikey=abc",
        ] {
            assert!(!out.contains(secret), "{secret} shown in\n{out}");
        }
        for kept in [
            "# the CRM",
            "# nightly",
            "https://crm.example/export?(hidden)",
            "https://crm.example/net.json",
            "https://s.example",
            "multi\nline",
        ] {
            assert!(out.contains(kept), "{kept:?} missing in\n{out}");
        }
        assert_eq!(redact_secrets("not = [toml", HIDDEN), None);
    }
}

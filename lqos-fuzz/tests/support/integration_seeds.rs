//! The seeds of the `integrations` fuzz target, shared by `examples/seeds.rs` and the test
//! that checks the target reaches the mapping and the validation.

use anyhow::{Context, Result};

/// One input per CRM of the `integrations` target: its selector byte, then the bodies of its
/// calls from the integrations' test APIs (lqos-integrations' testkit), separated.
pub fn inputs() -> Result<Vec<Vec<u8>>> {
    use lqos_integrations::testkit::{small_data, sonar_data, splynx_data, uisp_data, visp_data};
    use serde_json::Value;
    let splynx = splynx_data::routes();
    let route = |path: &str| {
        splynx
            .get(path)
            .cloned()
            .unwrap_or(Value::Array(Vec::new()))
    };
    let powercode = |action: &str| {
        let form = format!("apiKey={}&action={action}", small_data::POWERCODE_KEY);
        small_data::powercode_post()("/api/preseem/index.php", &form)
            .map_err(|status| anyhow::anyhow!("powercode test API: {status}"))
    };
    let netzur = small_data::netzur_routes()
        .remove("/api/libreqos")
        .context("netzur test API")?;
    let per_source: Vec<(&str, Vec<Value>)> = vec![
        (
            "uisp",
            vec![
                uisp_data::sites(),
                uisp_data::devices(),
                uisp_data::data_links(),
            ],
        ),
        (
            "splynx",
            [
                "/api/2.0/admin/tariffs/internet",
                "/api/2.0/admin/customers/customer",
                "/api/2.0/admin/customers/customers-online",
                splynx_data::SERVICES,
                "/api/2.0/admin/networking/routers",
                "/api/2.0/admin/networking/routers-sectors",
                "/api/2.0/admin/networking/monitoring",
                "/api/2.0/admin/networking/network-sites",
            ]
            .iter()
            .map(|p| route(p))
            .collect(),
        ),
        ("netzur", vec![netzur]),
        (
            "visp",
            vec![
                visp_data::bulk(),
                visp_data::subscribers(),
                visp_data::online_users(),
                visp_data::assemblies(),
                visp_data::equipment(),
            ],
        ),
        (
            "powercode",
            vec![powercode("list_customers")?, powercode("list_services")?],
        ),
        ("sonar", vec![Value::Array(sonar_data::accounts())]),
        ("wispgate", vec![small_data::wispgate_rows()]),
    ];
    per_source
        .into_iter()
        .map(|(name, bodies)| {
            let selector = lqos_fuzz::INTEGRATION_SOURCES
                .iter()
                .position(|(n, _)| *n == name)
                .context(name)?;
            let mut input = vec![selector as u8];
            for (i, body) in bodies.iter().enumerate() {
                if i > 0 {
                    input.push(lqos_fuzz::INTEGRATION_BODY_SEPARATOR);
                }
                input.extend(serde_json::to_vec(body)?);
            }
            Ok(input)
        })
        .collect()
}

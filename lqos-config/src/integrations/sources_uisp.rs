//! `[uisp_integration]`.

use super::raw::RawUisp;
use super::sources::{exceptions, options, strategy, Strategy, Suspended, Uisp};
use super::{Checker, IntegrationCommon};

/// LibreQoS's fixed rate for `suspended_strategy = "slow"`, in Mbps.
const SLOW_MBPS: f64 = 0.1;

/// The UISP settings (`None` unless `enable_uisp = true`) and the parsed `exception_cpes`
/// (LibreQoS's Python integrations read them from this table too).
pub(super) fn build(
    r: RawUisp,
    mode: Option<Strategy>,
    common: &IntegrationCommon,
    bandwidth_overhead_factor: f64,
    c: &mut Checker,
) -> (Option<Uisp>, Vec<(String, String)>) {
    let t = "uisp_integration";
    let cpes = exceptions(r.exception_cpes, c);
    c.unused(
        "uisp_integration.ipv6_with_mikrotik",
        &r.ipv6_with_mikrotik,
        "lqos does not query MikroTik routers for IPv6",
    );
    c.unused(
        "uisp_integration.enable_squashing",
        &r.enable_squashing,
        "deprecated in LibreQoS; use squash_sites",
    );
    c.unused(
        "uisp_integration.do_not_squash_sites",
        &r.do_not_squash_sites,
        "lqos squashes only the sites named in squash_sites",
    );
    c.unused(
        "uisp_integration.use_ptmp_as_parent",
        &r.use_ptmp_as_parent,
        "lqos always parents clients on their AP",
    );
    c.unused(
        "uisp_integration.infrastructure_transport_caps_enabled",
        &r.infrastructure_transport_caps_enabled,
        "lqos takes radio capacities as UISP reports them",
    );
    c.unused(
        "uisp_integration.always_overwrite_network_json",
        &r.always_overwrite_network_json,
        "an enabled integration always writes network.json",
    );
    if r.enable_uisp != Some(true) {
        return (None, cpes);
    }
    let suspended = match r
        .suspended_strategy
        .as_deref()
        .map(|s| s.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("") | Some("none") => Suspended::None,
        Some("ignore") => Suspended::Ignore,
        Some("slow") => Suspended::Slow(c.factor(
            "uisp_integration.suspended_slow_mbps",
            r.suspended_slow_mbps,
            SLOW_MBPS,
            None,
        )),
        Some(other) => {
            c.reject(
                "uisp_integration.suspended_strategy",
                other,
                "expected \"none\", \"ignore\" or \"slow\"",
            );
            Suspended::None
        }
    };
    let ratio = r.airmax_flexible_frame_download_ratio.unwrap_or(0.8);
    if !(ratio > 0.0 && ratio < 1.0) {
        c.reject(
            "uisp_integration.airmax_flexible_frame_download_ratio",
            ratio,
            "expected a share between 0 and 1 (exclusive)",
        );
    }
    let uisp = Uisp {
        options: options(
            c,
            t,
            r.refresh_interval_mins,
            r.ca_file,
            r.insecure_ssl == Some(true),
            None,
            common,
        ),
        token: r.token.unwrap_or_default(),
        url: c.url("uisp_integration.url", r.url, true),
        site: r.site.unwrap_or_default().trim().to_owned(),
        strategy: mode.unwrap_or_else(|| {
            strategy(
                c,
                "uisp_integration.strategy",
                r.strategy.as_deref(),
                Strategy::Full,
            )
        }),
        suspended,
        airmax_capacity: c.factor(
            "uisp_integration.airmax_capacity",
            r.airmax_capacity,
            1.0,
            None,
        ),
        airmax_flexible_frame_download_ratio: ratio.clamp(0.01, 0.99),
        ltu_capacity: c.factor("uisp_integration.ltu_capacity", r.ltu_capacity, 1.0, None),
        exclude_sites: r.exclude_sites.unwrap_or_default(),
        squash_sites: r.squash_sites.unwrap_or_default(),
        exception_cpes: cpes.clone(),
        bandwidth_overhead_factor,
        commit_bandwidth_multiplier: c.factor(
            "uisp_integration.commit_bandwidth_multiplier",
            r.commit_bandwidth_multiplier,
            1.0,
            None,
        ),
        ignore_calculated_capacity: r.ignore_calculated_capacity.unwrap_or(false),
    };
    if uisp.token.is_empty() {
        c.reject(
            "uisp_integration.token",
            "",
            "required when enable_uisp = true",
        );
    }
    (Some(uisp), cpes)
}

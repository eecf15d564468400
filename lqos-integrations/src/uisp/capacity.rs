//! What a UISP device can carry, from what UISP reports about it (bits/s → Mbps), with the
//! airMax/LTU multipliers and the airMax flexible-frame split; and a CPE's Ethernet speed.

use super::api::Device;
use lqos_config::integrations::Uisp;

fn lower(s: &Option<String>) -> String {
    s.as_deref().unwrap_or("").to_ascii_lowercase()
}

/// (download, upload) Mbps; `None` where UISP reports nothing usable.
pub fn device_capacity(d: &Device, s: &Uisp) -> Option<(f64, f64)> {
    let o = d.overview.clone().unwrap_or_default();
    let mbps = |v: Option<f64>| v.filter(|x| x.is_finite() && *x > 0.0).map(|x| x / 1e6);
    let id = &d.identification;
    let dl_ratio = active_dl_ratio(d);
    let flexible = lower(&id.kind) == "airmax"
        && lower(&id.role) == "ap"
        && lower(&o.wireless_mode) == "ap-ptmp"
        && (dl_ratio.is_some() || o.theoretical_total_capacity.is_some_and(|t| t > 0.0));
    if flexible {
        let total = mbps(o.total_capacity).or_else(|| {
            let (a, b) = (
                mbps(o.downlink_capacity)?,
                mbps(o.uplink_capacity).unwrap_or(0.0),
            );
            Some(a.max(b))
        })? * s.airmax_capacity;
        let share = match dl_ratio {
            Some(r) if r > 0.0 && r < 1.0 => r,
            Some(r) if (1.0..=100.0).contains(&r) => r / 100.0,
            _ => s.airmax_flexible_frame_download_ratio,
        };
        return Some(((total * share).round(), (total * (1.0 - share)).round()));
    }
    let (mut down, mut up) = (mbps(o.downlink_capacity)?, mbps(o.uplink_capacity)?);
    let model = id.model.as_deref().unwrap_or("").to_ascii_uppercase();
    let factor = if model.contains("5AC") {
        s.airmax_capacity
    } else if model.contains("LTU") {
        s.ltu_capacity
    } else {
        1.0
    };
    down *= factor;
    up *= factor;
    Some((down, up))
}

/// `dlRatio` of the active wireless interface (else of any wireless one).
fn active_dl_ratio(d: &Device) -> Option<f64> {
    let ifaces = d.interfaces.as_deref().unwrap_or(&[]);
    let active: Vec<String> = d
        .overview
        .as_ref()
        .and_then(|o| o.wireless_active_interface_ids.clone())
        .unwrap_or_default();
    let ratio = |i: &super::api::Interface| i.wireless.as_ref().and_then(|w| w.dl_ratio);
    let name = |i: &super::api::Interface| {
        i.identification
            .as_ref()
            .and_then(|x| x.name.clone())
            .unwrap_or_default()
    };
    ifaces
        .iter()
        .find(|i| active.contains(&name(i)) && ratio(i).is_some())
        .or_else(|| ifaces.iter().find(|i| ratio(i).is_some()))
        .and_then(ratio)
}

/// "100-full" → 100, "1000-full" → 1000, "2.5Gbps-full" → 2500, "10G" → 10000.
pub fn parse_speed(text: &str) -> Option<f64> {
    let t = text.trim().to_ascii_lowercase();
    let digits: String = t
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let v: f64 = digits.parse().ok()?;
    let rest = &t[digits.len()..];
    let giga = rest.starts_with("gbps") || rest.starts_with('g');
    let v = if giga { v * 1000.0 } else { v };
    (v > 0.0).then_some(v)
}

/// The lowest negotiated speed of an up wired interface, in Mbps.
pub fn ethernet_mbps(d: &Device) -> Option<f64> {
    d.interfaces
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .filter(|i| {
            let kind = i
                .identification
                .as_ref()
                .map(|x| lower(&x.kind))
                .unwrap_or_default();
            !matches!(kind.as_str(), "wlan" | "wifi" | "wireless")
        })
        .filter_map(|i| {
            let st = i.status.as_ref()?;
            let up = matches!(lower(&st.status).as_str(), "active" | "connected" | "up");
            up.then(|| st.current_speed.as_deref().and_then(parse_speed))
                .flatten()
        })
        .min_by(f64::total_cmp)
}

/// A station (a CPE radio) rather than an AP or a router.
pub fn is_station(d: &Device) -> bool {
    let role = lower(&d.identification.role);
    let mode = d
        .overview
        .as_ref()
        .map(|o| lower(&o.wireless_mode))
        .unwrap_or_default();
    matches!(role.as_str(), "station" | "sta" | "cpe") || mode.starts_with("sta")
}

/// An access point (the parent side of a wireless link).
pub fn is_ap(d: &Device) -> bool {
    let role = lower(&d.identification.role);
    let mode = d
        .overview
        .as_ref()
        .map(|o| lower(&o.wireless_mode))
        .unwrap_or_default();
    role == "ap" || mode.starts_with("ap")
}

/// A home router (never the Ethernet bottleneck of a plan).
pub fn is_router(d: &Device) -> bool {
    matches!(
        lower(&d.identification.role).as_str(),
        "router" | "homewifi" | "home-wifi" | "home wifi"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speeds() {
        assert_eq!(parse_speed("100-full"), Some(100.0));
        assert_eq!(parse_speed("2.5Gbps-full"), Some(2500.0));
        assert_eq!(parse_speed("10G"), Some(10000.0));
        assert_eq!(parse_speed("auto"), None);
    }
}

//! Rates and ages as lqtop prints them.

/// A rate in bit/s, with the unit that keeps it short: `950 bit/s`, `12.3 Mbit/s`.
pub fn rate(bps: u64) -> String {
    const UNITS: [(f64, &str); 3] = [(1e9, "Gbit/s"), (1e6, "Mbit/s"), (1e3, "kbit/s")];
    let v = bps as f64;
    for (scale, unit) in UNITS {
        if v >= scale {
            return format!("{:.1} {unit}", v / scale);
        }
    }
    format!("{bps} bit/s")
}

/// Seconds as `42s`, `5m`, `3h`, `2d`.
pub fn age(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86400 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_ages_pick_their_unit() {
        assert_eq!(rate(950), "950 bit/s");
        assert_eq!(rate(12_340_000), "12.3 Mbit/s");
        assert_eq!(rate(2_500_000_000), "2.5 Gbit/s");
        assert_eq!(rate(1_500), "1.5 kbit/s");
        assert_eq!(age(42), "42s");
        assert_eq!(age(300), "5m");
        assert_eq!(age(7200), "2h");
        assert_eq!(age(200_000), "2d");
    }
}

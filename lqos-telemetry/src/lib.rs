//! Telemetry for lqos, as pure data structures: what lqosd reads from the kernel's flow table
//! and RTT histograms goes in, per-flow rates, per-circuit RTT percentiles, retransmit
//! percentages, QoO scores and the views the bus, the CLI and the WebUI show come out.
//! Nothing here touches the kernel, so all of it is tested without root.

pub mod geo;

//! Queue statistics of HTB classes and their leaf qdiscs (CAKE, fq_codel, pfifo/bfifo), read
//! over rtnetlink instead of forking `tc`.
//!
//! [`QueueReader::dump`] sends one `RTM_GETQDISC` and one `RTM_GETTCLASS` dump for an
//! interface and decodes the answers as they stream in: `TCA_KIND`, handle, parent, the
//! `TCA_STATS2` basic and queue counters, and the kind's xstats (`TCA_STATS_APP`): HTB's
//! `tc_htb_xstats` for classes, CAKE's nested `TCA_CAKE_STATS_*` (decoded here, see
//! [`decode_cake_xstats`]) and fq_codel's `tc_fq_codel_xstats` for qdiscs. The result,
//! [`InterfaceQueues`], maps class ids to [`ClassStats`] and finds a class's leaf qdisc with
//! [`InterfaceQueues::leaf_of`] (a map built once per dump).
//!
//! [`HtbClassWriter`] writes over the same kind of socket: it changes an existing HTB class's
//! rates, bursts and quantum exactly as `tc class change` would, without forking `tc` (lqosd's
//! path for applies that only change classes).
//!
//! The socket belongs to the network namespace it was opened in; see [`QueueReader`] and
//! docs/queue-stats.md.

mod cake;
mod error;
mod fq_codel;
mod htb;
mod htb_write;
mod message;
mod model;
mod nla;
mod reader;
mod socket;

pub use cake::decode_cake_xstats;
pub use error::{DecodeError, QueueStatsError};
pub use fq_codel::decode_fq_codel_xstats;
pub use htb::{decode_htb_options, decode_htb_xstats};
pub use htb_write::{htb_class_options, HtbClassChange, HtbClassWriter, PschedClock};
pub use model::{
    tc_handle, CakeStats, CakeTin, ClassStats, FqCodelStats, HtbParams, HtbXstats, InterfaceQueues,
    QdiscStats, RateSpec, TC_H_ROOT,
};
pub use reader::QueueReader;

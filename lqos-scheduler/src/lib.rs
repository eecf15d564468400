//! lqos-scheduler: reads the operator's inputs, validates them and computes the queue plan.
//! It never touches the kernel: lqosd applies what it plans.

pub mod cli;
pub mod imports;
pub mod logs;
pub mod plan;
pub mod service;
pub mod state;
pub mod steady;

//! The `lqos` command line's definitions, shared by the binary and lqos-manpages.

pub mod cli;

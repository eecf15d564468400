//! lqtop: a live terminal view of lqosd, over its bus. [`app::App`] is the state (sorting,
//! filter, selection, privacy masking, detail view) and needs no terminal; [`ui`] draws it.

pub mod app;
pub mod cli;
pub mod format;
pub mod ui;

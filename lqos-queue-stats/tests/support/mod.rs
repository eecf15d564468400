pub mod netns;
pub mod tc_output;

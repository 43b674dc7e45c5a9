//! One file per command (`notify` has one: send and report).
pub mod notify;

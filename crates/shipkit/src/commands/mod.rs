//! `shipkit`'s own commands (the tools' commands live in their crates).

pub mod init;

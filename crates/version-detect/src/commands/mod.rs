//! One file per command: the default detection, `explain`, `next` and `tag`.

pub mod detect;
pub mod explain;
pub mod next;
pub mod tag;

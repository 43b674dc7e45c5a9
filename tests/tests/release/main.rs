//! The release path end to end, in one test binary so `scripts/dist` builds the archives once:
//! `dist` checks the archives, `install` serves them over HTTP on 127.0.0.1 and installs with install.sh,
//! `template_runs` runs the CI templates' own scripts against them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod dist;
mod install;
mod template_runs;

//! The build's version from git tags (semver), the Docker tags to publish, next version and release tags

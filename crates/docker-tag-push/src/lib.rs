//! Build a Docker image once, tag it with every version tag, push, report the registry digest; retag and promote without pulling

//! `login REGISTRY`: check credentials against the registry, then store them as `docker login` does. For
//! an ECR registry without a password, the token comes from ECR (see [`crate::ecr`]).

use super::{Outcome, Written};
use crate::auth::Credentials;
use crate::registry::{Client, Options};
use crate::settings::LoginSettings;
use shipkit_core::contract::LoginOutputs;
use shipkit_core::Result;

pub fn run(s: &LoginSettings, opts: Options) -> Result<Outcome> {
    let client = Client::new(opts);
    let creds = match &s.password {
        Some(p) => {
            let c = Credentials::new(&s.username, p);
            client.set_credentials(&s.registry, c.clone());
            c
        }
        // An ECR registry: the token from GetAuthorizationToken (valid 12 hours), stored for docker's sake.
        None => client
            .creds(&s.registry)?
            .ok_or_else(|| shipkit_core::Error::auth(format!("no token for {}", s.registry)))?,
    };
    client.ping(&s.registry)?;
    let stored = crate::auth::store(&s.registry, &creds)?;
    let text = format!("logged in to {} as {} (stored in {stored})\n", s.registry, s.username);
    let o = LoginOutputs {
        registry: s.registry.clone(),
        username: s.username.clone(),
        stored_in: stored,
    };
    Ok((Written::Login(o), text, None))
}

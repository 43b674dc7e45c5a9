//! `login REGISTRY`: check credentials against the registry, then store them as `docker login` does.

use super::Outcome;
use crate::auth::Credentials;
use crate::registry::{Client, Options};
use crate::settings::LoginSettings;
use shipkit_core::output::Outputs;
use shipkit_core::Result;

pub fn run(s: &LoginSettings, opts: Options) -> Result<Outcome> {
    let creds = Credentials::new(&s.username, &s.password);
    let client = Client::new(opts);
    client.set_credentials(&s.registry, creds.clone());
    client.ping(&s.registry)?;
    let stored = crate::auth::store(&s.registry, &creds)?;
    let mut o = Outputs::new();
    o.set("registry", s.registry.clone())
        .set("username", s.username.clone())
        .set("stored_in", stored.clone());
    Ok((
        o,
        format!("logged in to {} as {} (stored in {stored})\n", s.registry, s.username),
        None,
    ))
}

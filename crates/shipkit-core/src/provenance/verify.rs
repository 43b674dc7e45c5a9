//! Checking a provenance envelope before a deploy: signed by a trusted key, an in-toto Statement with a
//! SLSA provenance v1 predicate, about exactly the digest being deployed, from an allowed source.
//! Every failure is one line with exit 10 (refused) saying which check failed.

use super::dsse::{self, Envelope, IN_TOTO_PAYLOAD_TYPE};
use super::keys::{PublicKey, Signer};
use super::statement::{self, BuildFacts, SLSA_PROVENANCE_V1, STATEMENT_TYPE};
use crate::{Error, Result};
use base64::Engine as _;
use serde_json::Value;

/// What a deploy accepts.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub trusted_keys: Vec<PublicKey>,
    /// Allowed source repositories (exact match); empty = any.
    pub allowed_repositories: Vec<String>,
    /// Allowed git refs (exact match, e.g. `refs/heads/main`); empty = any.
    pub allowed_refs: Vec<String>,
}

/// What a verified provenance says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub key_id: String,
    pub source_repository: String,
    pub source_commit: String,
    pub source_ref: Option<String>,
    pub builder_id: String,
}

/// Builds and signs the provenance envelope of one image build.
pub fn sign_build(facts: &BuildFacts, signer: &dyn Signer) -> Result<Envelope> {
    let payload = serde_json::to_vec(&statement::statement(facts))
        .map_err(|e| Error::failure(format!("provenance statement: {e}")))?;
    Envelope::sign(IN_TOTO_PAYLOAD_TYPE, &payload, signer)
}

/// Verifies `envelope_bytes` as the provenance of `digest` (`sha256:<hex>`) under `policy`.
pub fn verify(envelope_bytes: &[u8], digest: &str, policy: &Policy) -> Result<Verified> {
    if policy.trusted_keys.is_empty() {
        return Err(
            Error::config("provenance is required but no trusted public key is configured")
                .hint("list the signers' public keys (PEM) under deploy.require_provenance.trusted_keys"),
        );
    }
    let envelope = Envelope::parse(envelope_bytes)?;
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(refuse(
            digest,
            format!("payload type is `{}`, not in-toto", envelope.payload_type),
        ));
    }
    let payload = envelope.payload_bytes()?;
    let key_id =
        trusted_signer(&envelope, &payload, policy).ok_or_else(|| refuse(digest, "no signature by a trusted key"))?;
    let statement: Value =
        serde_json::from_slice(&payload).map_err(|e| refuse(digest, format!("payload is not JSON: {e}")))?;
    check_statement(&statement, digest)?;
    let verified = facts_of(&statement, key_id);
    check_source(&verified, digest, policy)?;
    Ok(verified)
}

fn refuse(digest: &str, what: impl std::fmt::Display) -> Error {
    Error::refused(format!("provenance of {digest} refused: {what}"))
        .hint("deploy only images CI built and signed (docker-tag-push --provenance-key)")
}

/// The key id of the first trusted key with a valid signature over the PAE.
fn trusted_signer(envelope: &Envelope, payload: &[u8], policy: &Policy) -> Option<String> {
    let message = dsse::pae(&envelope.payload_type, payload);
    envelope.signatures.iter().take(16).find_map(|s| {
        let sig = dsse::b64().decode(&s.sig).ok()?;
        policy
            .trusted_keys
            .iter()
            .find(|k| k.verifies(&message, &sig))
            .map(PublicKey::key_id)
    })
}

fn check_statement(statement: &Value, digest: &str) -> Result<()> {
    if statement["_type"] != STATEMENT_TYPE {
        return Err(refuse(digest, "payload is not an in-toto Statement v1"));
    }
    if statement["predicateType"] != SLSA_PROVENANCE_V1 {
        return Err(refuse(digest, "predicate is not SLSA provenance v1"));
    }
    let want = digest.strip_prefix("sha256:").unwrap_or(digest).to_ascii_lowercase();
    let subjects = statement["subject"].as_array().map(Vec::as_slice).unwrap_or_default();
    let matches = subjects
        .iter()
        .any(|s| s["digest"]["sha256"].as_str() == Some(want.as_str()));
    if !matches {
        return Err(refuse(digest, "its subject is another digest"));
    }
    Ok(())
}

fn facts_of(statement: &Value, key_id: String) -> Verified {
    let build = &statement["predicate"]["buildDefinition"];
    let params = &build["externalParameters"];
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    Verified {
        key_id,
        source_repository: text(&params["repository"]),
        source_commit: text(&build["resolvedDependencies"][0]["digest"]["gitCommit"]),
        source_ref: params["ref"].as_str().map(str::to_string),
        builder_id: text(&statement["predicate"]["runDetails"]["builder"]["id"]),
    }
}

fn check_source(verified: &Verified, digest: &str, policy: &Policy) -> Result<()> {
    let repo = &verified.source_repository;
    if !policy.allowed_repositories.is_empty() && !policy.allowed_repositories.contains(repo) {
        return Err(refuse(
            digest,
            format!("built from repository `{repo}`, which is not allowed"),
        ));
    }
    if !policy.allowed_refs.is_empty() {
        let r = verified.source_ref.as_deref().unwrap_or("(none)");
        if !policy.allowed_refs.iter().any(|a| a == r) {
            return Err(refuse(digest, format!("built from ref `{r}`, which is not allowed")));
        }
    }
    Ok(())
}

//! Image provenance: what CI built, signed so a deploy can refuse what CI did not build.
//!
//! - [`statement`]: the in-toto Statement v1 with a SLSA provenance v1 predicate for one image digest
//!   (source repository and commit, build key, Dockerfile and build args, CI run URL, builder identity).
//! - [`dsse`]: the DSSE envelope (`application/vnd.in-toto+json` payload) and its pre-authentication encoding.
//! - [`keys`]: signing keys (Ed25519 or ECDSA P-256, PKCS#8 PEM) behind the [`keys::Signer`] trait, so a
//!   keyless signer can be added later; trusted public keys (SPKI PEM); key ids (SHA-256 of the SPKI DER).
//! - [`verify`]: envelope + signature + subject + allowed source checks, one-line refusals (exit 10).
//!
//! Crypto is ring's (already linked through rustls), so enabling this feature adds no crypto crate.

pub mod dsse;
pub mod keys;
pub mod statement;
pub mod verify;

/// The artifact type of the OCI referrer that carries an envelope.
pub const ARTIFACT_TYPE: &str = "application/vnd.dsse.envelope.v1+json";
/// Largest envelope accepted from a registry or a file (a provenance is a few KiB).
pub const MAX_ENVELOPE_BYTES: usize = 1024 * 1024;

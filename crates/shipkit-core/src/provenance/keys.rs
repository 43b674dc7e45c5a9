//! Signing keys and trusted public keys.
//!
//! A signing key is a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), as `openssl genpkey -algorithm ed25519`
//! or `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256` write it. A trusted key is the
//! matching SPKI PEM (`openssl pkey -pubout`). The key id is the hex SHA-256 of the SPKI DER, so the signer
//! and the verifier compute the same id from the same key without agreeing on names.

use crate::{Error, Result};
use base64::Engine as _;
use ring::signature::{self, KeyPair as _};
use std::fmt::Write as _;

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the 32-byte key follows.
const ED25519_SPKI_PREFIX: [u8; 12] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
/// DER prefix of a P-256 SubjectPublicKeyInfo (RFC 5480); the 65-byte uncompressed point follows.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
    0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];
/// Largest PEM accepted (keys are well under 1 KiB).
const MAX_PEM_BYTES: usize = 16 * 1024;

/// The signature schemes shipkit signs and verifies with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Ed25519,
    /// ECDSA P-256 with SHA-256, ASN.1 DER signatures.
    EcdsaP256,
}

/// Something that signs bytes: a key from a file today, a keyless (OIDC) signer later.
pub trait Signer {
    /// The id written next to the signature in the envelope.
    fn key_id(&self) -> &str;
    /// The signature of `message` (DSSE signs the pre-authentication encoding).
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>>;
}

/// A private key loaded from PKCS#8 PEM.
pub struct KeySigner {
    key: SigningKey,
    key_id: String,
    public: PublicKey,
}

enum SigningKey {
    Ed25519(signature::Ed25519KeyPair),
    EcdsaP256(signature::EcdsaKeyPair, ring::rand::SystemRandom),
}

impl KeySigner {
    /// Loads a PKCS#8 PEM private key (Ed25519 or P-256). `origin` names where it came from, for errors;
    /// the key material itself is never echoed.
    pub fn from_pem(pem: &str, origin: &str) -> Result<Self> {
        let der = pem_body(pem, "PRIVATE KEY", origin)?;
        if let Ok(pair) = signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der) {
            let public = PublicKey::from_raw(Algorithm::Ed25519, pair.public_key().as_ref());
            return Ok(Self::new(SigningKey::Ed25519(pair), public));
        }
        let rng = ring::rand::SystemRandom::new();
        let alg = &signature::ECDSA_P256_SHA256_ASN1_SIGNING;
        match signature::EcdsaKeyPair::from_pkcs8(alg, &der, &rng) {
            Ok(pair) => {
                let public = PublicKey::from_raw(Algorithm::EcdsaP256, pair.public_key().as_ref());
                Ok(Self::new(SigningKey::EcdsaP256(pair, rng), public))
            }
            Err(_) => Err(
                Error::config(format!("{origin}: not an Ed25519 or ECDSA P-256 PKCS#8 private key"))
                    .hint("make one with `openssl genpkey -algorithm ed25519 -out key.pem`"),
            ),
        }
    }

    fn new(key: SigningKey, public: PublicKey) -> Self {
        let key_id = public.key_id();
        Self { key, key_id, public }
    }

    /// The public half, to publish as a trusted key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }
}

impl Signer for KeySigner {
    fn key_id(&self) -> &str {
        &self.key_id
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        match &self.key {
            SigningKey::Ed25519(pair) => Ok(pair.sign(message).as_ref().to_vec()),
            SigningKey::EcdsaP256(pair, rng) => pair
                .sign(rng, message)
                .map(|sig| sig.as_ref().to_vec())
                .map_err(|_| Error::failure("ECDSA P-256 signing failed")),
        }
    }
}

/// A trusted public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    algorithm: Algorithm,
    /// The SubjectPublicKeyInfo DER.
    spki: Vec<u8>,
}

impl PublicKey {
    fn from_raw(algorithm: Algorithm, raw: &[u8]) -> Self {
        let prefix: &[u8] = match algorithm {
            Algorithm::Ed25519 => &ED25519_SPKI_PREFIX,
            Algorithm::EcdsaP256 => &P256_SPKI_PREFIX,
        };
        Self {
            algorithm,
            spki: [prefix, raw].concat(),
        }
    }

    /// Parses an SPKI PEM (`-----BEGIN PUBLIC KEY-----`) holding an Ed25519 or P-256 key.
    pub fn from_pem(pem: &str, origin: &str) -> Result<Self> {
        let der = pem_body(pem, "PUBLIC KEY", origin)?;
        let algorithm = if der.len() == 44 && der.starts_with(&ED25519_SPKI_PREFIX) {
            Algorithm::Ed25519
        } else if der.len() == 91 && der.starts_with(&P256_SPKI_PREFIX) {
            Algorithm::EcdsaP256
        } else {
            return Err(
                Error::config(format!("{origin}: not an Ed25519 or ECDSA P-256 public key"))
                    .hint("export it with `openssl pkey -in key.pem -pubout`"),
            );
        };
        Ok(Self { algorithm, spki: der })
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Hex SHA-256 of the SPKI DER.
    pub fn key_id(&self) -> String {
        hex(ring::digest::digest(&ring::digest::SHA256, &self.spki).as_ref())
    }

    /// The key as SPKI PEM.
    pub fn to_pem(&self) -> String {
        let body = base64::engine::general_purpose::STANDARD.encode(&self.spki);
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap_or(""))
            .collect();
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            lines.join("\n")
        )
    }

    /// Whether `sig` is this key's signature of `message`.
    pub fn verifies(&self, message: &[u8], sig: &[u8]) -> bool {
        let (alg, raw): (&dyn signature::VerificationAlgorithm, &[u8]) = match self.algorithm {
            Algorithm::Ed25519 => (&signature::ED25519, &self.spki[ED25519_SPKI_PREFIX.len()..]),
            Algorithm::EcdsaP256 => (&signature::ECDSA_P256_SHA256_ASN1, &self.spki[P256_SPKI_PREFIX.len()..]),
        };
        signature::UnparsedPublicKey::new(alg, raw).verify(message, sig).is_ok()
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// The DER inside one PEM block labelled `label`.
fn pem_body(pem: &str, label: &str, origin: &str) -> Result<Vec<u8>> {
    let bad = || {
        Error::config(format!("{origin}: not a PEM `{label}`"))
            .hint(format!("expected a `-----BEGIN {label}-----` block"))
    };
    if pem.len() > MAX_PEM_BYTES {
        return Err(bad());
    }
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin).ok_or_else(bad)? + begin.len();
    let stop = pem[start..].find(&end).ok_or_else(bad)? + start;
    let body: String = pem[start..stop].chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| bad())
}

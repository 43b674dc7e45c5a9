//! DSSE envelopes (https://github.com/secure-systems-lab/dsse, protocol.md and envelope.md).
//!
//! The signature covers the pre-authentication encoding `PAE(type, body) = "DSSEv1" SP LEN(type) SP type
//! SP LEN(body) SP body` (lengths in ASCII decimal), never the JSON around it.

use super::keys::Signer;
use crate::{Error, Result};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// The payload type of an in-toto Statement.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// A DSSE envelope as serialized JSON.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Envelope {
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// Base64 (standard alphabet) of the payload bytes.
    pub payload: String,
    pub signatures: Vec<Signature>,
}

/// One signature of an envelope.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Signature {
    #[serde(default)]
    pub keyid: String,
    /// Base64 of the signature bytes.
    pub sig: String,
}

/// The pre-authentication encoding of `payload` with `payload_type`.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!("DSSEv1 {} {} {} ", payload_type.len(), payload_type, payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out
}

impl Envelope {
    /// Signs `payload` with `signer`.
    pub fn sign(payload_type: &str, payload: &[u8], signer: &dyn Signer) -> Result<Self> {
        let sig = signer.sign(&pae(payload_type, payload))?;
        Ok(Self {
            payload_type: payload_type.to_string(),
            payload: b64().encode(payload),
            signatures: vec![Signature {
                keyid: signer.key_id().to_string(),
                sig: b64().encode(sig),
            }],
        })
    }

    /// Parses an envelope (bounded in size); errors are refusals (exit 10), as the bytes came from outside.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > super::MAX_ENVELOPE_BYTES {
            return Err(Error::refused(format!(
                "provenance envelope is {} bytes, over the {}-byte limit",
                bytes.len(),
                super::MAX_ENVELOPE_BYTES
            )));
        }
        serde_json::from_slice(bytes)
            .map_err(|e| Error::refused(format!("provenance envelope is not a DSSE envelope: {e}")))
    }

    /// The decoded payload bytes.
    pub fn payload_bytes(&self) -> Result<Vec<u8>> {
        b64()
            .decode(&self.payload)
            .map_err(|_| Error::refused("provenance envelope payload is not base64"))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

pub(super) fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

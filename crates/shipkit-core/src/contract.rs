//! The contract between the tools: what each one writes, as types.
//!
//! Every tool's results are a struct here ([`VersionOutputs`], [`ImageOutputs`], [`DeployOutputs`],
//! [`NotifyOutputs`], and one per other command). The writing tool fills it and calls [`Contract::emit`];
//! every output form derives from the struct: `json` is the struct itself (nested values stay arrays and
//! objects), and the env forms (`env`, `circleci`, `github`, `dotenv`) hold one key per field, lists of plain
//! values comma-joined, lists of objects and objects as compact JSON, null as empty (see
//! [`crate::output`]). The reading tool takes [`Inputs`] (`--input FILE`: any of those forms) and reads
//! typed values with [`Inputs::value`] or a whole struct with [`Contract::from_inputs`]; an env form's text
//! is converted back by the field's type ([`lenient`]), so `SERVICES='[{…}]'` is a list of
//! [`ServiceOutcome`]s again, never a string of JSON.
//!
//! An empty text and null mean the same: absent (an env form cannot tell them apart), so an optional value
//! that has nothing to say is `None`, never `Some("")`.
//!
//! JSON Schemas of these structs are generated (feature `schema`) and committed under `schemas/v1/`; a
//! test fails when they drift. The JSON form is stable within [`SCHEMA_VERSION`]: fields may be added,
//! none removed, renamed or retyped without a new version.

mod deploy;
mod diff;
mod image;
mod inputs;
pub mod lenient;
mod notify;
#[cfg(feature = "schema")]
pub mod schema;
mod version;

pub use deploy::{
    CodeDeployStatus, DeployOutputs, Engine, LockOutputs, RunOutputs, ServiceLock, ServiceOutcome, ServiceStatus,
    StatusOutputs,
};
pub use diff::{
    DiffOutputs, EnvironmentStatus, EnvironmentsStatusOutputs, FieldChange, Promotion, ServiceDiff, ServicePromotion,
    VerifyCheck, VerifyOutputs,
};
pub use image::{DigestOutputs, ImageOutputs, ImagePlan, LoginOutputs};
pub use inputs::{normalize_key, Inputs};
pub use notify::{NotifyOutputs, NotifyPlan, PlannedPayload};
pub use version::{FloatingTag, IgnoredTag, NextOutputs, VersionOutputs};

use crate::error::{Error, ExitCode, Result};
use crate::output::{OutputOptions, Outputs};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The version of the output contract: the `v1` of `schemas/v1/`.
pub const SCHEMA_VERSION: u32 = 1;

/// A tool's outputs: written as every output form, read back from any of them.
pub trait Contract: Serialize + DeserializeOwned {
    /// The field-by-field outputs, in declaration order (the order of the env forms).
    fn to_outputs(&self) -> Result<Outputs> {
        to_outputs(self)
    }

    /// Write in the chosen format (`text` is the human form); see [`Outputs::emit`].
    fn emit(&self, opts: &OutputOptions, text: &str) -> Result<()> {
        self.to_outputs()?.emit(opts, text)
    }

    /// Read the whole struct from other tools' outputs (unknown keys are ignored).
    fn from_inputs(inputs: &Inputs) -> Result<Self> {
        inputs.parse()
    }
}

macro_rules! contracts {
    ($($t:ty),* $(,)?) => {$(impl Contract for $t {})*};
}
contracts!(
    VersionOutputs,
    NextOutputs,
    ImageOutputs,
    ImagePlan,
    DigestOutputs,
    LoginOutputs,
    DeployOutputs,
    RunOutputs,
    LockOutputs,
    StatusOutputs,
    DiffOutputs,
    VerifyOutputs,
    EnvironmentsStatusOutputs,
    NotifyOutputs,
    NotifyPlan,
);

/// `value`'s fields as ordered outputs: serialized, then read back as an ordered list of entries (a JSON
/// object read into `serde_json::Map` would lose the declaration order).
pub fn to_outputs<T: Serialize + ?Sized>(value: &T) -> Result<Outputs> {
    let text = serde_json::to_string(value)
        .map_err(|e| Error::new(ExitCode::Failure, format!("cannot encode the outputs: {e}")))?;
    let entries: OrderedEntries = serde_json::from_str(&text)
        .map_err(|e| Error::new(ExitCode::Failure, format!("the outputs are not a JSON object: {e}")))?;
    let mut outputs = Outputs::new();
    for (k, v) in entries.0 {
        outputs.set(k, v);
    }
    Ok(outputs)
}

struct OrderedEntries(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for OrderedEntries {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Entries;
        impl<'de> serde::de::Visitor<'de> for Entries {
            type Value = OrderedEntries;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<OrderedEntries, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(OrderedEntries(entries))
            }
        }
        d.deserialize_map(Entries)
    }
}

#[cfg(test)]
mod tests;

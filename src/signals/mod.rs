//! Phone signals: the owner's devices, how a signal proves it came from one,
//! what a valid signal is, and where it is kept.
//!
//! Two modes per device. Signed (the default): `{msg, sig}` where `msg` is
//! `v1|<device>|<ISO-8601 ts>|<nonce>|<kind>|<field>=<value>…` and `sig` is hex
//! SHA-256 of `secret|msg|secret`, which the Shortcuts "Generate Hash" action
//! can compute (Shortcuts has no HMAC). Token (Lantern-compatible, opt-in per
//! device): header `x-steward-signal-token` and a JSON body.

pub mod devices;
pub mod presence;
pub mod shortcuts;
pub mod signal;

pub use devices::{Device, DeviceError, Mode};
pub use signal::{Rejection, Signal, SignalBody};

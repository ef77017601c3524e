//! Agents: their specs and the roster. Scheduling and behaviour arrive with the
//! loop-agent issue; every agent acts only through the pipeline.

pub mod spec;

pub use spec::{AgentSpec, Roster};

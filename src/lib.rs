//! Steward: a careful personal-assistant daemon.
//!
//! # Layout
//! - [`cli`]: clap commands, one file per subcommand, each with `run()`.
//! - [`config`]: `steward.yaml` into typed structs; unknown keys are errors; secrets by reference.
//! - [`home`]: the home directory: its paths, `init`, and file-mode rules (0700 home, 0600 secrets).
//! - [`keys`]: the Ed25519 receipt key and the api-token on disk.
//! - [`store`]: the SQLite store: one writer thread, pooled readers, embedded numbered migrations.
//! - [`daemon`]: `boot()`: pid lock, store, HTTP, clean stop on SIGTERM/SIGINT.
//! - [`http`]: axum routes (health, the token-guarded JSON API) and a tiny probe client.
//! - [`service`]: the launchd plist and the systemd user unit that keep the daemon running.
//! - [`assets`]: the data folders shipped in the binary, overridable from the home.
//! - [`logging`]: tracing to the terminal and JSON lines to rotated files.
//! - [`spec`]: agent specs (`agents/*.yaml`), the roster of specs, and `Usd`.
//! - [`agents`]: the scheduler, cron, nudges and the roster's behaviour.
//! - [`owner`]: the owner's handle (`Owner`, `tell`) and what the owner reads (`views`), below the assistant and the commands.
//! - [`owner_state`]: the owner's switches (kill switch, pauses, lists, echoes) with typed keys.
//! - [`canonical`], [`receipt`]: canonical JSON and the signed receipt format.
//! - [`pipeline`]: the governed run pipeline: gates, journal, audit chain, receipts, budgets, confirmations.
//! - [`bridges`]: the channels: the console, and iMessage (chat.db and Contacts in; AppleScript out).
//! - [`memory`]: the person graph: handles, people, chats, messages, reactions, facts, context.
//! - [`types`]: types shared across modules (`Inbound`, `StepKey`).
//!
//! Imports point down a fixed layer order (ARCHITECTURE.md, "Layers"), checked
//! by `tests/layers.rs`.

pub mod agents;
pub mod assets;
pub mod assistant;
pub mod bridges;
pub mod canonical;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod documents;
pub mod fault;
pub mod guards;
pub mod home;
pub mod http;
pub mod keys;
pub mod llm;
pub mod logging;
pub mod memory;
pub mod owner;
pub mod owner_state;
pub mod pipeline;
pub mod profile;
pub mod prompts;
pub mod receipt;
pub mod runtime;
pub mod service;
pub mod signals;
pub mod spec;
pub mod store;
pub mod tls;
pub mod types;

/// The version printed by `status`, `/healthz` and receipts.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

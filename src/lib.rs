//! crossthemes: groups paragraphs of multilingual articles into
//! cross-language themes. The pipeline flows one way, a module per stage:
//! ingest → language → embed → cluster → describe → themes → output; `job`
//! runs the stages in order, `themes` keeps theme ids stable across runs,
//! `folder` owns the output folder, `model` finds the model the `embed`
//! stage runs, and `cli` turns flags into a job. ARCHITECTURE.md draws the
//! map.
//!
//! The library is public only where the binary and the integration tests
//! reach in: the command line, the embedder and its model store, clustering,
//! the report formats and the benchmarks.
#![warn(missing_docs)]

pub mod bench;
pub mod cli;
pub mod cluster;
mod describe;
pub mod embed;
pub mod error;
mod folder;
mod given;
mod ingest;
mod job;
mod language;
pub mod model;
mod output;
mod progress;
mod run_record;
mod simd;
mod themes;

//! crossthemes: groups paragraphs of multilingual articles into
//! cross-language themes. The pipeline flows one way, a module per stage:
//! ingest → language → embed → cluster → describe → output; `job` runs the
//! stages in order, `refresh` keeps scheduled runs cheap and stable, `model`
//! finds the model the `embed` stage runs, and `cli` turns flags into a job.
//!
//! The library is public only where the binary and the integration tests
//! reach in: the command line, the embedder and its model store, clustering
//! and the benchmarks.
#![warn(missing_docs)]

pub mod bench;
pub mod cli;
pub mod cluster;
mod describe;
pub mod embed;
mod ingest;
mod job;
mod language;
pub mod model;
mod output;
mod progress;
mod refresh;
mod run_record;
mod simd;

//! crossthemes: groups paragraphs of multilingual articles into
//! cross-language themes. The pipeline flows one way, a module per stage:
//! ingest → language → embed → cluster → describe → output; `cli` runs it.

pub mod bench;
pub mod cli;
pub mod cluster;
pub mod describe;
pub mod embed;
pub mod ingest;
pub mod language;
pub mod output;
pub mod refresh;

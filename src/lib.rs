//! crossthemes: groups paragraphs of multilingual articles into
//! cross-language themes. The pipeline flows one way, a module per stage:
//! ingest → language → embed → cluster → describe → output.

pub mod embed;
pub mod ingest;
pub mod language;
pub mod cluster;

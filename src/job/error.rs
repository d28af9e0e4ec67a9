//! Every way the job can fail, one variant per room: `?` turns a room's
//! error into a [`JobError`], and the compiler insists that a new room's
//! error is added here, where its kind of fault is read.

use crate::cluster::ClusterError;
use crate::describe::NoSuchLanguage;
use crate::embed::cache::CacheError;
use crate::embed::EmbedError;
use crate::error::{Classified, Fault};
use crate::folder::FolderError;
use crate::given::GivenError;
use crate::ingest::IngestError;
use crate::language::UnknownLanguage;
use crate::model::ModelError;

/// Why a run of the job (or of `crossthemes embed`) failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The output folder.
    #[error(transparent)]
    Folder(#[from] FolderError),
    /// The inputs.
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// `--themes`.
    #[error(transparent)]
    Given(#[from] GivenError),
    /// `--languages`.
    #[error(transparent)]
    Language(#[from] UnknownLanguage),
    /// `--label-language`.
    #[error(transparent)]
    LabelLanguage(#[from] NoSuchLanguage),
    /// Finding the model.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// Running the model.
    #[error(transparent)]
    Embed(#[from] EmbedError),
    /// The embedding cache.
    #[error(transparent)]
    Cache(#[from] CacheError),
    /// Clustering.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// The theme history could not be encoded.
    #[error("encoding the theme history: {0}")]
    History(#[from] serde_json::Error),
}

impl Classified for JobError {
    fn fault(&self) -> Fault {
        match self {
            JobError::Folder(e) => e.fault(),
            JobError::Ingest(e) => e.fault(),
            JobError::Given(e) => e.fault(),
            JobError::Language(e) => e.fault(),
            JobError::LabelLanguage(e) => e.fault(),
            JobError::Model(e) => e.fault(),
            JobError::Embed(e) => e.fault(),
            JobError::Cache(e) => e.fault(),
            JobError::Cluster(e) => e.fault(),
            JobError::History(_) => Fault::Failure,
        }
    }
}

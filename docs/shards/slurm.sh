#!/usr/bin/env bash
# Embedding on a Slurm job array, clustering in one dependent job.
# usage: docs/shards/slurm.sh ARTICLES OUTPUT [SHARDS]
# Each array task embeds share SLURM_ARRAY_TASK_ID of SHARDS into its own
# cache file beside OUTPUT/cache.sqlite; the final job runs only when every
# task succeeded (afterok), takes the shard caches in and clusters.
# The folders must be on a file system all nodes share.
set -euo pipefail
articles=${1:?usage: slurm.sh ARTICLES OUTPUT [SHARDS]}
output=${2:?usage: slurm.sh ARTICLES OUTPUT [SHARDS]}
shards=${3:-8}
array_job=$(sbatch --parsable --job-name=crossthemes-embed \
    --array="1-${shards}" --cpus-per-task=4 --mem=2G --time=02:00:00 \
    --wrap="crossthemes embed --shard \${SLURM_ARRAY_TASK_ID}/${shards} --input '${articles}' --output '${output}' --threads 4")
sbatch --job-name=crossthemes-cluster --dependency="afterok:${array_job}" \
    --cpus-per-task=4 --mem=8G --time=01:00:00 \
    --wrap="crossthemes --input '${articles}' --output '${output}'"
echo "submitted embedding array ${array_job} and the clustering job after it"

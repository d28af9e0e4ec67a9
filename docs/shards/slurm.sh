#!/usr/bin/env bash
# Embedding on a Slurm job array, clustering in one dependent job.
# usage: docs/shards/slurm.sh ARTICLES OUTPUT [SHARDS]   (SHARDS: 8 by default)
# Each array task embeds share SLURM_ARRAY_TASK_ID of SHARDS into its own
# cache file beside OUTPUT/cache.sqlite; the final job runs only when every
# task succeeded (afterok), takes the shard caches in and clusters.
# ARTICLES, OUTPUT, the binary and the model store must be on a file system
# every node shares.
#
# Resources come from the caller; the defaults fit a small node (2 CPUs):
#   CROSSTHEMES_CPUS          CPUs per task (and the binary's --threads)   2
#   CROSSTHEMES_EMBED_MEM     memory of each embedding task                2G
#   CROSSTHEMES_EMBED_TIME    time limit of each embedding task            02:00:00
#   CROSSTHEMES_CLUSTER_MEM   memory of the clustering job                 4G
#   CROSSTHEMES_CLUSTER_TIME  time limit of the clustering job             01:00:00
#   CROSSTHEMES_BIN           the binary              crossthemes on PATH
#   CROSSTHEMES_MODELS        the model store         models
# Partition, account, QoS and the like: sbatch's own SBATCH_PARTITION,
# SBATCH_ACCOUNT, ... variables, which sbatch reads itself.
#
# A task that fails leaves the clustering job pending for ever (reason
# DependencyNeverSatisfied; requeueing the task does not lift that). Run
#   bash OUTPUT/slurm-retry.sh SHARD [SHARD ...]
# which this script writes: it submits those shards again (each keeps what
# its first try finished) and makes the clustering job wait for them in
# place of the failed tries. A clustering run that finds a shard unfinished
# refuses (exit code 3) and leaves the shard alone.
set -euo pipefail

die() {
    echo "slurm.sh: $*" >&2
    exit 2
}

articles=${1:-}
output=${2:-}
shards=${3:-8}
[[ -n $articles && -n $output ]] || die "usage: slurm.sh ARTICLES OUTPUT [SHARDS]"
[[ $shards =~ ^[1-9][0-9]*$ ]] || die "SHARDS must be a whole number of at least 1, not '$shards'"
[[ -e $articles ]] || die "no articles at '$articles'"
command -v sbatch >/dev/null || die "sbatch not found: run this where Slurm's commands are (a login node)"

bin=${CROSSTHEMES_BIN:-$(command -v crossthemes || true)}
[[ -n $bin && -x $bin ]] ||
    die "no crossthemes binary${bin:+ at '$bin'}: put it on PATH or set CROSSTHEMES_BIN to a path every node sees"
models=${CROSSTHEMES_MODELS:-models}
[[ -d $models ]] ||
    die "no model store at '$models': run '$bin' once here (it fetches the model into it) or set CROSSTHEMES_MODELS"

# Absolute paths: the tasks start in whatever folder Slurm gives them.
bin=$(realpath "$bin")
models=$(realpath "$models")
articles=$(realpath "$articles")
mkdir -p "$output"
output=$(realpath "$output")

cpus=${CROSSTHEMES_CPUS:-2}
[[ $cpus =~ ^[1-9][0-9]*$ ]] || die "CROSSTHEMES_CPUS must be a whole number of at least 1, not '$cpus'"
run="'$bin' --models-dir '$models' --threads $cpus"

array_job=$(sbatch --parsable --job-name=crossthemes-embed --array="1-$shards" \
    --cpus-per-task="$cpus" --mem="${CROSSTHEMES_EMBED_MEM:-2G}" \
    --time="${CROSSTHEMES_EMBED_TIME:-02:00:00}" \
    --wrap="$run embed --shard \${SLURM_ARRAY_TASK_ID}/$shards --input '$articles' --output '$output'")
array_job=${array_job%%;*}
embed_options=(--job-name=crossthemes-embed --cpus-per-task="$cpus"
    --mem="${CROSSTHEMES_EMBED_MEM:-2G}" --time="${CROSSTHEMES_EMBED_TIME:-02:00:00}"
    --wrap="$run embed --shard \${SLURM_ARRAY_TASK_ID}/$shards --input '$articles' --output '$output'")
cluster_job=$(sbatch --parsable --job-name=crossthemes-cluster --dependency="afterok:$array_job" \
    --cpus-per-task="$cpus" --mem="${CROSSTHEMES_CLUSTER_MEM:-4G}" \
    --time="${CROSSTHEMES_CLUSTER_TIME:-01:00:00}" \
    --wrap="$run --input '$articles' --output '$output'")
cluster_job=${cluster_job%%;*}

retry=$output/slurm-retry.sh
{
    echo '#!/usr/bin/env bash'
    echo "# Written by slurm.sh for embedding array $array_job and clustering job $cluster_job."
    echo "# usage: bash $retry SHARD [SHARD ...]   (shards 1 to $shards whose task failed)"
    echo 'set -euo pipefail'
    printf 'shards=%q; array_job=%q; cluster_job=%q\n' "$shards" "$array_job" "$cluster_job"
    printf 'embed_options=(%s)\n' "$(printf '%q ' "${embed_options[@]}")"
    cat <<'RETRY'
[[ $# -gt 0 ]] || { echo "usage: bash $0 SHARD [SHARD ...] (1 to $shards)" >&2; exit 2; }
for shard in "$@"; do
    [[ $shard =~ ^[1-9][0-9]*$ && $shard -le $shards ]] ||
        { echo "$0: a shard is a number from 1 to $shards, not '$shard'" >&2; exit 2; }
done
again=$(sbatch --parsable --array="$(IFS=,; echo "$*")" "${embed_options[@]}")
again=${again%%;*}
# The clustering job waits for the new tries and for every other task.
waits="afterok:$again"
for shard in $(seq "$shards"); do
    [[ " $* " == *" $shard "* ]] || waits+=":${array_job}_$shard"
done
scontrol update jobid="$cluster_job" dependency="$waits"
echo "shards $* again: job array $again; clustering job $cluster_job now waits for it (squeue -j $again,$cluster_job)"
RETRY
} > "$retry"

echo "embedding: job array $array_job ($shards tasks); clustering: job $cluster_job, after every task succeeded"
echo "follow them:  squeue -j $array_job,$cluster_job"
echo "  (pending with reason PartitionConfig or Resources: a task asks more than a node has;"
echo "   scancel both and lower CROSSTHEMES_CPUS or the *_MEM settings)"
echo "a task failed (the clustering job stays pending, reason DependencyNeverSatisfied):"
echo "              bash $retry SHARD [SHARD ...]"
echo "afterwards:   sacct -j $array_job,$cluster_job   and the report in $output"

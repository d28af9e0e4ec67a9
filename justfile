# crossthemes tasks. `just` alone runs the job on seeds/.

default: run

# Run the job (extra flags pass through, e.g. `just run --k 8`).
run *ARGS:
    cargo run --release -- {{ARGS}}

# The whole test suite, as CI runs it.
test:
    cargo test --release

# Embedding throughput on the seeds and on the larger benchmark corpus.
bench:
    cargo run --release -- bench-embed --input seeds
    cargo run --release -- bench-embed --input ../shared/bench/installguide/articles

# Cross-language scores on the public benchmark and its imbalanced variants.
bench-themes:
    cargo run --release -- bench-themes --gold ../shared/bench/installguide/gold.csv --k 13 --keep 0.5 --keep 0.333 --keep 0.1667

# A refresh adding one article to thousands of cached paragraphs, next to a full run.
bench-refresh:
    cargo run --release -- bench-refresh --gold ../shared/bench/installguide/gold.csv --article seeds/000_83d050db8f9f875e.txt

# Formatting and lints, as they must stay.
lint:
    cargo fmt --all -- --check
    cargo clippy --all-targets -- -D warnings

# crossthemes tasks. `just` alone runs the job on seeds/.

default: run

# Run the job (extra flags pass through, e.g. `just run --k 8`).
run *ARGS:
    cargo run --release -- {{ARGS}}

# The whole test suite, as CI runs it.
test:
    cargo test --release

# Embedding throughput of each engine and precision, on the seeds and on the larger benchmark corpus.
bench:
    cargo build --release
    ./target/release/crossthemes bench-embed --input seeds --precision f32
    ./target/release/crossthemes bench-embed --input seeds --precision bf16
    ./target/release/crossthemes bench-embed --input seeds --engine candle
    ./target/release/crossthemes bench-embed --input ../shared/bench/installguide/articles --precision f32
    ./target/release/crossthemes bench-embed --input ../shared/bench/installguide/articles --precision bf16

# PyTorch on the same model directory and the same model inputs, for comparison
# (needs `python3 -m pip install torch transformers`).
bench-pytorch:
    cargo run --release -- bench-embed --input seeds --dump-inputs target/seeds-inputs.jsonl
    python3 benches/pytorch_reference.py models/multilingual-e5-small-q4 target/seeds-inputs.jsonl --threads 2

# crossthemes, ONNX Runtime and PyTorch on the same model inputs, at 1 and at all
# threads, as one table (pip install onnx onnxruntime tokenizers numpy; the
# PyTorch rows also need torch and transformers, and say so when missing).
bench-engines:
    cargo build --release
    python3 benches/bench_engines.py target/release/crossthemes models/multilingual-e5-small-q4 seeds
    python3 benches/bench_engines.py target/release/crossthemes models/multilingual-e5-small-q4 ../shared/bench/installguide/articles

# Cross-language scores on the public benchmark and its imbalanced variants.
bench-themes:
    cargo run --release -- bench-themes --gold ../shared/bench/installguide/gold.csv --k 13 --keep 0.6667 --keep 0.5 --keep 0.333 --keep 0.1667 --seeds 30

# How much noise in the vectors the seeds' themes tolerate before they change,
# over k-means seeds 1 to 20 (one seed's count swings from 0 to 20 of 20; about
# 16 minutes on 2 cores).
bench-stability:
    cargo run --release -- bench-stability --seed 1 --seeds 20

# Label fit with the model as judge, beside c-TF-IDF's top 3 words: the seeds
# at auto k, then installguide at k = 13 (about half a minute on 2 cores).
bench-labels:
    cargo run --release -- bench-labels
    cargo run --release -- bench-labels --input ../shared/bench/installguide/articles --k 13

# Named themes on installguide: the 13 chapter titles (benches/installguide-chapters.csv)
# as --themes against none, at auto k and at k = 13, over k-means seeds 42 to 51.
bench-named:
    cargo build --release
    for s in $(seq 42 51); do for k in auto 13; do target/release/crossthemes --input ../shared/bench/installguide/articles --cache target/bench-named.sqlite --rebuild --quiet --seed $s --k $k --output target/bench-named/k$k-seed$s && target/release/crossthemes --input ../shared/bench/installguide/articles --cache target/bench-named.sqlite --rebuild --quiet --seed $s --k $k --themes benches/installguide-chapters.csv --output target/bench-named/k$k-named-seed$s; done; done
    python3 benches/named_themes.py ../shared/bench/installguide/gold.csv benches/installguide-chapters.csv target/bench-named/kauto-seed* target/bench-named/kauto-named-seed* target/bench-named/k13-seed* target/bench-named/k13-named-seed*

# The report's map: translations / random pairs and the silhouette of themes on
# installguide, then the silhouette and seconds at 1k, 20k and 100k synthetic paragraphs.
bench-map:
    cargo run --release -- bench-map

# A refresh adding one article to thousands of cached paragraphs, next to a full run.
bench-refresh:
    cargo run --release -- bench-refresh --gold ../shared/bench/installguide/gold.csv --article seeds/000_83d050db8f9f875e.txt

# The cluster stage at 10k, 100k and 1M synthetic paragraphs, then faiss's
# k-means on the same vectors at the same k (pip install faiss-cpu numpy).
bench-scale:
    cargo run --release -- bench-scale --save target/bench-scale
    python3 benches/faiss_kmeans.py target/bench-scale

# A large real corpus: Debian's manual pages in 9 languages, rendered to text
# under target/manpages (needs apt-get, dpkg-deb and groff).
manpages-corpus:
    benches/manpages_corpus.sh target/manpages

# Comparable text, no translations: each manual page kept in one language,
# drawn among the 4 or more it has (run `just manpages-corpus` first); how
# much the themes follow language under each --debias.
bench-comparable:
    cargo build --release
    python3 benches/comparable_corpus.py pick target/manpages target/comparable --min-languages 4 --seed 1
    for d in align joint mean none; do target/release/crossthemes --input target/comparable --output target/comparable-$d --cache target/comparable.sqlite --max-paragraph-tokens 64 --rebuild --debias $d 2>/dev/null && python3 benches/comparable_corpus.py score target/comparable-$d; done

# Formatting and lints, as they must stay.
lint:
    cargo fmt --all -- --check
    cargo clippy --all-targets -- -D warnings

# Same results as another build? Runs OLD_BINARY and this build on the seeds,
# the installguide articles and a refresh, then compares the output folders.
compare-outputs OLD_BINARY:
    cargo build --release
    benches/compare_binaries.sh {{OLD_BINARY}} target/release/crossthemes

# How ingest and language identification do on the installguide benchmark:
# gold paragraphs kept as rows of their own, gold languages found.
ingest-quality:
    cargo run --release -- --input ../shared/bench/installguide/articles --output target/installguide-run --quiet
    python3 benches/ingest_quality.py ../shared/bench/installguide/gold.csv target/installguide-run/paragraphs.csv

# Pictures of what analysts open, for the README, after three scheduled runs
# (an article arrives, then another arrives and one leaves; two named themes):
# the HTML report (headless Chromium) and the workbook (LibreOffice). Needs chromium, libreoffice-calc
# and poppler-utils (apt-get install chromium libreoffice-calc poppler-utils).
screenshots:
    cargo build --release
    rm -rf target/screenshots target/screenshots-input && mkdir -p target/screenshots-input
    cp seeds/000_* seeds/003_* seeds/004_* target/screenshots-input/
    target/release/crossthemes --input target/screenshots-input --output target/screenshots --themes docs/example-themes.csv --quiet
    cp seeds/002_* target/screenshots-input/
    target/release/crossthemes --input target/screenshots-input --output target/screenshots --themes docs/example-themes.csv --quiet
    cp seeds/001_* target/screenshots-input/ && rm target/screenshots-input/004_*
    target/release/crossthemes --input target/screenshots-input --output target/screenshots --themes docs/example-themes.csv --quiet
    chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking --disable-component-update --disable-sync --user-data-dir=target/chromium-profile --hide-scrollbars --window-size=1100,1500 --screenshot=docs/report.png "file://$PWD/target/screenshots/report.html"
    soffice --headless --convert-to pdf --outdir target/screenshots target/screenshots/themes.xlsx
    pdftoppm -r 600 -f 1 -l 1 -x 300 -y 420 -W 2650 -H 620 -png -singlefile target/screenshots/themes.pdf docs/workbook
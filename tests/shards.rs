//! Embedding on many machines: shards run as separate processes at the same
//! time, each into its own cache file; the plain run that follows embeds
//! nothing itself and writes exactly the themes of an unsharded run.

mod common;

use common::{arg, command, read_csv, run, run_json, run_ok};

#[test]
fn sharded_embedding_then_one_run_gives_the_unsharded_themes() {
    let sharded = tempfile::tempdir().unwrap();
    let plain = tempfile::tempdir().unwrap();
    let shards: Vec<_> = (1..=3)
        .map(|i| {
            command(&[
                "embed",
                "--shard",
                &format!("{i}/3"),
                "--input",
                "seeds",
                "--output",
                arg(sharded.path()),
                "--quiet",
            ])
            .spawn()
            .unwrap()
        })
        .collect();
    for mut shard in shards {
        assert!(shard.wait().unwrap().success());
    }
    for i in 1..=3 {
        let file = sharded.path().join(format!("cache.shard-{i}-of-3.sqlite"));
        assert!(file.is_file(), "{} missing", file.display());
    }
    run_ok(&["--output", arg(sharded.path()), "--quiet"]);
    run_ok(&["--output", arg(plain.path()), "--quiet"]);

    let record = run_json(sharded.path());
    assert_eq!(
        record["embedding"]["embedded"], 0,
        "the shards embedded it all"
    );
    for file in ["themes.csv", "paragraphs.csv", "theme_examples.csv"] {
        assert_eq!(
            read_csv(&sharded.path().join(file)),
            read_csv(&plain.path().join(file)),
            "{file} differs from the unsharded run's"
        );
    }
    let left: Vec<_> = std::fs::read_dir(sharded.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains(".shard-"))
        .collect();
    assert!(left.is_empty(), "shard caches left behind: {left:?}");
}

#[test]
fn a_bad_shard_is_refused_naming_the_flag() {
    for shard in ["0/2", "3/2", "half"] {
        let out = run(&["embed", "--shard", shard, "--output", "target/never"]);
        assert_eq!(out.status.code(), Some(2), "--shard {shard}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("--shard"), "{stderr}");
    }
}

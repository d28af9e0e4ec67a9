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

#[test]
fn a_run_that_finds_a_shard_unfinished_refuses_and_leaves_it() {
    let out = tempfile::tempdir().unwrap();
    // A shard run that has started (or died) without finishing: its cache
    // exists but is not marked finished.
    let shard = out.path().join("cache.shard-2-of-3.sqlite");
    drop(crossthemes::embed::shard::open_cache(&shard).unwrap());
    let result = run(&["--output", arg(out.path()), "--quiet"]);
    assert_eq!(result.status.code(), Some(3), "a scheduler may try again");
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        stderr.contains("cache.shard-2-of-3.sqlite")
            && stderr.contains("shard 2/3 has not finished")
            && stderr.contains("embed --shard 2/3"),
        "{stderr}"
    );
    assert!(shard.is_file(), "the unfinished shard was removed");
    assert!(
        !out.path().join("themes.csv").exists(),
        "it clustered without the shard"
    );
}

/// A stand-in for Slurm's sbatch: logs its arguments, runs the job at once
/// (each array task in turn, with SLURM_ARRAY_TASK_ID set, the way a node
/// would) and answers a job id as `--parsable` does.
const FAKE_SBATCH: &str = r#"#!/usr/bin/env bash
set -u
echo "$*" >> "$SBATCH_LOG"
id=$(( $(wc -l < "$SBATCH_LOG") + 1000 ))
array=""; wrap=""
for a in "$@"; do
    case $a in
        --array=*) array=${a#--array=} ;;
        --wrap=*) wrap=${a#--wrap=} ;;
    esac
done
if [ -n "$array" ]; then
    for i in $(seq "${array%-*}" "${array#*-}"); do
        (cd / && SLURM_ARRAY_TASK_ID=$i bash -c "$wrap") >> "$SBATCH_LOG.out" 2>&1 || exit 1
    done
else
    (cd / && bash -c "$wrap") >> "$SBATCH_LOG.out" 2>&1 || exit 1
fi
echo "$id"
"#;

#[cfg(unix)]
#[test]
fn the_slurm_script_submits_what_its_caller_asks_and_its_jobs_run() {
    use std::os::unix::fs::PermissionsExt;
    let root = common::repo_root();
    let stubs = tempfile::tempdir().unwrap();
    let sbatch = stubs.path().join("sbatch");
    std::fs::write(&sbatch, FAKE_SBATCH).unwrap();
    std::fs::set_permissions(&sbatch, std::fs::Permissions::from_mode(0o755)).unwrap();
    let log = stubs.path().join("sbatch.log");
    let output = tempfile::tempdir().unwrap();
    let path = format!(
        "{}:{}",
        stubs.path().display(),
        std::env::var("PATH").unwrap()
    );
    let script = |bin: &str| {
        std::process::Command::new("bash")
            .current_dir(&root)
            .args(["docs/shards/slurm.sh", "seeds", arg(output.path()), "3"])
            .env("PATH", &path)
            .env("SBATCH_LOG", &log)
            .env("HF_HUB_OFFLINE", "1")
            .env("CROSSTHEMES_BIN", bin)
            .env("CROSSTHEMES_CPUS", "1")
            .env("CROSSTHEMES_EMBED_MEM", "700M")
            .output()
            .unwrap()
    };
    let missing = script("/nonexistent/crossthemes");
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("CROSSTHEMES_BIN"));
    assert!(!log.exists(), "nothing submitted");

    let out = script(env!("CARGO_BIN_EXE_crossthemes"));
    let said = String::from_utf8_lossy(&out.stdout);
    let jobs_log = std::fs::read_to_string(stubs.path().join("sbatch.log.out")).unwrap_or_default();
    assert!(
        out.status.success(),
        "{said}{}{jobs_log}",
        String::from_utf8_lossy(&out.stderr)
    );
    let submitted = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = submitted.lines().collect();
    assert_eq!(lines.len(), 2, "{submitted}");
    for wanted in [
        "--array=1-3",
        "--cpus-per-task=1",
        "--mem=700M",
        "--threads 1",
    ] {
        assert!(lines[0].contains(wanted), "{wanted}: {}", lines[0]);
    }
    assert!(lines[1].contains("--dependency=afterok:1001") && lines[1].contains("--mem=4G"));
    assert!(said.contains("squeue -j 1001,1002"), "{said}");
    let themes = read_csv(&output.path().join("themes.csv"));
    assert!(!themes.is_empty());
    let left: Vec<_> = std::fs::read_dir(output.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".shard-"))
        .collect();
    assert!(
        left.is_empty(),
        "the final run takes the shards in: {left:?}"
    );
    assert_eq!(run_json(output.path())["embedding"]["embedded"], 0);
}

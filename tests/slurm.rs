//! The Slurm path on a real one-node cluster (Debian's slurm-wlm and munge,
//! started by tests/slurm/cluster.sh): docs/shards/slurm.sh, unchanged, on
//! the installguide articles with 3 shards gives exactly the themes of one
//! process, also when one embedding task dies on its first try and is
//! submitted again with the retry file the script writes; a clustering run
//! started by hand while that shard is unfinished refuses and leaves it.
//! Skipped, saying why, where Slurm is not installed or daemons cannot be
//! started (not root). CI installs the packages (.ci/run).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{arg, read_csv, run, run_json, run_ok};

const TEST: &str = "the_slurm_script_runs_on_a_real_cluster_and_recovers_from_a_failed_task";

/// Why this machine cannot run a Slurm cluster for the test, if it cannot.
fn why_no_slurm() -> Option<String> {
    for tool in [
        "munged",
        "slurmctld",
        "slurmd",
        "sbatch",
        "scontrol",
        "sinfo",
    ] {
        let found = Command::new("sh")
            .args([
                "-c",
                &format!("command -v {tool} || test -x /usr/sbin/{tool}"),
            ])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            return Some(format!(
                "{tool} not found (Debian packages slurm-wlm and munge)"
            ));
        }
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some("slurmd and munged are started as root, and this is not root".into());
    }
    None
}

/// A running cluster; its daemons are stopped, by process id, when dropped.
struct Cluster {
    dir: PathBuf,
    script: PathBuf,
}

impl Cluster {
    fn start(dir: &Path) -> Self {
        let script = common::repo_root().join("tests/slurm/cluster.sh");
        let cluster = Cluster {
            dir: dir.to_path_buf(),
            script,
        };
        let out = Command::new("bash")
            .arg(&cluster.script)
            .args(["start", arg(dir)])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", said(&out));
        cluster
    }

    fn conf(&self) -> PathBuf {
        self.dir.join("slurm.conf")
    }

    /// `scontrol show job ID`'s value of `field` (JobState, Reason).
    fn job_field(&self, job: &str, field: &str) -> String {
        let out = Command::new("scontrol")
            .args(["show", "job", job])
            .env("SLURM_CONF", self.conf())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        text.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{field}=")))
            .unwrap_or("")
            .to_string()
    }

    /// Waits until job `job`'s `field` is `value`, for at most `seconds`.
    fn wait_for(&self, job: &str, field: &str, value: &str, seconds: u64) {
        let started = Instant::now();
        loop {
            let now = self.job_field(job, field);
            if now == value {
                return;
            }
            assert!(
                !(field == "JobState"
                    && ["FAILED", "CANCELLED", "TIMEOUT"].contains(&now.as_str())),
                "job {job} ended {now}; slurmctld log: {}",
                self.log_tail()
            );
            assert!(
                started.elapsed() < Duration::from_secs(seconds),
                "job {job}: {field} is {now:?} after {seconds} s, not {value}; slurmctld log: {}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("slurmctld.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(&self.script)
            .args(["stop", arg(&self.dir)])
            .status();
    }
}

fn said(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A stand-in for the binary that kills shard 2's first try once it has
/// begun writing its cache, and runs the real binary otherwise.
fn flaky_binary(dir: &Path, output: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("crossthemes-flaky");
    let script = format!(
        r#"#!/usr/bin/env bash
real={real}; mark={mark}; cache={cache}
if [[ " $* " == *" --shard 2/3 "* && ! -e $mark ]]; then
    touch "$mark"
    "$real" "$@" & pid=$!
    for _ in $(seq 600); do [[ -s $cache ]] && break; sleep 0.1; done
    sleep 1
    kill -9 "$pid"
    exit 1
fi
exec "$real" "$@"
"#,
        real = env!("CARGO_BIN_EXE_crossthemes"),
        mark = dir.join("failed-once").display(),
        cache = output.join("cache.shard-2-of-3.sqlite").display(),
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn the_slurm_script_runs_on_a_real_cluster_and_recovers_from_a_failed_task() {
    if let Some(why) = why_no_slurm() {
        common::skip(TEST, &why);
        return;
    }
    let Some(articles) = common::shared_path("bench/installguide/articles", TEST) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(&work.path().join("slurm"));
    let output = work.path().join("output");
    let binary = flaky_binary(work.path(), &output);
    let models = common::repo_root().join("models");
    let in_work = |program: &str, args: &[&str]| {
        // Slurm writes each job's slurm-ID.out where it was submitted.
        Command::new(program)
            .current_dir(work.path())
            .args(args)
            .env("SLURM_CONF", cluster.conf())
            .env("HF_HUB_OFFLINE", "1")
            .env("CROSSTHEMES_BIN", &binary)
            .env("CROSSTHEMES_MODELS", &models)
            .env("CROSSTHEMES_CPUS", "1")
            .env("CROSSTHEMES_EMBED_MEM", "1G")
            .env("CROSSTHEMES_CLUSTER_MEM", "2G")
            .output()
            .unwrap()
    };
    let script = common::repo_root().join("docs/shards/slurm.sh");
    let started = Instant::now();
    let submitted = in_work("bash", &[arg(&script), arg(&articles), arg(&output), "3"]);
    let text = said(&submitted);
    assert!(submitted.status.success(), "{text}");
    let number_after = |marker: &str| -> String {
        let rest = &text[text
            .find(marker)
            .unwrap_or_else(|| panic!("{marker}: {text}"))
            + marker.len()..];
        rest.chars().take_while(char::is_ascii_digit).collect()
    };
    let (array, clustering) = (number_after("job array "), number_after("clustering: job "));

    // Shard 2's first try dies; the clustering job can then never start.
    cluster.wait_for(&clustering, "Reason", "DependencyNeverSatisfied", 240);
    for task in [1, 3] {
        cluster.wait_for(&format!("{array}_{task}"), "JobState", "COMPLETED", 240);
    }
    let unfinished = output.join("cache.shard-2-of-3.sqlite");
    assert!(unfinished.is_file());

    // Clustering started by hand now refuses and leaves the shard.
    let early = run(&[
        "--input",
        arg(&articles),
        "--output",
        arg(&output),
        "--models-dir",
        arg(&models),
        "--quiet",
    ]);
    assert_eq!(early.status.code(), Some(3), "{}", said(&early));
    assert!(
        said(&early).contains("shard 2/3 has not finished"),
        "{}",
        said(&early)
    );
    assert!(
        unfinished.is_file(),
        "the early run removed the unfinished shard"
    );
    assert!(!output.join("themes.csv").exists());

    // The retry file submits shard 2 again and re-points the clustering job.
    let retried = in_work("bash", &[arg(&output.join("slurm-retry.sh")), "2"]);
    assert!(retried.status.success(), "{}", said(&retried));
    cluster.wait_for(&clustering, "JobState", "COMPLETED", 300);
    eprintln!(
        "slurm: 1,224 paragraphs in 3 shards, submitted to clustered in {:.0} s \
         (one task failed and was submitted again, one early clustering refused)",
        started.elapsed().as_secs_f64()
    );

    let plain = work.path().join("plain");
    run_ok(&[
        "--input",
        arg(&articles),
        "--output",
        arg(&plain),
        "--quiet",
    ]);
    assert_eq!(
        run_json(&output)["embedding"]["embedded"],
        0,
        "the shards embedded it all"
    );
    for file in ["themes.csv", "paragraphs.csv", "theme_examples.csv"] {
        assert_eq!(
            read_csv(&output.join(file)),
            read_csv(&plain.join(file)),
            "{file} differs from the one-process run's"
        );
    }
}

//! docs/shards/kubernetes.yaml checked offline: against the Kubernetes
//! OpenAPI schemas where `kubernetes-validate` (PyPI, schemas bundled) is on
//! PATH, and always for what the shard logic relies on: an Indexed Job of
//! SHARDS completions whose pods, run as written, embed shares 1..=SHARDS
//! of one corpus into one output folder, and a clustering Job on the same
//! folders. It has not run on a real cluster; the Slurm path has
//! (tests/slurm.rs).

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use yaml_rust2::{Yaml, YamlLoader};

const MANIFEST: &str = "docs/shards/kubernetes.yaml";

fn manifests() -> Vec<Yaml> {
    let text = std::fs::read_to_string(common::repo_root().join(MANIFEST)).unwrap();
    YamlLoader::load_from_str(&text).unwrap()
}

fn container(job: &Yaml) -> &Yaml {
    &job["spec"]["template"]["spec"]["containers"][0]
}

fn strings(list: &Yaml) -> Vec<String> {
    list.as_vec()
        .map(|v| {
            v.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_manifests_pass_the_kubernetes_schemas() {
    let found = Command::new("sh")
        .args(["-c", "command -v kubernetes-validate"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        common::skip(
            "the_manifests_pass_the_kubernetes_schemas",
            "kubernetes-validate not on PATH (pip install kubernetes-validate)",
        );
        return;
    }
    let out = Command::new("kubernetes-validate")
        .current_dir(common::repo_root())
        .args(["--strict", MANIFEST])
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    assert_eq!(said.matches("passed").count(), 2, "{said}");
}

#[test]
fn the_indexed_job_embeds_every_share_once_into_the_folder_the_clustering_job_reads() {
    let docs = manifests();
    assert_eq!(docs.len(), 2, "an embedding Job and a clustering Job");
    let (embed, cluster) = (&docs[0], &docs[1]);
    for job in [embed, cluster] {
        assert_eq!(job["apiVersion"].as_str(), Some("batch/v1"));
        assert_eq!(job["kind"].as_str(), Some("Job"));
    }
    assert_eq!(embed["spec"]["completionMode"].as_str(), Some("Indexed"));
    let completions = embed["spec"]["completions"].as_i64().unwrap();
    let shards: i64 = container(embed)["env"]
        .as_vec()
        .unwrap()
        .iter()
        .find(|e| e["name"].as_str() == Some("SHARDS"))
        .and_then(|e| e["value"].as_str()?.parse().ok())
        .expect("a SHARDS variable");
    assert_eq!(completions, shards, "completions must equal SHARDS");
    assert!(embed["spec"]["parallelism"].as_i64().unwrap() <= completions);

    // Run each pod's command as written, with `crossthemes` a stand-in that
    // prints its arguments, and JOB_COMPLETION_INDEX as Kubernetes sets it.
    let stand_in = tempfile::tempdir().unwrap();
    let fake = stand_in.path().join("crossthemes");
    std::fs::write(&fake, "#!/bin/sh\nprintf '%s\\n' \"$@\"\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let command = strings(&container(embed)["command"]);
    let args = strings(&container(embed)["args"]);
    let path = format!(
        "{}:{}",
        stand_in.path().display(),
        std::env::var("PATH").unwrap()
    );
    let mut shares = BTreeSet::new();
    let mut folders = BTreeSet::new();
    for index in 0..completions {
        let out = Command::new(&command[0])
            .args(&command[1..])
            .args(&args)
            .env("PATH", &path)
            .env("JOB_COMPLETION_INDEX", index.to_string())
            .env("SHARDS", shards.to_string())
            .output()
            .unwrap();
        assert!(out.status.success());
        let argv: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        assert_eq!(argv[0], "embed");
        let after = |flag: &str| {
            let at = argv
                .iter()
                .position(|a| a == flag)
                .unwrap_or_else(|| panic!("{flag}: {argv:?}"));
            argv[at + 1].clone()
        };
        let share = after("--shard");
        assert!(
            share.parse::<crossthemes::embed::shard::Shard>().is_ok(),
            "{share}"
        );
        shares.insert(share);
        folders.insert((after("--input"), after("--output"), after("--models-dir")));
    }
    let every: BTreeSet<String> = (1..=shards).map(|i| format!("{i}/{shards}")).collect();
    assert_eq!(shares, every, "each share exactly once");
    assert_eq!(folders.len(), 1, "one corpus, one output: {folders:?}");

    let cluster_command = strings(&container(cluster)["command"]);
    assert_eq!(cluster_command[0], "crossthemes");
    let (input, output, models) = folders.into_iter().next().unwrap();
    for wanted in [
        format!("--input={input}"),
        format!("--output={output}"),
        format!("--models-dir={models}"),
    ] {
        assert!(
            cluster_command.contains(&wanted),
            "{wanted}: {cluster_command:?}"
        );
    }
    let claim = |job: &Yaml| {
        job["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"]
            .as_str()
            .map(str::to_string)
    };
    assert!(claim(embed).is_some());
    assert_eq!(claim(embed), claim(cluster), "both Jobs see one volume");
}

//! Deploying it (docs/deploy.md): each architecture as `deploy/` ships it — its processes,
//! images and their sizes, the port it publishes, its volumes and networks — then what was
//! validated and run in containers, with the costs measured there.

use contract::results::{DeployResults, Results};

use super::Body;
use crate::stages::report::format::{figure, interval};
use crate::stages::report::tables::{Cell, Table};

fn mb(bytes: u64) -> String {
    format!("{:.0} MB", bytes as f64 / 1e6)
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "none".to_owned()
    } else {
        v.join(", ")
    }
}

fn shipped(name: &str, d: &DeployResults) -> Vec<Cell> {
    let t = d.topology.clone().unwrap_or_default();
    let images = d
        .images
        .iter()
        .map(|i| {
            let short = i.name.trim_start_matches("localhost/");
            format!("{short} {}", mb(i.bytes))
        })
        .collect::<Vec<_>>();
    let processes = if t.services.is_empty() {
        "—".to_owned()
    } else {
        format!("{} ({})", t.services.len(), t.services.join(", "))
    };
    vec![
        Cell::plain(name),
        Cell::plain(processes),
        Cell::plain(if images.is_empty() {
            "—".to_owned()
        } else {
            images.join("; ")
        }),
        Cell::plain(list(&t.ports)),
        Cell::plain(list(&t.volumes)),
        Cell::plain(list(&t.networks)),
    ]
}

fn ran(name: &str, d: &DeployResults) -> Vec<Cell> {
    let validated = d.validated.as_ref().map_or("—".to_owned(), |v| {
        format!("{} files, {} failed", v.files, v.failed)
    });
    let conformance = d.conformance.as_ref().map_or("—".to_owned(), |c| {
        format!(
            "{} passed, {} failed ({} not playable from outside)",
            c.passed, c.failed, c.unsupported
        )
    });
    let hop = d.container_hop_us.as_ref().map_or("—".to_owned(), |h| {
        let ci = h.ci95_us.map_or(String::new(), |ci| {
            format!(" (95%: {})", interval(ci, "µs"))
        });
        format!("{}{ci}, {} rounds", figure(h.added_us, "µs"), h.rounds)
    });
    let kill = d
        .sidecar_kill
        .as_ref()
        .map_or("no sidecar".to_owned(), |k| {
            format!(
                "{}, {}",
                k.status.map_or("no answer".to_owned(), |s| s.to_string()),
                k.recovery_ms
                    .map_or("not recovered".to_owned(), |ms| format!(
                        "recovered in {}",
                        figure(ms, "ms")
                    ))
            )
        });
    let left = d.left_behind.as_ref().map_or("—".to_owned(), |l| {
        if l.is_empty() {
            "nothing".to_owned()
        } else {
            l.join(", ")
        }
    });
    vec![
        Cell::plain(name),
        Cell::plain(validated),
        Cell::plain(conformance),
        Cell::plain(
            d.cold_start_ms
                .map_or("—".to_owned(), |ms| figure(ms, "ms")),
        ),
        Cell::plain(hop),
        Cell::plain(kill),
        Cell::plain(left),
        Cell::plain(d.loadavg.map_or("—".to_owned(), |l| format!("{:.1}", l[0]))),
    ]
}

/// `None` when the run has no `deploy` part.
pub fn deploying(results: &Results) -> Option<Body> {
    if results.deploy.is_empty() {
        return None;
    }
    let mut body = Body::default();
    body.before.push(
        "Each architecture as deploy/ ships it: a compose file on images built from Debian's \
         packages, run in containers with the mock provider on the host. The conformance suite \
         and the measurements go through the published port; the container hop is chunk \
         transit p50 through the deployment minus the same backend on plain loopback, paired \
         by interleaved round."
            .to_owned(),
    );
    if let Some(s) = results.deploy.values().find_map(|d| d.systemd.as_ref()) {
        let what = if s.ran {
            "The systemd units ran"
        } else {
            "The systemd units were not started"
        };
        body.before.push(format!("{what}: {}.", s.note));
    }
    let run: Vec<(&String, &DeployResults)> = results
        .deploy
        .iter()
        .filter(|(_, d)| d.skipped.is_none() || d.topology.is_some())
        .collect();
    if !run.is_empty() {
        body.tables.push(Table {
            header: [
                "Architecture",
                "Processes",
                "Images",
                "Ports",
                "Volumes",
                "Networks",
            ]
            .map(str::to_owned)
            .to_vec(),
            rows: run.iter().map(|(n, d)| shipped(n, d)).collect(),
        });
        body.tables.push(Table {
            header: [
                "Architecture",
                "Validated",
                "Conformance through the port",
                "Cold start (up → first chat)",
                "Container hop (transit p50)",
                "Sidecar SIGKILL",
                "Left behind",
                "Load",
            ]
            .map(str::to_owned)
            .to_vec(),
            rows: run.iter().map(|(n, d)| ran(n, d)).collect(),
        });
    }
    for (name, d) in &results.deploy {
        if let Some(reason) = &d.skipped {
            let validated = d.validated.as_ref().map_or(String::new(), |v| {
                format!(" ({} files validated, {} failed)", v.files, v.failed)
            });
            body.items
                .push(format!("{name}: not run: {reason}{validated}."));
        }
    }
    Some(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use contract::results::ValidatedFiles;

    fn results() -> Results {
        serde_json::from_value(serde_json::json!({
            "schema_version": contract::results::SCHEMA_VERSION,
            "run": {"id": "x", "git_sha": "x", "started_at": "x", "profile": "release",
                    "machine": {}, "versions": {}},
            "backends": {}
        }))
        .unwrap()
    }

    #[test]
    fn no_deploy_part_is_no_section() {
        assert_eq!(deploying(&results()), None);
    }

    #[test]
    fn a_machine_without_containers_says_why_and_what_it_validated() {
        let mut r = results();
        r.deploy.insert(
            "unix".into(),
            DeployResults {
                skipped: Some("no podman on PATH".into()),
                validated: Some(ValidatedFiles {
                    files: 11,
                    failed: 0,
                }),
                ..DeployResults::default()
            },
        );
        let body = deploying(&r).unwrap();
        assert!(body.tables.is_empty(), "nothing ran: no table of figures");
        assert_eq!(
            body.items,
            ["unix: not run: no podman on PATH (11 files validated, 0 failed)."]
        );
    }
}

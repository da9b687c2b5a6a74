//! Every file under `deploy/` passes the validator of its kind (docs/deploy.md#validation), and
//! a deliberately broken compose file, unit and manifest each fail with a message naming the
//! file and the field. The validators must be installed (`scripts/setup`); a missing one fails
//! here, saying which, rather than letting the files go unchecked.

use std::path::{Path, PathBuf};

use harness::stages::deploy::validate::{Kind, ValidateError, Validators};

fn repo() -> PathBuf {
    sut_kit::repo_root()
}

#[test]
fn every_file_under_deploy_passes_its_validator() {
    let deploy = repo().join("deploy");
    let outcomes = Validators::new(&repo())
        .check_all(&deploy)
        .expect("deploy/ can be read");
    let kinds: Vec<Kind> = outcomes
        .iter()
        .filter_map(|(_, o)| o.as_ref().ok().copied())
        .collect();
    let failures: Vec<String> = outcomes
        .iter()
        .filter_map(|(_, o)| o.as_ref().err().map(ToString::to_string))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    for kind in [
        Kind::Compose,
        Kind::SystemdUnit,
        Kind::KubernetesManifest,
        Kind::Containerfile,
    ] {
        assert!(
            kinds.iter().filter(|k| **k == kind).count() >= 4,
            "fewer than one {kind:?} per architecture under deploy/: {kinds:?}"
        );
    }
}

/// Copies `original` (relative to deploy/) into a temporary folder with `from` replaced by
/// `to` (which must change something), beside copies of its siblings, and validates the copy.
fn broken(original: &str, from: &str, to: &str) -> (PathBuf, ValidateError, tempfile::TempDir) {
    let source = repo().join("deploy").join(original);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let nested = dir
        .path()
        .join(Path::new(original).parent().expect("a folder"));
    std::fs::create_dir_all(&nested).expect("create the copy's folder");
    for sibling in std::fs::read_dir(source.parent().expect("a folder")).expect("read") {
        let sibling = sibling.expect("an entry").path();
        if sibling.is_file() {
            std::fs::copy(&sibling, nested.join(sibling.file_name().expect("a name")))
                .expect("copy a sibling");
        }
    }
    let text = std::fs::read_to_string(&source).expect("read the original");
    let changed = text.replacen(from, to, 1);
    assert_ne!(changed, text, "{original} has no {from:?} to break");
    let copy = dir.path().join(original);
    std::fs::write(&copy, changed).expect("write the broken copy");
    let kind = Kind::of(Path::new(original)).expect("a known kind");
    let error = Validators::new(&repo())
        .check(&copy, kind)
        .expect_err("a broken file must fail");
    (copy, error, dir)
}

fn assert_names(error: &ValidateError, copy: &Path, field: &str) {
    let message = error.to_string();
    assert!(
        matches!(error, ValidateError::Invalid { .. }),
        "not a validation failure: {message}"
    );
    let name = copy.file_name().and_then(|n| n.to_str()).expect("a name");
    assert!(message.contains(name), "the file is not named: {message}");
    assert!(
        message.contains(field),
        "the field {field} is not named: {message}"
    );
}

#[test]
fn a_broken_compose_file_names_the_file_and_the_field() {
    let (copy, error, _dir) = broken("unix/compose.yaml", "    ports:", "    portz:");
    assert_names(&error, &copy, "portz");
}

#[test]
fn a_broken_unit_names_the_file_and_the_key() {
    let (copy, error, _dir) = broken(
        "unix/systemd/leanspec-unix-sidecar.service",
        "Restart=always",
        "Restartt=always",
    );
    assert_names(&error, &copy, "Restartt");
}

#[test]
fn a_unit_with_a_value_systemd_cannot_parse_fails() {
    let (copy, error, _dir) = broken(
        "rust-only/systemd/leanspec-rust-only.service",
        "Restart=always",
        "Restart=sometimes",
    );
    assert_names(&error, &copy, "sometimes");
}

#[test]
fn a_broken_manifest_names_the_file_and_the_field() {
    let (copy, error, _dir) = broken(
        "unix/kubernetes/pod.yaml",
        "      readinessProbe:",
        "      readinesProbe:",
    );
    assert_names(&error, &copy, "readinesProbe");
}

#[test]
fn a_broken_load_generator_manifest_names_the_field() {
    // The Locust master and workers (docs/distributed.md#kubernetes) are checked like the
    // architectures' Pods, every document of the file.
    let (copy, error, _dir) = broken(
        "locust/kubernetes/locust.yaml",
        "          topologyKey:",
        "          topologyKeyy:",
    );
    assert_names(&error, &copy, "topologyKey");
}

#[test]
fn an_image_that_would_run_as_root_fails() {
    let (copy, error, _dir) = broken("rust-only/Containerfile", "USER 10001:10001", "USER root");
    assert_names(&error, &copy, "USER");
}

#[test]
fn an_image_from_a_pulled_base_fails() {
    let (copy, error, _dir) = broken("napi/Containerfile", "FROM ${BASE}", "FROM debian:bookworm");
    assert_names(&error, &copy, "FROM");
}

#[test]
fn a_file_no_validator_knows_is_an_error() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(dir.path().join("notes.txt"), "x").expect("write");
    let outcomes = Validators::new(&repo())
        .check_all(dir.path())
        .expect("the folder can be read");
    assert!(
        matches!(
            outcomes.as_slice(),
            [(_, Err(ValidateError::Unknown { .. }))]
        ),
        "{outcomes:?}"
    );
}

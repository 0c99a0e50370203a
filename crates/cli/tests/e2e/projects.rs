//! Projects as a new user makes them: `gust new` from every template, `gust deploy` in the
//! folder (build, upload, routes), a call through the template's route, and a second deploy
//! that changes nothing. Then the manifest's triggers and routes are applied as it changes.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use tempfile::TempDir;

use crate::harness::{Server, stderr, stdout};

/// What a command printed, or a panic with its error.
fn ok(args: &[&str], output: Output) -> String {
    assert!(
        output.status.success(),
        "gust {args:?}: {}",
        stderr(&output)
    );
    stdout(&output)
}

fn gust_in(server: &Server, dir: &Path, args: &[&str]) -> String {
    ok(args, server.cli_in(dir, args))
}

/// Makes `name` from `template` and deploys it from its folder.
fn new_and_deploy(server: &Server, parent: &Path, template: &str, name: &str) -> PathBuf {
    let made = gust_in(server, parent, &["new", template, name]);
    assert!(
        made.contains(&format!("cd {name} && gust deploy")),
        "{made}"
    );
    let dir = parent.join(name);
    let deployed = gust_in(server, &dir, &["deploy"]);
    assert!(
        deployed.contains(&format!("deployed {name} version 1")),
        "{template}: {deployed}"
    );
    assert!(
        deployed.contains("routes: 1 added, 0 removed"),
        "{template}: {deployed}"
    );
    dir
}

fn routes_of(server: &Server, name: &str) -> Vec<Value> {
    let routes = server.admin_json("/v1/routes");
    let routes = routes.as_array().unwrap().iter();
    routes.filter(|r| r["function"] == name).cloned().collect()
}

#[test]
fn every_template_builds_deploys_and_answers_on_its_route() {
    let server = Server::start();
    let parent = TempDir::new().unwrap();
    let list = gust_in(&server, parent.path(), &["new", "--list"]);
    let templates: Vec<&str> = list
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(templates.len() >= 4, "{list}");
    for template in templates {
        let name = format!("t-{template}");
        let dir = new_and_deploy(&server, parent.path(), template, &name);
        let answer = server
            .post(&format!("/{name}?x=1"))
            .body(r#"{"name": "Ada"}"#)
            .send()
            .unwrap();
        assert_eq!(answer.status(), 200, "{template}");
        let body: Value = answer.json().unwrap();
        assert_eq!(body["message"], "Hello, Ada!", "{template}: {body}");
        let bad = server
            .post(&format!("/{name}"))
            .body("{not json")
            .send()
            .unwrap();
        assert_eq!(
            bad.status(),
            400,
            "{template}: bad input is the function's 400"
        );
        let again = gust_in(&server, &dir, &["deploy"]);
        assert!(
            again.contains(&format!("{name} is unchanged at version 1")),
            "{template}: {again}"
        );
        assert!(
            again.contains("routes: 0 added, 0 removed, 1 unchanged"),
            "{again}"
        );
        assert_eq!(routes_of(&server, &name).len(), 1);
    }
}

#[test]
fn the_manifest_owns_its_functions_routes_and_triggers() {
    let server = Server::start();
    let parent = TempDir::new().unwrap();
    let dir = new_and_deploy(&server, parent.path(), "node-process", "owned");
    let manifest = dir.join("gust.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let text = text.replace("route = \"ANY /owned\"", "route = \"GET /owned/{id}\"")
        + "\n[[triggers]]\nkind = \"cron\"\ncron = \"0 0 1 1 *\"\n";
    std::fs::write(&manifest, text).unwrap();
    let applied = gust_in(&server, &dir, &["deploy"]);
    assert!(
        applied.contains("owned is unchanged at version 1"),
        "{applied}"
    );
    assert!(
        applied.contains("routes: 1 added, 1 removed, 0 unchanged"),
        "{applied}"
    );
    assert!(
        applied.contains("triggers: 1 added, 0 removed, 0 unchanged"),
        "{applied}"
    );
    let routes = routes_of(&server, "owned");
    assert_eq!(routes.len(), 1);
    assert_eq!(routes[0]["path"], "/owned/{id}");
    let again = gust_in(&server, &dir, &["deploy"]);
    assert!(
        again.contains("triggers: 0 added, 0 removed, 1 unchanged"),
        "{again}"
    );
    let triggers = server.admin_json("/v1/triggers?function=owned");
    assert_eq!(triggers.as_array().unwrap().len(), 1, "{triggers}");
    let answer = server.get("/owned/42").send().unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.json::<Value>().unwrap()["path"], "/owned/42");
}

#[test]
fn a_folder_without_a_manifest_or_with_a_typo_is_told() {
    let server = Server::start();
    let empty = TempDir::new().unwrap();
    let output = server.cli_in(empty.path(), &["deploy"]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("no gust.toml"),
        "{}",
        stderr(&output)
    );
    std::fs::write(
        empty.path().join("gust.toml"),
        "name = \"x\"\nmemroy = 64\n",
    )
    .unwrap();
    let output = server.cli_in(empty.path(), &["deploy", "--memory", "256"]);
    assert!(
        stderr(&output).contains("settings are in its gust.toml"),
        "{}",
        stderr(&output)
    );
    let output = server.cli_in(empty.path(), &["build"]);
    assert!(
        stderr(&output).contains("unknown key `memroy`"),
        "{}",
        stderr(&output)
    );
}

//! The thumbnail use case end to end: images uploaded to `photos` with the AWS CLI and boto3
//! come out scaled down in `photos-thumbs`, made by the Rust Wasm example and by the Python
//! process example, through kill -9 and in bulk.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::aws_cli::Aws;
use crate::harness::{Server, example_dir, fixture_dir, guest, running_as_root, stderr, stdout};

/// boto3 and Pillow, through tests/fixtures/s3-tool, with the server's root key.
pub struct Boto3<'a> {
    pub server: &'a Server,
}

impl Boto3<'_> {
    pub fn run(&self, args: &[&str]) -> String {
        let credentials = std::fs::read_to_string(self.server.data_dir.join("s3-credentials"));
        let credentials = credentials.unwrap();
        let value = |name: &str| {
            credentials
                .lines()
                .find_map(|line| line.split_once(" = ").filter(|(k, _)| *k == name))
                .map(|(_, v)| v.to_string())
                .unwrap()
        };
        let output = Command::new("python3")
            .arg(fixture_dir("s3-tool").join("s3_tool.py"))
            .args(args)
            .env("AWS_ENDPOINT_URL", self.server.s3_url())
            .env("AWS_ACCESS_KEY_ID", value("aws_access_key_id"))
            .env("AWS_SECRET_ACCESS_KEY", value("aws_secret_access_key"))
            .env("AWS_REGION", "us-east-1")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .output()
            .expect("run python3 (scripts/setup installs boto3 and Pillow)");
        assert!(
            output.status.success(),
            "s3_tool {args:?}: {}",
            stderr(&output)
        );
        stdout(&output)
    }
}

/// Makes a test image; returns its path.
pub fn image(dir: &Path, name: &str, format: &str, width: u32, height: u32) -> PathBuf {
    let path = dir.join(name);
    let tool = fixture_dir("s3-tool").join("s3_tool.py");
    let size = [width.to_string(), height.to_string()];
    let status = Command::new("python3")
        .arg(tool)
        .args(["image", format, &size[0], &size[1], path.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    path
}

/// The buckets of the example, `deploy` run, and a trigger on uploads to `photos` for
/// `function`.
pub fn set_up(server: &Server, function: &str, deploy: impl FnOnce(&Server)) {
    for bucket in ["photos", "photos-thumbs"] {
        let created = server.cli(&["bucket", "create", bucket]);
        assert!(created.status.success(), "{}", stderr(&created));
    }
    deploy(server);
    let trigger = server.cli(&[
        "trigger", "add", function, "--bucket", "photos", "--events", "created",
    ]);
    assert!(trigger.status.success(), "{}", stderr(&trigger));
}

/// Deploys the Rust example as `name` with these flags (its grants).
fn deploy_thumbnail_as(server: &Server, name: &str, flags: &[&str]) {
    let wasm = guest("thumbnail");
    let mut args = vec!["deploy", name, wasm.to_str().unwrap()];
    args.extend_from_slice(flags);
    let deployed = server.cli(&args);
    assert!(deployed.status.success(), "{}", stderr(&deployed));
}

pub fn deploy_rust_thumbnail(server: &Server) {
    let grants = ["--bucket", "photos:read", "--bucket", "photos-thumbs:write"];
    deploy_thumbnail_as(server, "thumbnail", &grants);
}

/// Downloads `photos-thumbs/KEY` once it exists and returns "WIDTH HEIGHT FORMAT".
pub fn thumbnail_size(server: &Server, dir: &Path, key: &str) -> String {
    let aws = Aws::root(server);
    let local = dir.join(format!("thumb-{key}"));
    let deadline = Instant::now() + Duration::from_secs(60);
    let source = format!("s3://photos-thumbs/{key}");
    while !aws
        .run(&["s3", "cp", &source, local.to_str().unwrap()])
        .status
        .success()
    {
        assert!(
            Instant::now() < deadline,
            "no thumbnail of {key}; server log:\n{}",
            server.server_log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    Boto3 { server }
        .run(&["size", local.to_str().unwrap()])
        .trim()
        .to_string()
}

/// Uploads a JPEG with the AWS CLI and a PNG with boto3, and checks both thumbnails.
fn upload_and_check(server: &Server) {
    let dir = TempDir::new().unwrap();
    let jpeg = image(dir.path(), "cat.jpg", "JPEG", 640, 480);
    let png = image(dir.path(), "dog.png", "PNG", 300, 600);
    Aws::root(server).ok(&[
        "s3",
        "cp",
        jpeg.to_str().unwrap(),
        "s3://photos/pets/cat.jpg",
    ]);
    Boto3 { server }.run(&["put", "photos", "pets/dog one.png", png.to_str().unwrap()]);
    assert_eq!(
        thumbnail_size(server, dir.path(), "pets/cat.jpg"),
        "128 96 JPEG"
    );
    assert_eq!(
        thumbnail_size(server, dir.path(), "pets/dog one.png"),
        "64 128 PNG"
    );
}

#[test]
fn the_rust_example_makes_thumbnails_of_uploads() {
    let server = Server::start();
    set_up(&server, "thumbnail", deploy_rust_thumbnail);
    upload_and_check(&server);
}

#[test]
fn the_python_example_makes_thumbnails_with_boto3_and_pillow() {
    if !running_as_root() {
        eprintln!("skipped: process functions need the sandbox, which needs root");
        return;
    }
    let folder = example_dir("process/thumbnail-python");
    let built = Command::new(folder.join("build.sh")).output().unwrap();
    assert!(built.status.success(), "build.sh: {}", stderr(&built));
    let server = Server::start();
    set_up(&server, "thumbnail-py", |server| {
        server.deploy_process(
            "thumbnail-py",
            &folder,
            "python3 server.py",
            &["--bucket", "photos:read", "--bucket", "photos-thumbs:write"],
        )
    });
    upload_and_check(&server);
}

#[test]
fn an_upload_answered_before_kill_9_still_gets_its_thumbnail() {
    let data = TempDir::new().unwrap();
    let dir = TempDir::new().unwrap();
    let mut server = Server::start_in(data.path(), &[]);
    set_up(&server, "thumbnail", deploy_rust_thumbnail);
    let png = image(dir.path(), "bird.png", "PNG", 256, 256);
    Aws::root(&server).ok(&["s3", "cp", png.to_str().unwrap(), "s3://photos/bird.png"]);
    server.signal_and_wait("KILL");
    let server = Server::start_in(data.path(), &[]);
    assert_eq!(
        thumbnail_size(&server, dir.path(), "bird.png"),
        "128 128 PNG"
    );
}

#[test]
fn five_hundred_uploads_make_exactly_five_hundred_thumbnails() {
    let server = Server::start();
    set_up(&server, "thumbnail", deploy_rust_thumbnail);
    let dir = TempDir::new().unwrap();
    let png = image(dir.path(), "tile.png", "PNG", 200, 100);
    let boto3 = Boto3 { server: &server };
    boto3.run(&["put-many", "photos", "tile-", "500", png.to_str().unwrap()]);
    let deadline = Instant::now() + Duration::from_secs(180);
    let usage = || {
        let total = &server.admin_json("/v1/usage?function=thumbnail")["total"];
        (
            total["invocations"].as_u64().unwrap(),
            total["errors"].as_u64().unwrap(),
        )
    };
    while usage().0 < 500 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(boto3.run(&["count", "photos-thumbs"]).trim(), "500");
    assert_eq!(
        usage(),
        (500, 0),
        "each upload ran the function once, and it succeeded"
    );
    assert_eq!(boto3.run(&["count", "photos"]).trim(), "500");
}

#[test]
fn a_function_writing_into_its_own_trigger_bucket_stops_after_sixteen_hops() {
    let server = Server::start();
    let created = server.cli(&["bucket", "create", "photos"]);
    assert!(created.status.success(), "{}", stderr(&created));
    // Thumbnails go back into `photos`: each one is an upload that triggers the function.
    let flags = ["--bucket", "photos", "--env", "THUMBNAIL_BUCKET=photos"];
    deploy_thumbnail_as(&server, "looping", &flags);
    let trigger = server.cli(&["trigger", "add", "looping", "--bucket", "photos"]);
    assert!(trigger.status.success(), "{}", stderr(&trigger));
    let dir = TempDir::new().unwrap();
    let png = image(dir.path(), "loop.png", "PNG", 64, 64);
    Aws::root(&server).ok(&["s3", "cp", png.to_str().unwrap(), "s3://photos/loop.png"]);

    let stopped = || {
        let text = server.get("/metrics").send().unwrap().text().unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("gust_bucket_loops_stopped_total "))
            .map_or(0, |n| n.parse::<u64>().unwrap())
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while stopped() == 0 {
        assert!(Instant::now() < deadline, "{}", server.server_log());
        std::thread::sleep(Duration::from_millis(200));
    }
    let records = server.invocations("looping", 16);
    assert_eq!(
        records.len(),
        16,
        "the upload and 15 writes of its chain ran"
    );
    assert!(server.server_log().contains("passed 16 hops"));
}

#[test]
fn a_functions_key_is_limited_to_its_grants() {
    let server = Server::start();
    set_up(&server, "read-only", |server| {
        let flags = ["--bucket", "photos:read", "--bucket", "photos-thumbs:read"];
        let no_retry = ["--max-retries", "0"];
        deploy_thumbnail_as(server, "read-only", &[&flags[..], &no_retry[..]].concat());
    });
    let dir = TempDir::new().unwrap();
    let png = image(dir.path(), "denied.png", "PNG", 300, 300);
    Aws::root(&server).ok(&["s3", "cp", png.to_str().unwrap(), "s3://photos/denied.png"]);
    let records = server.invocations("read-only", 1);
    assert_eq!(records[0]["http_status"], 500, "{records:?}");
    let logs = stdout(&server.cli(&["logs", "read-only"]));
    assert!(
        logs.contains("writing to photos-thumbs: access denied"),
        "the read grant does not let it write: {logs}"
    );
}

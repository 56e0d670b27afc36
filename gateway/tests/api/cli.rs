//! The `gerbang` command's errors name what went wrong, and a failed import creates nothing.
use std::process::Output;

use tokio::process::Command;

use crate::helpers::{assert_problem, backend, spawn_app};

async fn gerbang(database_url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gerbang"))
        .args(args)
        .env("GERBANG_DATABASE_URL", database_url)
        .env("RUST_BACKTRACE", "0")
        .env("RUST_LOG", "error")
        .output()
        .await
        .expect("run gerbang")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A path that is not a readable file is refused before the agency and dataset it names are
/// made (they were, and stayed behind), with the path in the message.
#[tokio::test]
async fn an_import_of_a_missing_file_names_it_and_creates_nothing() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("laporan.csv");
    let missing = missing.to_str().unwrap();
    let folder = dir.path().to_str().unwrap();
    for (path, why) in [(missing, "cannot read"), (folder, "is not a file")] {
        let out = gerbang(
            &app.database_url,
            &["import", path, "--agency", "baru", "--dataset", "data"],
        )
        .await;
        assert!(!out.status.success(), "{path}");
        let err = stderr(&out);
        assert!(err.contains(path) && err.contains(why), "{path}: {err}");
    }
    assert_problem(app.get("/v1/agencies/baru").await, 404, "not_found").await;
}

/// A database that cannot be reached is named (without its password) with the reason, not
/// only with the pool's "timed out".
#[tokio::test]
async fn an_unreachable_database_is_named_with_the_reason() {
    if backend() != "sqlite" {
        return; // the same command either way; run once
    }
    // a port nothing listens on: bound, then let go
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://someone:secret@127.0.0.1:{port}/gerbang");
    let out = gerbang(&url, &["migrate"]).await;
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(&format!("postgres://127.0.0.1:{port}/gerbang")) && err.contains("refused"),
        "{err}"
    );
    assert!(!err.contains("secret"), "{err}");
}

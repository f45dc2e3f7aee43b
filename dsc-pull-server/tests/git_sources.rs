//! Content from Git, against real repositories the tests make: a bare repository served over
//! smart HTTP by `git http-backend` (behind basic authentication) and over `file://`. Commits
//! add, change and remove MOFs; a commit whose checksum file disagrees is refused whole.

mod common;

use common::*;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A working repository and the bare one it pushes to.
struct Repo {
    work: PathBuf,
    bare: PathBuf,
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Ada Admin")
        .env("GIT_AUTHOR_EMAIL", "ada@example.com")
        .env("GIT_COMMITTER_NAME", "Ada Admin")
        .env("GIT_COMMITTER_EMAIL", "ada@example.com")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl Repo {
    fn new(root: &Path) -> Repo {
        let bare = root.join("repos/dsc.git");
        let work = root.join("work");
        std::fs::create_dir_all(&bare).unwrap();
        std::fs::create_dir_all(&work).unwrap();
        git(
            &bare,
            &["init", "--bare", "--quiet", "--initial-branch=main"],
        );
        git(&work, &["init", "--quiet", "--initial-branch=main"]);
        Repo { work, bare }
    }

    /// Writes (`Some`) or removes (`None`) files, commits with `message` and pushes; the
    /// commit id.
    fn commit(&self, files: &[(&str, Option<&[u8]>)], message: &str) -> String {
        for (path, content) in files {
            let p = self.work.join(path);
            match content {
                Some(bytes) => {
                    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                    std::fs::write(&p, bytes).unwrap();
                }
                None => std::fs::remove_file(&p).unwrap(),
            }
        }
        git(&self.work, &["add", "-A"]);
        git(&self.work, &["commit", "--quiet", "-m", message]);
        let bare = self.bare.display().to_string();
        git(&self.work, &["push", "--quiet", &bare, "main"]);
        git(&self.work, &["rev-parse", "HEAD"])
    }
}

fn mof(text: &str) -> Vec<u8> {
    format!("instance of MSFT_Motd {{ Text = \"{text}\"; }};").into_bytes()
}

fn checksum(bytes: &[u8]) -> Vec<u8> {
    dsc_core::pull::checksum::sha256_hex(bytes).into_bytes()
}

/// `git http-backend` over HTTP with basic authentication (password `token`).
struct HttpGit {
    child: Child,
    port: u16,
}

impl HttpGit {
    fn start(root: &Path, token: &str) -> HttpGit {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/git/http_backend.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(root.join("repos"))
            .arg(token)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().strip_prefix("port ").unwrap().parse().unwrap();
        HttpGit { child, port }
    }
}

impl Drop for HttpGit {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sync(s: &Server, name: &str) -> Value {
    let (st, v) = s.admin("POST", &format!("/api/v1/sources/{name}/sync"), None);
    assert_eq!(st, 200, "{v}");
    v
}

fn versions(s: &Server, name: &str) -> Vec<Value> {
    let (st, v) = s.admin(
        "GET",
        &format!("/api/v1/configurations/{name}/versions"),
        None,
    );
    if st == 404 {
        return Vec::new();
    }
    assert_eq!(st, 200, "{v}");
    v["versions"].as_array().unwrap().clone()
}

fn served(s: &Server, name: &str) -> Option<Vec<u8>> {
    let c =
        dsc_core::pull::client::PullClient::new(&format!("http://{}", s.addr), uuid::Uuid::nil());
    let auth = format!("Bearer {TOKEN}");
    let r = c
        .request(
            "GET",
            &format!("/api/v1/configurations/{name}"),
            &[("Authorization", &auth)],
            None,
        )
        .unwrap();
    (r.status == 200).then_some(r.body)
}

fn readyz(s: &Server) -> String {
    let c =
        dsc_core::pull::client::PullClient::new(&format!("http://{}", s.addr), uuid::Uuid::nil());
    let r = c.request("GET", "/readyz", &[], None).unwrap();
    assert_eq!(
        r.status, 200,
        "a failing source does not make the server unready"
    );
    String::from_utf8_lossy(&r.body).into_owned()
}

#[test]
fn a_git_source_over_http_publishes_each_commit_and_refuses_a_bad_one_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::new(tmp.path());
    let http = HttpGit::start(tmp.path(), "s3cret-token");
    let web1 = mof("one");
    let c1 = repo.commit(
        &[
            ("dsc/Web.mof", Some(&web1)),
            ("dsc/Web.mof.checksum", Some(&checksum(&web1))),
            ("dsc/Db.mof", Some(&mof("db"))),
            ("README.md", Some(b"not content")),
            ("Other.mof", Some(&mof("outside the folder"))),
        ],
        "add web and db",
    );
    let s = Server::start();
    let source = json!({
        "url": format!("http://127.0.0.1:{}/dsc.git", http.port),
        "branch": "main", "path": "dsc", "interval": "1h", "token": "s3cret-token"
    });
    let (st, v) = s.admin(
        "PUT",
        "/api/v1/sources/ops",
        Some(source.to_string().as_bytes()),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["hasToken"], true);
    assert!(v.get("token").is_none(), "the token is never shown: {v}");

    // Commit 1 adds two configurations; files outside the folder and other files are ignored.
    let v = sync(&s, "ops");
    assert_eq!(v["lastCommit"], c1.as_str(), "{v}");
    assert_eq!(v["lastError"], Value::Null);
    assert_eq!(served(&s, "Web").unwrap(), web1);
    assert!(served(&s, "Db").is_some() && served(&s, "Other").is_none());
    let web = versions(&s, "Web");
    assert_eq!(
        web[0]["origin"],
        format!("git {} by Ada Admin <ada@example.com>", &c1[..12])
    );
    assert_eq!(web[0]["message"], "add web and db");
    assert_eq!(web[0]["actor"], "git ops");

    // Commit 2 changes Web only: one new version of Web, none of Db.
    let web2 = mof("two");
    let c2 = repo.commit(
        &[
            ("dsc/Web.mof", Some(&web2)),
            ("dsc/Web.mof.checksum", Some(&checksum(&web2))),
        ],
        "friendlier web",
    );
    assert_eq!(sync(&s, "ops")["lastCommit"], c2.as_str());
    assert_eq!(versions(&s, "Web").len(), 2);
    assert_eq!(versions(&s, "Db").len(), 1);
    // Nothing new: no new version.
    sync(&s, "ops");
    assert_eq!(versions(&s, "Web").len(), 2);

    // Commit 3 removes Db from Git: it stays on the server (the source does not delete).
    let c3 = repo.commit(&[("dsc/Db.mof", None)], "retire db");
    assert_eq!(sync(&s, "ops")["lastCommit"], c3.as_str());
    assert!(served(&s, "Db").is_some());

    // Commit 4 changes Web and a new Api, but Web's checksum file is stale: nothing of it is
    // published, the error names the file, /readyz tells it, the server stays ready.
    let c4 = repo.commit(
        &[
            ("dsc/Web.mof", Some(&mof("three"))),
            ("dsc/Api.mof", Some(&mof("api"))),
        ],
        "broken web",
    );
    let v = sync(&s, "ops");
    assert_eq!(v["lastCommit"], c3.as_str(), "{v}");
    let error = v["lastError"].as_str().unwrap();
    assert!(
        error.contains(&c4[..12])
            && error.contains("dsc/Web.mof.checksum does not match dsc/Web.mof"),
        "{error}"
    );
    assert_eq!(served(&s, "Web").unwrap(), web2);
    assert!(
        served(&s, "Api").is_none(),
        "half a commit is never published"
    );
    assert!(
        readyz(&s).contains("git source ops: commit"),
        "{}",
        readyz(&s)
    );

    // Commit 5 fixes it: both are published, the error is gone.
    let web5 = mof("three");
    let c5 = repo.commit(
        &[("dsc/Web.mof.checksum", Some(&checksum(&web5)))],
        "fix checksum",
    );
    let v = sync(&s, "ops");
    assert_eq!(
        (v["lastCommit"].as_str(), &v["lastError"]),
        (Some(c5.as_str()), &Value::Null)
    );
    assert_eq!(served(&s, "Web").unwrap(), web5);
    assert!(served(&s, "Api").is_some());
    assert!(!readyz(&s).contains("git source"));

    // A source that deletes what Git removed.
    let with_delete = json!({
        "url": format!("http://127.0.0.1:{}/dsc.git", http.port),
        "path": "dsc", "interval": "1h", "deleteRemoved": true
    });
    let (st, v) = s.admin(
        "PUT",
        "/api/v1/sources/ops",
        Some(with_delete.to_string().as_bytes()),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["hasToken"], true, "a token left out is kept");
    repo.commit(&[("dsc/Api.mof", None)], "retire api");
    sync(&s, "ops");
    assert!(served(&s, "Api").is_none(), "deleted with deleteRemoved");

    // Wrong credentials and an unreachable repository are errors on the source, not crashes.
    for (name, source) in [
        (
            "bad",
            json!({"url": format!("http://127.0.0.1:{}/dsc.git", http.port), "token": "wrong"}),
        ),
        ("gone", json!({"url": "http://127.0.0.1:9/nothing.git"})),
    ] {
        let path = format!("/api/v1/sources/{name}");
        assert_eq!(
            s.admin("PUT", &path, Some(source.to_string().as_bytes())).0,
            200
        );
        let v = sync(&s, name);
        let error = v["lastError"].as_str().unwrap_or_default();
        assert!(error.contains("git fetch failed"), "{v}");
    }
    assert!(readyz(&s).contains("git source bad:"));
    // Bad sources are refused with the reason.
    for (body, says) in [
        (
            json!({"url": "https://u:p@example.com/x.git"}),
            "no credentials",
        ),
        (json!({"url": "ftp://example.com/x"}), "not a https://"),
        (
            json!({"url": "https://example.com/x", "interval": "1s"}),
            "between 10s",
        ),
        (
            json!({"url": "https://example.com/x", "bogus": 1}),
            "unknown field",
        ),
    ] {
        let (st, v) = s.admin(
            "PUT",
            "/api/v1/sources/x",
            Some(body.to_string().as_bytes()),
        );
        assert_eq!(st, 400, "{v}");
        assert!(v["error"].as_str().unwrap().contains(says), "{says}: {v}");
    }
    let (_, audit) = s.admin("GET", "/api/v1/audit?action=source.put", None);
    assert!(audit["entries"].as_array().unwrap().len() >= 4, "{audit}");
    assert_eq!(s.admin("DELETE", "/api/v1/sources/bad", None).0, 204);
    assert_eq!(s.admin("GET", "/api/v1/sources/bad", None).0, 404);
}

#[test]
fn content_git_follows_a_file_repository_without_being_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::new(tmp.path());
    repo.commit(&[("Web.mof", Some(&mof("one")))], "first");
    let data = data_dir_with_key(tmp.path());
    let url = format!("file://{}", repo.bare.display());
    let s = Server::start_in(
        &data,
        &["--content-git", &url, "--content-git-interval", "10s"],
    );
    let wait = |what: &str, check: &dyn Fn() -> bool| {
        let start = Instant::now();
        while !check() {
            assert!(start.elapsed() < Duration::from_secs(30), "{what}");
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    wait("the first commit is published", &|| {
        served(&s, "Web") == Some(mof("one"))
    });
    repo.commit(&[("Web.mof", Some(&mof("two")))], "second");
    wait("the next commit is published", &|| {
        served(&s, "Web") == Some(mof("two"))
    });
    let (_, v) = s.admin("GET", "/api/v1/sources/default", None);
    assert_eq!(v["url"], url.as_str(), "{v}");
    assert_eq!(v["intervalSecs"], 10);
}

#[test]
fn a_git_source_can_start_new_versions_as_candidates_under_its_plan() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::new(tmp.path());
    repo.commit(&[("Web.mof", Some(&mof("one")))], "first");
    let s = Server::start();
    let source = json!({
        "url": format!("file://{}", repo.bare.display()),
        "interval": "1h", "candidates": true,
        "plan": {"rings": [{"percent": 100}], "soak": "0s"}
    });
    let (st, v) = s.admin(
        "PUT",
        "/api/v1/sources/staged",
        Some(source.to_string().as_bytes()),
    );
    assert_eq!(st, 200, "{v}");
    // A configuration with no current version is simply published.
    sync(&s, "staged");
    assert_eq!(served(&s, "Web"), Some(mof("one")));
    // The next version is a candidate under the source's plan, and becomes current once its
    // ring (no nodes here) has passed.
    repo.commit(&[("Web.mof", Some(&mof("two")))], "second");
    let v = sync(&s, "staged");
    assert_eq!(v["lastError"], Value::Null, "{v}");
    let (st, r) = s.admin("GET", "/api/v1/configurations/Web/rollout", None);
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["candidate"]["version"], 2, "{r}");
    assert_eq!(r["plan"]["rings"][0]["percent"], 100.0);
    let start = Instant::now();
    while served(&s, "Web") != Some(mof("two")) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "never became current"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (st, v) = s.admin(
        "PUT",
        "/api/v1/sources/x",
        Some(
            json!({"url": "https://example.com/x", "plan": {"rings": []}, "candidates": true})
                .to_string()
                .as_bytes(),
        ),
    );
    assert_eq!(st, 400, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("1 to 10 rings"),
        "{v}"
    );
}

/// Waits up to 5 s for `server` to serve `want` as `name` (replicas learn of changes within 2 s).
fn serves_soon(server: &Server, name: &str, want: &[u8]) -> bool {
    let start = Instant::now();
    while served(server, name).as_deref() != Some(want) {
        if start.elapsed() > Duration::from_secs(5) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    true
}

/// Arrivals at a gate that a wrapped `git` waits at before reading a file, until it opens.
fn arrivals(gate: &Path) -> usize {
    std::fs::read_dir(gate)
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_string_lossy().starts_with("arrived.")
        })
        .count()
}

#[cfg(unix)]
#[test]
fn replicas_take_turns_looking_at_a_git_source_and_publish_each_commit_once() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = Repo::new(tmp.path());
    repo.commit(&[("Web.mof", Some(&mof("one")))], "first");
    // A git that, before reading a file of a commit, says so and waits at a gate.
    let real = Command::new("sh")
        .args(["-c", "command -v git"])
        .output()
        .unwrap();
    let real = String::from_utf8(real.stdout).unwrap().trim().to_string();
    let bin = tmp.path().join("gated-git");
    let gate = tmp.path().join("gate");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(&gate).unwrap();
    let script = bin.join("git");
    let g = gate.display();
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncase \" $* \" in *\" cat-file \"*)\n  : > {g}/arrived.$$\n  while [ ! -e {g}/open ]; do sleep 0.02; done ;;\nesac\nexec {real} \"$@\"\n"
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut store = Backend::Postgres.provision();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    store.env.push(("PATH".into(), path));
    let (r, _data) = replicas_on(store, 2);
    let source = json!({"url": format!("file://{}", repo.bare.display()), "interval": "1h"});
    let (st, v) = r[0].admin(
        "PUT",
        "/api/v1/sources/shared",
        Some(source.to_string().as_bytes()),
    );
    assert_eq!(st, 200, "{v}");
    std::thread::scope(|scope| {
        // Both replicas are asked at once, twice each (and the poller looks at a new source).
        let asked: Vec<_> = r
            .iter()
            .chain(r.iter())
            .map(|server| scope.spawn(move || sync(server, "shared")))
            .collect();
        let start = Instant::now();
        while arrivals(&gate) == 0 {
            assert!(start.elapsed() < Duration::from_secs(20), "no look began");
            std::thread::sleep(Duration::from_millis(20));
        }
        // The others had time to reach the gate too, were they not waiting their turn.
        std::thread::sleep(Duration::from_secs(2));
        let reading = arrivals(&gate);
        std::fs::write(gate.join("open"), b"").unwrap();
        assert_eq!(reading, 1, "one look at a time reads the commit");
        for answer in asked {
            let v = answer.join().unwrap();
            assert_eq!(v["lastError"], Value::Null, "{v}");
        }
    });
    assert_eq!(arrivals(&gate), 1, "the looks after it found nothing new");
    assert!(serves_soon(&r[1], "Web", &mof("one")));
    assert_eq!(versions(&r[1], "Web").len(), 1, "one commit, one version");
    // A look that waits longer than 15 s for another replica's is answered 409, and the look
    // under way publishes the next commit. Asked twice, 30 s in all: the look under way keeps
    // its claim past the 20 s a claim lasts unless renewed.
    std::fs::remove_file(gate.join("open")).unwrap();
    repo.commit(&[("Web.mof", Some(&mof("two")))], "second");
    std::thread::scope(|scope| {
        let first = scope.spawn(|| sync(&r[0], "shared"));
        let start = Instant::now();
        while arrivals(&gate) < 2 {
            assert!(start.elapsed() < Duration::from_secs(20), "no look began");
            std::thread::sleep(Duration::from_millis(20));
        }
        let answers = [(); 2].map(|()| r[1].admin("POST", "/api/v1/sources/shared/sync", None));
        let reading = arrivals(&gate);
        std::fs::write(gate.join("open"), b"").unwrap();
        for (st, v) in answers {
            assert_eq!(st, 409, "{v}");
            assert!(
                v["error"]
                    .as_str()
                    .unwrap()
                    .contains("another replica is looking at this source"),
                "{v}"
            );
        }
        assert_eq!(
            reading, 2,
            "only the first replica's look reached the commit"
        );
        let v = first.join().unwrap();
        assert_eq!(v["lastError"], Value::Null, "{v}");
    });
    assert_eq!(versions(&r[0], "Web").len(), 2);
    assert!(serves_soon(&r[1], "Web", &mof("two")));
    a_replica_that_dies_during_a_look_holds_the_source_for_seconds(&r, &repo, &gate);
}

/// Kills the first replica while its look waits at the gate: its claim runs out 20 s after its
/// last renewal, and the second replica's look goes ahead.
#[cfg(unix)]
fn a_replica_that_dies_during_a_look_holds_the_source_for_seconds(
    r: &[Server],
    repo: &Repo,
    gate: &Path,
) {
    std::fs::remove_file(gate.join("open")).unwrap();
    repo.commit(&[("Web.mof", Some(&mof("three")))], "third");
    std::thread::scope(|scope| {
        let doomed = scope.spawn(|| {
            let c = dsc_core::pull::client::PullClient::new(
                &format!("http://{}", r[0].addr),
                uuid::Uuid::nil(),
            );
            let auth = format!("Bearer {TOKEN}");
            c.request(
                "POST",
                "/api/v1/sources/shared/sync",
                &[("Authorization", &auth)],
                None,
            )
        });
        let start = Instant::now();
        while arrivals(gate) < 3 {
            assert!(start.elapsed() < Duration::from_secs(20), "no look began");
            std::thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: signalling our own child process.
        unsafe {
            libc::kill(r[0].child.id() as i32, libc::SIGKILL);
        }
        assert!(doomed.join().unwrap().is_err(), "the replica died mid-look");
    });
    std::fs::write(gate.join("open"), b"").unwrap();
    let died = Instant::now();
    loop {
        let (st, v) = r[1].admin("POST", "/api/v1/sources/shared/sync", None);
        if st == 200 {
            assert_eq!(v["lastError"], Value::Null, "{v}");
            break;
        }
        assert_eq!(st, 409, "{v}");
        assert!(
            died.elapsed() < Duration::from_secs(40),
            "the dead replica's claim still holds the source after {:?}",
            died.elapsed()
        );
    }
    assert!(serves_soon(&r[1], "Web", &mof("three")));
    assert_eq!(versions(&r[1], "Web").len(), 3, "one version per commit");
}

//! Services on an engine that cannot see this machine's files: a service that runs from the
//! environment image shares the dev container's synced workspace instead of binding a
//! project directory the engine does not have.

use super::RemoteProject;

#[test]
fn a_service_from_the_environment_image_sees_the_synced_project() {
    let p = RemoteProject::new();
    // Ready only when the service sees the project's file: `up` fails if its workspace is
    // an empty or missing bind.
    p.t.manifest(
        "[services.worker]\ncommand = \"exec sleep 600\"\nready = \"grep -q hello data.txt\"\n\
         ready_timeout = 20\n",
    );
    p.t.write("data.txt", "hello\n");
    p.ok(&["up"]);
    let json = p.ok(&["status", "--json"]);
    let status: serde_json::Value = serde_json::from_str(&json).unwrap();
    let worker = &status["services"]["worker"];
    assert_eq!(worker["ready"], true, "{json}");
    assert_eq!(worker["up_to_date"], true, "{json}");
    let id = worker["id"].as_str().unwrap().to_owned();

    // An edit synced before a run reaches the service too (the same volume), and the
    // warm path keeps the service as it is.
    p.t.write("data.txt", "hello again\n");
    p.ok(&["run", "--", "true"]);
    let seen = p.e.docker(&["exec", &id, "cat", "data.txt"]);
    assert_eq!(String::from_utf8_lossy(&seen.stdout), "hello again\n");
    let json = p.ok(&["status", "--json"]);
    let status: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(status["services"]["worker"]["id"], id.as_str(), "{json}");

    let label = format!("label={}", p.t.label());
    assert_eq!(
        p.e.docker_lines(&["network", "ls", "-q", "--filter", &label])
            .len(),
        1,
        "the project network is not on the engine"
    );
    p.ok(&["down", "--volumes"]);
    assert!(
        p.e.docker_lines(&["network", "ls", "-q", "--filter", &label])
            .is_empty(),
        "down left the project network on the engine"
    );
}

#[test]
fn env_files_are_read_here_and_reach_the_remote_containers() {
    let p = RemoteProject::new();
    p.t.manifest(
        "[container]\nenv_file = \".env\"\n[services.worker]\ncommand = \"exec sleep 600\"\n\
         env_file = \".env.worker\"\n",
    );
    // Literal values: a `$` and quotes travel as written.
    p.t.write(".env", "GREETING=hello $USER\n");
    p.t.write(".env.worker", "ROLE='worker'\n");
    let out = p.ok(&["run", "--", "sh", "-c", "printf '%s\\n' \"$GREETING\""]);
    assert_eq!(out, "hello $USER\n");
    let json = p.ok(&["status", "--json"]);
    let status: serde_json::Value = serde_json::from_str(&json).unwrap();
    let id = status["services"]["worker"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let env =
        p.e.docker(&["exec", &id, "sh", "-c", "printf '%s\\n' \"$ROLE\""]);
    // `docker run --env-file` rules: quotes are part of the value.
    assert_eq!(String::from_utf8_lossy(&env.stdout), "'worker'\n");

    // An edited env file recreates the dev container with the new value.
    p.t.write(".env", "GREETING=changed\n");
    let out = p.ok(&["up"]);
    let out = out + &p.ok(&["run", "--", "sh", "-c", "printf '%s\\n' \"$GREETING\""]);
    assert!(out.ends_with("changed\n"), "{out}");
    p.ok(&["down", "--volumes"]);
}

/// The id of `service`'s container, from `status --json`.
fn service_id(p: &RemoteProject, service: &str) -> String {
    let json = p.ok(&["status", "--json"]);
    let status: serde_json::Value = serde_json::from_str(&json).unwrap();
    status["services"][service]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no {service} in {json}"))
        .to_owned()
}

fn cat(p: &RemoteProject, id: &str, path: &str) -> String {
    let out = p.e.docker(&["exec", id, "cat", path]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn service_bind_volumes_are_synced_volumes_on_a_remote_engine() {
    let p = RemoteProject::new();
    // `web` runs from the environment image, `db` from an image of its own; each is ready
    // only when it sees its bind sources' content, so `up` fails if a bind is missing or
    // empty on the engine.
    p.t.manifest(
        "[services.web]\ncommand = \"exec sleep 600\"\n\
         volumes = [\"./conf:/etc/app:ro\", \"./seed.sql:/initdb/seed.sql\"]\n\
         ready = \"grep -q v1 /etc/app/app.conf && grep -q seed /initdb/seed.sql\"\n\
         ready_timeout = 20\n\
         [services.db]\nrootfs = \"base.tar\"\ncommand = [\"sleep\", \"600\"]\n\
         volumes = [\"./seed.sql:/docker-entrypoint-initdb.d/seed.sql:ro\", \"./conf:/conf\"]\n\
         ready = \"grep -q seed /docker-entrypoint-initdb.d/seed.sql && test -f /conf/app.conf\"\n\
         ready_timeout = 20\n",
    );
    p.t.write("conf/app.conf", "v1\n");
    p.t.write("conf/old.conf", "old\n");
    p.t.write("seed.sql", "create table seed;\n");
    p.ok(&["up"]);
    let (web, db) = (service_id(&p, "web"), service_id(&p, "db"));

    // Read-only binds stay read-only, root included; writable ones are writable.
    for (id, path) in [
        (&web, "/etc/app/x"),
        (&db, "/docker-entrypoint-initdb.d/seed.sql"),
    ] {
        let w =
            p.e.docker(&["exec", "-u", "0", id, "sh", "-c", &format!(": > {path}")]);
        assert!(
            !w.status.success(),
            "{path} in a read-only bind was writable"
        );
    }
    let w =
        p.e.docker(&["exec", "-u", "0", &db, "sh", "-c", ": > /conf/made-by-db"]);
    assert!(w.status.success(), "{w:?}");

    // An edit, a new file and a deletion on the host reach both services by the next run,
    // and neither is recreated for it.
    p.t.write("conf/app.conf", "v2\n");
    p.t.write("conf/new.conf", "new\n");
    std::fs::remove_file(p.t.root().join("conf/old.conf")).unwrap();
    p.t.write("seed.sql", "create table seed2;\n");
    p.ok(&["run", "--", "true"]);
    for id in [&web, &db] {
        let dir = if id == &web { "/etc/app" } else { "/conf" };
        assert_eq!(cat(&p, id, &format!("{dir}/app.conf")), "v2\n");
        assert_eq!(cat(&p, id, &format!("{dir}/new.conf")), "new\n");
        let gone =
            p.e.docker(&["exec", id, "test", "-e", &format!("{dir}/old.conf")]);
        assert!(!gone.status.success(), "a deleted file is still in {dir}");
    }
    assert_eq!(cat(&p, &web, "/initdb/seed.sql"), "create table seed2;\n");
    assert_eq!(
        cat(&p, &db, "/docker-entrypoint-initdb.d/seed.sql"),
        "create table seed2;\n"
    );
    assert_eq!(service_id(&p, "web"), web, "web was recreated");
    assert_eq!(service_id(&p, "db"), db, "db was recreated");

    // No helper container stays, and down --volumes removes the bind volumes.
    let label = format!("label={}", p.t.label());
    let left =
        p.e.docker_lines(&["ps", "-a", "--format", "{{.Names}}", "--filter", &label]);
    assert_eq!(left.len(), 3, "a helper container stayed: {left:?}");
    assert!(!p
        .e
        .docker_lines(&["volume", "ls", "-q", "--filter", &label])
        .is_empty());
    p.ok(&["down", "--volumes"]);
    assert_eq!(
        p.e.docker_lines(&["volume", "ls", "-q", "--filter", &label]),
        Vec::<String>::new()
    );
}

/// A bind volume outlives its containers as the host directory would: what a container
/// wrote there (a database's files) survives `down` and a recreate, and what changed on
/// the host meanwhile (deletions included) arrives with the next container.
#[test]
fn what_containers_wrote_into_bind_volumes_survives_recreation() {
    let p = RemoteProject::new();
    p.t.manifest(
        "[container]\nvolumes = [\"./data:/data\"]\n\
         [services.db]\ncommand = \"exec sleep 600\"\nvolumes = [\"./pgdata:/var/lib/db\"]\n",
    );
    p.t.write("data/host.txt", "host\n");
    p.t.write("pgdata/.keep", "");
    p.ok(&["run", "--", "sh", "-c", "echo inside > /data/made.txt"]);
    let db = service_id(&p, "db");
    let w =
        p.e.docker(&["exec", &db, "sh", "-c", "echo 16 > /var/lib/db/PG_VERSION"]);
    assert!(w.status.success(), "{w:?}");

    p.ok(&["down"]);
    std::fs::remove_file(p.t.root().join("data/host.txt")).unwrap();
    p.t.write("data/new.txt", "new\n");
    assert_eq!(p.ok(&["run", "--", "ls", "/data"]), "made.txt\nnew.txt\n");
    let db = service_id(&p, "db");
    assert_eq!(cat(&p, &db, "/var/lib/db/PG_VERSION"), "16\n");

    // A recreate of the service alone (its settings changed) keeps its data too.
    let manifest = std::fs::read_to_string(p.t.root().join("devenv.toml")).unwrap();
    p.t.write("devenv.toml", &format!("{manifest}env = {{ V = \"2\" }}\n"));
    p.ok(&["up"]);
    let recreated = service_id(&p, "db");
    assert_ne!(recreated, db, "db was not recreated");
    assert_eq!(cat(&p, &recreated, "/var/lib/db/PG_VERSION"), "16\n");
}

/// A bind volume shows the source alone, as a bind would: never what the image has at the
/// target; one file may be bound at two targets; and losing devenv's own state
/// (`git clean -xdf`) sends everything again without wiping what containers wrote.
#[test]
fn bind_volumes_show_the_source_alone_and_survive_lost_state() {
    let p = RemoteProject::new();
    p.t.manifest(
        "[[step]]\nrun = \"mkdir -p /etc/app && echo image > /etc/app/default.conf\"\n\
         [container]\nvolumes = [\"./conf:/etc/app\"]\n\
         [services.web]\ncommand = \"exec sleep 600\"\n\
         volumes = [\"./conf:/srv/conf\", \"./one.txt:/a/one.txt\", \"./one.txt:/b/one.txt:ro\"]\n",
    );
    p.t.write("conf/app.conf", "host\n");
    p.t.write("one.txt", "1\n");
    assert_eq!(p.ok(&["run", "--", "ls", "/etc/app"]), "app.conf\n");
    let web = service_id(&p, "web");
    let listing = p.e.docker(&[
        "exec",
        &web,
        "sh",
        "-c",
        "ls /srv/conf; cat /a/one.txt /b/one.txt",
    ]);
    assert_eq!(String::from_utf8_lossy(&listing.stdout), "app.conf\n1\n1\n");

    // devenv's state is lost; what the container wrote stays, the host's files come again.
    p.ok(&["run", "--", "sh", "-c", "echo inside > /etc/app/made.txt"]);
    std::fs::remove_dir_all(p.t.root().join(".devenv")).unwrap();
    p.t.write("conf/app.conf", "host again\n");
    assert_eq!(
        p.ok(&[
            "run",
            "--",
            "sh",
            "-c",
            "ls /etc/app; cat /etc/app/app.conf"
        ]),
        "app.conf\nmade.txt\nhost again\n"
    );
}

//! `mqtt-pub` and `mqtt-sub` run as a user would, against a real Mosquitto
//! and beside mosquitto_pub / mosquitto_sub. Skips without them (fails under
//! `CI=true`).
#![allow(clippy::disallowed_methods)] // real processes, real time

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use testkit::peers::{find_binary, missing, Mosquitto};

const PUB: &str = env!("CARGO_BIN_EXE_mqtt-pub");
const SUB: &str = env!("CARGO_BIN_EXE_mqtt-sub");

fn mosquitto_client(name: &str) -> Option<PathBuf> {
    find_binary(&[name])
        .or_else(|| missing("mosquitto_pub/mosquitto_sub (Debian package mosquitto-clients)"))
}

/// Runs a command to completion, killing it after 10 s.
fn run(cmd: &mut Command) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    wait(child)
}

fn wait(child: Child) -> Output {
    let (tx, rx) = mpsc::channel();
    let pid = child.id();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(out) => out.expect("wait"),
        Err(_) => {
            let _ = Command::new("kill").arg(pid.to_string()).status();
            panic!("process {pid} did not finish within 10 s");
        }
    }
}

/// A subscriber started in the background, ready once it printed its SUBACK
/// (debug output).
struct Subscriber(Child, BufReader<std::process::ChildStderr>);

impl Subscriber {
    fn ours(port: u16, args: &[&str]) -> Self {
        let mut child = Command::new(SUB)
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-d", "-W", "10"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        for _ in 0..20 {
            line.clear();
            if err.read_line(&mut line).unwrap_or(0) == 0 || line.contains("SUBACK") {
                break;
            }
        }
        assert!(
            line.contains("SUBACK"),
            "mqtt-sub did not subscribe: {line:?}"
        );
        Self(child, err)
    }

    fn output(self) -> String {
        drop(self.1);
        let out = wait(self.0);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

#[test]
fn sub_prints_sys_topics_like_mosquitto_sub() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    let port = broker.addr().port().to_string();
    let out = run(Command::new(SUB).args([
        "-p",
        &port,
        "-h",
        "127.0.0.1",
        "-t",
        "$SYS/#",
        "-v",
        "-C",
        "3",
        "-W",
        "10",
    ]));
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(
        lines[0].starts_with("$SYS/broker/version mosquitto version 2."),
        "{stdout}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("$SYS/broker/uptime ")),
        "{stdout}"
    );
}

#[test]
fn pub_reaches_mosquitto_sub_at_every_qos_and_version() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    let Some(msub) = mosquitto_client("mosquitto_sub") else {
        return;
    };
    let port = broker.addr().port().to_string();
    for v in ["311", "5"] {
        for q in ["0", "1", "2"] {
            let topic = format!("tools/{v}/{q}");
            let mut sub = Command::new(&msub)
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &port,
                    "-t",
                    &topic,
                    "-q",
                    q,
                    "-C",
                    "1",
                    "-W",
                    "10",
                    "-v",
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            std::thread::sleep(Duration::from_millis(300));
            let out = run(Command::new(PUB).args([
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-V",
                v,
                "-q",
                q,
                "-t",
                &topic,
                "-m",
                "hi there",
            ]));
            assert!(out.status.success(), "{out:?}");
            let mut stdout = String::new();
            std::io::Read::read_to_string(sub.stdout.as_mut().unwrap(), &mut stdout).unwrap();
            let _ = sub.wait();
            assert_eq!(stdout, format!("{topic} hi there\n"), "v{v} q{q}");
        }
    }
}

#[test]
fn mosquitto_pub_reaches_sub_at_every_qos() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    let Some(mpub) = mosquitto_client("mosquitto_pub") else {
        return;
    };
    let port = broker.addr().port();
    for (v, mv) in [("311", "mqttv311"), ("5", "mqttv5")] {
        let sub = Subscriber::ours(port, &["-V", v, "-q", "2", "-t", "in/#", "-C", "3", "-v"]);
        for q in ["0", "1", "2"] {
            let out = run(Command::new(&mpub).args([
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-V",
                mv,
                "-q",
                q,
                "-t",
                &format!("in/{q}"),
                "-m",
                "m",
            ]));
            assert!(out.status.success(), "{out:?}");
        }
        assert_eq!(sub.output(), "in/0 m\nin/1 m\nin/2 m\n", "v{v}");
    }
}

#[test]
fn pub_lines_from_stdin_and_url_and_null_message() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    let port = broker.addr().port();
    let sub = Subscriber::ours(port, &["-t", "lines/#", "-C", "4", "-v", "-q", "1"]);
    let mut p = Command::new(PUB)
        .args([
            "-L",
            &format!("mqtt://127.0.0.1:{port}/lines/a"),
            "-l",
            "-q",
            "1",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    p.stdin
        .take()
        .unwrap()
        .write_all(b"one\ntwo\r\nthree\n")
        .unwrap();
    let out = wait(p);
    assert!(out.status.success(), "{out:?}");
    let out = run(Command::new(PUB).args([
        "-p",
        &port.to_string(),
        "-h",
        "127.0.0.1",
        "-t",
        "lines/n",
        "-n",
    ]));
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        sub.output(),
        "lines/a one\nlines/a two\nlines/a three\nlines/n \n"
    );
}

#[test]
fn retained_and_r_flag() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    let port = broker.addr().port().to_string();
    let out = run(Command::new(PUB).args([
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-t",
        "ret/a",
        "-m",
        "kept",
        "-r",
        "-q",
        "1",
    ]));
    assert!(out.status.success(), "{out:?}");
    let out = run(Command::new(SUB).args([
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-t",
        "ret/#",
        "-C",
        "1",
        "-W",
        "5",
    ]));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "kept\n");
    // -R hides the stale (retained) message: nothing arrives before -W.
    let out = run(Command::new(SUB).args([
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-t",
        "ret/#",
        "-C",
        "1",
        "-W",
        "1",
        "-R",
    ]));
    assert_eq!(out.status.code(), Some(27), "{out:?}");
    assert!(out.stdout.is_empty());
}

#[test]
fn will_v5_properties_and_persistent_session_from_the_tools() {
    let Some(broker) = Mosquitto::start() else {
        return;
    };
    let port = broker.addr().port();
    let p = port.to_string();
    // A persistent subscriber subscribes, then goes away.
    let out = run(Command::new(SUB).args([
        "-h",
        "127.0.0.1",
        "-p",
        &p,
        "-c",
        "-i",
        "keeper",
        "-q",
        "1",
        "-t",
        "pers/#",
        "-E",
    ]));
    assert!(out.status.success(), "{out:?}");
    let out = run(Command::new(PUB).args([
        "-h",
        "127.0.0.1",
        "-p",
        &p,
        "-q",
        "1",
        "-t",
        "pers/x",
        "-m",
        "queued",
    ]));
    assert!(out.status.success(), "{out:?}");
    // Back with the same id: mosquitto delivers what it queued.
    let out = run(Command::new(SUB).args([
        "-h",
        "127.0.0.1",
        "-p",
        &p,
        "-c",
        "-i",
        "keeper",
        "-q",
        "1",
        "-t",
        "pers/#",
        "-C",
        "1",
        "-W",
        "5",
    ]));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "queued\n", "{out:?}");
    // -D properties are accepted with -V 5 and refused without.
    let out = run(Command::new(PUB).args([
        "-h",
        "127.0.0.1",
        "-p",
        &p,
        "-V",
        "5",
        "-t",
        "p",
        "-m",
        "x",
        "-D",
        "publish",
        "user-property",
        "k",
        "v",
        "-D",
        "publish",
        "content-type",
        "text/plain",
    ]));
    assert!(out.status.success(), "{out:?}");
    let out = run(Command::new(PUB).args([
        "-h",
        "127.0.0.1",
        "-p",
        &p,
        "-t",
        "p",
        "-m",
        "x",
        "-D",
        "publish",
        "content-type",
        "t",
    ]));
    assert!(!out.status.success());
    // A will: a subscriber with --will-topic killed without DISCONNECT.
    let watcher = Subscriber::ours(port, &["-t", "will/#", "-C", "1", "-v"]);
    let mut doomed = Command::new(SUB)
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &p,
            "-t",
            "nothing",
            "--will-topic",
            "will/doomed",
            "--will-payload",
            "bye",
            "-W",
            "10",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    doomed.kill().unwrap();
    let _ = doomed.wait();
    assert_eq!(watcher.output(), "will/doomed bye\n");
}

#[test]
fn connection_refused_fails_fast_with_a_message() {
    let port = testkit::peers::free_tcp_port().to_string();
    let out = run(Command::new(PUB).args(["-h", "127.0.0.1", "-p", &port, "-t", "a", "-m", "b"]));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Error"),
        "{out:?}"
    );
    let out = run(Command::new(SUB).args(["-h", "127.0.0.1", "-p", &port, "-t", "a"]));
    assert!(!out.status.success());
}

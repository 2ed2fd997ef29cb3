//! Who commands run as. By default the host's uid/gid, so files created in the mounted
//! project belong to the developer. The image stays host-independent: the passwd/group
//! entries and home directory are added to the *container* when it is created, never to
//! the image, and the mounted source is never chowned.

use serde::{Deserialize, Serialize};

use super::SessionError;
use crate::engine::{Engine, ExecSpec};
use crate::manifest::ShellUser;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ExecUser {
    /// The host user: numeric ids plus the name to give a new passwd entry.
    Host {
        uid: u32,
        gid: u32,
        name: String,
    },
    Root,
    Named(String),
}

impl ExecUser {
    pub fn resolve(user: &ShellUser) -> ExecUser {
        match user {
            ShellUser::Root => ExecUser::Root,
            ShellUser::Named(n) => ExecUser::Named(n.clone()),
            ShellUser::Host => {
                let uid = nix::unistd::getuid().as_raw();
                let gid = nix::unistd::getgid().as_raw();
                if uid == 0 {
                    return ExecUser::Root;
                }
                let name = nix::unistd::User::from_uid(uid.into())
                    .ok()
                    .flatten()
                    .map(|u| u.name)
                    .or_else(|| std::env::var("USER").ok())
                    .filter(|n| valid_name(n))
                    .unwrap_or_else(|| format!("user{uid}"));
                ExecUser::Host { uid, gid, name }
            }
        }
    }

    /// The exec `User` value.
    pub fn exec_user(&self) -> String {
        match self {
            ExecUser::Host { uid, gid, .. } => format!("{uid}:{gid}"),
            ExecUser::Root => "0:0".into(),
            ExecUser::Named(n) => n.clone(),
        }
    }
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 32
        && n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        && !n.starts_with('-')
}

/// Adds the host uid/gid to the container's passwd/group when missing (keeping an existing
/// entry for that id, whatever its name), and makes sure its home exists. Pure POSIX sh with
/// no grep/awk/useradd, so it works on busybox and minimal images. It runs as root, so it
/// uses shell builtins (`read`, `[`, globs) wherever it can; the only programs it starts
/// are `mkdir` and `chown`, found through [`ROOT_PATH`] alone.
const SETUP: &str = r#"
uid=$1 gid=$2 name=$3
shift 3
has_id() { while IFS=: read -r n _ i _; do [ "$i" = "$2" ] && return 0; done < "$1"; return 1; }
has_name() { while IFS=: read -r n _; do [ "$n" = "$2" ] && return 0; done < "$1"; return 1; }
home_of() { while IFS=: read -r _ _ i _ _ h _; do [ "$i" = "$1" ] && { echo "$h"; return; }; done < /etc/passwd; }
is_empty() { for f in "$1"/* "$1"/.[!.]* "$1"/..?*; do [ -e "$f" ] || [ -L "$f" ] && return 1; done; return 0; }
[ -f /etc/passwd ] || : > /etc/passwd
[ -f /etc/group ] || : > /etc/group
if ! has_id /etc/group "$gid"; then
  g=$name; has_name /etc/group "$g" && g="$name$gid"
  echo "$g:x:$gid:" >> /etc/group
fi
if ! has_id /etc/passwd "$uid"; then
  u=$name; has_name /etc/passwd "$u" && u="$name$uid"
  sh=/bin/sh; [ -x /bin/bash ] && sh=/bin/bash
  echo "$u:x:$uid:$gid::/home/$u:$sh" >> /etc/passwd
fi
home=$(home_of "$uid")
case "$home" in ""|/|/nonexistent) ;; *)
  if [ ! -d "$home" ]; then mkdir -p "$home" && chown "$uid:$gid" "$home"; fi
esac
# Named volumes start root-owned: give the empty ones to the user (`-O`: owned by us, root).
for t in "$@"; do
  if [ -d "$t" ] && [ ! -L "$t" ] && [ -O "$t" ] && is_empty "$t"; then chown "$uid:$gid" "$t"; fi
done
exit 0
"#;

/// The only PATH a root helper uses: the system directories, which only root can write in
/// any sane image. Never the container's PATH: its other entries (a venv, `CARGO_HOME/bin`,
/// `node_modules/.bin`, the mounted project) may be writable by the user, and a program
/// planted there would run as root.
pub const ROOT_PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

/// An exec spec that runs `cmd` as root, safe from what the user can change: PATH is
/// [`ROOT_PATH`], the variables that make a shell or the loader run other code (`ENV`,
/// `BASH_ENV`, `LD_PRELOAD`, `LD_LIBRARY_PATH`, which the container's env may point at a
/// user-writable place) are cleared, and it runs in `/`, not the user-writable project.
pub fn as_root(cmd: Vec<String>) -> ExecSpec {
    ExecSpec {
        cmd,
        env: vec![
            format!("PATH={ROOT_PATH}"),
            "ENV=".into(),
            "BASH_ENV=".into(),
            "LD_PRELOAD=".into(),
            "LD_LIBRARY_PATH=".into(),
            "LD_AUDIT=".into(),
        ],
        user: Some("0:0".into()),
        workdir: Some("/".into()),
        ..ExecSpec::default()
    }
}

/// Prepare the container for `user` (as root, once per container start).
pub async fn setup(
    engine: &Engine,
    container: &str,
    user: &ExecUser,
    volume_targets: &[String],
) -> Result<(), SessionError> {
    let (uid, gid, name) = match user {
        ExecUser::Host { uid, gid, name } => (*uid, *gid, name.as_str()),
        // Images without a passwd entry for root still answer `whoami`.
        ExecUser::Root => (0, 0, "root"),
        ExecUser::Named(_) => return Ok(()),
    };
    let mut cmd: Vec<String> = vec![
        "/bin/sh".into(),
        "-c".into(),
        SETUP.into(),
        "devenv-user-setup".into(),
        uid.to_string(),
        gid.to_string(),
        name.to_owned(),
    ];
    cmd.extend(volume_targets.iter().cloned());
    let spec = as_root(cmd);
    let (code, output) = engine.exec_collect(container, &spec).await?;
    if code == 0 {
        Ok(())
    } else {
        Err(SessionError::UserSetup(format!(
            "exit status {code}: {}",
            output.trim()
        )))
    }
}

//! How a local image reaches a registry: uploaded by the tool's own registry client from the
//! archive the engine saves it as (`image save`), or pushed by the engine (`docker push`). The
//! client is used when the engine runs on this machine, so that saving the image only copies
//! it between local files; an engine reached over the network keeps `docker push`, which sends
//! the image from where it is.

use std::path::Path;

/// Which way pushes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum PushWith {
    /// The tool's own client when the engine is local, else the engine
    #[default]
    Auto,
    /// Always the engine's own push (`docker push`)
    Engine,
    /// Always the tool's own client, from the image the engine saves
    Client,
}

/// The environment variables that say where the engine is, as read by `is_local_engine`.
#[derive(Debug, Default)]
pub struct EngineAddress {
    /// `DOCKER_HOST`, or podman's `CONTAINER_HOST`.
    pub host: Option<String>,
    /// `DOCKER_CONTEXT`, or podman's `CONTAINER_CONNECTION`.
    pub context: Option<String>,
    /// The `currentContext` of docker's `config.json`.
    pub configured_context: Option<String>,
    /// Whether `$DOCKER` asks podman for a remote engine (`podman --remote`).
    pub remote_flag: bool,
}

impl EngineAddress {
    /// Where the engine `program` with `leading_args` (`$DOCKER`) is, from the environment.
    pub fn from_env(program: &str, leading_args: &[String]) -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
        let podman = Path::new(program)
            .file_name()
            .is_some_and(|name| name == "podman");
        if podman {
            let remote = |arg: &String| {
                ["--remote", "-r", "-c"].contains(&arg.as_str())
                    || arg.starts_with("--url")
                    || arg.starts_with("--connection")
            };
            return Self {
                host: var("CONTAINER_HOST"),
                context: var("CONTAINER_CONNECTION"),
                configured_context: None,
                remote_flag: leading_args.iter().any(remote),
            };
        }
        Self {
            host: var("DOCKER_HOST"),
            context: var("DOCKER_CONTEXT"),
            configured_context: configured_docker_context(),
            remote_flag: leading_args
                .iter()
                .any(|arg| arg.starts_with("--host") || arg == "-H"),
        }
    }

    /// Whether the engine runs on this machine: no remote flag, no host but a `unix://` socket,
    /// no context but docker's `default`.
    pub fn is_local(&self) -> bool {
        let local_host = self
            .host
            .as_deref()
            .is_none_or(|host| host.starts_with("unix://"));
        let context = self.context.as_ref().or(self.configured_context.as_ref());
        !self.remote_flag && local_host && context.is_none_or(|name| name == "default")
    }
}

/// The `currentContext` of docker's `config.json` (in `$DOCKER_CONFIG`, else `~/.docker`).
fn configured_docker_context() -> Option<String> {
    let dir = match std::env::var_os("DOCKER_CONFIG") {
        Some(dir) => dir.into(),
        None => Path::new(&std::env::var_os("HOME")?).join(".docker"),
    };
    let text = fs_err::read_to_string(dir.join("config.json")).ok()?;
    let config: serde_json::Value = serde_json::from_str(&text).ok()?;
    let context = config.get("currentContext")?.as_str()?;
    (!context.is_empty()).then(|| context.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_engine_on_a_local_socket_in_the_default_context_is_local() {
        let local = |host: Option<&str>, context: Option<&str>, remote_flag| {
            EngineAddress {
                host: host.map(str::to_owned),
                context: context.map(str::to_owned),
                configured_context: None,
                remote_flag,
            }
            .is_local()
        };
        assert!(local(None, None, false));
        assert!(local(
            Some("unix:///run/user/1000/docker.sock"),
            None,
            false
        ));
        assert!(local(None, Some("default"), false));
        assert!(!local(Some("tcp://build-host:2376"), None, false));
        assert!(!local(Some("ssh://me@build-host"), None, false));
        assert!(!local(None, Some("remote-builder"), false));
        assert!(!local(None, None, true));
        let configured = EngineAddress {
            configured_context: Some("remote-builder".into()),
            ..EngineAddress::default()
        };
        assert!(!configured.is_local());
    }
}

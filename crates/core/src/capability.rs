//! Capabilities: what the platform hands a function when its version is loaded, beyond its own
//! config. A grant in the config (a bucket today) turns into variables and reachable hosts that
//! exist only in memory: nothing of it is stored with the version.

use crate::{Error, FunctionConfig};

/// One kind of grant: it reads the config of `function` and says what comes with it.
pub trait Capability: Send + Sync {
    /// Nothing when the config holds no grant of this kind.
    fn provide(&self, function: &str, config: &FunctionConfig) -> Result<Provision, Error>;

    /// `function` was deleted: what was provided to it stops working.
    fn revoke(&self, _function: &str) {}
}

/// What a capability adds to a loaded version.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Provision {
    /// Variables set for the function. They win over the function's own of the same name.
    pub env: Vec<(String, String)>,
    /// Hosts (`host:port`) its outbound connections may reach.
    pub allow_hosts: Vec<String>,
}

/// The config a version runs with: its own, plus what every capability provides.
pub fn provisioned(
    function: &str,
    config: &FunctionConfig,
    capabilities: &[std::sync::Arc<dyn Capability>],
) -> Result<FunctionConfig, Error> {
    let mut running = config.clone();
    for capability in capabilities {
        let provision = capability.provide(function, config)?;
        running.env.extend(provision.env);
        for host in provision.allow_hosts {
            if !running.allow_hosts.contains(&host) {
                running.allow_hosts.push(host);
            }
        }
    }
    Ok(running)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    struct Greeting;

    impl Capability for Greeting {
        fn provide(&self, function: &str, _: &FunctionConfig) -> Result<Provision, Error> {
            Ok(Provision {
                env: vec![("GREETING".into(), format!("hello {function}"))],
                allow_hosts: vec!["127.0.0.1:9000".into()],
            })
        }
    }

    #[test]
    fn provisions_add_to_the_config_and_win_over_its_variables() {
        let mut config = FunctionConfig::default();
        config.env.insert("GREETING".into(), "mine".into());
        config.allow_hosts.push("127.0.0.1:9000".into());
        let capabilities: Vec<Arc<dyn Capability>> = vec![Arc::new(Greeting)];
        let running = provisioned("resize", &config, &capabilities).unwrap();
        assert_eq!(running.env["GREETING"], "hello resize");
        assert_eq!(running.allow_hosts, vec!["127.0.0.1:9000".to_string()]);
        assert_eq!(
            config.env["GREETING"], "mine",
            "the stored config is unchanged"
        );
    }
}

//! What an OCI runtime sends the agent for one container: the
//! `ContainerProcessState` of the runtime spec (config-linux.md, "Seccomp":
//! `listenerPath`), a JSON object sent with the listener descriptor(s) in
//! one `SCM_RIGHTS` message:
//!
//! ```json
//! {"ociVersion":"1.0.2-dev","fds":["seccompFd"],"pid":8394,
//!  "metadata":"deny-path",
//!  "state":{"ociVersion":"1.0.2-dev","id":"t1","status":"creating",
//!           "pid":8394,"bundle":"/tmp/b","annotations":{"k":"v"}}}
//! ```
//!
//! (what runc 1.1.5 sends, byte for byte).  `fds` names the descriptors
//! received, in order; the one named `seccompFd` is the listener.

use std::collections::BTreeMap;

use serde_json::Value;

/// The annotation that chooses a policy when the profile's metadata does not.
pub const POLICY_ANNOTATION: &str = "io.supervisor.policy";

/// One container, as its runtime described it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerState {
    /// The index of the listener among the descriptors received.
    pub seccomp_fd: usize,
    /// The container process's pid, in the runtime's pid namespace.
    pub pid: i32,
    /// `listenerMetadata` of the profile ("" when unset).
    pub metadata: String,
    pub id: String,
    pub bundle: String,
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StateError {
    #[error("the container state is not JSON: {0}")]
    Json(String),
    #[error("the container state has no {0}")]
    Missing(&'static str),
    #[error("the container state's {0} is not {1}")]
    Type(&'static str, &'static str),
    #[error("the container state names no \"seccompFd\" among its fds")]
    NoSeccompFd,
    #[error("the container state names {named} descriptors, {received} were received")]
    FdCount { named: usize, received: usize },
}

impl ContainerState {
    /// Parses the runtime's message; `received` descriptors came with it.
    pub fn parse(bytes: &[u8], received: usize) -> Result<ContainerState, StateError> {
        let v: Value =
            serde_json::from_slice(bytes).map_err(|e| StateError::Json(e.to_string()))?;
        let fds = v
            .get("fds")
            .ok_or(StateError::Missing("fds"))?
            .as_array()
            .ok_or(StateError::Type("fds", "an array"))?;
        if fds.len() != received {
            return Err(StateError::FdCount {
                named: fds.len(),
                received,
            });
        }
        let seccomp_fd = fds
            .iter()
            .position(|f| f.as_str() == Some("seccompFd"))
            .ok_or(StateError::NoSeccompFd)?;
        let pid = v
            .get("pid")
            .ok_or(StateError::Missing("pid"))?
            .as_i64()
            .filter(|p| *p > 0 && *p <= i32::MAX as i64)
            .ok_or(StateError::Type("pid", "a positive pid"))? as i32;
        let metadata = match v.get("metadata") {
            None | Some(Value::Null) => String::new(),
            Some(m) => m
                .as_str()
                .ok_or(StateError::Type("metadata", "a string"))?
                .to_string(),
        };
        let state = v.get("state").ok_or(StateError::Missing("state"))?;
        let text = |k: &'static str| -> Result<String, StateError> {
            match state.get(k) {
                None | Some(Value::Null) => Ok(String::new()),
                Some(s) => s
                    .as_str()
                    .map(str::to_string)
                    .ok_or(StateError::Type(k, "a string")),
            }
        };
        let mut annotations = BTreeMap::new();
        match state.get("annotations") {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) => {
                for (k, v) in m {
                    let v = v
                        .as_str()
                        .ok_or(StateError::Type("annotations", "strings"))?;
                    annotations.insert(k.clone(), v.to_string());
                }
            }
            Some(_) => return Err(StateError::Type("annotations", "an object")),
        }
        Ok(ContainerState {
            seccomp_fd,
            pid,
            metadata,
            id: text("id")?,
            bundle: text("bundle")?,
            annotations,
        })
    }

    /// The policy name the container asks for: the profile's metadata,
    /// else the `io.supervisor.policy` annotation; `None`: the default.
    pub fn policy_name(&self) -> Option<&str> {
        if !self.metadata.is_empty() {
            return Some(&self.metadata);
        }
        self.annotations
            .get(POLICY_ANNOTATION)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUNC: &str = r#"{"ociVersion":"1.0.2-dev","fds":["seccompFd"],"pid":8394,"metadata":"deny-path","state":{"ociVersion":"1.0.2-dev","id":"t1","status":"creating","pid":8394,"bundle":"/tmp/exp/b"}}"#;

    #[test]
    fn runcs_message_parses() {
        let s = ContainerState::parse(RUNC.as_bytes(), 1).unwrap();
        assert_eq!(s.pid, 8394);
        assert_eq!(s.seccomp_fd, 0);
        assert_eq!(s.id, "t1");
        assert_eq!(s.bundle, "/tmp/exp/b");
        assert_eq!(s.policy_name(), Some("deny-path"));
    }

    #[test]
    fn the_annotation_chooses_when_the_metadata_does_not() {
        let m = r#"{"fds":["seccompFd"],"pid":5,"state":{"id":"x","annotations":{"io.supervisor.policy":"ci"}}}"#;
        let s = ContainerState::parse(m.as_bytes(), 1).unwrap();
        assert_eq!(s.policy_name(), Some("ci"));
        let m = r#"{"fds":["seccompFd"],"pid":5,"metadata":"","state":{}}"#;
        assert_eq!(
            ContainerState::parse(m.as_bytes(), 1)
                .unwrap()
                .policy_name(),
            None
        );
    }

    #[test]
    fn bad_messages_are_refused_by_name() {
        let p = |m: &str, n| ContainerState::parse(m.as_bytes(), n).unwrap_err();
        assert!(matches!(p("{", 1), StateError::Json(_)));
        assert_eq!(p(r#"{"pid":1}"#, 1), StateError::Missing("fds"));
        assert_eq!(
            p(r#"{"fds":["x"],"pid":1,"state":{}}"#, 1),
            StateError::NoSeccompFd
        );
        assert_eq!(
            p(r#"{"fds":["seccompFd"],"pid":1,"state":{}}"#, 2),
            StateError::FdCount {
                named: 1,
                received: 2
            }
        );
        assert_eq!(
            p(r#"{"fds":["seccompFd"],"pid":-3,"state":{}}"#, 1),
            StateError::Type("pid", "a positive pid")
        );
        assert_eq!(
            p(r#"{"fds":["seccompFd"],"pid":3}"#, 1),
            StateError::Missing("state")
        );
    }
}

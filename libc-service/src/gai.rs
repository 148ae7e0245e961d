//! The `getaddrinfo` errors of the spec, as a policy names them.

use std::str::FromStr;

/// A `getaddrinfo` error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GaiError {
    Again,
    Badflags,
    Fail,
    Family,
    Memory,
    Noname,
    Service,
    Socktype,
    System,
}

/// Every error, for lists and messages.
pub const GAI_ERRORS: [GaiError; 9] = [
    GaiError::Again,
    GaiError::Badflags,
    GaiError::Fail,
    GaiError::Family,
    GaiError::Memory,
    GaiError::Noname,
    GaiError::Service,
    GaiError::Socktype,
    GaiError::System,
];

/// A name that is not one of the spec's `getaddrinfo` errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown getaddrinfo error {0:?} (expected again, badflags, fail, family, memory, noname, service, socktype or system)")]
pub struct UnknownGaiError(pub String);

impl FromStr for GaiError {
    type Err = UnknownGaiError;
    fn from_str(s: &str) -> Result<GaiError, UnknownGaiError> {
        GAI_ERRORS
            .iter()
            .copied()
            .find(|g| g.name() == s)
            .ok_or_else(|| UnknownGaiError(s.to_owned()))
    }
}

impl GaiError {
    /// The spec's name of the error (`"noname"`, …).
    pub fn name(self) -> &'static str {
        match self {
            GaiError::Again => "again",
            GaiError::Badflags => "badflags",
            GaiError::Fail => "fail",
            GaiError::Family => "family",
            GaiError::Memory => "memory",
            GaiError::Noname => "noname",
            GaiError::Service => "service",
            GaiError::Socktype => "socktype",
            GaiError::System => "system",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for g in GAI_ERRORS {
            assert_eq!(g.name().parse::<GaiError>(), Ok(g));
        }
        assert!("nope".parse::<GaiError>().is_err());
    }
}

//! What a request does to its subject, as rules name it (docs/rules.md
//! lists which request is which kinds).

/// A rules kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Read,
    Write,
    Create,
    Delete,
    Connect,
    Bind,
    Resolve,
    /// Opening a block or character device other than the harmless ones
    /// (docs/rules.md): on the device's path, besides read/write.
    Device,
}

/// Every kind, in the order of [`Kind::index`].
pub const KINDS: [Kind; 8] = [
    Kind::Read,
    Kind::Write,
    Kind::Create,
    Kind::Delete,
    Kind::Connect,
    Kind::Bind,
    Kind::Resolve,
    Kind::Device,
];

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Read => "read",
            Kind::Write => "write",
            Kind::Create => "create",
            Kind::Delete => "delete",
            Kind::Connect => "connect",
            Kind::Bind => "bind",
            Kind::Resolve => "resolve",
            Kind::Device => "device",
        }
    }

    pub fn by_name(s: &str) -> Option<Kind> {
        KINDS.iter().copied().find(|k| k.name() == s)
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_is_position() {
        for (i, k) in KINDS.iter().enumerate() {
            assert_eq!(k.index(), i);
            assert_eq!(Kind::by_name(k.name()), Some(*k));
        }
    }
}

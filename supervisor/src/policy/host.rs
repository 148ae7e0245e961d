//! The `host` module: descriptors made with the supervisor's authority,
//! for policies to hand to the program (`send_with_fds`) or use themselves.
//!
//! Functions that fail return `nil, "ENAME"` (Lua style); argument type
//! errors are Lua errors.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use mlua::{AnyUserData, Lua, MultiValue, Table, UserData, UserDataMethods, Value};
use nix::errno::Errno;

use super::lua::lua_err;
use kernel::sys;
use libc_service::errno;

/// A descriptor held by the policy.  Closed by `:close()` or when collected.
pub struct Descriptor(pub Option<OwnedFd>);

impl Descriptor {
    pub fn fd(&self) -> mlua::Result<std::os::fd::BorrowedFd<'_>> {
        self.0
            .as_ref()
            .map(|f| f.as_fd())
            .ok_or_else(|| mlua::Error::RuntimeError("descriptor is closed".into()))
    }
}

impl UserData for Descriptor {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_method("write", |lua, this, s: mlua::LuaString| {
            let fd = this.fd()?;
            let bytes = s.as_bytes();
            let mut done = 0;
            while done < bytes.len() {
                match nix::unistd::write(fd, &bytes[done..]) {
                    Ok(n) => done += n,
                    Err(Errno::EINTR) => continue,
                    Err(e) => return failure(lua, e),
                }
            }
            Ok(MultiValue::from_vec(vec![Value::Integer(done as i64)]))
        });
        m.add_method("read", |lua, this, n: Option<usize>| {
            let fd = this.fd()?;
            let mut buf = vec![0u8; n.unwrap_or(65536).min(1 << 24)];
            loop {
                match nix::unistd::read(fd, &mut buf) {
                    Ok(k) => {
                        return Ok(MultiValue::from_vec(vec![Value::String(
                            lua.create_string(&buf[..k])?,
                        )]))
                    }
                    Err(Errno::EINTR) => continue,
                    Err(e) => return failure(lua, e),
                }
            }
        });
        m.add_method_mut("close", |_, this, ()| {
            this.0 = None;
            Ok(())
        });
        m.add_method("fileno", |_, this, ()| Ok(this.fd()?.as_raw_fd()));
        m.add_meta_method("__tostring", |_, this, ()| {
            Ok(match &this.0 {
                Some(f) => format!("descriptor({})", f.as_raw_fd()),
                None => "descriptor(closed)".to_string(),
            })
        });
    }
}

/// `nil, "ENAME"`.
pub fn failure(lua: &Lua, e: Errno) -> mlua::Result<MultiValue> {
    let name = errno::name(e as i32).unwrap_or("EIO");
    Ok(MultiValue::from_vec(vec![
        Value::Nil,
        Value::String(lua.create_string(name)?),
    ]))
}

fn descriptors(lua: &Lua, fds: Vec<OwnedFd>) -> mlua::Result<MultiValue> {
    let mut v = Vec::with_capacity(fds.len());
    for fd in fds {
        v.push(Value::UserData(lua.create_userdata(Descriptor(Some(fd)))?));
    }
    Ok(MultiValue::from_vec(v))
}

/// Open flags given as an integer bitmask or as a list of the spec's names.
pub fn open_flags_arg(lua: &Lua, v: &Value) -> mlua::Result<i32> {
    match v {
        Value::Integer(i) => Ok(*i as i32),
        Value::Nil => Ok(libc::O_RDONLY),
        Value::Table(t) => {
            let mut f = 0;
            for name in t.sequence_values::<String>() {
                let name = name?;
                f |= match name.as_str() {
                    "read_only" => libc::O_RDONLY,
                    "write_only" => libc::O_WRONLY,
                    "read_write" => libc::O_RDWR,
                    "append" => libc::O_APPEND,
                    "create" => libc::O_CREAT,
                    "directory" => libc::O_DIRECTORY,
                    "exclusive" => libc::O_EXCL,
                    "no_follow" => libc::O_NOFOLLOW,
                    "path" => libc::O_PATH,
                    "sync_all_on_write" => libc::O_SYNC,
                    "temporary" => libc::O_TMPFILE,
                    "truncate" => libc::O_TRUNC,
                    "close_on_exec" => libc::O_CLOEXEC,
                    "non_blocking" => libc::O_NONBLOCK,
                    "no_ctty" => libc::O_NOCTTY,
                    "no_atime" => libc::O_NOATIME,
                    "data_sync" => libc::O_DSYNC,
                    other => {
                        return Err(lua_err(lua, format!("host.open: unknown flag {other:?}")))
                    }
                };
            }
            Ok(f)
        }
        other => Err(lua_err(
            lua,
            format!(
                "host.open: flags must be an integer or a list of names, not {}",
                other.type_name()
            ),
        )),
    }
}

/// Creates the `host` module table.
pub fn module(lua: &Lua) -> mlua::Result<Table> {
    let host = lua.create_table()?;
    host.set(
        "open",
        lua.create_function(
            |lua, (path, flags, mode): (mlua::LuaString, Value, Option<u32>)| {
                let flags = open_flags_arg(lua, &flags)? | libc::O_CLOEXEC;
                let c = std::ffi::CString::new(path.as_bytes().to_vec())
                    .map_err(|_| lua_err(lua, "host.open: path contains a NUL byte".into()))?;
                let cwd = nix::fcntl::AT_FDCWD;
                match sys::openat(cwd, &c, flags, mode.unwrap_or(0o644)) {
                    Ok(fd) => descriptors(lua, vec![fd]),
                    Err(e) => failure(lua, e),
                }
            },
        )?,
    )?;
    host.set(
        "memfd",
        lua.create_function(|lua, content: Option<mlua::LuaString>| {
            let r = (|| -> Result<OwnedFd, Errno> {
                let fd = nix::sys::memfd::memfd_create(
                    c"supervisor-memfd",
                    nix::sys::memfd::MFdFlags::MFD_CLOEXEC
                        | nix::sys::memfd::MFdFlags::MFD_ALLOW_SEALING,
                )?;
                if let Some(c) = &content {
                    let bytes = c.as_bytes();
                    let mut done = 0;
                    while done < bytes.len() {
                        done += nix::unistd::write(&fd, &bytes[done..])?;
                    }
                }
                nix::unistd::lseek(&fd, 0, nix::unistd::Whence::SeekSet)?;
                // Read-only from now on: the program cannot change what the
                // policy serves.
                let seals = libc::F_SEAL_SHRINK
                    | libc::F_SEAL_GROW
                    | libc::F_SEAL_WRITE
                    | libc::F_SEAL_SEAL;
                nix::fcntl::fcntl(
                    &fd,
                    nix::fcntl::FcntlArg::F_ADD_SEALS(nix::fcntl::SealFlag::from_bits_retain(
                        seals,
                    )),
                )?;
                Ok(fd)
            })();
            match r {
                Ok(fd) => descriptors(lua, vec![fd]),
                Err(e) => failure(lua, e),
            }
        })?,
    )?;
    host.set(
        "pipe",
        lua.create_function(
            |lua, ()| match nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) {
                Ok((r, w)) => descriptors(lua, vec![r, w]),
                Err(e) => failure(lua, e),
            },
        )?,
    )?;
    host.set(
        "socketpair",
        lua.create_function(|lua, kind: Option<String>| {
            use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
            let ty = match kind.as_deref().unwrap_or("stream") {
                "stream" => SockType::Stream,
                "dgram" | "datagram" => SockType::Datagram,
                "seqpacket" => SockType::SeqPacket,
                other => {
                    return Err(lua_err(
                        lua,
                        format!("host.socketpair: unknown type {other:?}"),
                    ))
                }
            };
            match socketpair(AddressFamily::Unix, ty, None, SockFlag::SOCK_CLOEXEC) {
                Ok((a, b)) => descriptors(lua, vec![a, b]),
                Err(e) => failure(lua, e),
            }
        })?,
    )?;
    super::host_net::install(lua, &host)?;
    Ok(host)
}

/// The descriptors of a `send_with_fds` list.
pub fn descriptor_list(lua: &Lua, fds: &Table) -> mlua::Result<Vec<AnyUserData>> {
    let mut uds: Vec<AnyUserData> = Vec::new();
    for v in fds.sequence_values::<AnyUserData>() {
        let ud = v.map_err(|_| {
            lua_err(
                lua,
                "send_with_fds: fds must be a list of descriptors".into(),
            )
        })?;
        if !ud.is::<Descriptor>() {
            return Err(lua_err(
                lua,
                "send_with_fds: fds must be a list of descriptors".into(),
            ));
        }
        uds.push(ud);
    }
    Ok(uds)
}

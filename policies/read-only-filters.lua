-- Slave filters only, no master loop: a read-only view of the file system
-- in which HIDE (default /etc/shadow) does not exist.  Opens that write or
-- create, mkdir, rmdir, unlink and rename fail with EROFS; every other call
-- goes on to the kernel with the program's own credentials (what real_X
-- does without a master loop) -- the fast path: no master round trip.
--
-- Filters decide on the call's literal arguments, and the kernel then
-- performs the program's own call: as with use_slave_credentials, this
-- keeps a cooperative program (a build, a test) from writing; it is not a
-- boundary against a program that races its own memory or names HIDE
-- another way (a symlink, "..", /proc/self/root).  For that, decide on
-- master:resolved() in a master loop (docs/policy.md).
local slave = require("libc_service").slave
local hide = os.getenv("HIDE") or "/etc/shadow"

local function writes(flags)
  return flags & (C.O_WRONLY | C.O_RDWR | C.O_CREAT | C.O_TRUNC | C.O_APPEND) ~= 0
    or flags & C.O_TMPFILE == C.O_TMPFILE
end

slave.open = function(real_open, path, flags, mode)
  if path == hide then return -1, C.ENOENT end
  if writes(flags) then return -1, C.EROFS end
  return real_open(path, flags, mode)
end

slave.openat = function(real_openat, dirfd, path, flags, mode, resolve)
  if path == hide then return -1, C.ENOENT end
  if writes(flags) then return -1, C.EROFS end
  return real_openat(dirfd, path, flags, mode, resolve)
end

for _, name in ipairs({ "stat", "lstat", "access", "eaccess" }) do
  slave[name] = function(real, path, ...)
    if path == hide then return -1, C.ENOENT end
    return real(path, ...)
  end
end

for _, name in ipairs({ "mkdir", "rmdir", "unlink", "rename" }) do
  slave[name] = function()
    return -1, C.EROFS
  end
end

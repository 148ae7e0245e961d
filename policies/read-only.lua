-- Read-only: the program reads what it likes, but writes, creates and
-- deletes only inside a scratch directory, $SCRATCH (default /tmp),
-- /dev/shm, and on the terminal and /dev/null.  The network is left alone (see
-- no-network.lua to close it too).
local rules = require "rules"

local scratch = (os.getenv("SCRATCH") or "/tmp"):gsub("/+$", "")

return rules.run {
  default = { read = "allow", write = "deny", create = "deny", delete = "deny",
              connect = "allow", bind = "allow", resolve = "allow",
              device = "deny" },  -- a raw disk would read every file
  errno = "EROFS",
  { "allow", { "write", "create", "delete" }, scratch .. "/" },
  -- POSIX shared memory (shm_open: browsers, many GUI toolkits) lives
  -- there, a world-writable tmpfs like /tmp.
  { "allow", { "write", "create", "delete" }, "/dev/shm/" },
  { "allow", "write", "/dev/null" },
  { "allow", "write", "/dev/tty" },
  { "allow", "write", "/dev/pts/" },
  -- The id maps of the job's own user namespaces (Chromium's, bwrap's
  -- sandboxes): written as the program, which the kernel checks (it may
  -- map only its own ids, in namespaces it made).
  { "allow", "write", "/proc/*/uid_map" },
  { "allow", "write", "/proc/*/gid_map" },
  { "allow", "write", "/proc/*/setgroups" },
}

-- An isolated program: an init script (run in the child before the
-- program) puts it in new UTS, network and IPC namespaces with the
-- hostname "sandbox", drops every capability, and applies a Landlock
-- domain in which the program may read and execute files but not create,
-- write, remove or rename anything by itself.
--
-- The policy is the capability broker: a call on a path under $WRITABLE
-- (default /tmp/sandbox-out) is performed by the supervisor with its own
-- authority (outside the Landlock domain); every other call is left to
-- the kernel, as the program, where Landlock decides.
local libc_service = require("libc_service")
local master = libc_service.master

local writable = os.getenv("WRITABLE") or "/tmp/sandbox-out"

libc_service.init = {
  script = [==[
    C.unshare(C.CLONE_NEWUTS | C.CLONE_NEWNET | C.CLONE_NEWIPC)
    C.sethostname("sandbox")

    local abi = C.landlock_create_ruleset(nil, {"version"})
    local writes = {"write_file", "remove_dir", "remove_file", "make_char",
      "make_dir", "make_reg", "make_sock", "make_fifo", "make_block",
      "make_sym"}
    if abi >= 2 then table.insert(writes, "refer") end
    if abi >= 3 then table.insert(writes, "truncate") end
    local ruleset = C.landlock_create_ruleset({handled_access_fs = writes})
    set_no_new_privs()
    C.landlock_restrict_self(ruleset)

    C.cap_set_proc("=")
  ]==],
}

local function under(path, dir)
  return path ~= nil and (path == dir or path:sub(1, #dir + 1) == dir .. "/")
end

while true do
  master:receive()
  local p1, p2 = master:resolved()
  -- rename has two paths: both must be under $WRITABLE.
  if under(p1, writable) and (master.function_ ~= "rename" or under(p2, writable)) then
    master:use_master_credentials()
  else
    master:use_slave_credentials()
  end
end

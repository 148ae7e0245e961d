-- A sandbox for a CI job (a build and its tests):
--
--   * read the system and the workspace, but not the usual secrets
--     ($HOME/.ssh, .aws, .netrc, .gnupg, cloud and registry credentials,
--     /etc/shadow, SSH host keys, the environment and memory of processes);
--   * write, create and delete only inside the workspace
--     ($SUPERVISOR_WORKSPACE, default the working directory), a private
--     /tmp and /dev/shm (fresh tmpfs only this job sees) and the directories listed
--     in $SUPERVISOR_WRITABLE (comma-separated, e.g. "$HOME/.cache"):
--     files, directories, symlinks, hard links (of files the job may
--     write), FIFOs and sockets;
--   * change modes, owners, times and extended attributes (chmod, chown,
--     utime, xattr) only there too: not on the devices a job may write
--     to (/dev/null, its terminal);
--   * connect only to loopback and to the hosts of $SUPERVISOR_ALLOW_HOSTS
--     (comma-separated names or "*.suffix": their lookups are answered
--     by the supervisor's resolver, and connects to the addresses they
--     gave are allowed); every other lookup is not found;
--   * sandbox itself as a headless browser does (new user, PID and
--     network namespaces, their id maps, a chroot), never mount anything
--     (docs/security.md, "Programs that sandbox themselves");
--   * no new privileges, no capabilities, and a Landlock backstop: the
--     program cannot write, create, remove or link anything, nor bind or
--     connect TCP sockets, nor signal processes outside the job by itself;
--     what the rules allow, the supervisor does for it.
--
-- Every allowed file call is performed by the supervisor on the objects
-- the rules were checked against, with the job's own credentials
-- (use_program_credentials, the rules' default): a path swapped after the
-- decision changes nothing, and the job can do no more than its uid,
-- groups and capabilities allow (the rules only narrow it); what it
-- creates is its own.  See docs/rules.md and the README ("Use in CI").
--
-- In a container served by `supervisor agent` (libc_service.container),
-- the runtime's namespaces and mounts take the place of the init script,
-- which cannot run in a process the runtime started: the container must
-- have no new privileges, no capabilities and its own tmpfs on /tmp and
-- /dev/shm (checked here: else it is killed), $SUPERVISOR_WORKSPACE names
-- its workspace, the secrets are those of /root and /home/*, and, with no
-- Landlock backstop, no rule leaves a call to the kernel.
-- docs/containers.md, "ci.lua in a container".
local libc_service = require "libc_service"
local rules = require "rules"

local function under(path, dir)
  return path == dir or path:sub(1, #dir + 1) == dir .. "/"
end

local container = libc_service.container
-- The helper's working directory is not the container's.
local cwd = container and "/" or rules.cwd()
local workspace = os.getenv("SUPERVISOR_WORKSPACE") or cwd
if container and not os.getenv("SUPERVISOR_WORKSPACE") then
  error("ci.lua in a container needs SUPERVISOR_WORKSPACE (the agent's environment):"
    .. " the workspace's path in the container, e.g. /workspace")
end
if workspace:sub(1, 1) ~= "/" then
  error("SUPERVISOR_WORKSPACE must be an absolute path, not " .. workspace)
end
workspace = workspace:gsub("/+$", "")
if workspace == "" or workspace == "/tmp" then
  error("the workspace cannot be / or /tmp (it is " .. (workspace == "" and "/" or workspace) .. ")")
end
if under(cwd, "/tmp") and not under(cwd, workspace) then
  -- /tmp is replaced by a private one: this directory would not exist.
  error("the working directory " .. cwd .. " is under /tmp but outside the workspace " .. workspace)
end

-- Caches and homes configured under /tmp (outside the workspace) are in
-- the job's private /tmp: empty at the start, lost at the end.  One line.
-- (Not for a container: the agent's environment is not the job's.)
if not container then
  local lost = {}
  local function check(what, path)
    path = path:gsub("/+$", "")
    if under(path, "/tmp") and not under(path, workspace) then
      lost[#lost + 1] = what .. "=" .. (path:gsub("%c", function(c)
        return ("\\x%02x"):format(c:byte())
      end))
    end
  end
  for _, var in ipairs({ "HOME", "XDG_CACHE_HOME", "CARGO_HOME", "CARGO_TARGET_DIR",
    "RUSTUP_HOME", "GOCACHE", "GOMODCACHE", "GOPATH", "npm_config_cache",
    "NPM_CONFIG_CACHE", "YARN_CACHE_FOLDER", "PIP_CACHE_DIR", "UV_CACHE_DIR" }) do
    local v = os.getenv(var)
    if v and v ~= "" then check(var, v) end
  end
  for dir in (os.getenv("SUPERVISOR_WRITABLE") or ""):gmatch("[^,]+") do
    check("SUPERVISOR_WRITABLE", dir:gsub("^%s+", ""):gsub("%s+$", ""))
  end
  if #lost > 0 then
    io.stderr:write("supervisor: ci.lua: warning: " .. table.concat(lost, ", ")
      .. ": under /tmp, which the job sees as a private, empty /tmp: what it"
      .. " writes there is lost after the run (use a directory outside /tmp)\n")
  end
end

-- The init script runs in the job's first process before it starts.
local init = {
  script = ([==[
    local WORKSPACE, CWD = %q, %q

    local function status(field)           -- a line of /proc/self/status
      local fd = C.open("/proc/self/status", C.O_RDONLY | C.O_CLOEXEC)
      local s = C.read(fd, 65536)
      C.close(fd)
      return s:match("\n" .. field .. ":%%s*([^\n]*)")
    end
    local privileged = status("CapEff") ~= "0000000000000000"

    -- A private /tmp: a new mount namespace (and, without privileges, a
    -- user namespace mapping only our own ids) with a fresh tmpfs there.
    if privileged then
      C.unshare(C.CLONE_NEWNS)
    else
      local uid = status("Uid"):match("^(%%d+)")
      local gid = status("Gid"):match("^(%%d+)")
      C.unshare(C.CLONE_NEWUSER | C.CLONE_NEWNS)
      for _, m in ipairs({{"/proc/self/setgroups", "deny"},
                          {"/proc/self/uid_map", uid .. " " .. uid .. " 1"},
                          {"/proc/self/gid_map", gid .. " " .. gid .. " 1"}}) do
        local fd = C.open(m[1], C.O_WRONLY | C.O_CLOEXEC)
        write_all(fd, m[2])
        C.close(fd)
      end
    end
    errexit = false
    local _, e = C.mount("none", "/", nil, C.MS_REC | C.MS_PRIVATE)
    errexit = true
    if e == C.EINVAL then
      error("ci.lua needs / to be a mount point (in a chroot, bind-mount " ..
            "the chroot directory onto itself first)")
    elseif e ~= 0 then
      error("making the mounts under / private failed: errno " .. e)
    end
    local keep
    if WORKSPACE:sub(1, 5) == "/tmp/" then
      keep = C.open(WORKSPACE, C.O_PATH | C.O_DIRECTORY | C.O_CLOEXEC)
    end
    C.mount("tmpfs", "/tmp", "tmpfs", C.MS_NOSUID | C.MS_NODEV, "mode=1777")
    -- And a private /dev/shm (POSIX shared memory and semaphores:
    -- multiprocessing), when the system has one.
    errexit = false
    local _, e = C.mount("tmpfs", "/dev/shm", "tmpfs",
      C.MS_NOSUID | C.MS_NODEV | C.MS_NOEXEC, "mode=1777")
    errexit = true
    if e ~= 0 and e ~= C.ENOENT then error("mounting a private /dev/shm failed") end
    if keep then
      -- A workspace under /tmp stays where it was.
      local p = "/tmp"
      for c in WORKSPACE:sub(6):gmatch("[^/]+") do
        p = p .. "/" .. c
        errexit = false
        local _, e = C.mkdir(p, mode(7, 5, 5))
        errexit = true
        if e ~= 0 and e ~= C.EEXIST then error("mkdir " .. p .. " failed") end
      end
      C.mount("/proc/self/fd/" .. keep, WORKSPACE, nil, C.MS_BIND | C.MS_REC)
      C.close(keep)
    end
    C.chdir(CWD)                             -- the directory as now mounted

    -- The Landlock backstop.
    local abi = C.landlock_create_ruleset(nil, {"version"})
    local attr = {handled_access_fs = {"write_file", "remove_dir", "remove_file",
      "make_char", "make_dir", "make_reg", "make_sock", "make_fifo", "make_block",
      "make_sym"}}
    if abi >= 2 then table.insert(attr.handled_access_fs, "refer") end
    if abi >= 3 then table.insert(attr.handled_access_fs, "truncate") end
    if abi >= 4 then attr.handled_access_net = {"bind_tcp", "connect_tcp"} end
    if abi >= 6 then attr.scoped = {"abstract_unix_socket", "signal"} end
    local ruleset = C.landlock_create_ruleset(attr)
    set_no_new_privs()
    C.landlock_restrict_self(ruleset)

    -- No capabilities, and none regained by executing as root.
    if privileged then
      C.cap_set_secbits(C.SECBIT_NOROOT | C.SECBIT_NOROOT_LOCKED
        | C.SECBIT_NO_SETUID_FIXUP | C.SECBIT_NO_SETUID_FIXUP_LOCKED
        | C.SECBIT_NO_CAP_AMBIENT_RAISE | C.SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED)
    end
    C.cap_reset_ambient()
    C.cap_set_proc("=")
  ]==]):format(workspace, cwd),
}

-- In a container, what the runtime did in its place: read from the
-- container's process (the runtime hands the listener over after its last
-- set-up step, right before exec).
local function runtime_set_up(pid)
  local function read(name)
    local f = io.open(("/proc/%d/%s"):format(pid, name))
    if not f then
      error(("ci.lua: cannot read /proc/%d/%s of the container"):format(pid, name))
    end
    local text = f:read("a") or ""
    f:close()
    return text
  end
  local status, mounts = read("status"), read("mountinfo")
  local missing = {}
  if status:match("\nNoNewPrivs:%s*(%d)") ~= "1" then
    missing[#missing + 1] = "no new privileges (process.noNewPrivileges: true)"
  end
  local held = {}
  for _, set in ipairs({ "CapPrm", "CapEff", "CapAmb" }) do
    if status:match("\n" .. set .. ":%s*(%x+)") ~= "0000000000000000" then
      held[#held + 1] = set
    end
  end
  if #held > 0 then
    missing[#missing + 1] = "no capabilities (process.capabilities empty; "
      .. table.concat(held, ", ") .. " not empty)"
  end
  for _, dir in ipairs({ "/tmp", "/dev/shm" }) do
    local private = false
    for line in mounts:gmatch("[^\n]+") do
      -- ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ... - FSTYPE SOURCE ...
      local point = line:match("^%S+ %S+ %S+ %S+ (%S+)")
      if point == dir and line:match(" %- tmpfs ") then private = true end
    end
    if not private then
      missing[#missing + 1] = "its own tmpfs on " .. dir .. " (a mounts entry)"
    end
  end
  if #missing > 0 then
    error("ci.lua in a container needs from its runtime: " .. table.concat(missing, ", "))
  end
end

if container then
  runtime_set_up(container.pid)
else
  libc_service.init = init
end
-- What no Landlock backstop bounds in a container is never left to the
-- kernel (the path would be read again from the program's memory).
local kernel = (not container) and "slave" or nil
-- The homes whose secrets are denied: the job's, or in a container every
-- user's (the agent's $HOME is not the container's).
local homes = container and { "/root", "/home/*" } or { "$HOME" }

local writable = { "write", "create", "delete" }
local ws = rules.literal(workspace)         -- a path, not a pattern
local policy = {
  errno = "EACCES",
  default = { read = "deny", write = "deny", create = "deny", delete = "deny",
              connect = "deny", bind = "deny", resolve = "deny",
              -- raw disks, loop devices, /dev/mem…: every file's content
              -- (null, zero, random, ttys and the like are not devices here)
              device = "deny" },

  -- The system and the workspace.
  { "allow", "read", "/" },
  { "allow", { "read", "write", "create", "delete" }, ws .. "/" },
  { "allow", writable, "/tmp/" },
  { "allow", writable, "/dev/shm/" },             -- the job's own (above)
}
-- Secrets (and the files that would let a job plant one: authorized_keys).
for _, home in ipairs(homes) do
  for _, rule in ipairs({
    { "deny", { "read", "write", "create", "delete" }, home .. "/.ssh/" },
    { "deny", "read", home .. "/.aws/" },
    { "deny", "read", home .. "/.azure/" },
    { "deny", "read", home .. "/.config/gcloud/" },
    { "deny", "read", home .. "/.config/gh/" },
    { "deny", "read", home .. "/.kube/" },
    { "deny", "read", home .. "/.docker/" },
    { "deny", "read", home .. "/.gnupg/" },
    { "deny", "read", home .. "/.netrc" },
    { "deny", "read", home .. "/.git-credentials" },
    { "deny", "read", home .. "/.npmrc" },
    { "deny", "read", home .. "/.pypirc" },
    { "deny", "read", home .. "/.cargo/credentials" },
    { "deny", "read", home .. "/.cargo/credentials.toml" },
  }) do
    table.insert(policy, rule)
  end
end
for _, rule in ipairs({
  { "deny", "read", "/etc/shadow" },
  { "deny", "read", "/etc/gshadow" },
  { "deny", "read", "/etc/ssh/*_key" },
  { "deny", "read", "/proc/*/environ" },
  { "deny", "read", "/proc/*/task/*/environ" },
  { "deny", "read", "/proc/*/mem" },
  { "deny", "read", "/proc/*/task/*/mem" },
  -- The id maps of the job's own user namespaces (Chromium's, bwrap's
  -- sandboxes): written as the program, which the kernel checks (it may
  -- map only its own ids, in namespaces it made).
  { "allow", "write", "/proc/*/uid_map" },
  { "allow", "write", "/proc/*/gid_map" },
  { "allow", "write", "/proc/*/setgroups" },
  -- Its namespaces (/proc/self/ns/*, reached as "user:[4026531837]"):
  -- sandboxes check them; joining one (setns) stays refused.
  { "allow", "read", "user:*" },
  { "allow", "read", "pid:*" },
  { "allow", "read", "net:*" },
  { "allow", "read", "mnt:*" },
  { "allow", "read", "ipc:*" },
  { "allow", "read", "uts:*" },
  { "allow", "read", "cgroup:*" },
  { "allow", "read", "time:*" },

  -- Devices and terminals a job writes to.
  { "allow", "write", "/dev/null" },
  { "allow", "write", "/dev/zero" },
  { "allow", "write", "/dev/full" },
  { "allow", "write", "/dev/tty" },
  { "allow", "write", "/dev/pts/" },
  -- The job's own pipes (`> /dev/stderr`, make's and rustc's jobserver
  -- reached through /proc/self/fd): opened by the kernel as the program,
  -- where Landlock keeps it from the descriptors of processes outside the
  -- job and from writing any file.
  { "allow", { "read", "write" }, "pipe:*", how = kernel },
  -- Its own pipes, sockets and anonymous files looked at through
  -- /proc/self/fd (Chromium's sandbox stats each descriptor it holds).
  { "allow", "read", "socket:*", how = kernel },
  { "allow", "read", "anon_inode:*", how = kernel },

  -- Network: loopback only (no listening on other addresses).
  { "allow", "connect", "127.0.0.0/8" },
  { "allow", "connect", "::1" },
  { "allow", "bind", "127.0.0.0/8" },
  { "allow", "bind", "::1" },
  { "allow", "bind", "0.0.0.0", port = 0 },  -- an ephemeral port for a client
  { "allow", "bind", "::", port = 0 },
  { "allow", { "connect", "bind" }, "unix:" .. ws .. "/" },
  { "allow", { "connect", "bind" }, "unix:/tmp/" },
}) do
  table.insert(policy, rule)
end

for dir in (os.getenv("SUPERVISOR_WRITABLE") or ""):gmatch("[^,]+") do
  dir = dir:gsub("^%s+", ""):gsub("%s+$", ""):gsub("/+$", "")
  table.insert(policy, { "allow", { "read", "write", "create", "delete" }, dir .. "/" })
end
for host in (os.getenv("SUPERVISOR_ALLOW_HOSTS") or ""):gmatch("[^,%s]+") do
  table.insert(policy, { "allow", "resolve", host })
  table.insert(policy, { "allow", "connect", "name:" .. host })
end

-- Metadata (chmod, chown, utime, xattr; checked as "write"): only in the
-- places the job owns, not wherever it may write (/dev/null, /dev/pts/).
local metadata = {
  errno = "EACCES",
  default = { write = "deny" },
  { "allow", "write", ws .. "/" },
  { "allow", "write", "/tmp/" },
  { "allow", "write", "/dev/shm/" },
}
for _, home in ipairs(homes) do
  table.insert(metadata, { "deny", "write", home .. "/.ssh/" })
end
for dir in (os.getenv("SUPERVISOR_WRITABLE") or ""):gmatch("[^,]+") do
  dir = dir:gsub("^%s+", ""):gsub("%s+$", ""):gsub("/+$", "")
  table.insert(metadata, { "allow", "write", dir .. "/" })
end

-- supervisor run -v: what this run allows, in one line.
if libc_service.verbose then
  local function list(var, sep)
    local t = {}
    for x in (os.getenv(var) or ""):gmatch(sep) do
      t[#t + 1] = (x:gsub("^%s+", ""):gsub("%s+$", ""):gsub("%c", "?"))
    end
    return #t > 0 and table.concat(t, ",") or "none"
  end
  io.stderr:write(("supervisor: ci.lua: workspace %s; writable also %s; hosts %s;"
    .. " a private /tmp and /dev/shm\n"):format((workspace:gsub("%c", "?")),
    list("SUPERVISOR_WRITABLE", "[^,]+"), list("SUPERVISOR_ALLOW_HOSTS", "[^,%s]+")))
end

local files, attrs = rules.policy(policy), rules.policy(metadata)
---@type table<string, boolean>
local METADATA = { chmod = true, chown = true, utime = true, xattr = true }
local master = libc_service.master
while true do
  master:receive()
  if METADATA[master.function_] then
    attrs:answer()
  else
    files:answer()
  end
end

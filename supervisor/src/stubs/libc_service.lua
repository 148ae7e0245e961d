---@meta libc_service
-- LuaLS type definitions of supervisor's policy API (written by
-- `supervisor stubs DIR`; see supervisor-policy(5), docs/policy.md).

---@alias libc_service.Function
---| "open" | "openat" | "unlink" | "rename" | "stat" | "lstat" | "access" | "eaccess" | "mkdir" | "rmdir"
---| "chmod" | "chown" | "utime" | "truncate" | "xattr" | "symlink" | "link" | "mknod" | "exec"
---| "connect_unix" | "connect_inet" | "connect_inet6" | "bind_unix" | "bind_inet" | "bind_inet6" | "getaddrinfo"

---A stat answer: every field optional (missing: 0).
---@class libc_service.Stat
---@field dev? integer
---@field ino? integer
---@field mode? integer
---@field type? "regular"|"directory"|"symlink"|"block"|"character"|"fifo"|"socket"
---@field nlink? integer
---@field uid? integer
---@field gid? integer
---@field rdev? integer
---@field size? integer
---@field atime? number|integer[]
---@field mtime? number|integer[]
---@field ctime? number|integer[]
---@field blksize? integer
---@field blocks? integer

---The current request of the program, and how to answer it.
---@class libc_service.Master
---@field function_ libc_service.Function the current request
---@field tid integer the calling thread's id (extension)
---@field syscall string the kernel's name of the trapped syscall (extension)
local Master = {}

---Waits for the next request and makes it current; the first call starts
---the program.  Does not return once the program has exited.
---@return libc_service.Function function_
function Master:receive() end

---The call's arguments as the spec lists them (path, flag names, mode…).
---@return any ...
function Master:arguments() end

---The canonical path of each path argument in the program's view, or
---`nil, "ENAME"` when one cannot be resolved.
---@return string|nil path
---@return string|nil path2_or_errno
function Master:resolved() end

---The directory descriptor of an `*at` call (returned once).
---@return host.Descriptor|nil
function Master:descriptors() end

---Answers the current request: a result (a table for stat), or a result
---and an errno (`-1, "EACCES"`).
---@param result integer|libc_service.Stat|string|table
---@param errno? integer|string
function Master:send(result, errno) end

---Answers with descriptors installed in the program (open returns the first).
---@param result integer
---@param fds host.Descriptor[]
---@param errno? integer|string
function Master:send_with_fds(result, fds, errno) end

---The kernel performs the call as the program (not a decision on the path).
function Master:use_slave_credentials() end

---The supervisor performs exactly the call the policy saw, race-free.
function Master:use_master_credentials() end

---The supervisor performs exactly the call the policy saw, race-free, with
---the program thread's credentials (its permissions, owner and group).
function Master:use_program_credentials() end

---For an open of a block or character device: `"block"` or `"char"`.
---@return "block"|"char"|nil
function Master:device() end

---Describes the next answer in the audit log (`--log`, `--summary`).
---@param text string
function Master:describe(text) end

---A real function of a slave filter: the call going on with these arguments.
---@alias libc_service.RealFunction fun(...: any): any, any, any

---Per-function filters in front of the master: a function
---`filter(real_X, args…)` or a string holding a Lua chunk (see docs/slave.md).
---@class libc_service.Slave
---@field open? string|fun(real_open: libc_service.RealFunction, path: string, flags: integer, mode?: integer): any, any, any
---@field openat? string|fun(real_openat: libc_service.RealFunction, dirfd: integer, path: string, flags: integer, mode: integer, resolve: string[]): any, any, any
---@field unlink? string|fun(real_unlink: libc_service.RealFunction, path: string): any, any, any
---@field rmdir? string|fun(real_rmdir: libc_service.RealFunction, path: string): any, any, any
---@field stat? string|fun(real_stat: libc_service.RealFunction, path: string): any, any, any
---@field lstat? string|fun(real_lstat: libc_service.RealFunction, path: string): any, any, any
---@field rename? string|fun(real_rename: libc_service.RealFunction, path1: string, path2: string): any, any, any
---@field access? string|fun(real_access: libc_service.RealFunction, path: string, amode: integer): any, any, any
---@field eaccess? string|fun(real_eaccess: libc_service.RealFunction, path: string, amode: integer): any, any, any
---@field mkdir? string|fun(real_mkdir: libc_service.RealFunction, path: string, mode: integer): any, any, any
---@field chmod? string|fun(real_chmod: libc_service.RealFunction, path: string, mode: integer): any, any, any
---@field chown? string|fun(real_chown: libc_service.RealFunction, path: string, uid: integer, gid: integer): any, any, any
---@field utime? string|fun(real_utime: libc_service.RealFunction, path: string): any, any, any
---@field truncate? string|fun(real_truncate: libc_service.RealFunction, path: string, length: integer): any, any, any
---@field xattr? string|fun(real_xattr: libc_service.RealFunction, path: string): any, any, any
---@field symlink? string|fun(real_symlink: libc_service.RealFunction, target: string, path: string): any, any, any
---@field link? string|fun(real_link: libc_service.RealFunction, path1: string, path2: string): any, any, any
---@field mknod? string|fun(real_mknod: libc_service.RealFunction, path: string, mode: integer): any, any, any
---@field exec? string|fun(real_exec: libc_service.RealFunction, path: string): any, any, any
---@field connect_unix? string|fun(real_connect: libc_service.RealFunction, fd: integer, path: string): any, any, any
---@field bind_unix? string|fun(real_bind: libc_service.RealFunction, fd: integer, path: string): any, any, any
---@field connect_inet? string|fun(real_connect: libc_service.RealFunction, fd: integer, addr: integer[], port: integer): any, any, any
---@field bind_inet? string|fun(real_bind: libc_service.RealFunction, fd: integer, addr: integer[], port: integer): any, any, any
---@field connect_inet6? string|fun(real_connect: libc_service.RealFunction, fd: integer, addr: integer[], port: integer, scope_id: integer): any, any, any
---@field bind_inet6? string|fun(real_bind: libc_service.RealFunction, fd: integer, addr: integer[], port: integer, scope_id: integer): any, any, any
---@field getaddrinfo? string|fun(real_getaddrinfo: libc_service.RealFunction, node: string, service: nil, protocol: nil): any, any, any

---An init script run in the program's process before its filter and execve.
---@class libc_service.Init
---@field script string the init script's Lua source
---@field arg? host.Descriptor a descriptor the script sees as `arg`

---@class libc_service
---@field master libc_service.Master
---@field slave libc_service.Slave
---@field init? libc_service.Init set before the first master:receive()
---@field families? string[] socket families allowed besides unix, inet, inet6 and netlink ("vsock", …), set before the first master:receive()
---@field errno errno errno names → numbers
---@field verbose boolean `supervisor run -v` was given (extension)
---@field container? libc_service.Container the container served by `supervisor agent`, nil under `supervisor run` (extension)
local libc_service = {}

---A container served by `supervisor agent` (extension).
---@class libc_service.Container
---@field id string the container's id, as its runtime sent it
---@field pid integer its process, in the agent's pid namespace (read its /proc/PID files)

return libc_service

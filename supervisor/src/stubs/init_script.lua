---@meta init_script
-- The globals of an init script (docs/init-script.md) and the `C` table,
-- which slave filters see too (its constants and `C.dup2`).
-- Each C function returns its result and an errno (0 on success); with
-- `errexit = true` (the init script's default) a failure ends the script.

---@class C
--@@CONSTANTS@@
C = {}

---@param fd integer
---@param size integer
---@return string|integer data
---@return integer errno
function C.read(fd, size) end
---@param fd integer
---@param s string
---@return integer count
---@return integer errno
function C.write(fd, s) end
---@param fd integer
---@return integer result
---@return integer errno
function C.close(fd) end
---@param path string
---@param flags integer
---@param mode? integer
---@return integer fd
---@return integer errno
function C.open(path, flags, mode) end
---@param path string
---@param mode integer
---@return integer result
---@return integer errno
function C.mkdir(path, mode) end
---@param path string
---@return integer result
---@return integer errno
function C.chdir(path) end
---@param path string
---@param mode integer
---@return integer result
---@return integer errno
function C.mkfifo(path, mode) end
---@param path string
---@param mode integer
---@param dev integer
---@return integer result
---@return integer errno
function C.mknod(path, mode, dev) end
---@param major integer
---@param minor integer
---@return integer dev
---@return integer errno
function C.makedev(major, minor) end
---@param old string
---@param new string
---@return integer result
---@return integer errno
function C.link(old, new) end
---@param target string
---@param linkpath string
---@return integer result
---@return integer errno
function C.symlink(target, linkpath) end
---@param path string
---@param uid integer
---@param gid integer
---@return integer result
---@return integer errno
function C.chown(path, uid, gid) end
---@param path string
---@param mode integer
---@return integer result
---@return integer errno
function C.chmod(path, mode) end
---@param mask integer
---@return integer previous
---@return integer errno
function C.umask(mask) end
---@param source string|nil
---@param target string
---@param fstype string|nil
---@param flags? integer
---@param data? string
---@return integer result
---@return integer errno
function C.mount(source, target, fstype, flags, data) end
---@param target string
---@return integer result
---@return integer errno
function C.umount(target) end
---@param target string
---@param flags integer
---@return integer result
---@return integer errno
function C.umount2(target, flags) end
---@param new_root string
---@param put_old string
---@return integer result
---@return integer errno
function C.pivot_root(new_root, put_old) end
---@param path string
---@return integer result
---@return integer errno
function C.chroot(path) end
---@return integer result
---@return integer errno
function C.setsid() end
---@param pid integer
---@param pgid integer
---@return integer result
---@return integer errno
function C.setpgid(pid, pgid) end
---@param r integer
---@param e integer
---@param s integer
---@return integer result
---@return integer errno
function C.setresuid(r, e, s) end
---@param r integer
---@param e integer
---@param s integer
---@return integer result
---@return integer errno
function C.setresgid(r, e, s) end
---@param list integer[]
---@return integer result
---@return integer errno
function C.setgroups(list) end
---@param name string
---@return integer result
---@return integer errno
function C.sethostname(name) end
---@param name string
---@return integer result
---@return integer errno
function C.setdomainname(name) end
---@param text string libcap's cap_from_text, e.g. "=" (clear every set)
---@return integer result
---@return integer errno
function C.cap_set_proc(text) end
---@param name string
---@return integer result
---@return integer errno
function C.cap_drop_bound(name) end
---@param name string
---@param on boolean
---@return integer result
---@return integer errno
function C.cap_set_ambient(name, on) end
---@return integer result
---@return integer errno
function C.cap_reset_ambient() end
---@param bits integer
---@return integer result
---@return integer errno
function C.cap_set_secbits(bits) end
---@param flags integer CLONE_NEW* bits
---@return integer result
---@return integer errno
function C.unshare(flags) end
---@param fd integer
---@param nstype? integer
---@return integer result
---@return integer errno
function C.setns(fd, nstype) end
---@param path string
---@param argv string[]
---@param envp string[]
---@return integer result
---@return integer errno
function C.execve(path, argv, envp) end
---@param fd integer
---@param argv string[]
---@param envp string[]
---@return integer result
---@return integer errno
function C.fexecve(fd, argv, envp) end
---@param bytes string struct sock_filter array (see seccomp_compile)
---@return integer result
---@return integer errno
function C.seccomp_set_mode_filter(bytes) end

---@alias C.LandlockRight
---| "execute" | "write_file" | "read_file" | "read_dir" | "remove_dir" | "remove_file" | "make_char"
---| "make_dir" | "make_reg" | "make_sock" | "make_fifo" | "make_block" | "make_sym" | "refer"
---| "truncate" | "ioctl_dev" | "bind_tcp" | "connect_tcp" | "abstract_unix_socket" | "signal"

---@class C.LandlockRuleset
---@field handled_access_fs? C.LandlockRight[]
---@field handled_access_net? C.LandlockRight[]
---@field scoped? C.LandlockRight[]

---@class C.LandlockRule
---@field allowed_access C.LandlockRight[]
---@field parent_fd? integer path_beneath
---@field port? integer net_port

---@param attr C.LandlockRuleset|nil
---@param flags? "version"[]
---@return integer fd_or_abi
---@return integer errno
function C.landlock_create_ruleset(attr, flags) end
---@param fd integer
---@param type "path_beneath"|"net_port"
---@param attr C.LandlockRule
---@return integer result
---@return integer errno
function C.landlock_add_rule(fd, type, attr) end
---@param fd integer
---@param flags? string[]
---@return integer result
---@return integer errno
function C.landlock_restrict_self(fd, flags) end
---FreeBSD only: -1, ENOSYS.
---@return integer result
---@return integer errno
function C.cap_enter(...) end
---FreeBSD only: -1, ENOSYS.
---@return integer result
---@return integer errno
function C.jail_attach(...) end
---FreeBSD only: -1, ENOSYS.
---@return integer result
---@return integer errno
function C.jail_set(...) end
---FreeBSD only: -1, ENOSYS.
---@return integer result
---@return integer errno
function C.unmount(...) end
---Slave filters only: installs `descriptor` at the program's descriptor `fd`.
---@param descriptor host.Descriptor
---@param fd integer
---@return integer fd
---@return integer errno
function C.dup2(descriptor, fd) end

---Init script: the descriptor number of `--init-arg` / `libc_service.init.arg`, or nil.
---@type integer|nil
arg = nil

---Whether a failing C call ends the script (init script: true; filters: false).
---@type boolean
errexit = true

---Init script: a mode from its user, group and other digits.
---@param user integer
---@param group integer
---@param other integer
---@return integer
function mode(user, group, other) end

---Init script: writes all of `s` to `fd`.
---@param fd integer
---@param s string
---@return integer count
---@return integer errno
function write_all(fd, s) end

---Init script: sends `s` on the socket `fd`, with the descriptor `fd2`.
---@param fd integer
---@param s string
---@param fd2? integer
---@return integer count
---@return integer errno
function send_with_fd(fd, s, fd2) end

---Init script: receives up to `size` bytes and a descriptor.
---@param fd integer
---@param size integer
---@return string|nil data
---@return integer fd
---@return integer errno
function receive_with_fd(fd, size) end

---Init script: sets no_new_privs.
---@return integer result
---@return integer errno
function set_no_new_privs() end

---@alias SeccompAction "allow"|"kill"|"kill_process"|"kill_thread"|"trap"|"log"|string

---Init script: a seccomp filter (for C.seccomp_set_mode_filter).
---@param default SeccompAction
---@param rules? table<string, SeccompAction>
---@return string bytes
function seccomp_compile(default, rules) end

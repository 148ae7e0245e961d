---@meta host
-- Descriptors made with the supervisor's authority (docs/policy.md, docs/network.md).

---A descriptor held by the policy.
---@class host.Descriptor
local Descriptor = {}

---Writes all of `s`; returns the count.
---@param s string
---@return integer|nil count
---@return string? errno
function Descriptor:write(s) end

---Reads up to `n` bytes (default 65536); `""` at end of file.
---@param n? integer
---@return string|nil data
---@return string? errno
function Descriptor:read(n) end

---Closes the descriptor.
function Descriptor:close() end

---The descriptor's number in the supervisor.
---@return integer
function Descriptor:fileno() end

---@alias host.OpenFlag
---| "read_only" | "write_only" | "read_write" | "append" | "create" | "directory" | "exclusive"
---| "no_follow" | "path" | "sync_all_on_write" | "temporary" | "truncate" | "close_on_exec"
---| "non_blocking" | "no_ctty" | "no_atime" | "data_sync"

---@class host
local host = {}

---Opens `path` with the supervisor's authority.
---@param path string
---@param flags host.OpenFlag[]|integer
---@param mode? integer default 0644
---@return host.Descriptor|nil
---@return string? errno
function host.open(path, flags, mode) end

---A read-only (sealed) in-memory file holding `content`.
---@param content? string
---@return host.Descriptor|nil
---@return string? errno
function host.memfd(content) end

---A pipe: read end, write end.
---@return host.Descriptor|nil read_end
---@return host.Descriptor|string|nil write_end_or_errno
function host.pipe() end

---Two connected unix sockets.
---@param type? "stream"|"dgram"|"seqpacket"
---@return host.Descriptor|nil
---@return host.Descriptor|string|nil
function host.socketpair(type) end

---A socket.
---@param family "inet"|"inet6"|"unix"
---@param type? "stream"|"dgram"|"seqpacket"
---@return host.Descriptor|nil
---@return string? errno
function host.socket(family, type) end

---Connects `d`; without `port`, `address` is a unix path (`"\0name"`: abstract).
---@param d host.Descriptor
---@param address string
---@param port? integer
---@return true|nil
---@return string? errno
function host.connect(d, address, port) end

---Binds `d` (as connect).
---@param d host.Descriptor
---@param address string
---@param port? integer
---@return true|nil
---@return string? errno
function host.bind(d, address, port) end

---@param d host.Descriptor
---@param backlog? integer
---@return true|nil
---@return string? errno
function host.listen(d, backlog) end

---@param d host.Descriptor
---@return host.Descriptor|nil
---@return string? errno
function host.accept(d) end

---The socket's address and port (a unix path alone).
---@param d host.Descriptor
---@return string|nil address
---@return integer|string|nil port_or_errno
function host.getsockname(d) end

return host

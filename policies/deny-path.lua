-- Deny one path, broker everything else.
--
-- The decision is taken on master:resolved(), the canonical path in the
-- program's view (symlinks followed as the call follows them), never on
-- the literal argument: "/tmp/x/../../etc/shadow" or a symlink to it
-- resolve to "/etc/shadow".  Allowed calls are performed by the
-- supervisor on exactly the objects that were resolved
-- (use_master_credentials), so a symlink swapped after the decision
-- cannot redirect them.
--
-- DENY (default /etc/shadow) names the denied file or directory (and all
-- below it).  A rename of one of its ancestors would move it to a name not
-- denied (/x to /x.moved, then /x.moved/secret): renaming an ancestor is
-- denied too.
local master = require("libc_service").master
local denied = os.getenv("DENY") or "/etc/shadow"

local function is_denied(path)
  return path ~= nil
    and (path == denied or path:sub(1, #denied + 1) == denied .. "/")
end

-- Is `path` a directory above the denied path?
local function holds_denied(path)
  if path == nil then return false end
  local dir = path == "/" and "/" or path .. "/"
  return denied:sub(1, #dir) == dir
end

while true do
  local f = master:receive()
  local p1, p2 = master:resolved()
  if is_denied(p1) or is_denied(p2)
    or (f == "rename" and (holds_denied(p1) or holds_denied(p2))) then
    master:send(-1, "EACCES")
  else
    master:use_master_credentials()
  end
end

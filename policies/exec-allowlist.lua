-- Exec allow-list: the program runs only files (and script interpreters)
-- under the directories of $EXEC_ALLOW (colon-separated; default
-- "/usr:/bin:/sbin:/lib:/lib64"); any other exec fails with EACCES and is
-- recorded as a denial.  Everything else is left to the kernel.
--
-- An allowed exec is answered use_master_credentials: the kernel runs the
-- file with the program's credentials and the supervisor verifies, at the
-- exec event, that the new image is the file decided on (a path swapped
-- after the decision is killed before it runs: docs/security.md, "Exec").
-- resolved() gives the file and, for a #! script, its interpreter: both
-- must be allowed.
local master = require("libc_service").master

local dirs = {}
for d in (os.getenv("EXEC_ALLOW") or "/usr:/bin:/sbin:/lib:/lib64"):gmatch("[^:]+") do
  table.insert(dirs, (d:gsub("/+$", "")))
end

local function allowed(path)
  for _, d in ipairs(dirs) do
    if d == "" or path == d or path:sub(1, #d + 1) == d .. "/" then
      return true
    end
  end
  return false
end

while true do
  if master:receive() == "exec" then
    local paths = { master:resolved() }
    local ok = paths[1] ~= nil
    for _, p in ipairs(paths) do
      -- After the paths: an errno name when one did not resolve.
      if p:sub(1, 1) == "/" and not allowed(p) then
        ok = false
      end
    end
    if ok or paths[1] == nil then
      -- A path that did not resolve fails with its errno.
      master:use_master_credentials()
    else
      master:describe("exec outside EXEC_ALLOW")
      master:send(-1, "EACCES")
    end
  else
    master:use_slave_credentials()
  end
end

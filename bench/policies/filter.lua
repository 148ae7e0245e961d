-- bench: slave filters only, no master loop (the fast path): open and
-- stat deny one path and pass every other call on with real_X, which,
-- without a master loop, is use_slave_credentials (CONTINUE).  The same
-- logic as filter-master.lua.
local slave = require("libc_service").slave
local DENY = "/nonexistent/denied"

slave.open = function(real_open, path, flags, mode)
  if path == DENY then
    return -1, C.EACCES
  end
  return real_open(path, flags, mode)
end

slave.stat = function(real_stat, path)
  if path == DENY then
    return -1, C.EACCES
  end
  return real_stat(path)
end

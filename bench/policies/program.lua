-- bench: as master.lua, but every request is performed with the program's
-- own credentials (use_program_credentials): the same work plus reading
-- them from /proc/<tid>/status and, when they are not the supervisor's,
-- handing the call to an acting thread that holds them (opens and stats:
-- submitting it on an io_uring with a personality of them).
local master = require("libc_service").master

while true do
  master:receive()
  master:use_program_credentials()
end

-- bench: as master.lua, but every request is performed with the program's
-- own credentials (use_program_credentials): the same work plus finding
-- them (read once per thread, then kept: a poll of its pidfd per call)
-- and, when they are not the supervisor's, performing the call through an
-- io_uring personality of them (opens; stats: the lookup) or, for other
-- calls, handing it to an acting thread that holds them.
local master = require("libc_service").master

while true do
  master:receive()
  master:use_program_credentials()
end

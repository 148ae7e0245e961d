-- bench: as master.lua, but every request is performed with the program's
-- own credentials (use_program_credentials): the same work plus reading
-- them from /proc/<tid>/status and, when they are not the supervisor's,
-- taking them on the acting thread for the call and back.
local master = require("libc_service").master

while true do
  master:receive()
  master:use_program_credentials()
end

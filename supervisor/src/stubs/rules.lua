---@meta rules
-- Declarative rules (docs/rules.md).

---@alias rules.Kind "read"|"write"|"create"|"delete"|"connect"|"bind"|"resolve"|"device"
---@alias rules.Action "allow"|"deny"

---A rule: `{ action, kind, pattern, errno = …, port = …, how = …, exact = … }`.
---@class rules.Rule
---@field [1] rules.Action
---@field [2] rules.Kind|rules.Kind[]
---@field [3] string the pattern (path, glob, address, CIDR, name, `name:`, `unix:`)
---@field errno? string|integer
---@field port? integer|integer[]
---@field how? "program"|"master"|"slave"
---@field exact? boolean a pattern ending in `/` matches the directory alone, not what is below it

---@alias rules.Default rules.Action|{ [1]: rules.Action, errno?: string|integer, how?: "master"|"slave" }

---The table: defaults per kind and the rules, in order.
---@class rules.Table
---@field errno? string|integer the errno of denials without one (default EACCES)
---@field untrapped? "allowed everywhere"|false `rules.run` only: the calls that need only kinds allowed on every path as the program are left to the kernel, untrapped (not requests, not logged; docs/rules.md "Untrapped calls")
---@field default? rules.Action|{ read?: rules.Default, write?: rules.Default, create?: rules.Default, delete?: rules.Default, connect?: rules.Default, bind?: rules.Default, resolve?: rules.Default }
---@field [integer] rules.Rule

---A compiled rules table, for a loop of one's own.
---@class rules.Policy
local Policy = {}

---Decides the current request and answers it; returns the decision's description.
---@return string
function Policy:answer() end

---Decides without answering.
---@return "allow"|"deny"|"fail" action
---@return string|nil errno
---@return string description
---@return "master"|"slave"|nil how
function Policy:decide() end

---The rule for a canonical path, an address (with port), `"unix:PATH"` or a name.
---@param kind rules.Kind
---@param subject string
---@param port? integer
---@return rules.Action action
---@return string description
function Policy:match(kind, subject, port) end

---@class rules
local rules = {}

---Compiles `t` and answers every request with it; never returns.
---@param t rules.Table
function rules.run(t) end

---Compiles `t`.
---@param t rules.Table
---@return rules.Policy
function rules.policy(t) end

---Runs the policy `base` (a ready policy's name such as `"ci"`, or a file),
---every rules table it compiles completed by `t`'s rules where it has no rule
---of its own (they never override one of its rules).  What `supervisor learn
-----base` writes.
---@param base string
---@param t rules.Table
function rules.extend(base, t) end

---The supervisor's working directory, canonical.
---@return string
function rules.cwd() end

---`path` as a pattern that matches it literally.
---@param path string
---@return string
function rules.literal(path) end

return rules

"""Argo CD's Lua health VM, emulated: lupa's Lua 5.1 sandboxed like gopher-lua without libraries.

Used by the unit tests of the health scripts and by the end-to-end test, which runs them on the
real objects the operator reconciled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lupa import lua51

ARGO_STATUSES = {"Healthy", "Progressing", "Degraded", "Suspended"}
HEALTH_SCRIPTS = Path(__file__).resolve().parents[2] / "manifests" / "gitops" / "argocd" / "health"


def health_script(kind: str) -> str:
    return (HEALTH_SCRIPTS / f"{kind}.lua").read_text()


_SANDBOX = """
function(script, name, obj)
  local env = {
    obj = obj, assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs,
    pcall = pcall, rawequal = rawequal, rawget = rawget, rawset = rawset, select = select,
    setmetatable = setmetatable, getmetatable = getmetatable, tonumber = tonumber,
    tostring = tostring, type = type, unpack = unpack, xpcall = xpcall, table = table,
    os = {time = os.time, date = os.date, clock = os.clock},
  }
  local chunk, err = loadstring(script, "=" .. name)
  if chunk == nil then
    error(err)
  end
  setfenv(chunk, env)
  return chunk()
end
"""


class ArgoLua:
    """A Lua 5.1 runtime shaped like Argo CD's health-check VM."""

    def __init__(self) -> None:
        self.lua = lua51.LuaRuntime(register_eval=False, register_builtins=False)
        # gopher-lua without the string library has no string metatable: `("x"):upper()` fails.
        self.lua.execute('getmetatable("").__index = nil')
        self._run = self.lua.eval(_SANDBOX)

    def table(self, value: Any) -> Any:
        """Python JSON-shaped data as Lua values; JSON null (None) becomes an absent key, as in Argo CD."""
        if isinstance(value, dict):
            return self.lua.table_from({k: self.table(v) for k, v in value.items() if v is not None})
        if isinstance(value, list):
            return self.lua.table_from([self.table(v) for v in value])
        return value

    def health(self, script: str, name: str, obj: dict[str, Any]) -> tuple[str, str]:
        result = self._run(script, name, self.table(obj))
        status, message = result["status"], result["message"]
        assert set(result.keys()) <= {"status", "message"}
        assert status in ARGO_STATUSES, status
        assert isinstance(message, str), message
        return status, message

-- Argo CD health check for tradeplane.io/Model.
-- Source of truth for the resource.customizations.health.tradeplane.io_Model key in
-- ../argocd-cm.yaml (kept byte for byte equal; tests/unit/test_argocd_health.py checks both).
-- Argo CD sets the global `obj`; only the base and table libraries are loaded (no string library),
-- and the VM is Lua 5.1 (gopher-lua). Follows kstatus: observedGeneration, Stalled, Reconciling, Ready.
local function text(value, fallback)
  if value ~= nil and value ~= "" then
    return value
  end
  return fallback
end

local function condition(status, wanted)
  if status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == wanted then
      return c
    end
  end
  return nil
end

local function explain(c, fallback)
  if c == nil then
    return fallback
  end
  return text(c.message, text(c.reason, fallback))
end

local status = obj.status
local generation = obj.metadata.generation
if status == nil then
  return {status = "Progressing", message = "Waiting for the tradeplane operator to observe the Model"}
end
if status.observedGeneration == nil or status.observedGeneration ~= generation then
  return {
    status = "Progressing",
    message = "Waiting for the tradeplane operator to observe generation " .. tostring(generation),
  }
end

local stalled = condition(status, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  return {status = "Degraded", message = explain(stalled, "Stalled")}
end

local reconciling = condition(status, "Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  return {status = "Progressing", message = explain(reconciling, "Reconciling")}
end

local ready = condition(status, "Ready")
if ready ~= nil and ready.status == "True" then
  if ready.observedGeneration ~= nil and ready.observedGeneration ~= generation then
    return {status = "Progressing", message = "Ready condition is from an earlier generation"}
  end
  return {status = "Healthy", message = explain(ready, "Ready")}
end
return {status = "Progressing", message = explain(ready, "Waiting for the Ready condition")}

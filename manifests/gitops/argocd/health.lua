-- Argo CD health check for readygate.io/ReadinessCheck (Lua 5.1, as Argo CD runs it).
--
-- Install it as resource.customizations.health.readygate.io_ReadinessCheck in argocd-cm
-- (argocd-cm.yaml beside this file). Reads the kstatus-style status the operator writes:
--   being deleted (deletionTimestamp set, the finalizer holds it) -> Progressing
--   no status, generation not observed, Reconciling=True, phase Pending/Deploying/Verifying
--     -> Progressing
--   Stalled=True, Ready=False, phase Failed, Error or Inconclusive -> Degraded
--   Ready=True (verdict Passed, or Conditional = passed with warnings) -> Healthy
-- A periodic re-check keeps Ready=True and raises no Reconciling, so it stays Healthy.
-- Uses only what Argo CD opens for health scripts (base and table; no string, math or os).
-- Test cases: health_test.yaml and testdata/ (objects captured from a real cluster), run in
-- gopher-lua as Argo CD runs it by tests/gitops/argocd_test.go, and with lua5.1 by
-- tests/monitoring/test_argocd_health.py.

local hs = {}

local function condition(status, ctype)
  if status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == ctype then
      return c
    end
  end
  return nil
end

local function first(...)
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    if v ~= nil and v ~= "" then
      return v
    end
  end
  return nil
end

local failing = {Failed = true, Error = true, Inconclusive = true}

-- Argo CD itself reports a resource being deleted as Progressing "Pending deletion" without
-- running the health script; the script says the same wherever it runs. (The API server
-- also bumps metadata.generation when it sets deletionTimestamp, so the generation check below
-- would wait for a generation no operator ever observes.)
if obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Pending deletion"
  return hs
end

local status = obj.status
if status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for readygate to start the check"
  return hs
end

local generation = obj.metadata and obj.metadata.generation
if generation ~= nil and status.observedGeneration ~= generation then
  hs.status = "Progressing"
  hs.message = "Waiting for readygate to observe generation " .. tostring(generation)
  return hs
end

local ready = condition(status, "Ready")
local stalled = condition(status, "Stalled")
local reconciling = condition(status, "Reconciling")

if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = first(stalled.message, status.summary, "Stalled")
  return hs
end

if failing[status.phase] then
  hs.status = "Degraded"
  hs.message = first(status.summary, ready and ready.message, status.phase)
  return hs
end

if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = first(reconciling.message, status.summary, "Reconciling")
  return hs
end

if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  if status.verdict == "Conditional" or ready.reason == "Conditional" then
    local warnings = status.warnings
    if type(warnings) == "table" and #warnings > 0 then
      hs.message = "Conditional: passed with warnings: " .. table.concat(warnings, "; ")
    else
      hs.message = first(status.summary, ready.message, "Conditional: passed with warnings")
    end
  else
    hs.message = first(ready.message, status.summary, "Passed")
  end
  return hs
end

if ready ~= nil and ready.status == "False" then
  hs.status = "Degraded"
  hs.message = first(ready.message, status.summary, "Not ready")
  return hs
end

hs.status = "Progressing"
hs.message = first(status.summary, "Waiting for a verdict")
return hs

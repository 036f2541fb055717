-- Argo CD health check for arcgis.tokenoperator.dev/ArcGISToken.
--
-- Install it as resource.customizations.health.arcgis.tokenoperator.dev_ArcGISToken
-- in argocd-cm (see argocd-cm-patch.yaml beside this file).
--
-- Argo CD runs custom scripts with the base and table libraries and a safe os
-- (os.time, os.date) only: no string or math library, so this script uses
-- neither.
--
--   Suspended    spec.suspend is true
--   Progressing  no status yet, the status is from an older generation, the
--                first token is being issued (Reconciling=True), or the
--                service is unreachable before any token was stored
--   Degraded     Stalled=True (a person must act), or Ready=False for a
--                reason that will not clear by itself, or the stored token
--                expired or was revoked and no new one is stored yet
--   Healthy      Ready=True: the Secret holds a usable token (a failing
--                renewal is named in the message; the old token still works)

local hs = {}

-- Issuing=True reasons that are work in progress rather than a failure.
local issuingInProgress = {
  Issuing = true,
  Renewing = true,
  Revoked = true,
  SpecChanged = true,
  CredentialsChanged = true,
  ManualRenew = true,
  SecretMissing = true,
}

-- Ready=False reasons that clear by themselves while no token was ever
-- stored: the work in progress above, and an unreachable service.
local transient = { ServiceUnavailable = true }
for reason in pairs(issuingInProgress) do
  transient[reason] = true
end

local function findCondition(status, conditionType)
  if status == nil or status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == conditionType then
      return c
    end
  end
  return nil
end

-- "Reason: message", leaving out whichever is empty.
local function describe(c)
  local text = ""
  if c.reason ~= nil and c.reason ~= "" then
    text = c.reason
  end
  if c.message ~= nil and c.message ~= "" then
    if text ~= "" then
      text = text .. ": "
    end
    text = text .. c.message
  end
  if text == "" then
    text = tostring(c.type) .. " is " .. tostring(c.status)
  end
  return text
end

local status = obj.status
local ready = findCondition(status, "Ready")

if obj.spec ~= nil and obj.spec.suspend == true then
  hs.status = "Suspended"
  hs.message = "Suspended (spec.suspend): the token is neither issued nor renewed"
  if ready ~= nil and ready.message ~= nil and ready.message ~= "" then
    hs.message = hs.message .. "; " .. ready.message
  end
  return hs
end

if status == nil or status.conditions == nil or #status.conditions == 0 then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report the token's status"
  return hs
end

local generation = 0
if obj.metadata ~= nil and obj.metadata.generation ~= nil then
  generation = obj.metadata.generation
end
local observed = status.observedGeneration
if observed == nil and ready ~= nil then
  observed = ready.observedGeneration
end
if observed == nil then
  observed = 0
end
if observed < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to act on generation " .. tostring(generation) ..
    " (status is from generation " .. tostring(observed) .. ")"
  return hs
end

local stalled = findCondition(status, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled)
  return hs
end

if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message or "The Secret holds a usable token"
  local issuing = findCondition(status, "Issuing")
  if issuing ~= nil and issuing.status == "True" and issuing.reason ~= nil and
      not issuingInProgress[issuing.reason] then
    hs.message = hs.message .. "; renewal failing (the current token still works): " .. describe(issuing)
  end
  return hs
end

if ready ~= nil and ready.status == "False" then
  if not transient[ready.reason] then
    hs.status = "Degraded"
    hs.message = describe(ready)
    return hs
  end
  if status.expiresAt ~= nil then
    -- A token was stored and is no longer usable: its consumers are failing.
    hs.status = "Degraded"
    hs.message = "The stored token (expiry " .. status.expiresAt .. ") is no longer usable; " .. describe(ready)
    return hs
  end
  hs.status = "Progressing"
  hs.message = describe(ready)
  return hs
end

local reconciling = findCondition(status, "Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = describe(reconciling)
  return hs
end

hs.status = "Progressing"
hs.message = "Waiting for the Ready condition"
return hs

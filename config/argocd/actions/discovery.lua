-- Argo CD resource actions of arcgis.tokenoperator.dev/ArcGISToken.
actions = {}
-- renew: issue a new token now (sets arcgis.tokenoperator.dev/renew-at).
-- Disabled while spec.suspend is set: the operator would only act on it once resumed.
actions["renew"] = {["disabled"] = obj.spec ~= nil and obj.spec.suspend == true}
return actions

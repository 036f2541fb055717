-- Argo CD resource action "renew" for arcgis.tokenoperator.dev/ArcGISToken.
--
-- Sets the annotation arcgis.tokenoperator.dev/renew-at to the current time
-- (RFC 3339, UTC). The operator issues exactly one new token for each new
-- value of that annotation, keeps serving the old one until the new one is
-- stored, and reports the renewal as Issuing=True with reason ManualRenew.
--
-- Only the base and table libraries and a safe os (os.time, os.date) are
-- available to custom actions.

if obj.metadata == nil then
  obj.metadata = {}
end
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["arcgis.tokenoperator.dev/renew-at"] = os.date("!%Y-%m-%dT%H:%M:%SZ")
return obj

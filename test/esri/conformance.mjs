// Copyright 2026 The arcgis-token-operator Authors.
// Licensed under the Apache License, Version 2.0.
//
// The Esri conformance suite: Esri's own JavaScript client
// (@esri/arcgis-rest-request, pinned in package.json) against the ArcGIS
// simulator, the way an application's tests would use it as a stand-in
// portal and federated server. It starts nothing: `make test-esri` (through
// test/esri/driver) starts the simulator and hands it over in
// ESRI_SIM_CONFIG (URLs, users, app) and NODE_EXTRA_CA_CERTS (its CA).
//
// Each case is an assertion that can fail; one line per case, then
// "esri: N passed, N failed". The cases run in order and share the signed-in
// manager, as an application would.

import { readFileSync } from "node:fs";
import {
  ApplicationCredentialsManager,
  ArcGISIdentityManager,
  request
} from "@esri/arcgis-rest-request";

const sim = JSON.parse(readFileSync(process.env.ESRI_SIM_CONFIG, "utf8"));
const { portalUrl, serverUrl, controlUrl, admin, app } = sim;

// The simulator's counters, read over its control API.
async function counters() {
  const res = await fetch(`${controlUrl}/counters`);
  if (!res.ok) throw new Error(`GET /__sim/counters: HTTP ${res.status}`);
  return res.json();
}

// count reads counters.requests[endpoint][outcome] (0 when absent).
function count(c, endpoint, outcome = "ok") {
  return (c.requests[endpoint] || {})[outcome] || 0;
}

function total(c, endpoint) {
  return Object.values(c.requests[endpoint] || {}).reduce((a, b) => a + b, 0);
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

function assertDelta(before, after, endpoint, outcome, want) {
  const got = count(after, endpoint, outcome) - count(before, endpoint, outcome);
  assert(got === want, `${endpoint} ${outcome}: ${got} new, want ${want}`);
}

// Never let a password, secret or token reach the output.
function redact(text) {
  let out = String(text);
  for (const s of [admin.password, sim.user.password, app.clientSecret, ...secretsSeen]) {
    if (s) out = out.split(s).join("[redacted]");
  }
  return out;
}
const secretsSeen = [];

const results = [];
async function test(name, fn) {
  try {
    await fn();
    results.push(true);
    console.log(`ok   ${name}`);
  } catch (e) {
    results.push(false);
    console.log(`FAIL ${name}: ${redact(e && e.message ? e.message : e)}`);
  }
}

let manager;
let serverToken;

await test("signIn with username and password (generateToken, then community/self)", async () => {
  const before = await counters();
  manager = await ArcGISIdentityManager.signIn({
    username: admin.username,
    password: admin.password,
    portal: portalUrl
  });
  secretsSeen.push(manager.token);
  const after = await counters();
  assert(manager.username === admin.username, `username ${manager.username}`);
  assert(typeof manager.token === "string" && manager.token.length > 20, "no token");
  assert(manager.tokenExpires instanceof Date && manager.tokenExpires > new Date(), "no future tokenExpires");
  assertDelta(before, after, "portal/generateToken", "ok", 1);
  assertDelta(before, after, "portal/community/self", "ok", 1);
});

await test("getUser reads community/self: username, fullName, role, orgId, privileges", async () => {
  const before = await counters();
  manager.clearCachedUserInfo();
  const user = await manager.getUser();
  const after = await counters();
  assert(user.username === admin.username, `username ${user.username}`);
  assert(typeof user.fullName === "string" && user.fullName.length > 0, "no fullName");
  assert(user.role === "org_admin", `role ${user.role}`);
  assert(typeof user.orgId === "string" && user.orgId.length > 0, "no orgId");
  assert(Array.isArray(user.privileges) && user.privileges.length > 0, "no privileges");
  assert(typeof user.created === "number" && typeof user.modified === "number", "created/modified not epoch ms");
  assertDelta(before, after, "portal/community/self", "ok", 1);
});

await test("community/users/<username>, as arcgis-rest-portal getUser requests it", async () => {
  const user = await request(`${portalUrl}/community/users/${sim.user.username}`, {
    authentication: manager,
    httpMethod: "GET"
  });
  assert(user.username === sim.user.username, `username ${user.username}`);
  assert(user.role === "org_user", `an administrator sees the role: ${user.role}`);
});

await test("getPortal reads portals/self", async () => {
  const portal = await manager.getPortal();
  assert(portal.isPortal === true, "isPortal");
  assert(typeof portal.id === "string" && portal.id.length > 0, "no id");
  assert(portal.user && portal.user.username === admin.username, "no signed-in user in portals/self");
});

await test("getToken(server) exchanges the portal token for a federated server token", async () => {
  const before = await counters();
  serverToken = await manager.getToken(`${serverUrl}/rest/services`);
  secretsSeen.push(serverToken);
  const after = await counters();
  assert(typeof serverToken === "string" && serverToken.length > 20, "no server token");
  assert(serverToken !== manager.token, "the server token is the portal token");
  assert(total(after, "server/rest/info") - total(before, "server/rest/info") === 1, "rest/info not read once");
  assert(total(after, "portal/info") - total(before, "portal/info") === 1, "sharing/rest/info not read once");
  assertDelta(before, after, "portal/generateToken", "ok", 1);
  const federated = (after.tokensIssued.federated || 0) - (before.tokensIssued.federated || 0);
  assert(federated === 1, `${federated} federated tokens issued, want 1`);
});

await test("an authenticated request to the server's rest/services uses the server token", async () => {
  const before = await counters();
  const services = await request(`${serverUrl}/rest/services`, { authentication: manager });
  const after = await counters();
  assert(Array.isArray(services.services) && services.services.length > 0, "no services listed");
  assertDelta(before, after, "server/rest/services", "ok", 1);
  assertDelta(before, after, "portal/generateToken", "ok", 0);
});

await test("a wrong-case username is refused by generateToken itself (400 Invalid username or password)", async () => {
  const before = await counters();
  let error;
  try {
    await ArcGISIdentityManager.signIn({
      username: admin.username.toUpperCase(),
      password: admin.password,
      portal: portalUrl
    });
  } catch (e) {
    error = e;
  }
  const after = await counters();
  assert(error, "signIn succeeded");
  const body = error.response && error.response.error;
  assert(body && body.code === 400, `error code ${body && body.code}, want 400 in the body`);
  assert(
    Array.isArray(body.details) && body.details.includes("Invalid username or password."),
    `details ${JSON.stringify(body && body.details)}`
  );
  assertDelta(before, after, "portal/generateToken", "InvalidCredentials", 1);
  // The client swallows the failed login and still asks community/self,
  // without a token (499); the error it throws is generateToken's.
  assertDelta(before, after, "portal/community/self", "ok", 0);
  assert(
    total(after, "portal/community/self") - total(before, "portal/community/self") ===
      count(after, "portal/community/self", "TokenRequired") - count(before, "portal/community/self", "TokenRequired"),
    "community/self answered something else than 499"
  );
  assert(total(after, "unknown") === 0, "a request hit an unknown path (404)");
});

await test("a bad token gets 498", async () => {
  const before = await counters();
  let error;
  try {
    await request(`${portalUrl}/portals/self`, {
      authentication: "AATKnot-a-real-token..",
      httpMethod: "GET",
      suppressWarnings: true
    });
  } catch (e) {
    error = e;
  }
  const after = await counters();
  assert(error, "accepted");
  assert(error.name === "ArcGISAuthError", `error ${error.name}`);
  assert(error.code === 498, `code ${error.code}, want 498`);
  assertDelta(before, after, "portal/portals/self", "InvalidToken", 1);
});

await test("ApplicationCredentialsManager gets an OAuth app token (oauth2/token)", async () => {
  const before = await counters();
  const appManager = ApplicationCredentialsManager.fromCredentials({
    clientId: app.clientId,
    clientSecret: app.clientSecret,
    portal: portalUrl
  });
  const token = await appManager.getToken(`${portalUrl}/portals/self`);
  secretsSeen.push(token);
  assert(typeof token === "string" && token.length > 20, "no token");
  assert(appManager.expires instanceof Date && appManager.expires > new Date(), "no future expiry");
  const portal = await request(`${portalUrl}/portals/self`, { authentication: appManager });
  const after = await counters();
  assert(portal.appInfo && portal.appInfo.appId === app.clientId, "portals/self does not name the app");
  assertDelta(before, after, "portal/oauth2/token", "ok", 1);
});

await test("after RevokeAll the client's retry on 498 gets a fresh token and succeeds", async () => {
  const res = await fetch(`${controlUrl}/revoke`, { method: "POST" });
  assert(res.status === 204, `POST /__sim/revoke: HTTP ${res.status}`);
  const before = await counters();
  const oldToken = manager.token;
  const user = await request(`${portalUrl}/community/self`, { authentication: manager, httpMethod: "GET" });
  secretsSeen.push(manager.token);
  const after = await counters();
  assert(user.username === admin.username, `username ${user.username}`);
  assert(manager.token !== oldToken, "the manager kept the revoked token");
  assertDelta(before, after, "portal/community/self", "InvalidToken", 1);
  assertDelta(before, after, "portal/community/self", "ok", 1);
  assertDelta(before, after, "portal/generateToken", "ok", 1);
});

const final = await counters();
const passed = results.filter(Boolean).length;
const failed = results.length - passed;
console.log(
  `(simulator: ${final.tokenInQuery} requests with a token in the query string, as arcgis-rest-js sends GETs; ` +
    `${final.credentialsInQuery} with credentials in the query string)`
);
console.log(`esri: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 && results.length > 0 ? 0 : 1);

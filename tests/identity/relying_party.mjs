// An independent relying party for the tests: panva's certified openid-client, driven by one JSON
// request on stdin, answering one JSON object on stdout. It signs the reader in through the app's
// real pages (the sign-in form and the consent page, with their CSRF tokens and cookies), so the
// app is tested as a site would use it, by code that shares nothing with it.
//
//   {"command": "sign-in", "issuer", "client_id", "client_secret"?, "redirect_uri", "scope",
//    "email", "password", "tamper"?: "signature" | "nonce"}
//   {"command": "refresh", ..., "refresh_token", "sub"}      {"command": "userinfo", ..., "access_token", "sub"}
//   {"command": "revoke", ..., "token", "hint"?}
import * as client from "openid-client";

const request = JSON.parse(await new Promise((resolve) => {
  let text = "";
  process.stdin.on("data", (chunk) => { text += chunk; });
  process.stdin.on("end", () => resolve(text));
}));

function explain(error) {
  return {
    name: error.name, code: error.code, message: error.message,
    error: error.error, error_description: error.error_description, status: error.status,
    cause: error.cause && typeof error.cause === "object" ? { error: error.cause.error, message: error.cause.message } : undefined,
  };
}

async function configuration(tamper) {
  const auth = request.client_secret ? client.ClientSecretBasic(request.client_secret) : client.None();
  const config = await client.discovery(new URL(request.issuer), request.client_id, undefined, auth,
    { execute: [client.allowInsecureRequests] });
  // Check every ID token's signature against the published JWKS too (openid-client trusts the
  // token endpoint's TLS by default; these tests run over plain HTTP, and want the signature checked).
  client.enableNonRepudiationChecks(config);
  if (tamper) {
    // A man in the middle changes the ID token on its way back from the token endpoint.
    config[client.customFetch] = async (url, options) => {
      const response = await fetch(url, options);
      if (!url.toString().endsWith("/oauth/token")) return response;
      const body = await response.json();
      const [header, payload, signature] = body.id_token.split(".");
      if (tamper === "signature") {
        const flipped = signature[5] === "A" ? "B" : "A";
        body.id_token = [header, payload, signature.slice(0, 5) + flipped + signature.slice(6)].join(".");
      } else {
        const claims = JSON.parse(Buffer.from(payload, "base64url").toString());
        claims.sight_plus = true;
        body.id_token = [header, Buffer.from(JSON.stringify(claims)).toString("base64url"), signature].join(".");
      }
      return new Response(JSON.stringify(body), { status: response.status, headers: response.headers });
    };
  }
  return config;
}

// A browser of our own: cookies kept, redirects followed by hand until one leaves the app.
const cookies = new Map();
async function browse(url, options = {}) {
  const headers = new Headers(options.headers || {});
  if (cookies.size) headers.set("cookie", [...cookies].map(([k, v]) => `${k}=${v}`).join("; "));
  const response = await fetch(url, { ...options, headers, redirect: "manual" });
  for (const line of response.headers.getSetCookie()) {
    const [pair] = line.split(";");
    const at = pair.indexOf("=");
    cookies.set(pair.slice(0, at), pair.slice(at + 1));
  }
  return response;
}

function csrfToken(html) {
  const match = html.match(/name="csrf_token"[^>]*value="([^"]+)"/);
  if (!match) throw new Error("no CSRF token on the page");
  return match[1];
}

async function signIn() {
  const config = await configuration(request.tamper);
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const authorizationUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: request.redirect_uri, scope: request.scope, state, nonce,
    code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256",
  });
  let url = authorizationUrl.href;
  let response = await browse(url);
  const pages = [];
  for (let step = 0; step < 12; step++) {
    if (response.status >= 300 && response.status < 400) {
      url = new URL(response.headers.get("location"), url).href;
      if (url.startsWith(request.redirect_uri)) break;
      response = await browse(url);
      continue;
    }
    const html = await response.text();
    const path = new URL(url).pathname;
    pages.push(path);
    if (path === "/sign-in") {
      const form = new URLSearchParams({ csrf_token: csrfToken(html), email: request.email, password: request.password });
      response = await browse(url, { method: "POST", body: form, headers: { "content-type": "application/x-www-form-urlencoded" } });
    } else if (path === "/oauth/authorize" && html.includes('name="allow"')) {
      const form = new URLSearchParams({ csrf_token: csrfToken(html), allow: "Allow" });
      response = await browse(url, { method: "POST", body: form, headers: { "content-type": "application/x-www-form-urlencoded" } });
    } else {
      return { stopped_at: path, status: response.status, pages };
    }
  }
  const tokens = await client.authorizationCodeGrant(config, new URL(url), {
    pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true,
  });
  const claims = tokens.claims();
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  return {
    pages, claims, userinfo,
    access_token: tokens.access_token, refresh_token: tokens.refresh_token, id_token: tokens.id_token,
    expires_in: tokens.expires_in,
  };
}

async function main() {
  const config = request.command === "sign-in" ? null : await configuration(null);
  switch (request.command) {
    case "sign-in":
      return signIn();
    case "refresh": {
      const tokens = await client.refreshTokenGrant(config, request.refresh_token);
      return { access_token: tokens.access_token, refresh_token: tokens.refresh_token, expires_in: tokens.expires_in };
    }
    case "userinfo":
      return { userinfo: await client.fetchUserInfo(config, request.access_token, request.sub) };
    case "revoke":
      await client.tokenRevocation(config, request.token, request.hint ? { token_type_hint: request.hint } : undefined);
      return { revoked: true };
    default:
      throw new Error(`unknown command ${request.command}`);
  }
}

try {
  process.stdout.write(JSON.stringify({ ok: await main() }));
} catch (error) {
  process.stdout.write(JSON.stringify({ failed: explain(error) }));
}

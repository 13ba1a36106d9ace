// masto.js (npm `masto`, pinned in package.json) against chirp's Mastodon API, run by
// tests/integration/test_mastodon_masto_js.py as `node masto_journey.mjs BASE_URL SUFFIX`.
// It registers an app and two accounts through the API, logs one in with a password, posts, follows, reads
// the home timeline, favourites, edits (source, then update), and receives an `update` on the user stream over
// WebSocket (masto passes the token as Sec-WebSocket-Protocol). It prints one JSON object with what it saw; the
// test asserts on it.
import { createOAuthAPIClient, createRestAPIClient, createStreamingAPIClient } from "masto";

// masto 8 asks for Node 22; on Node 20 (this machine's) it needs only these two: the global WebSocket (the test
// passes --experimental-websocket) and Promise.withResolvers, added here as Node 22 defines it
if (typeof Promise.withResolvers !== "function") {
  Promise.withResolvers = function withResolvers() {
    let resolve, reject;
    const promise = new this((res, rej) => { resolve = res; reject = rej; });
    return { promise, resolve, reject };
  };
}

const [baseUrl, suffix] = process.argv.slice(2);
const scopes = "read write follow push";
const redirectUri = "urn:ietf:wg:oauth:2.0:oob";
const deadlineMs = 30_000;

const anon = createRestAPIClient({ url: baseUrl });
const oauth = createOAuthAPIClient({ url: baseUrl });
const instance = await anon.v2.instance.fetch();
const app = await anon.v1.apps.create({ clientName: `masto.js ${suffix}`, redirectUris: redirectUri, scopes });
const creds = { clientId: app.clientId, clientSecret: app.clientSecret, redirectUri };
const appToken = await oauth.token.create({ grantType: "client_credentials", scope: scopes, ...creds });

async function register(username) {
  const rest = createRestAPIClient({ url: baseUrl, accessToken: appToken.accessToken });
  const token = await rest.v1.accounts.create({
    username, email: `${username}@mail.example`, password: "a long password", agreement: true, locale: "en",
  });
  return token.accessToken;
}

await register(`ja${suffix}`);
const bobRegistered = await register(`jb${suffix}`);
// ann logs in with her password (the password grant), as a script would
const annToken = await oauth.token.create({
  grantType: "password", username: `ja${suffix}`, password: "a long password", scope: scopes, ...creds,
});
const ann = createRestAPIClient({ url: baseUrl, accessToken: annToken.accessToken });
const bob = createRestAPIClient({ url: baseUrl, accessToken: bobRegistered });
const annAccount = await ann.v1.accounts.verifyCredentials();
const bobAccount = await bob.v1.accounts.verifyCredentials();
const relationship = await bob.v1.accounts.$select(annAccount.id).follow();

const first = await ann.v1.statuses.create({ status: `hello from masto.js #mj${suffix}` });

// the home timeline: the follower sees ann's status once the worker has fanned it out (poll, with a deadline)
async function until(what, check) {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const got = await check();
    if (got) return got;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
const home = await until("the status on bob's home timeline", async () => {
  const page = await bob.v1.timelines.home.list({ limit: 20 });
  return page.some((s) => s.id === first.id) ? page : null;
});
const favourited = await bob.v1.statuses.$select(first.id).favourite();
// an edit as masto.js-based apps make it: the source text first, then the new text
const source = await ann.v1.statuses.$select(first.id).source.fetch();
const edited = await ann.v1.statuses.$select(first.id).update({ status: `${source.text}, edited` });

// the user stream over WebSocket; Mastodon sends no acknowledgement of a subscription, so ann posts again
// until one of her statuses arrives (each post is a real update, none is a stand-in for a sleep)
const streaming = createStreamingAPIClient({
  streamingApiUrl: instance.configuration.urls.streaming, accessToken: bobRegistered, retry: false,
});
const subscription = streaming.user.subscribe();
const events = subscription.values();
const posted = [];
let update = null;
const end = Date.now() + deadlineMs;
let pending = events.next();
while (update === null) {
  if (Date.now() > end) throw new Error("timed out waiting for an update on the user stream");
  posted.push((await ann.v1.statuses.create({ status: `streamed ${posted.length}` })).id);
  const tick = new Promise((resolve) => setTimeout(() => resolve(null), 1000));
  const next = await Promise.race([pending, tick]);
  if (next === null) continue;
  if (next.done) throw new Error("the user stream ended");
  pending = events.next();
  if (next.value.event === "update") update = next.value;
}
subscription.unsubscribe();
streaming.close();

console.log(JSON.stringify({
  version: instance.version,
  streaming: instance.configuration.urls.streaming,
  ann: annAccount.id,
  bob: bobAccount.id,
  scope: annToken.scope,
  following: relationship.following,
  first: first.id,
  firstContent: first.content,
  home: home.map((s) => s.id),
  favourited: favourited.favourited,
  favourites: favourited.favouritesCount,
  source: source.text,
  edited: edited.content,
  posted,
  update: { stream: update.stream, id: update.payload.id, account: update.payload.account.id },
}));

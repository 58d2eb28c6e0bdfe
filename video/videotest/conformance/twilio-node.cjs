// Cross-language conformance test: drives the videotest binary through the
// official Twilio Node helper library (twilio-node) for every Video v1
// resource and Monitor v1 Alerts, and through the control API
// (/_videotest/) for what a client SDK does, checking decoded fields, error
// codes and signed status callbacks (verified with twilio-node's own
// validateRequest). Any mismatch makes it exit 1.
//
//   NODE_PATH=<dir>/node_modules node twilio-node.cjs <path to videotest binary>
//
// run.sh in this folder installs the pinned twilio-node and the binary.
'use strict';

const { spawn } = require('node:child_process');
const http = require('node:http');
const readline = require('node:readline');
const { inspect, isDeepStrictEqual } = require('node:util');
const twilio = require('twilio');

// The fixed development credentials of `videotest -dev` (documented in the
// README and in video/videotest/options.go).
const SID = 'AC00000000000000000000000000000000';
const TOKEN = 'videotestdevelopmentauthtoken000';
const KEY = 'SK00000000000000000000000000000000';
const KEY_SECRET = 'videotestdevelopmentapikeysecret';

let checks = 0;
let failures = 0;

function check(ok, what, got) {
  checks++;
  if (!ok) {
    failures++;
    console.error(`FAIL ${what}` + (got === undefined ? '' : `: got ${JSON.stringify(got)}`));
  }
}

// eq compares strictly: undefined (a field the emulator left out) is not null.
function eq(got, want, what) {
  check(isDeepStrictEqual(got, want), `${what} = ${inspect(want)}`, inspect(got));
}

// expectError awaits p and checks that twilio-node rejected it with a
// RestException of the given Twilio code and HTTP status.
async function expectError(p, code, status, what) {
  try {
    const v = await p;
    check(false, `${what}: want error ${code}`, v && v.sid);
  } catch (e) {
    check(e.code === code && e.status === status && !!e.moreInfo,
      `${what}: error ${code} HTTP ${status}`, { code: e.code, status: e.status, message: e.message });
  }
}

// plain drops the fields twilio-node's rule classes leave undefined.
const plain = (v) => JSON.parse(JSON.stringify(v));
const isSid = (v, p) => typeof v === 'string' && new RegExp(`^${p}[0-9a-f]{32}$`).test(v);
const isDate = (v) => v instanceof Date && !isNaN(v.getTime());

// start runs the binary with -dev on a free port and resolves once it
// prints its ready line.
function start(bin, args) {
  return new Promise((resolve, reject) => {
    const proc = spawn(bin, ['-dev', '-addr', '127.0.0.1:0', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let url;
    const rl = readline.createInterface({ input: proc.stdout });
    rl.on('line', (line) => {
      const m = line.match(/^videotest emulator listening on (\S+)/);
      if (m) url = m[1];
      if (line.startsWith('videotest: ready')) resolve({ url, proc });
    });
    proc.on('error', reject);
    proc.on('exit', (code) => reject(new Error(`videotest exited with ${code} before it was ready`)));
  });
}

// receiver is a status callback endpoint that validates every request's
// X-Twilio-Signature with twilio-node's validateRequest.
function receiver() {
  const got = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const params = Object.fromEntries(new URLSearchParams(body));
      const url = `http://${req.headers.host}${req.url}`;
      const valid = twilio.validateRequest(TOKEN, req.headers['x-twilio-signature'] || '', url, params);
      got.push({ path: req.url, params, valid });
      res.writeHead(valid ? 204 : 403);
      res.end();
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    resolve({ server, got, url: `http://127.0.0.1:${server.address().port}` });
  }));
}

async function main() {
  const bin = process.argv[2];
  if (!bin) throw new Error('usage: twilio-node.cjs <videotest binary>');
  const { url: base, proc } = await start(bin, ['-participants', '3', '-rooms', '5', '-fake-clock', 'now',
    '-reads', '-1', '-writes', '-1']);
  const hook = await receiver();
  try {
    await run(base, hook);
  } finally {
    hook.server.close();
    proc.kill('SIGTERM');
  }
  const exit = await new Promise((resolve) => proc.on('exit', (code) => resolve(code)));
  eq(exit, 0, 'videotest exit code after SIGTERM');
}

async function run(base, hook) {
  // twilio-node with its Video and Monitor domains pointed at the emulator.
  const client = twilio(SID, TOKEN);
  client.video.baseUrl = base;
  client.monitor.baseUrl = base;
  const video = client.video.v1;
  const monitor = client.monitor.v1;

  // The control API, with the same Basic auth.
  const auth = 'Basic ' + Buffer.from(`${SID}:${TOKEN}`).toString('base64');
  async function ctl(method, path, body) {
    const res = await fetch(base + '/_videotest/' + path, {
      method, headers: { Authorization: auth }, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  }
  const flush = async () => eq((await ctl('POST', 'callbacks/flush', { timeout_seconds: 10 })).body.pending, 0, 'callbacks flushed');

  const health = await (await fetch(base + '/_videotest/health')).json();
  eq(health, { status: 'ok' }, 'health');
  const clock0 = new Date((await ctl('GET', 'clock')).body.now);

  // --- Rooms ---------------------------------------------------------------
  const room = await video.rooms.create({
    uniqueName: 'conf', statusCallback: hook.url + '/status', type: 'group', maxParticipants: 10,
    emptyRoomTimeout: 1, unusedRoomTimeout: 1, recordParticipantsOnConnect: true,
  });
  check(isSid(room.sid, 'RM'), 'room sid', room.sid);
  eq(room.status, 'in-progress', 'room status');
  eq(room.uniqueName, 'conf', 'room uniqueName');
  eq(room.type, 'group', 'room type');
  eq(room.maxParticipants, 10, 'room maxParticipants');
  eq(room.statusCallback, hook.url + '/status', 'room statusCallback');
  eq(room.statusCallbackMethod, 'POST', 'room statusCallbackMethod');
  eq(room.recordParticipantsOnConnect, true, 'room recordParticipantsOnConnect');
  eq(room.emptyRoomTimeout, 1, 'room emptyRoomTimeout');
  eq(room.largeRoom, false, 'room largeRoom');
  eq(room.accountSid, SID, 'room accountSid');
  check(isDate(room.dateCreated) && room.dateCreated.getTime() === clock0.getTime(), 'room dateCreated is the emulator clock', room.dateCreated);
  eq(room.endTime, null, 'room endTime');
  eq(room.duration, null, 'room duration');
  eq(room.url, `${base}/v1/Rooms/${room.sid}`, 'room url');
  eq((await video.rooms('conf').fetch()).sid, room.sid, 'fetch room by UniqueName');
  eq((await video.rooms(room.sid).fetch()).uniqueName, 'conf', 'fetch room by SID');
  const large = await video.rooms.create({ uniqueName: 'large', largeRoom: true });
  eq([large.largeRoom, large.maxParticipants], [true, 100], 'Large Room cap');
  await video.rooms.create({ uniqueName: 'p1' });
  await video.rooms.create({ uniqueName: 'p2' });
  const all = await video.rooms.list({ pageSize: 2 }); // three pages, followed by twilio-node
  eq(all.map((r) => r.uniqueName), ['p2', 'p1', 'large', 'conf'], 'rooms listed newest first across pages');
  const page = await video.rooms.page({ pageSize: 3 });
  check(page.instances.length === 3 && !!page.nextPageUrl, 'rooms page has a next page', page.nextPageUrl);
  eq((await page.nextPage()).instances.map((r) => r.uniqueName), ['conf'], 'rooms second page');
  eq((await video.rooms.list({ uniqueName: 'p1' })).length, 1, 'rooms UniqueName filter');
  eq((await video.rooms.list({ status: 'completed' })).length, 0, 'rooms Status filter');
  await expectError(video.rooms.create({ uniqueName: 'conf' }), 53113, 400, 'duplicate UniqueName');
  await expectError(video.rooms.create({ maxParticipants: 51 }), 53107, 400, 'MaxParticipants 51');
  await expectError(video.rooms.create({ statusCallback: 'nope' }), 53111, 400, 'bad StatusCallback');
  await expectError(video.rooms.create({ statusCallbackMethod: 'PUT' }), 53110, 400, 'bad StatusCallbackMethod');
  await expectError(video.rooms('RM' + '0'.repeat(32)).fetch(), 20404, 404, 'unknown room');
  await expectError(video.rooms('p1').update({ status: 'in-progress' }), 53112, 400, 'room status in-progress');
  eq((await video.rooms('p1').update({ status: 'completed' })).status, 'completed', 'complete p1 by REST');
  await video.rooms.create({ uniqueName: 'r5' });
  await video.rooms.create({ uniqueName: 'r6' }); // five in progress: conf, large, p2, r5, r6
  await expectError(video.rooms.create({ uniqueName: 'r7' }), 53119, 400, 'room quota (5)');

  // --- Participants through the control API --------------------------------
  const joined = [];
  for (const identity of ['alice', 'bob', 'carol']) {
    const r = await ctl('POST', 'rooms/conf/participants', { identity });
    eq([r.status, r.body.identity, r.body.status, r.body.room_sid], [201, identity, 'connected', room.sid], `join ${identity}`);
    joined.push(r.body.sid);
  }
  const over = await ctl('POST', 'rooms/conf/participants', { identity: 'dave' });
  eq([over.status, over.body.code], [400, 53206], 'fourth join hits the participant quota');
  const parts = await video.rooms(room.sid).participants.list();
  eq(parts.map((p) => p.identity), ['alice', 'bob', 'carol'], 'participants listed in join order');
  const alice = parts[0];
  check(isSid(alice.sid, 'PA') && alice.sid === joined[0], 'participant sid', alice.sid);
  eq([alice.roomSid, alice.status, alice.endTime, alice.duration], [room.sid, 'connected', null, null], 'participant fields');
  check(isDate(alice.startTime), 'participant startTime', alice.startTime);
  eq((await video.rooms('conf').participants('bob').fetch()).sid, joined[1], 'fetch participant by identity');
  await expectError(video.rooms(room.sid).participants('dave').fetch(), 20404, 404, 'unknown participant');

  // 53121 at 70% of 3 participants, and the 53206 error, in Monitor Alerts.
  const warnings = await monitor.alerts.list({ logLevel: 'warning' });
  const w53121 = warnings.filter((a) => a.errorCode === '53121');
  check(w53121.length >= 1, 'a 53121 warning alert', warnings.map((a) => a.errorCode));
  const partWarn = w53121.find((a) => a.resourceSid === room.sid);
  check(!!partWarn, 'the participants 53121 alert names the room', w53121.map((a) => a.resourceSid));
  if (partWarn) {
    const a = await monitor.alerts(partWarn.sid).fetch();
    eq([a.logLevel, a.errorCode, a.accountSid], ['warning', '53121', SID], '53121 alert fields');
    check(JSON.parse(a.requestVariables).more_info.resource === 'participants', '53121 payload resource', a.requestVariables);
    eq([a.requestHeaders, a.responseBody, a.responseHeaders], [null, null, null], 'alert instance fields');
    check(isDate(a.dateCreated) && a.moreInfo === 'https://www.twilio.com/docs/errors/53121', 'alert dates and more_info', a.moreInfo);
  }
  const errors = await monitor.alerts.list({ logLevel: 'error' });
  check(errors.some((a) => a.errorCode === '53206') && errors.some((a) => a.errorCode === '53119'), '53206 and 53119 error alerts', errors.map((a) => a.errorCode));

  // --- Tracks, rules, recordings, transcriptions ------------------------------
  const mic = (await ctl('POST', 'rooms/conf/participants/alice/tracks', { kind: 'audio', name: 'mic' })).body;
  const cam = (await ctl('POST', 'rooms/conf/participants/alice/tracks', { kind: 'video', name: 'cam' })).body;
  check(isSid(mic.sid, 'MT') && isSid(cam.sid, 'MT'), 'track sids', [mic.sid, cam.sid]);
  const pub = await video.rooms(room.sid).participants(alice.sid).publishedTracks.list();
  eq(pub.map((t) => [t.name, t.kind, t.enabled]), [['mic', 'audio', true], ['cam', 'video', true]], 'published tracks');
  eq((await ctl('POST', `rooms/conf/participants/alice/tracks/${cam.sid}`, { enabled: false })).body.enabled, false, 'disable cam');
  eq((await video.rooms(room.sid).participants(alice.sid).publishedTracks(cam.sid).fetch()).enabled, false, 'cam disabled over REST');
  const sub = await video.rooms(room.sid).participants(joined[1]).subscribedTracks.list();
  eq(sub.map((t) => [t.name, t.publisherSid]), [['mic', alice.sid], ['cam', alice.sid]], 'bob subscribes to alice');
  const subMic = await video.rooms(room.sid).participants(joined[1]).subscribedTracks(mic.sid).fetch();
  eq([subMic.kind, subMic.participantSid, subMic.enabled], ['audio', joined[1], true], 'subscribed track fetch');
  const sr = await video.rooms(room.sid).participants(alice.sid).subscribeRules.update({ rules: [{ type: 'include', all: true }] });
  eq(plain(sr.rules), [{ type: 'include', all: true }], 'subscribe rules update');
  eq((await video.rooms(room.sid).participants(alice.sid).subscribeRules.fetch()).rules.map(plain), [{ type: 'include', all: true }], 'subscribe rules fetch');
  const rr = await video.rooms(room.sid).recordingRules.update({ rules: [{ type: 'include', kind: 'audio' }] });
  eq(plain(rr.rules), [{ type: 'include', kind: 'audio' }], 'recording rules update');
  eq((await video.rooms(room.sid).recordingRules.fetch()).roomSid, room.sid, 'recording rules fetch');
  await expectError(video.rooms(room.sid).recordingRules.update({ rules: [{ type: 'maybe' }] }), 20001, 400, 'bad recording rule');
  const roomRecs = await video.rooms(room.sid).recordings.list();
  eq(roomRecs.map((r) => [r.type, r.status, r.codec, r.containerFormat]), [['audio', 'processing', 'OPUS', 'mka'], ['video', 'processing', 'VP8', 'mkv']], 'room recordings');
  eq((await video.rooms(room.sid).recordings(roomRecs[0].sid).fetch()).roomSid, room.sid, 'room recording fetch');
  const recs = await video.recordings.list({ groupingSid: [room.sid] });
  eq(recs.length, 2, 'account recordings by GroupingSid');
  const rec = await video.recordings(roomRecs[0].sid).fetch();
  eq([rec.statusCallback, rec.statusCallbackMethod, rec.groupingSids.room_sid], [null, 'POST', room.sid], 'recording status_callback present and null');
  eq((await video.recordings.list({ mediaType: 'video' })).length, 1, 'recordings MediaType filter');
  const tr = await video.rooms(room.sid).transcriptions.create({ configuration: { partialResults: true } });
  check(isSid(tr.ttid, 'GT') && tr.status === 'started', 'transcription started', tr.status);
  eq((await video.rooms(room.sid).transcriptions.list()).length, 1, 'transcriptions list');
  eq((await video.rooms(room.sid).transcriptions(tr.ttid).update({ status: 'stopped' })).status, 'stopped', 'transcription stopped');
  eq((await video.rooms(room.sid).transcriptions(tr.ttid).fetch()).status, 'stopped', 'transcription fetch');

  // --- Reconnection, disconnection, token join ---------------------------------
  eq((await ctl('POST', 'rooms/conf/participants/bob/reconnecting')).body.status, 'reconnecting', 'bob reconnecting');
  eq((await video.rooms(room.sid).participants(joined[1]).fetch()).status, 'reconnecting', 'reconnecting over REST');
  eq((await video.rooms(room.sid).participants.list({ status: 'reconnecting' })).length, 1, 'participants Status=reconnecting');
  eq((await ctl('POST', 'rooms/conf/participants', { identity: 'dave' })).body.code, 53206, 'a reconnecting participant keeps its slot');
  eq((await ctl('POST', 'rooms/conf/participants/bob/reconnected')).body.status, 'connected', 'bob reconnected');
  await ctl('POST', 'clock/advance', { seconds: 120 });
  const kicked = await video.rooms(room.sid).participants('carol').update({ status: 'disconnected' });
  eq([kicked.status, kicked.duration], ['disconnected', 120], 'carol kicked over REST after 120 s');
  eq((await ctl('DELETE', 'rooms/conf/participants/bob')).body.status, 'disconnected', 'bob leaves through the control API');
  eq((await ctl('DELETE', 'rooms/conf/participants/bob')).body.code, 53204, 'bob is gone');
  const at = new twilio.jwt.AccessToken(SID, KEY, KEY_SECRET, { identity: 'erin', ttl: 3600 });
  at.addGrant(new twilio.jwt.AccessToken.VideoGrant({ room: 'conf' }));
  const erin = await ctl('POST', 'rooms/conf/participants', { access_token: at.toJwt() });
  eq([erin.status, erin.body.identity], [201, 'erin'], 'join with a twilio-node access token');
  const forged = new twilio.jwt.AccessToken(SID, KEY, 'wrongsecret', { identity: 'eve', ttl: 3600 });
  forged.addGrant(new twilio.jwt.AccessToken.VideoGrant({ room: 'conf' }));
  eq((await ctl('POST', 'rooms/conf/participants', { access_token: forged.toJwt() })).body.code, 20107, 'forged token refused');

  // --- Completion, compositions ------------------------------------------------
  await expectError(video.compositions.create({ roomSid: room.sid, audioSources: ['*'] }), 53112, 400, 'composition of an in-progress room');
  const ended = await video.rooms(room.sid).update({ status: 'completed' });
  eq([ended.status, ended.duration], ['completed', 120], 'room completed');
  check(isDate(ended.endTime), 'room endTime', ended.endTime);
  eq((await video.rooms(room.sid).participants.list()).every((p) => p.status === 'disconnected'), true, 'everyone disconnected');
  await expectError(video.rooms(room.sid).participants('erin').fetch(), 20404, 404, 'identity lookup only finds connected participants');
  const anon = await video.rooms(room.sid).participants(alice.sid).anonymize().update();
  eq([anon.identity, anon.status], [alice.sid, 'disconnected'], 'anonymized participant');
  const done = await video.recordings(roomRecs[0].sid).fetch();
  check(done.status === 'completed' && done.duration > 0 && done.size > 0, 'recording completed with duration and size', [done.status, done.duration, done.size]);
  const comp = await video.compositions.create({ roomSid: room.sid, audioSources: ['*'], format: 'mp4', statusCallback: hook.url + '/composition' });
  check(isSid(comp.sid, 'CJ'), 'composition sid', comp.sid);
  eq([comp.status, comp.size, comp.duration, comp.bitrate, comp.format], ['enqueued', null, 0, 0, 'mp4'], 'new composition is enqueued');
  await ctl('POST', 'clock/advance', { seconds: 1 });
  eq((await video.compositions(comp.sid).fetch()).status, 'processing', 'composition processing');
  await ctl('POST', 'clock/advance', { seconds: 5 });
  const comp2 = await video.compositions(comp.sid).fetch();
  check(comp2.status === 'completed' && comp2.duration === 120 && comp2.size > 0 && comp2.bitrate > 0 && isDate(comp2.dateCompleted),
    'composition completed', [comp2.status, comp2.duration, comp2.size, comp2.bitrate]);
  eq((await video.compositions.list({ status: 'completed', roomSid: room.sid })).length, 1, 'compositions filters');
  eq(await video.compositions(comp.sid).remove(), true, 'composition removed');
  await expectError(video.compositions(comp.sid).fetch(), 20404, 404, 'removed composition');

  // --- Composition hooks, settings, account recordings --------------------------
  const hk = await video.compositionHooks.create({ friendlyName: 'hook1', audioSources: ['*'], format: 'mp4' });
  check(isSid(hk.sid, 'HK') && hk.enabled === true && hk.format === 'mp4', 'hook created', hk.sid);
  await expectError(video.compositionHooks.create({ friendlyName: 'hook1', audioSources: ['*'] }), 20001, 400, 'duplicate hook name');
  eq((await video.compositionHooks.list({ enabled: true })).length, 1, 'hooks list');
  eq((await video.compositionHooks(hk.sid).update({ friendlyName: 'hook1', enabled: false, audioSources: ['mic'] })).enabled, false, 'hook updated');
  eq((await video.compositionHooks(hk.sid).fetch()).audioSources, ['mic'], 'hook fetch');
  eq(await video.compositionHooks(hk.sid).remove(), true, 'hook removed');
  eq((await video.compositionSettings().fetch()).friendlyName, '', 'composition settings default');
  eq((await video.compositionSettings().create({ friendlyName: 'cs' })).friendlyName, 'cs', 'composition settings create');
  eq((await video.recordingSettings().create({ friendlyName: 'rs' })).friendlyName, 'rs', 'recording settings create');
  eq((await video.recordingSettings().fetch()).friendlyName, 'rs', 'recording settings fetch');
  eq(await video.recordings(roomRecs[1].sid).remove(), true, 'recording removed');
  await expectError(video.recordings(roomRecs[1].sid).fetch(), 20404, 404, 'removed recording');
  eq(await video.rooms(room.sid).recordings(roomRecs[0].sid).remove(), true, 'room recording removed');

  // --- Status callbacks: all arrived, signed ------------------------------------
  await flush();
  const events = hook.got.filter((c) => c.path === '/status').map((c) => c.params.StatusCallbackEvent);
  eq(events.filter((e) => e === 'participant-connected').length, 4, 'participant-connected callbacks (3 joins and erin)');
  for (const e of ['room-created', 'participant-disconnected', 'track-added', 'track-disabled', 'recording-started', 'recording-completed', 'room-ended']) {
    check(events.includes(e), `a ${e} callback`, events);
  }
  check(hook.got.length > 0 && hook.got.every((c) => c.valid), 'every callback passes twilio.validateRequest', hook.got.filter((c) => !c.valid).length);
  // Twilio does not guarantee delivery order; its Timestamp orders events.
  eq(hook.got.filter((c) => c.path === '/composition')
    .sort((a, b) => Date.parse(a.params.Timestamp) - Date.parse(b.params.Timestamp))
    .map((c) => c.params.StatusCallbackEvent),
  ['composition-enqueued', 'composition-started', 'composition-available'], 'composition callbacks');
  const log = (await ctl('GET', 'callbacks')).body.callbacks;
  check(log.length === hook.got.length && log.every((c) => c.delivered && c.status_code === 204), 'the callback log matches the receiver', log.length);

  // --- Rate limits, faults, auth, request log ----------------------------------
  eq((await ctl('PUT', 'faults', { force_429: 1 })).body.force_429, 1, 'force one 429');
  await expectError(video.rooms.list(), 20429, 429, 'forced 429');
  eq((await video.rooms.list({ status: 'completed' })).length, 2, 'after the 429');
  const reqs = (await ctl('GET', 'requests?limit=2')).body.requests;
  eq(reqs.map((r) => [r.status, r.code, r.throttled, r.class]), [[429, 20429, true, 'uncharged'], [200, 0, false, 'read']], 'request log');
  const bad = twilio(SID, 'wrongtoken');
  bad.video.baseUrl = base;
  await expectError(bad.video.v1.rooms.list(), 20003, 401, 'wrong auth token');
  const stats = (await ctl('GET', 'stats')).body;
  check(stats.participants_peak === 3 && stats.rooms_created === 6 && stats.throttled === 1 && stats.unauthorized === 1, 'stats', stats);

  // --- Subaccounts (2010-04-01 Accounts resource) ------------------------------
  // https://www.twilio.com/docs/iam/api/account: created by the main account,
  // each with its own auth token; Video v1 requests act on the account whose
  // credentials authenticate them (https://www.twilio.com/docs/iam/api/subaccounts).
  client.api.baseUrl = base;
  const accounts = client.api.v2010.accounts;
  const subacct = await accounts.create({ friendlyName: 'customer-1' });
  check(isSid(subacct.sid, 'AC') && subacct.sid !== SID, 'subaccount sid', subacct.sid);
  eq([subacct.ownerAccountSid, subacct.status, subacct.friendlyName, subacct.type], [SID, 'active', 'customer-1', 'Full'], 'subaccount fields');
  check(typeof subacct.authToken === 'string' && /^[0-9a-f]{32}$/.test(subacct.authToken) && subacct.authToken !== TOKEN, 'subaccount has its own auth token');
  check(isDate(subacct.dateCreated) && isDate(subacct.dateUpdated), 'subaccount dates (RFC 2822)', subacct.dateCreated);
  eq(subacct.uri, `/2010-04-01/Accounts/${subacct.sid}.json`, 'subaccount uri');
  const fetched = await accounts(subacct.sid).fetch();
  eq([fetched.sid, fetched.authToken, fetched.friendlyName], [subacct.sid, subacct.authToken, 'customer-1'], 'fetch subaccount');
  eq((await accounts.list()).map((a) => a.sid), [SID, subacct.sid], 'accounts listed: the main account, then its subaccount');
  eq((await accounts.list({ friendlyName: 'customer-1' })).map((a) => a.sid), [subacct.sid], 'accounts FriendlyName filter');
  eq((await accounts(subacct.sid).update({ status: 'suspended' })).status, 'suspended', 'suspend subaccount');
  eq((await accounts.list({ status: 'suspended' })).map((a) => a.sid), [subacct.sid], 'accounts Status filter');
  eq((await accounts(subacct.sid).update({ status: 'active' })).status, 'active', 'reactivate subaccount');
  await expectError(accounts('AC' + '1'.repeat(32)).fetch(), 20404, 404, 'unknown account');

  const subClient = twilio(subacct.sid, subacct.authToken);
  subClient.video.baseUrl = base;
  subClient.api.baseUrl = base;
  // The subaccount's room names are its own: it reuses a name in progress
  // in the main account, and each account sees its own room under it.
  const mainRoom = (await video.rooms.list({ status: 'in-progress', limit: 1 }))[0];
  const subRoom = await subClient.video.v1.rooms.create({ uniqueName: mainRoom.uniqueName });
  eq([subRoom.accountSid, subRoom.status], [subacct.sid, 'in-progress'], 'subaccount room under a name in progress in the main account');
  check(subRoom.sid !== mainRoom.sid, 'subaccount room has its own SID', subRoom.sid);
  eq((await video.rooms(mainRoom.uniqueName).fetch()).sid, mainRoom.sid, 'the main account still sees its own room under the name');
  await expectError(video.rooms(subRoom.sid).fetch(), 20404, 404, 'main account credentials on a subaccount room');
  eq((await subClient.video.v1.rooms.list()).map((r) => r.sid), [subRoom.sid], 'subaccount lists its own rooms only');
  await expectError(subClient.api.v2010.accounts(SID).fetch(), 20404, 404, 'subaccount credentials on the main account');
  await expectError(subClient.api.v2010.accounts.create(), 20003, 401, 'subaccount cannot create subaccounts');
  const ctlSub = (await ctl('GET', 'accounts/' + subacct.sid)).body;
  eq([ctlSub.sid, ctlSub.auth_token, ctlSub.limits.concurrent_rooms], [subacct.sid, subacct.authToken, 10000], 'control API shows the subaccount with Twilio\'s default quota');

  // --- Reset -------------------------------------------------------------------
  eq((await ctl('POST', 'reset')).status, 204, 'reset');
  eq((await video.rooms.list()).length, 0, 'no rooms after reset');
  eq((await monitor.alerts.list()).length, 0, 'no alerts after reset');
  eq((await accounts.list()).map((a) => a.sid), [SID], 'no subaccounts after reset');
}

main().then(() => {
  console.log(`twilio-node conformance: ${checks} checks, ${failures} failed`);
  process.exit(failures === 0 ? 0 : 1);
}, (err) => {
  console.error('twilio-node conformance: aborted:', err);
  process.exit(1);
});

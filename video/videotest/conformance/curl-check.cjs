// Checks the output of the README's "Using the emulator from any language"
// curl lines (one JSON document per line, curl -w '\n'), as run.sh runs
// them: a Room created, three Participants joined through the control API,
// the fourth refused with 53206, the 53121 warning in Monitor Alerts, and
// every status callback delivered with a valid signature. Exits 1 on any
// mismatch.
//
//   node curl-check.cjs <file with the curl lines' output>
'use strict';

const fs = require('node:fs');

const docs = fs.readFileSync(process.argv[2], 'utf8').split('\n')
  .filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
let failures = 0;
function check(ok, what, got) {
  if (!ok) {
    failures++;
    console.error(`FAIL ${what}: got ${JSON.stringify(got)}`);
  }
}

const [room, alice, bob, carol, dave, alerts, flushed, callbacks] = docs;
check(docs.length === 8, 'eight JSON answers', docs.length);
check(room && /^RM[0-9a-f]{32}$/.test(room.sid) && room.unique_name === 'demo' && room.status === 'in-progress', 'room created', room);
[alice, bob, carol].forEach((p, i) => {
  const want = ['alice', 'bob', 'carol'][i];
  check(p && p.identity === want && p.status === 'connected' && p.room_sid === room.sid, `${want} joined`, p);
});
check(dave && dave.code === 53206 && dave.status === 400, 'the fourth join refused with 53206', dave);
const warn = alerts && alerts.alerts && alerts.alerts.find((a) => a.error_code === '53121');
check(!!warn && warn.log_level === 'warning' && warn.resource_sid === room.sid, 'the 53121 warning alert', alerts);
check(flushed && flushed.pending === 0, 'callbacks flushed', flushed);
const cbs = (callbacks && callbacks.callbacks) || [];
const events = cbs.map((c) => c.event).sort();
check(JSON.stringify(events) === JSON.stringify(['participant-connected', 'participant-connected', 'participant-connected', 'room-created']),
  'status callbacks', events);
check(cbs.length > 0 && cbs.every((c) => c.delivered && c.status_code === 204 && c.signature !== ''), 'every callback delivered and signed', cbs);

console.log(`README curl lines: ${failures} failed`);
process.exit(failures === 0 ? 0 : 1);

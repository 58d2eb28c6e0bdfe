// Generates twilio_node_vectors.json: signatures made by the official
// Node.js helper library (npm package "twilio") and its validateRequest
// verdicts, for TestTwilioNodeVectors.
//
//   npm install --prefix /tmp/twilio-node twilio@6
//   NODE_PATH=/tmp/twilio-node/node_modules node testdata/twilio_node_vectors.js > testdata/twilio_node_vectors.json
"use strict";
const twilio = require("twilio");

const token = "12345678901234567890123456789012";
const cb = "https://hooks.example.com/twilio/video/status";
const form = {
  AccountSid: "AC0123456789abcdef0123456789abcdef",
  RoomName: "Daily Standup ünïcødé",
  RoomSid: "RM0123456789abcdef0123456789abcdef",
  StatusCallbackEvent: "participant-connected",
  ParticipantIdentity: "alice+test@example.com",
  Timestamp: "2026-11-29T14:30:00.123Z",
};

// [name, URL signed, URL that arrives, params]
const cases = [
  ["as given", cb, cb, form],
  ["default port added on arrival", cb, "https://hooks.example.com:443/twilio/video/status", form],
  ["default port removed on arrival", "https://hooks.example.com:443/twilio/video/status", cb, form],
  ["http default port added", "http://h.example.com/cb", "http://h.example.com:80/cb", form],
  ["http default port removed", "http://h.example.com:80/cb", "http://h.example.com/cb", form],
  ["other port removed on arrival", "https://h.example.com/cb", "https://h.example.com:8443/cb", form],
  ["other port not added", "https://h.example.com:8443/cb", "https://h.example.com/cb", form],
  ["other port kept", "https://h.example.com:8443/cb?x=1", "https://h.example.com:8443/cb?x=1", form],
  ["repeated name", cb, cb, { A: ["2", "1", "2"], B: "x" }],
  ["empty params", cb + "?RoomSid=RM1&StatusCallbackEvent=room-created", cb + "?RoomSid=RM1&StatusCallbackEvent=room-created", {}],
  ["GET port added", cb + "?RoomSid=RM1", "https://hooks.example.com:443/twilio/video/status?RoomSid=RM1", {}],
  ["GET apostrophe and plus as sent", cb + "?name=William+O'hara", cb + "?name=William+O'hara", {}],
  ["GET apostrophe escaped on arrival", cb + "?name=O'hara", cb + "?name=O%27hara", {}],
  ["GET apostrophe unescaped on arrival", cb + "?name=O%27hara", cb + "?name=O'hara", {}],
  ["GET colon and at escaped on arrival", cb + "?Caller=sip:1@10.0.0.1", cb + "?Caller=sip%3A1%4010.0.0.1", {}],
  ["other path", cb, cb + "/x", form],
  ["other host", cb, "https://hookz.example.com/twilio/video/status", form],
  ["other scheme", cb, "http://hooks.example.com/twilio/video/status", form],
];

const out = {
  library: "twilio@" + require("twilio/package.json").version,
  token,
  vectors: cases.map(([name, signed, url, params]) => {
    const signature = twilio.getExpectedTwilioSignature(token, signed, params);
    return { name, signed, url, params, signature, nodeValid: twilio.validateRequest(token, signature, url, params) };
  }),
};
process.stdout.write(JSON.stringify(out, null, 1) + "\n");

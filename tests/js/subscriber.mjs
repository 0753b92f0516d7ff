// An ENTRO-NET subscriber written from docs/PROTOCOL.md alone (no project code):
// subscribe to the coordinator's event stream (control port P + 1), learn the
// members from membership messages, dial each member's PUB, and print every
// decoded message as one JSON line with the frame's bytes in hex.
//
// usage: node subscriber.mjs tcp://HOST:P COUNT [TIMEOUT_S]
import { Subscriber } from "zeromq";
import { decode } from "@msgpack/msgpack";

const TYPES = {
  E: "hello", W: "welcome", H: "heartbeat", S: "state", T: "threshold",
  I: "isolate", R: "readmit", L: "leave", M: "membership",
};
const STATE_FIELDS = [
  "v", "node", "incarnation", "seq", "ts", "step", "psi_raw", "psi", "error",
  "w1", "w2", "w3", "theta_net", "isolated", "delta",
];

const [control, countText, timeoutText] = process.argv.slice(2);
const match = /^tcp:\/\/(.+):(\d+)$/.exec(control ?? "");
if (!match || !countText) {
  console.error("usage: node subscriber.mjs tcp://HOST:PORT COUNT [TIMEOUT_S]");
  process.exit(2);
}
const events = `tcp://${match[1]}:${Number(match[2]) + 1}`;
const count = Number(countText);
const timer = setTimeout(() => {
  console.error(`timed out before ${count} messages`);
  process.exit(1);
}, 1000 * Number(timeoutText ?? 30));

const sub = new Subscriber({ linger: 0 });
sub.connect(events);
sub.subscribe();
const dialled = new Set();
let printed = 0;

for await (const [frame] of sub) {
  const type = TYPES[String.fromCharCode(frame[0])];
  if (type === undefined) continue;
  const body = decode(frame.subarray(1));
  const msg = type === "state"
    ? Object.fromEntries(STATE_FIELDS.map((key, i) => [key, body[i]]))
    : body;
  if (type === "membership") {
    for (const member of msg.members) {
      if (!dialled.has(member.endpoint)) {
        sub.connect(member.endpoint);
        dialled.add(member.endpoint);
      }
    }
  }
  const hex = Buffer.from(frame).toString("hex");
  process.stdout.write(JSON.stringify({ type, ...msg, frame: hex }) + "\n");
  printed += 1;
  if (printed >= count) break;
}
clearTimeout(timer);
sub.close();

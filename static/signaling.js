// The page's websocket to the server: sign-in, resume, replay de-duplication, and sends that
// wait while the connection is down.
//
// The session (resume token, the last `seq` seen, the grace period) lives in sessionStorage, so a
// reload of the page resumes the same session: the server replays what the page missed and
// keeps its place in the queue or its call. A dropped connection is retried until the grace
// period has passed.
//
// Events: 'ready' ({resumed, welcome | resumedMessage}), 'message' (every other server message,
// once each), 'status' ({state: 'connected' | 'reconnecting'}), 'resume-failed', and 'fatal'
// ({key}: a message key under `error.`, after which the page shows its error view).
//
// A kiosk signs in with its device token; the professional's desk gives none (`token` null) and
// is known by its session cookie, which the browser sends with the websocket's upgrade request.

import { build, loadSchema, validateClientMessage } from './protocol.js';

const RECONNECT_FIRST_MS = 250;
const RECONNECT_MAX_MS = 3000;
const PING_EVERY_MS = 15000;
const PONG_WITHIN_MS = 8000;
const DEFAULT_GRACE_SECONDS = 30;
// Close codes the server uses: displaced by a resume elsewhere, and a message off the schema.
const CLOSE_DISPLACED = 4000;
const CLOSE_SCHEMA = 4002;
// The terminal was revoked or the account disabled: coming back would be refused.
const CLOSE_REVOKED = 4003;

export class Signaling extends EventTarget {
  constructor({ url, role, identity, token, schemaUrl }) {
    super();
    this.url = url;
    this.role = role;
    this.identity = identity;
    this.token = token;
    this.schemaUrl = schemaUrl;
    this.storageKey = `lawroom.session.${role}.${identity}`;
    this.session = readJson(this.storageKey);
    this.state = 'idle'; // connecting, signing-in, ready, reconnecting, failed, closed
    this.pending = [];
    this.nextId = 1;
    this.violations = [];
    this.ws = null;
    this.lostAt = null;
    this.delay = RECONNECT_FIRST_MS;
    this.lastHeard = 0;
    this.pingTimer = null;
  }

  get ready() {
    return this.state === 'ready';
  }

  get iceServers() {
    return this.session?.ice_servers ?? [];
  }

  get graceSeconds() {
    return this.session?.grace_seconds ?? DEFAULT_GRACE_SECONDS;
  }

  async start() {
    try {
      this.schema = await loadSchema(this.schemaUrl);
    } catch (err) {
      console.warn('lawroom: protocol schema not loaded; outgoing messages are not checked', err);
    }
    this.open();
  }

  // Send a message now, or when the connection is back. Returns its `id`.
  send(msg) {
    const full = { ...msg, id: this.nextId++ };
    const text = this.encode(full);
    if (this.ready) this.ws.send(text);
    else this.pending.push(text);
    return full.id;
  }

  encode(msg) {
    if (this.schema) {
      const errors = validateClientMessage(this.schema, msg);
      if (errors.length) {
        // Sent all the same: the server decides, and in strict mode a test fails loudly.
        console.error('lawroom: message does not follow the protocol schema', msg.type, errors);
        this.violations.push({ type: msg.type, errors });
      }
    }
    return JSON.stringify(msg);
  }

  open() {
    this.state = this.lostAt === null ? 'connecting' : 'reconnecting';
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.addEventListener('open', () => ws === this.ws && this.signIn());
    ws.addEventListener('message', (ev) => ws === this.ws && this.onText(ev.data));
    ws.addEventListener('close', (ev) => ws === this.ws && this.onClose(ev.code));
  }

  signIn() {
    this.state = 'signing-in';
    const msg = this.session
      ? build.resume(this.session.resume_token, this.session.last_seq)
      : build.hello(this.role, this.identity, this.token);
    this.ws.send(this.encode({ ...msg, id: this.nextId++ }));
  }

  onText(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      console.warn('lawroom: ignored a frame that is not JSON');
      return;
    }
    this.lastHeard = Date.now();
    if (typeof msg.seq === 'number' && this.session) {
      if (msg.seq <= this.session.last_seq) return; // replayed, and already seen
      this.session.last_seq = msg.seq;
      this.save();
    }
    if (msg.type === 'welcome') {
      this.session = {
        resume_token: msg.resume_token,
        last_seq: 0,
        grace_seconds: msg.grace_seconds,
        ice_servers: msg.ice_servers,
      };
      this.save();
      this.becomeReady({ resumed: false, welcome: msg });
    } else if (msg.type === 'resumed') {
      this.becomeReady({ resumed: true, resumedMessage: msg });
    } else if (msg.type === 'pong') {
      // lastHeard is all a pong is for
    } else if (msg.type === 'error' && this.state === 'signing-in') {
      this.onSignInError(msg);
    } else {
      this.dispatchEvent(new CustomEvent('message', { detail: msg }));
    }
  }

  onSignInError(msg) {
    if (msg.code === 'resume_failed' && this.session) {
      // The grace period is over: everything of the old session is gone. Start a new one.
      this.session = null;
      this.pending = [];
      this.save();
      this.dispatchEvent(new CustomEvent('resume-failed'));
      this.ws.send(this.encode({ ...build.hello(this.role, this.identity, this.token), id: this.nextId++ }));
      return;
    }
    this.fail(msg.code);
  }

  becomeReady(detail) {
    this.state = 'ready';
    this.lostAt = null;
    this.delay = RECONNECT_FIRST_MS;
    const waiting = this.pending;
    this.pending = [];
    for (const text of waiting) this.ws.send(text);
    this.startPings();
    this.dispatchEvent(new CustomEvent('status', { detail: { state: 'connected' } }));
    this.dispatchEvent(new CustomEvent('ready', { detail }));
  }

  onClose(code) {
    this.stopPings();
    this.ws = null;
    if (this.state === 'closed' || this.state === 'failed') return;
    if (code === CLOSE_DISPLACED) return this.fail('displaced');
    if (code === CLOSE_SCHEMA) return this.fail('protocol');
    if (code === CLOSE_REVOKED) return this.fail('revoked');
    if (this.lostAt === null) this.lostAt = Date.now();
    if (Date.now() - this.lostAt > this.graceSeconds * 1000) return this.fail('connection_lost');
    this.state = 'reconnecting';
    this.dispatchEvent(new CustomEvent('status', { detail: { state: 'reconnecting' } }));
    setTimeout(() => this.state === 'reconnecting' && this.open(), this.delay);
    this.delay = Math.min(this.delay * 2, RECONNECT_MAX_MS);
  }

  // Give up on the current websocket at once (a dead network, or a test's simulated blip) and
  // reconnect; the server keeps the session for the grace period.
  reconnectNow() {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    ws.close();
    this.onClose(1006);
  }

  startPings() {
    this.stopPings();
    this.pingTimer = setInterval(() => {
      if (!this.ready) return;
      const sentAt = Date.now();
      this.send(build.ping());
      setTimeout(() => {
        if (this.ready && this.lastHeard < sentAt) this.reconnectNow();
      }, PONG_WITHIN_MS);
    }, PING_EVERY_MS);
  }

  stopPings() {
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  fail(key) {
    this.state = 'failed';
    this.stopPings();
    if (this.ws) this.ws.close();
    this.ws = null;
    this.dispatchEvent(new CustomEvent('fatal', { detail: { key } }));
  }

  // Forget the session (after an error the person chose to start over from).
  forget() {
    this.session = null;
    this.save();
  }

  close() {
    this.state = 'closed';
    this.stopPings();
    if (this.ws) this.ws.close();
    this.ws = null;
  }

  save() {
    if (this.session) sessionStorage.setItem(this.storageKey, JSON.stringify(this.session));
    else sessionStorage.removeItem(this.storageKey);
  }
}

function readJson(key) {
  try {
    return JSON.parse(sessionStorage.getItem(key) || 'null');
  } catch {
    return null;
  }
}

export function websocketUrl(path) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}${path}`;
}

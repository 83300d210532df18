// A kiosk without a device token enrols: it asks the server for a one-time code and shows it, a
// supervisor confirms the code on their page, and the kiosk, polling with the claim secret only
// it knows, receives its device token once. The device (identity, village, token) is then kept
// in localStorage, where the village page looks for it at every start.
//
// The pending enrolment is kept too, so a reload shows the same code until it expires; an
// expired or spent one is replaced by a new one.

const DEVICE_KEY = 'lawroom.device';
const PENDING_KEY = 'lawroom.enrolment';
const POLL_MS = 1500;
const RETRY_MS = 5000;

function readJson(key) {
  try {
    return JSON.parse(localStorage.getItem(key) || 'null');
  } catch {
    return null;
  }
}

export function savedDevice() {
  const device = readJson(DEVICE_KEY);
  return device && device.identity && device.token ? device : null;
}

export function saveDevice(device) {
  localStorage.setItem(DEVICE_KEY, JSON.stringify(device));
}

export function forgetDevice() {
  localStorage.removeItem(DEVICE_KEY);
}

export class Enrolment extends EventTarget {
  // Events: 'code' ({code}), 'problem' (the server could not be reached; retrying).
  constructor({ startUrl, claimUrl, csrfToken, now }) {
    super();
    this.startUrl = startUrl;
    this.claimUrl = claimUrl;
    this.csrfToken = csrfToken;
    this.now = now;
    this.stopped = false;
  }

  // Resolves with the device once a supervisor has confirmed this kiosk's code.
  async run() {
    for (;;) {
      if (this.stopped) throw new Error('enrolment stopped');
      try {
        const pending = await this.pending();
        this.dispatchEvent(new CustomEvent('code', { detail: { code: pending.code } }));
        const device = await this.poll(pending);
        if (device) {
          localStorage.removeItem(PENDING_KEY);
          return device;
        }
        localStorage.removeItem(PENDING_KEY); // expired or spent: start a new one
      } catch (err) {
        console.warn('lawroom: enrolment:', err);
        this.dispatchEvent(new CustomEvent('problem'));
        await wait(RETRY_MS);
      }
    }
  }

  stop() {
    this.stopped = true;
  }

  async pending() {
    const kept = readJson(PENDING_KEY);
    if (kept && kept.expires_at > this.now() + POLL_MS / 1000) return kept;
    const started = await this.post(this.startUrl, {});
    if (!started.ok) throw new Error(`enrolment start: HTTP ${started.status}`);
    localStorage.setItem(PENDING_KEY, JSON.stringify(started.body));
    return started.body;
  }

  // The device once claimed; null when this enrolment can no longer be claimed.
  async poll(pending) {
    while (!this.stopped) {
      if (pending.expires_at <= this.now()) return null;
      const reply = await this.post(this.claimUrl, { claim_secret: pending.claim_secret });
      if (reply.ok && reply.body.status === 'enrolled') {
        const { identity, village, token } = reply.body;
        return { identity, village, token };
      }
      if (reply.status === 404 || reply.status === 410) return null;
      if (!reply.ok) throw new Error(`enrolment claim: HTTP ${reply.status}`);
      await wait(POLL_MS);
    }
    return null;
  }

  async post(url, body) {
    const response = await fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      cache: 'no-store',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': this.csrfToken },
      body: JSON.stringify(body),
    });
    let parsed = null;
    try {
      parsed = await response.json();
    } catch {
      parsed = null;
    }
    return { ok: response.ok, status: response.status, body: parsed };
  }
}

function wait(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
